"""WebSub end to end, on real loopback servers: a running Monitor (its HTTP server, the
SQLite store), a local hub that also serves the feed, and a webhook receiver.

The hub does what a WebSub hub does: takes the daemon's subscribe request (202), verifies
the intent with a GET on the callback (a challenge to echo), then POSTs content signed with
the ``hub.secret`` it was given. The daemon discovers the hub in the feed it polls.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest
from werkzeug import Response

from monitor.app import Monitor
from monitor.config.load import load_config
from monitor.settings import Settings
from tests.conftest import free_port
from tests.servers import Item, Receiver, webhook_receiver
from tests.websub_hub import LocalHub, local_hub, watch


@dataclass
class Running:
    monitor: Monitor
    hub: LocalHub
    receiver: Receiver
    base: str

    def sample(self, name: str, **labels: str) -> float | None:
        return self.monitor.metrics.registry.get_sample_value(name, labels)


async def until(check: Callable[[], bool], within: float = 10.0) -> None:
    deadline = time.monotonic() + within
    while not check():
        assert time.monotonic() < deadline, "timed out"
        await asyncio.sleep(0.02)


@contextlib.asynccontextmanager
async def running(tmp_path: Path, **settings: object) -> AsyncIterator[Running]:
    port = free_port()
    rules = tmp_path / "rules"
    rules.mkdir()
    with local_hub() as hub, webhook_receiver(lambda r, n: Response(status=204)) as receiver:
        hub.items = [Item("Weather", "https://n.example/w", "Sunny.", datetime.now(UTC), "w")]
        watch(rules, hub, receiver.url)
        config: dict[str, object] = {
            "rules_dir": rules,
            "data_dir": tmp_path / "data",
            "http_addr": f"127.0.0.1:{port}",
            "public_url": f"http://127.0.0.1:{port}",
            "story_window": 0,
            "watch_rules": False,
            "shutdown_grace": "1s",
            "websub_poll_interval": "2h",
            **settings,
        }
        values = Settings(_env_file=None, **config)  # type: ignore[arg-type]
        async with await Monitor.create(values, load_config(values, env={})) as monitor:
            stop = asyncio.Event()
            daemon = asyncio.create_task(monitor.run_forever(stop))
            try:
                await until(lambda: hub.confirmed() >= 1)
                yield Running(monitor, hub, receiver, f"http://127.0.0.1:{port}")
            finally:
                stop.set()
                await asyncio.wait_for(daemon, 15)


def pushed(n: int) -> list[Item]:
    title = f"Iran launches drones, report {n}"
    return [Item(title, f"https://n.example/{n}", "Iran drones.", datetime.now(UTC), f"p-{n}")]


async def test_a_pushed_item_alerts_within_a_second_and_only_once(tmp_path: Path) -> None:
    async with running(tmp_path) as run:
        hub = run.hub
        assert hub.requests[0]["hub.topic"] == hub.feed_url
        assert hub.requests[0]["hub.callback"].startswith(f"{run.base}/websub/wire/")
        assert len(hub.requests[0]["hub.secret"]) >= 32
        await until(lambda: run.sample("news_monitor_websub_subscriptions") == 1)

        body = hub.feed(pushed(1))
        started = time.monotonic()
        assert await asyncio.to_thread(hub.publish, body) == 202
        await until(lambda: len(run.receiver.hits) == 1, within=5)
        hit = run.receiver.hits[0]
        assert hit.article_url == "https://n.example/1"
        assert hit.arrived - started < 1.0

        # The same item pushed again, and then polled: processed once, alerted once.
        assert await asyncio.to_thread(hub.publish, body) == 202
        hub.items = pushed(1)
        report = await run.monitor.poll_feed(run.monitor.config.feeds[0])  # wire
        assert report.status == "ok" and report.new == 0
        await asyncio.sleep(0.5)
        assert len(run.receiver.hits) == 1
        assert run.sample("news_monitor_websub_pushes_total", outcome="accepted") == 2
        assert run.sample("news_monitor_matches_total", rule="drones") == 1


async def test_a_push_with_a_bad_signature_is_discarded(tmp_path: Path) -> None:
    async with running(tmp_path) as run:
        body = run.hub.feed(pushed(2))
        # Answered 2xx, as WebSub asks, but nothing of it is processed.
        assert await asyncio.to_thread(run.hub.publish, body, secret="not-the-secret") == 202
        unsigned = await asyncio.to_thread(
            httpx.post, run.hub.subscriber["hub.callback"], content=body, timeout=5
        )
        assert unsigned.status_code == 202
        await asyncio.sleep(0.5)
        assert run.receiver.hits == []
        assert run.sample("news_monitor_websub_pushes_total", outcome="bad_signature") == 2
        assert run.sample("news_monitor_websub_pushes_total", outcome="accepted") == 0
        assert run.sample("news_monitor_articles_total", outcome="new") == 1  # the poll's one


async def test_only_a_pending_request_of_ours_is_verified(tmp_path: Path) -> None:
    async with running(tmp_path) as run:
        callback = run.hub.subscriber["hub.callback"]
        topic = run.hub.feed_url
        other_token = callback.rsplit("/", 1)[0] + "/" + "x" * 32

        async def verify(url: str, **params: str) -> httpx.Response:
            query = {"hub.challenge": "c-1", "hub.topic": topic, "hub.mode": "subscribe"}
            async with httpx.AsyncClient() as http:
                return await http.get(url, params={**query, **params})

        assert (await verify(other_token)).status_code == 404  # unknown token
        assert (await verify(f"{run.base}/websub/nope/abc")).status_code == 404  # unknown feed
        assert (await verify(callback, **{"hub.topic": "https://x.example/"})).status_code == 404
        # Our own callback and topic, but no request pending: already verified.
        assert (await verify(callback)).status_code == 404
        assert (await verify(callback, **{"hub.mode": "unsubscribe"})).status_code == 404
        # A push to an unknown callback is a 404 too.
        async with httpx.AsyncClient() as http:
            assert (await http.post(other_token, content=b"<rss/>")).status_code == 404
        assert run.sample("news_monitor_websub_pushes_total", outcome="unknown") == 1


async def test_a_short_lease_is_renewed_before_it_ends(tmp_path: Path) -> None:
    async with running(tmp_path, websub_lease="3s") as run:
        store = run.monitor.store
        first = await store.get_subscription("wire")
        assert first is not None and first.expires_at is not None
        assert first.lease_seconds == 3
        await until(lambda: run.hub.confirmed() >= 3, within=10)
        # Each renewal was verified before the lease it renews had run out.
        times = [v.at for v in run.hub.verifications if v.confirmed]
        assert all(0 < later - earlier < 3.0 for earlier, later in itertools.pairwise(times))
        renewed = await store.get_subscription("wire")
        assert renewed is not None and renewed.expires_at is not None
        assert renewed.expires_at > first.expires_at
        # The same callback and secret: a renewal, not a new subscription.
        forms = run.hub.requests
        assert {f["hub.callback"] for f in forms} == {forms[0]["hub.callback"]}
        assert {f["hub.secret"] for f in forms} == {forms[0]["hub.secret"]}
        # Never lapsed: each renewal was verified before the lease ended.
        assert renewed.active(time.time())
        assert run.sample("news_monitor_websub_subscriptions") == 1


async def test_a_feed_removed_by_a_reload_is_unsubscribed(tmp_path: Path) -> None:
    async with running(tmp_path) as run:
        watch(tmp_path / "rules", run.hub, run.receiver.url, feed=False)
        assert await run.monitor.reload()
        await until(lambda: run.hub.confirmed("unsubscribe") == 1)
        assert run.hub.requests[-1]["hub.mode"] == "unsubscribe"
        assert "hub.secret" not in run.hub.requests[-1]
        store = run.monitor.store
        await until(lambda: run.sample("news_monitor_websub_subscriptions") == 0)
        assert await store.subscriptions() == []


async def test_a_pushed_feed_is_polled_at_the_websub_interval(tmp_path: Path) -> None:
    async with running(tmp_path) as run:
        feed = next(f for f in run.monitor.config.feeds if f.id == "wire")
        manager = run.monitor._websub
        assert manager is not None
        await until(lambda: manager.polled_as(feed) != feed)
        slowed = manager.polled_as(feed)
        assert slowed.interval is not None and slowed.interval.total_seconds() == 7200
        assert slowed.url == feed.url and slowed.id == feed.id
        report = await run.monitor.poll_feed(feed)
        assert report.next_poll_in is not None and report.next_poll_in >= 7200


@pytest.mark.parametrize("public_url", ["ftp://x.example", "https://x.example/?q=1", "x"])
def test_public_url_must_be_a_plain_http_url(public_url: str) -> None:
    with pytest.raises(ValueError, match="public_url"):
        Settings(_env_file=None, public_url=public_url)
