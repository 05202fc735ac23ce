"""Real local servers for integration tests: an SMTP sink (aiosmtpd), a scriptable webhook
receiver (werkzeug, threaded, can drop connections) and feed builders."""

from __future__ import annotations

import email
import email.policy
import json
import os
import random
import socket
import struct
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.message import EmailMessage
from email.utils import format_datetime
from pathlib import Path
from typing import Any
from xml.sax.saxutils import escape

from aiosmtpd.controller import Controller
from werkzeug import Request, Response
from werkzeug.serving import WSGIRequestHandler, make_server

from tests.conftest import ALLOW_PRIVATE_ENV, free_port


@dataclass
class SmtpSink:
    """Collects every message a real SMTP server on loopback receives."""

    host: str
    port: int
    messages: list[EmailMessage] = field(default_factory=list)
    recipients: list[list[str]] = field(default_factory=list)

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        message = email.message_from_bytes(envelope.content, policy=email.policy.default)
        assert isinstance(message, EmailMessage)
        self.messages.append(message)
        self.recipients.append(list(envelope.rcpt_tos))
        return "250 OK"


@contextmanager
def smtp_sink() -> Iterator[SmtpSink]:
    """Start an aiosmtpd server on a free loopback port for the duration of the block."""
    sink = SmtpSink("127.0.0.1", free_port())
    controller = Controller(sink, hostname=sink.host, port=sink.port)
    controller.start()
    try:
        yield sink
    finally:
        controller.stop()


@dataclass(frozen=True)
class Item:
    """One item of a generated RSS feed."""

    title: str
    link: str
    description: str
    published: datetime
    guid: str | None = None


def rss(items: list[Item], title: str = "Test feed") -> str:
    """An RSS 2.0 document carrying ``items``."""
    parts = [
        '<?xml version="1.0" encoding="utf-8"?>',
        '<rss version="2.0"><channel>',
        f"<title>{escape(title)}</title><link>http://127.0.0.1/</link>",
        "<description>generated for tests</description>",
    ]
    for item in items:
        parts.append("<item>")
        parts.append(f"<title>{escape(item.title)}</title>")
        parts.append(f"<link>{escape(item.link)}</link>")
        parts.append(f"<description>{escape(item.description)}</description>")
        parts.append(f"<pubDate>{format_datetime(item.published.astimezone(UTC))}</pubDate>")
        if item.guid:
            parts.append(f'<guid isPermaLink="false">{escape(item.guid)}</guid>')
        parts.append("</item>")
    parts.append("</channel></rss>")
    return "\n".join(parts)


def webhook_watch_dir(directory: Path, feed_url: str, hook_url: str, interval: str = "5m") -> Path:
    """A rules directory: one feed, one webhook channel, the rule ``Iran AND drones``."""
    directory.mkdir()
    (directory / "watch.yaml").write_text(
        "feeds:\n"
        f'  - {{id: local, url: "{feed_url}", interval: {interval}}}\n'
        "channels:\n"
        f'  siem: {{type: webhook, url: "{hook_url}"}}\n'
        "rules:\n"
        "  - {id: drones, query: Iran AND drones}\n"
    )
    return directory


_SYLLABLES = ("ka", "lo", "mi", "ne", "ru", "sa", "ti", "vo", "be", "du", "fe", "go", "hi", "ju")


def report_text(n: int, words: int = 40) -> str:
    """A text unlike every other ``n``'s: distinct stories for story-level dedup.

    Items meant to alert separately must not look like copies of one story
    (``monitor.stories`` would rightly merge them): each text is seeded words
    of a made-up vocabulary, so two of them share almost no word pair.
    """
    rng = random.Random(n)
    made_up = [
        "".join(rng.choice(_SYLLABLES) for _ in range(rng.randint(2, 4))) for _ in range(words)
    ]
    return " ".join(made_up) + "."


def monitor_env(**settings: str) -> dict[str, str]:
    """This process's environment without any MONITOR_* variable, plus ``settings``.

    The daemon's HTTP server is off unless ``settings`` asks for it: daemons started in
    parallel would otherwise all try 127.0.0.1:8080. Fetches may reach private addresses
    (the test feeds are on 127.0.0.1) unless ``settings`` says otherwise."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("MONITOR_")}
    env["MONITOR_HTTP_ADDR"] = ""
    env.update(ALLOW_PRIVATE_ENV)
    env.update(settings)
    return env


class DropConnection(ConnectionResetError):
    """Raised by a receiver's ``respond``: reset the connection (TCP RST) without answering."""


class _Handler(WSGIRequestHandler):
    """werkzeug's handler, quiet, and able to reset a connection instead of answering."""

    def connection_dropped(self, error: BaseException, environ: Any = None) -> None:
        if isinstance(error, DropConnection):
            # SO_LINGER 0 makes the close send RST. The socket really closes when the
            # handler's files are closed (``finish``), before socketserver's shutdown(SHUT_WR)
            # could send a FIN first.
            linger = struct.pack("ii", 1, 0)
            self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, linger)
            self.connection.close()
        self.close_connection = True

    def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
        pass


@dataclass(frozen=True)
class Hit:
    """One request a ``Receiver`` got, with server-side ``time.monotonic()`` timestamps."""

    webhook_id: str
    #: ``article.url`` of the JSON payload ("" if the body is not an alert).
    article_url: str
    #: 1 for the first request carrying this ``webhook-id``, 2 for the next ...
    attempt: int
    #: When the request (body included) had been read.
    arrived: float
    #: When the answer had been written (None: the connection was dropped, or not yet).
    answered: float | None
    #: Status answered (None: the connection was dropped, or not yet answered).
    status: int | None

    @property
    def accepted(self) -> bool:
        """The receiver answered 2xx: from its point of view the alert was delivered."""
        return self.status is not None and 200 <= self.status < 300


#: Decides the answer to a request; gets the request and its ``Hit.attempt``. It may sleep
#: (the receiver is threaded) or raise ``DropConnection``.
Respond = Callable[[Request, int], Response]


class Receiver:
    """A webhook receiver on a free loopback port that records every request it gets."""

    def __init__(self, respond: Respond) -> None:
        self._respond = respond
        self._lock = threading.Lock()
        self._hits: list[Hit] = []
        self.url = ""

    def _record(self, index: int, **changes: Any) -> None:
        with self._lock:
            hit = self._hits[index]
            self._hits[index] = Hit(**{**hit.__dict__, **changes})

    def __call__(self, environ: Any, start_response: Any) -> Iterable[bytes]:
        request = Request(environ)
        body = request.get_data()
        try:
            article_url = str(json.loads(body)["article"]["url"])
        except (ValueError, KeyError, TypeError):
            article_url = ""
        webhook_id = request.headers.get("webhook-id", "")
        with self._lock:
            attempt = 1 + sum(1 for h in self._hits if h.webhook_id == webhook_id)
            index = len(self._hits)
            self._hits.append(Hit(webhook_id, article_url, attempt, time.monotonic(), None, None))
        response = self._respond(request, attempt)  # DropConnection propagates to werkzeug
        self._record(index, status=response.status_code)
        response.call_on_close(lambda: self._record(index, answered=time.monotonic()))
        return response(environ, start_response)

    @property
    def hits(self) -> list[Hit]:
        """Every request so far, in arrival order."""
        with self._lock:
            return list(self._hits)

    def accepted(self) -> Counter[str]:
        """How many times each ``webhook-id`` was answered with a 2xx."""
        return Counter(h.webhook_id for h in self.hits if h.accepted)

    def ids_by_article(self) -> dict[str, set[str]]:
        """The ``webhook-id`` values each article arrived under (one per alert if all is well)."""
        ids: dict[str, set[str]] = {}
        for hit in self.hits:
            ids.setdefault(hit.article_url, set()).add(hit.webhook_id)
        return ids

    def wait_until(self, done: Callable[[list[Hit]], bool], timeout: float) -> bool:
        """Poll the hits until ``done(hits)`` or ``timeout`` seconds pass; say which."""
        deadline = time.monotonic() + timeout
        while not done(self.hits):
            if time.monotonic() > deadline:
                return False
            time.sleep(0.05)
        return True


@contextmanager
def webhook_receiver(respond: Respond, *, threaded: bool = True) -> Iterator[Receiver]:
    """Serve ``respond`` on a free loopback port (``Receiver.url``) for the duration of the block.

    Threaded by default: a slow answer does not hold up the others.
    """
    receiver = Receiver(respond)
    server = make_server("127.0.0.1", 0, receiver, threaded=threaded, request_handler=_Handler)
    receiver.url = f"http://127.0.0.1:{server.port}/hook"
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05})
    thread.daemon = True
    thread.start()
    try:
        yield receiver
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)
