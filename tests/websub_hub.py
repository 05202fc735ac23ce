"""A local WebSub hub for the tests: it serves the feed it is the hub of, takes a subscriber's
subscribe and unsubscribe requests (202), verifies each intent with a GET on the callback
(a challenge to echo), and publishes content signed with the ``hub.secret`` it was given.
Threaded (werkzeug): its verifications call the daemon while the test awaits."""

from __future__ import annotations

import contextlib
import secrets
import threading
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
from werkzeug import Request, Response
from werkzeug.serving import make_server

from monitor.ingest.websub import sign
from tests.servers import Item, rss


@dataclass(frozen=True)
class Verification:
    """One intent verification the hub made."""

    mode: str
    status: int
    #: The callback answered 200 with the challenge.
    confirmed: bool
    #: When the callback answered (epoch seconds).
    at: float


class LocalHub:
    """A WebSub hub on a free loopback port, serving the feed it is the hub of too."""

    def __init__(self) -> None:
        self.url = ""
        self.items: list[Item] = []
        self.requests: list[dict[str, str]] = []
        self.verifications: list[Verification] = []
        #: The form of the last subscription it confirmed (callback, secret, topic).
        self.subscriber: dict[str, str] = {}
        self._lock = threading.Lock()

    @property
    def hub_url(self) -> str:
        return f"{self.url}/hub"

    @property
    def feed_url(self) -> str:
        return f"{self.url}/feed.xml"

    def feed(self, items: list[Item]) -> bytes:
        """The feed's RSS, naming this hub and its own URL as the topic."""
        links = f'<atom:link rel="hub" href="/hub"/><atom:link rel="self" href="{self.feed_url}"/>'
        body = rss(items).replace("<channel>", f"<channel>{links}", 1)
        body = body.replace("<rss ", '<rss xmlns:atom="http://www.w3.org/2005/Atom" ', 1)
        return body.encode()

    def __call__(self, environ: Any, start_response: Any) -> Iterable[bytes]:
        request = Request(environ)
        if request.path == "/feed.xml":
            response = Response(self.feed(self.items), content_type="application/rss+xml")
        elif request.path == "/other.xml":
            response = Response(rss([]), content_type="application/rss+xml")
        elif request.path == "/hub" and request.method == "POST":
            form = {k: v for k, v in request.form.items()}
            with self._lock:
                self.requests.append(form)
            # Verified after answering, as hubs do (asynchronously).
            threading.Thread(target=self._verify, args=(form,), daemon=True).start()
            response = Response(status=202)
        else:
            response = Response(status=404)
        return response(environ, start_response)

    def _verify(self, form: dict[str, str]) -> None:
        challenge = secrets.token_hex(8)
        params = {
            "hub.mode": form["hub.mode"],
            "hub.topic": form["hub.topic"],
            "hub.challenge": challenge,
        }
        if "hub.lease_seconds" in form:
            params["hub.lease_seconds"] = form["hub.lease_seconds"]
        answer = httpx.get(form["hub.callback"], params=params, timeout=5)
        confirmed = answer.status_code == 200 and answer.text == challenge
        with self._lock:
            verification = Verification(
                form["hub.mode"], answer.status_code, confirmed, time.time()
            )
            self.verifications.append(verification)
            if confirmed and form["hub.mode"] == "subscribe":
                self.subscriber = form

    def confirmed(self, mode: str = "subscribe") -> int:
        with self._lock:
            return sum(1 for v in self.verifications if v.mode == mode and v.confirmed)

    def publish(self, body: bytes, *, secret: str | None = None) -> int:
        """POST ``body`` to the subscriber, signed with its secret (or ``secret``)."""
        signature = sign(body, secret or self.subscriber["hub.secret"])
        answer = httpx.post(
            self.subscriber["hub.callback"],
            content=body,
            headers={"Content-Type": "application/rss+xml", "X-Hub-Signature": signature},
            timeout=5,
        )
        return answer.status_code


@contextlib.contextmanager
def local_hub() -> Iterator[LocalHub]:
    hub = LocalHub()
    server = make_server("127.0.0.1", 0, hub, threaded=True)
    hub.url = f"http://127.0.0.1:{server.port}"
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05})
    thread.daemon = True
    thread.start()
    try:
        yield hub
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


def watch(rules: Path, hub: LocalHub, hook_url: str, *, feed: bool = True) -> None:
    """``rules/watch.yaml``: the hub's feed "wire" (unless ``feed`` is false), a feed with
    no hub, one webhook channel, and the rule ``Iran AND drones``."""
    wire = f'  - {{id: wire, url: "{hub.feed_url}", interval: 5m}}\n'
    # A feed without a hub, which stays when "wire" is removed (a config needs a feed).
    other = f'  - {{id: other, url: "{hub.url}/other.xml", interval: 1d}}\n'
    (rules / "watch.yaml").write_text(
        "feeds:\n" + (wire if feed else "") + other + "channels:\n"
        f'  siem: {{type: webhook, url: "{hook_url}"}}\n'
        "rules:\n"
        "  - {id: drones, query: Iran AND drones}\n"
    )
