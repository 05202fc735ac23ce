"""Polite polling against real loopback HTTP servers.

A threaded werkzeug server records every request (path, Host, how many were
in flight at once). The poller runs with the real HTTP client; the daemon
tests run the real scheduler on a real Monitor (with a MemoryStore).
Covered: the per-host and global fetch limits as the server sees them, 429
with Retry-After and 503 without, a 301 followed straight to the new URL on
the next poll, 410 disabling the feed (and ``feeds enable``), and Cache-
Control max-age and RSS ``<ttl>`` stretching the schedule.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from io import StringIO
from pathlib import Path
from typing import Any

import pytest
from structlog.testing import capture_logs
from werkzeug import Request, Response
from werkzeug.serving import make_server

from monitor.app import Monitor
from monitor.cli.feeds import enable_feeds
from monitor.config.load import load_config
from monitor.config.models import FeedConfig
from monitor.ingest.fetch import FetchLimits, build_http_client
from monitor.matching import RuleSpec, compile_rules
from monitor.polling.poller import Poller
from monitor.polling.scheduler import FeedScheduler
from monitor.store.memory import MemoryStore
from tests.factories import make_settings
from tests.servers import Item, rss

#: What the server answers: gets the request, returns the response (may sleep: threaded).
Answer = Callable[[Request], Response]


@dataclass
class FeedServer:
    """Requests a threaded loopback server got, and the most it handled at once."""

    answer: Answer
    port: int = 0
    requests: list[tuple[str, str]] = field(default_factory=list)
    peak: int = 0
    peak_by_host: dict[str, int] = field(default_factory=dict)
    _running: dict[str, int] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def __call__(self, environ: Any, start_response: Any) -> Iterable[bytes]:
        request = Request(environ)
        host = request.host.rsplit(":", 1)[0]
        with self._lock:
            self.requests.append((host, request.path))
            self._running[host] = self._running.get(host, 0) + 1
            self.peak = max(self.peak, sum(self._running.values()))
            self.peak_by_host[host] = max(self.peak_by_host.get(host, 0), self._running[host])
        try:
            return self.answer(request)(environ, start_response)
        finally:
            with self._lock:
                self._running[host] -= 1

    def url(self, path: str, host: str = "127.0.0.1") -> str:
        return f"http://{host}:{self.port}{path}"

    def paths(self) -> list[str]:
        with self._lock:
            return [path for _, path in self.requests]


@contextmanager
def feed_server(answer: Answer) -> Iterator[FeedServer]:
    server = FeedServer(answer)
    http = make_server("127.0.0.1", 0, server, threaded=True)
    server.port = http.port
    thread = threading.Thread(target=http.serve_forever, kwargs={"poll_interval": 0.05})
    thread.daemon = True
    thread.start()
    try:
        yield server
    finally:
        http.shutdown()
        http.server_close()
        thread.join(timeout=5)


def feed_body(ttl_minutes: int | None = None) -> str:
    body = rss([Item("Weather", "http://n.test/w", "Sunny", datetime.now(UTC))])
    if ttl_minutes is not None:
        body = body.replace("<description>", f"<ttl>{ttl_minutes}</ttl><description>", 1)
    return body


def slow_feed(seconds: float) -> Answer:
    def answer(request: Request) -> Response:
        time.sleep(seconds)
        return Response(feed_body(), content_type="application/rss+xml")

    return answer


def make_poller(limits: FetchLimits, **overrides: Any) -> Poller:
    settings = make_settings()
    fields: dict[str, Any] = {
        "store": MemoryStore(),
        "http": build_http_client(settings),
        "ruleset": compile_rules([RuleSpec("drones", "Iran AND drones")]),
        "routes": {"drones": ("Iran AND drones", ("ops",))},
        "max_age": timedelta(hours=24),
        "seen_retention": timedelta(days=30),
        "fetch_timeout": 10,
        "max_feed_bytes": 1_000_000,
        "limits": limits,
        "default_interval": timedelta(minutes=5),
    }
    fields.update(overrides)
    return Poller(**fields)


def feeds_at(server: FeedServer, count: int, host: str = "127.0.0.1") -> list[FeedConfig]:
    tag = host.replace(".", "-")
    return [FeedConfig(id=f"{tag}-{i}", url=server.url(f"/{i}.xml", host)) for i in range(count)]


# -- fetch limits, as the server sees them -----------------------------------------


async def test_the_per_host_limit_holds_at_the_server() -> None:
    with feed_server(slow_feed(0.4)) as server:
        poller = make_poller(FetchLimits(total=16, per_host=2))
        # Two host names for one server: each has its own two slots.
        feeds = feeds_at(server, 5, "127.0.0.1") + feeds_at(server, 5, "localhost")
        async with poller.http:
            reports = await asyncio.gather(*(poller.poll(f) for f in feeds))
    assert {r.status for r in reports} == {"ok"}
    assert len(server.requests) == 10
    assert server.peak_by_host == {"127.0.0.1": 2, "localhost": 2}
    assert server.peak == 4, "the limit is per host, not one queue for all"


async def test_the_global_limit_holds_at_the_server() -> None:
    with feed_server(slow_feed(0.3)) as server:
        poller = make_poller(FetchLimits(total=3, per_host=10))
        async with poller.http:
            await asyncio.gather(*(poller.poll(f) for f in feeds_at(server, 8)))
    assert len(server.requests) == 8
    assert server.peak == 3


# -- throttling, moves, gone -----------------------------------------------------------


async def test_429_with_retry_after_and_503_without() -> None:
    answers = {
        "/throttled.xml": Response("slow down", status=429, headers={"Retry-After": "900"}),
        "/busy.xml": Response("busy", status=503),
    }
    with feed_server(lambda r: answers[r.path]) as server:
        poller = make_poller(FetchLimits(16, 2))
        throttled = FeedConfig(id="throttled", url=server.url("/throttled.xml"))
        busy = FeedConfig(id="busy", url=server.url("/busy.xml"))
        async with poller.http:
            first = await poller.poll(throttled)
            down = await poller.poll(busy)
            again = await poller.poll(busy)
    assert (first.status, first.retry_after, first.next_poll_in) == ("error", 900, 900)
    assert "HTTP 429" in first.error
    # No Retry-After: exponential backoff from the 5 min interval, +-10%.
    assert down.next_poll_in is not None and 540 <= down.next_poll_in <= 660
    assert again.next_poll_in is not None and 1080 <= again.next_poll_in <= 1320
    state = await poller.store.get_feed_state("throttled")
    assert state is not None and state.next_poll_at is not None
    assert state.next_poll_at - time.time() > 890


async def test_a_301_is_followed_straight_to_the_new_url_next_time() -> None:
    def answer(request: Request) -> Response:
        if request.path == "/old.xml":
            return Response("", status=301, headers={"Location": "/new.xml"})
        return Response(feed_body(), content_type="application/rss+xml")

    with feed_server(answer) as server, capture_logs() as events:
        poller = make_poller(FetchLimits(16, 2))
        feed = FeedConfig(id="moving", url=server.url("/old.xml"))
        async with poller.http:
            for _ in range(3):
                assert (await poller.poll(feed)).status in ("ok", "unchanged")
    assert server.paths() == ["/old.xml", "/new.xml", "/new.xml", "/new.xml"]
    state = await poller.store.get_feed_state("moving")
    assert state is not None and state.moved_to == server.url("/new.xml")
    assert [e["event"] for e in events].count("feed_moved") == 1, "logged once"


async def test_a_410_disables_the_feed_until_it_is_enabled() -> None:
    gone = {"now": True}

    def answer(request: Request) -> Response:
        if gone["now"]:
            return Response("gone", status=410)
        return Response(feed_body(), content_type="application/rss+xml")

    with feed_server(answer) as server:
        poller = make_poller(FetchLimits(16, 2))
        feed = FeedConfig(id="gone", url=server.url("/feed.xml"))
        async with poller.http:
            assert (await poller.poll(feed)).status == "disabled"
            for _ in range(3):
                assert (await poller.poll(feed)).status == "disabled"
            assert len(server.requests) == 1, "never asked again"
            gone["now"] = False
            out = StringIO()
            assert await enable_feeds(poller.store, [feed], ["gone"], out, out) == 0
            assert (await poller.poll(feed)).status == "ok"
    assert len(server.requests) == 2


# -- the daemon's schedule ---------------------------------------------------------


def watch_dir(tmp_path: Path, url: str) -> Path:
    rules = tmp_path / "rules"
    rules.mkdir()
    (rules / "watch.yaml").write_text(
        "feeds:\n"
        f'  - {{id: polite, url: "{url}", interval: 1s}}\n'
        "channels:\n"
        "  out: {type: console}\n"
        "rules:\n"
        "  - {id: drones, query: Iran AND drones}\n"
    )
    return rules


@pytest.mark.parametrize(
    "response",
    [
        lambda: Response("slow down", status=429, headers={"Retry-After": "120"}),
        lambda: Response("busy", status=503, headers={"Retry-After": "120"}),
        lambda: Response(
            feed_body(),
            content_type="application/rss+xml",
            headers={"Cache-Control": "max-age=120"},
        ),
        lambda: Response(feed_body(ttl_minutes=2), content_type="application/rss+xml"),
    ],
    ids=["429-retry-after", "503-retry-after", "max-age", "rss-ttl"],
)
async def test_the_daemon_waits_as_long_as_the_server_asked(
    tmp_path: Path, response: Callable[[], Response]
) -> None:
    """A 1 s feed whose server asks for 2 min is asked once, and next in about 2 min."""
    with feed_server(lambda r: response()) as server:
        settings = make_settings(rules_dir=watch_dir(tmp_path, server.url("/feed.xml")))
        loaded = load_config(settings, env={})
        async with await Monitor.create(settings, loaded, store=MemoryStore()) as monitor:
            scheduler = FeedScheduler(
                monitor.config.feeds,
                poll=monitor.poll_feed,
                default_interval=settings.poll_interval,
            )
            scheduler.start()
            try:
                for _ in range(200):  # the first poll comes within START_SPREAD seconds
                    if server.requests:
                        break
                    await asyncio.sleep(0.05)
                # Without the server's request, a 1 s feed would be asked 3 more times by now.
                await asyncio.sleep(3)
                job: Any = scheduler._scheduler.get_job("poll:polite")
                wait = job.next_run_time - datetime.now(UTC)
            finally:
                await scheduler.shutdown(1)
            state = await monitor.store.get_feed_state("polite")
    assert len(server.requests) == 1
    assert timedelta(seconds=110) < wait <= timedelta(seconds=135)
    assert state is not None and state.next_poll_at is not None
