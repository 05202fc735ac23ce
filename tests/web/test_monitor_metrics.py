"""Metrics of a whole Monitor on fakes (memory store, mock transports): names and labels
after a poll and a delivery, and the endpoints served by ``run_forever``."""

from __future__ import annotations

import asyncio
import contextlib
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest

from monitor import __version__
from monitor.app import Monitor
from monitor.config.load import load_config
from monitor.errors import StoreError
from monitor.model import DisabledChannel, OutboxEntry
from monitor.settings import Settings
from monitor.store.memory import MemoryStore
from monitor.web import Metrics
from tests.conftest import free_port
from tests.factories import make_alert
from tests.servers import Item, rss

FEED_URL = "https://news.example.org/feed.xml"


def feed_transport() -> httpx.MockTransport:
    now = datetime.now(UTC)
    body = rss(
        [
            Item("Iran flies drones", "https://news.example.org/1", "Iran drones.", now, "a"),
            Item("Iran, drones, again", "https://news.example.org/2", "Drones.", now, "b"),
            Item("Weather", "https://news.example.org/3", "Sunny.", now, "c"),
            # Older than MONITOR_MAX_AGE: seen, not matched.
            Item("Iran drones", "https://news.example.org/4", "Old.", now - timedelta(days=3), "d"),
        ]
    )
    return httpx.MockTransport(
        lambda r: httpx.Response(200, text=body, headers={"content-type": "application/rss+xml"})
    )


def receivers() -> httpx.MockTransport:
    """/flaky answers 500 once, then 204; /broken always 400 (permanent: dead at once)."""
    calls: dict[str, int] = {}

    def answer(request: httpx.Request) -> httpx.Response:
        calls[request.url.path] = calls.get(request.url.path, 0) + 1
        if request.url.path == "/broken":
            return httpx.Response(400)
        return httpx.Response(500 if calls[request.url.path] == 1 else 204)

    return httpx.MockTransport(answer)


def make_settings(tmp_path: Path, **changes: object) -> Settings:
    rules = tmp_path / "rules"
    rules.mkdir(exist_ok=True)
    (rules / "watch.yaml").write_text(
        "feeds:\n"
        f'  - {{id: wire, url: "{FEED_URL}", interval: 1h}}\n'
        "channels:\n"
        '  flaky: {type: webhook, url: "https://hooks.example.org/flaky"}\n'
        '  broken: {type: webhook, url: "https://hooks.example.org/broken"}\n'
        "rules:\n"
        "  - {id: drones, query: Iran AND drones, notify: [flaky, broken]}\n"
        "  - {id: weather, query: weather, notify: [flaky]}\n"
    )
    base: dict[str, object] = {
        "rules_dir": rules,
        "data_dir": tmp_path / "data",
        "delivery_backoff": "10ms",
        "once_delivery_deadline": "5s",
        "story_window": 0,
        "http_addr": "",
    }
    return Settings(_env_file=None, **{**base, **changes})  # type: ignore[arg-type]


async def make_monitor(settings: Settings, store: MemoryStore | None = None) -> Monitor:
    return await Monitor.create(
        settings,
        load_config(settings, env={}),
        store=store or MemoryStore(),
        fetch_transport=feed_transport(),
        delivery_transport=receivers(),
    )


def sample(monitor: Monitor, name: str, **labels: str) -> float | None:
    return monitor.metrics.registry.get_sample_value(name, labels)


async def test_a_poll_and_its_deliveries_are_counted(tmp_path: Path) -> None:
    async with await make_monitor(make_settings(tmp_path)) as monitor:
        summary = await monitor.run_once()
        assert summary.pending == 0
        await monitor.run_once()  # the same body again: unchanged, nothing new

        assert sample(monitor, "news_monitor_polls_total", feed="wire", status="ok") == 1
        assert sample(monitor, "news_monitor_polls_total", feed="wire", status="unchanged") == 1
        assert sample(monitor, "news_monitor_fetch_duration_seconds_count") == 2
        assert sample(monitor, "news_monitor_articles_total", outcome="new") == 3
        assert sample(monitor, "news_monitor_articles_total", outcome="too_old") == 1
        assert sample(monitor, "news_monitor_articles_total", outcome="seen") == 0
        assert sample(monitor, "news_monitor_matches_total", rule="drones") == 2
        assert sample(monitor, "news_monitor_matches_total", rule="weather") == 1
        # flaky: 3 alerts, the first attempt of the first one fails (500) and is retried.
        alerts = "news_monitor_alerts_total"
        assert sample(monitor, alerts, channel="flaky", outcome="retried") == 1
        assert sample(monitor, alerts, channel="flaky", outcome="delivered") == 3
        assert sample(monitor, alerts, channel="broken", outcome="dead") == 2
        assert sample(monitor, alerts, channel="broken", outcome="delivered") is None
        assert sample(monitor, "news_monitor_rules") == 2
        assert sample(monitor, "news_monitor_build_info", version=__version__) == 1
        for result in ("success", "failure"):
            assert sample(monitor, "news_monitor_config_reloads_total", result=result) == 0


async def test_store_gauges_are_read_on_refresh(tmp_path: Path) -> None:
    settings = make_settings(tmp_path, once_delivery_deadline=0)
    async with await make_monitor(settings) as monitor:
        await monitor.poll_feeds()  # queued, not delivered
        clock_now = [time.time()]
        await monitor.metrics.refresh(monitor.store, ["wire", "nowhere"], lambda: clock_now[0])
        assert sample(monitor, "news_monitor_outbox_pending") == 5
        age = sample(monitor, "news_monitor_outbox_oldest_age_seconds")
        assert age is not None and 0 <= age < 60
        clock_now[0] += 100
        await monitor.metrics.refresh(monitor.store, ["wire"], lambda: clock_now[0])
        age = sample(monitor, "news_monitor_outbox_oldest_age_seconds")
        assert age is not None and 100 <= age < 160
        assert sample(monitor, "news_monitor_feeds_down") == 0


class UnlistableStore(MemoryStore):
    """A memory store that refuses to list its outbox: what a scrape must never need."""

    async def pending(self) -> list[OutboxEntry]:
        raise AssertionError("the scrape listed the outbox")

    async def dead_letters(self) -> list[OutboxEntry]:
        raise AssertionError("the scrape listed the dead letters")


async def test_refresh_reads_the_outbox_gauges_without_listing_the_outbox() -> None:
    store = UnlistableStore()
    created = datetime(2027, 1, 15, 8, 0, tzinfo=UTC)
    await store.enqueue(
        [make_alert(id=f"a{n}", created_at=created + timedelta(minutes=n)) for n in range(3)],
        created.timestamp() + 600,
    )
    metrics = Metrics()
    await metrics.refresh(store, [], lambda: created.timestamp() + 900)
    registry = metrics.registry
    assert registry.get_sample_value("news_monitor_outbox_pending") == 3
    assert registry.get_sample_value("news_monitor_outbox_oldest_age_seconds") == 900
    for entry in await MemoryStore.pending(store):  # delivered: empty, age 0
        await store.ack(entry.alert.id, created.timestamp() + 901, "HTTP 200", 86_400)
    await metrics.refresh(store, [], lambda: created.timestamp() + 1000)
    assert registry.get_sample_value("news_monitor_outbox_pending") == 0
    assert registry.get_sample_value("news_monitor_outbox_oldest_age_seconds") == 0


async def test_a_failing_feed_counts_as_down(tmp_path: Path) -> None:
    settings = make_settings(tmp_path)
    async with await Monitor.create(
        settings,
        load_config(settings, env={}),
        store=MemoryStore(),
        fetch_transport=httpx.MockTransport(lambda r: httpx.Response(503)),
    ) as monitor:
        await monitor.poll_feeds()
        await monitor.metrics.refresh(monitor.store, ["wire"], monitor.clock)
        assert sample(monitor, "news_monitor_feeds_down") == 1
        assert sample(monitor, "news_monitor_polls_total", feed="wire", status="error") == 1


class FlakyStore(MemoryStore):
    """A memory store whose ping fails once ``down`` is set."""

    down = False

    async def ping(self) -> None:
        if self.down:
            raise StoreError("connection refused")


async def scrape_until(http: httpx.AsyncClient, line: str) -> str:
    """/metrics once it shows ``line`` (the server may not listen yet)."""
    async with asyncio.timeout(10):
        while True:
            with contextlib.suppress(httpx.TransportError):
                if line in (text := (await http.get("/metrics")).text):
                    return text
            await asyncio.sleep(0.05)


async def test_run_forever_serves_the_endpoints_until_stopped(tmp_path: Path) -> None:
    addr = f"127.0.0.1:{free_port()}"
    store = FlakyStore()
    async with await make_monitor(make_settings(tmp_path, http_addr=addr), store) as monitor:
        # A 410 heard for "broken" as it is configured now: the gauge reads the store.
        target = monitor.wiring.channels["broken"].target
        await store.disable_channel(DisabledChannel("broken", time.time(), "HTTP 410", target))
        stop = asyncio.Event()
        daemon = asyncio.create_task(monitor.run_forever(stop))
        async with httpx.AsyncClient(base_url=f"http://{addr}") as http:
            polled = 'news_monitor_polls_total{feed="wire",status="ok"} 1.0'
            metrics = await scrape_until(http, polled)
            assert "news_monitor_outbox_pending " in metrics
            assert 'news_monitor_channel_disabled{channel="broken"} 1.0' in metrics
            assert 'news_monitor_channel_disabled{channel="flaky"} 0.0' in metrics
            health = await http.get("/healthz")
            assert health.status_code == 200, health.text
            assert health.json() == {
                "status": "ok",
                "event_loop": True,
                "scheduler": True,
                "worker": True,
            }
            assert (await http.get("/readyz")).status_code == 200

            store.down = True
            not_ready = await http.get("/readyz")
            assert not_ready.status_code == 503
            assert not_ready.json()["reason"] == "store: connection refused"

            stop.set()
            await asyncio.wait_for(daemon, 15)
            with pytest.raises(httpx.ConnectError):
                await http.get("/healthz")


async def test_an_http_address_in_use_stops_the_start(tmp_path: Path) -> None:
    import socket

    from monitor.web import HttpServerError

    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        addr = f"127.0.0.1:{taken.getsockname()[1]}"
        async with await make_monitor(make_settings(tmp_path, http_addr=addr)) as monitor:
            with pytest.raises(HttpServerError, match=addr):
                await monitor.run_forever(asyncio.Event())
            assert sample(monitor, "news_monitor_polls_total", feed="wire", status="ok") is None


@pytest.mark.parametrize("addr", ["8080", "localhost", ":8080", "host:port", "h:70000"])
def test_http_addr_must_be_host_and_port(tmp_path: Path, addr: str) -> None:
    with pytest.raises(ValueError, match="host:port"):
        make_settings(tmp_path, http_addr=addr)


@pytest.mark.parametrize("addr", ["0.0.0.0:9100", "[::1]:8080", "localhost:1", ""])
def test_good_http_addrs(tmp_path: Path, addr: str) -> None:
    assert make_settings(tmp_path, http_addr=addr).http_addr == addr
