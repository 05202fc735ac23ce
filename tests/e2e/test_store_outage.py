"""End to end: the daemon waits for a store that is not up yet, and a store outage while it
runs is one warning and one recovery line in its log (no traceback per poll), after which
alerts flow again.

The daemon reaches the real Redis through a TCP proxy on loopback that the test switches
off (listening socket closed, open connections cut) and on again: a network outage as the
daemon sees it, without stopping the shared Redis server.
"""

from __future__ import annotations

import contextlib
import json
import socket
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from pytest_httpserver import HTTPServer
from werkzeug import Request, Response

from tests.e2e.test_reload import daemon, wait_for
from tests.servers import Item, monitor_env, report_text, rss

pytestmark = pytest.mark.e2e


class SwitchableProxy:
    """Forwards TCP connections from a loopback port to ``target`` while switched on."""

    def __init__(self, target: tuple[str, int]) -> None:
        self.target = target
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            self.port = probe.getsockname()[1]
        self._listener: socket.socket | None = None
        self._open: set[socket.socket] = set()
        self._lock = threading.Lock()

    def on(self) -> None:
        listener = socket.socket()
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind(("127.0.0.1", self.port))
        listener.listen()
        self._listener = listener
        threading.Thread(target=self._accept, args=(listener,), daemon=True).start()

    def off(self) -> None:
        """Stop accepting and cut every open connection."""
        if self._listener is not None:
            # shutdown() first: close() alone does not wake the thread blocked in accept().
            with contextlib.suppress(OSError):
                self._listener.shutdown(socket.SHUT_RDWR)
            self._listener.close()
            self._listener = None
        with self._lock:
            for conn in self._open:
                with contextlib.suppress(OSError):
                    conn.shutdown(socket.SHUT_RDWR)
                conn.close()
            self._open.clear()

    def _accept(self, listener: socket.socket) -> None:
        while True:
            try:
                client, _ = listener.accept()
            except OSError:
                return  # switched off
            if self._listener is not listener:  # switched off meanwhile
                client.close()
                return
            try:
                upstream = socket.create_connection(self.target)
            except OSError:
                client.close()
                continue
            with self._lock:
                self._open.update((client, upstream))
            for a, b in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pump, args=(a, b), daemon=True).start()

    def _pump(self, source: socket.socket, sink: socket.socket) -> None:
        try:
            while data := source.recv(65536):
                sink.sendall(data)
        except OSError:
            pass
        finally:
            for conn in (source, sink):
                with contextlib.suppress(OSError):
                    conn.shutdown(socket.SHUT_RDWR)


@contextlib.contextmanager
def proxy_to(url: str) -> Iterator[SwitchableProxy]:
    parts = urlsplit(url)
    proxy = SwitchableProxy((parts.hostname or "127.0.0.1", parts.port or 6379))
    try:
        yield proxy
    finally:
        proxy.off()


def test_a_store_outage_is_one_warning_and_one_recovery_line(
    tmp_path: Path, httpserver: HTTPServer, redis_server_url: str, redis_prefix: str
) -> None:
    items: list[Item] = []
    alerts: list[str] = []

    def publish(n: int) -> None:
        title = f"Iran drones report {n}"
        text = f"{title}. {report_text(n, words=200)}"
        items.append(Item(title, f"https://news.example.org/{n}", text, datetime.now(UTC), f"{n}"))

    def feed(request: Request) -> Response:
        return Response(rss(items), content_type="application/rss+xml")

    def hook(request: Request) -> Response:
        alerts.append(json.loads(request.get_data())["article"]["title"])
        return Response("", status=204)

    httpserver.expect_request("/feed.xml").respond_with_handler(feed)
    httpserver.expect_request("/hook").respond_with_handler(hook)
    rules = tmp_path / "rules"
    rules.mkdir()
    (rules / "watch.yaml").write_text(
        "feeds:\n"
        f'  - {{id: wire, url: "{httpserver.url_for("/feed.xml")}", interval: 1s}}\n'
        "channels:\n"
        f'  siem: {{type: webhook, url: "{httpserver.url_for("/hook")}"}}\n'
        "rules:\n"
        "  - {id: drones, query: Iran AND drones}\n"
    )
    publish(1)
    log = tmp_path / "daemon.log"
    db = urlsplit(redis_server_url).path or "/0"
    with proxy_to(redis_server_url) as proxy:
        env = monitor_env(
            MONITOR_RULES_DIR=str(rules),
            MONITOR_REDIS_URL=f"redis://127.0.0.1:{proxy.port}{db}",
            MONITOR_REDIS_PREFIX=redis_prefix,
            MONITOR_STORE_WAIT="30s",
            MONITOR_LOG_FORMAT="json",
            MONITOR_DELIVERY_BACKOFF="200ms",
        )
        # The store is not up when the daemon starts: it waits instead of exiting.
        with daemon(env, tmp_path, log) as process:
            wait_for("the wait for the store", lambda: "store_wait" in log.read_text())
            assert process.poll() is None
            proxy.on()
            wait_for("the first alert", lambda: alerts == ["Iran drones report 1"])

            proxy.off()  # an outage of a few seconds: several polls fail
            wait_for("the outage to be noticed", lambda: "store_down" in log.read_text())
            time.sleep(3)
            publish(2)
            proxy.on()
            wait_for("the alert after the outage", lambda: len(alerts) == 2)
            assert alerts[1] == "Iran drones report 2"

    events = [json.loads(line) for line in log.read_text().splitlines() if line.startswith("{")]
    names = [e["event"] for e in events]
    assert names.count("store_wait") == 1 and names.count("store_ready") == 1
    assert names.count("store_down") == 1, [e for e in events if "store" in e["event"]]
    assert names.count("store_up") == 1
    recovered = events[names.index("store_up")]
    assert recovered["down_for"] >= 3 and recovered["failed_calls"] >= 2
    assert "Traceback" not in log.read_text()
    assert not [e for e in events if e.get("status") == "crashed"]
