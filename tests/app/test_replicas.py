"""Which scheduler the daemon polls with (the APScheduler one on the embedded store, the
shared one on Redis, wired to the poller's re-baseline and storing each poll's feed state
under its lease), what a store reset sets off (one alert to the feed-health channels
however many replicas announce it, the metric), and the lease setting's bound."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import fakeredis
import httpx
import pytest
from pydantic import ValidationError
from structlog.testing import capture_logs

from monitor.app.replicas import ResetAnnouncer, schedule_polls
from monitor.config.models import FeedConfig, FeedHealthConfig
from monitor.model import FeedState
from monitor.polling.poller import PollReport
from monitor.polling.scheduler import FeedScheduler
from monitor.polling.shared_scheduler import SharedScheduler
from monitor.polling.state_writer import SaveFeedState
from monitor.polling.store_reset import StoreReset
from monitor.store.memory import MemoryStore
from monitor.store.outage import OutageLog
from monitor.store.redis import RedisStore
from monitor.web import Metrics
from tests.conftest import FrozenClock
from tests.factories import make_settings
from tests.polling.test_poller import make_poller, serve
from tests.servers import rss

FEEDS = [FeedConfig(id="wire", url="http://feeds.test/wire.xml")]


async def never(feed: FeedConfig, save_state: SaveFeedState | None = None) -> PollReport:
    raise AssertionError("not polled here")


def unreachable(request: httpx.Request) -> httpx.Response:
    raise AssertionError("no fetch here")


async def test_the_embedded_store_polls_alone_and_redis_shares_the_schedule(
    clock: FrozenClock,
) -> None:
    settings = make_settings(feed_lease=timedelta(seconds=90), max_concurrent_fetches=7)
    alone_poller = make_poller(unreachable, clock)
    alone = schedule_polls(
        settings,
        MemoryStore(),
        alone_poller,
        Metrics(),
        feeds=lambda: FEEDS,
        poll=never,
        wake=lambda: None,
        outage=OutageLog(),
        clock=clock,
    )
    assert isinstance(alone, FeedScheduler)
    assert alone_poller.baseline is None

    client = fakeredis.FakeAsyncRedis()
    shared_poller = make_poller(unreachable, clock)
    shared = schedule_polls(
        settings,
        RedisStore(client),
        shared_poller,
        Metrics(),
        feeds=lambda: FEEDS,
        poll=never,
        wake=lambda: None,
        outage=OutageLog(),
        clock=clock,
    )
    assert isinstance(shared, SharedScheduler)
    assert (shared.lease, shared.capacity) == (90.0, 7)
    assert shared_poller.baseline == shared.baseline
    await client.aclose()


async def test_a_shared_poll_stores_the_feed_state_under_its_lease(clock: FrozenClock) -> None:
    """The daemon's poll callable passes the shared scheduler's writer on to
    ``Poller.poll``, so the state is written fenced by the poll's lease."""
    client = fakeredis.FakeAsyncRedis()
    store = RedisStore(client)
    poller = make_poller(serve(rss([])), clock, store=store)

    async def poll_feed(  # as ``Monitor.poll_feed``
        feed: FeedConfig, save_state: SaveFeedState | None = None
    ) -> PollReport:
        return await poller.poll(feed, save_state=save_state)

    shared = schedule_polls(
        make_settings(),
        store,
        poller,
        Metrics(),
        feeds=lambda: FEEDS,
        poll=poll_feed,
        wake=lambda: None,
        outage=OutageLog(),
        clock=clock,
    )
    assert isinstance(shared, SharedScheduler)
    schedule = store.feed_schedule()
    await schedule.add_feeds({"wire": clock.now})
    await schedule.claim_feeds(clock.now, 60, 1, "mine", "g")
    tokens: list[str] = []

    async def under_my_lease(feed_id: str, state: FeedState) -> bool:
        tokens.append("mine")
        return await schedule.save_feed_state(feed_id, "mine", state)

    assert (await shared.poll(FEEDS[0], under_my_lease)).status == "ok"
    stored = await store.get_feed_state("wire")
    assert tokens == ["mine"] and stored is not None and stored.last_success_at == clock.now
    clock.advance(61)  # this replica stalled past its lease; another one claims the feed
    await schedule.claim_feeds(clock.now, 60, 1, "theirs", "g")
    with capture_logs() as logs:
        assert (await shared.poll(FEEDS[0], under_my_lease)).status == "not_modified"
    assert tokens == ["mine", "mine"]
    assert await store.get_feed_state("wire") == stored  # the late write was refused
    assert [e["feed"] for e in logs if e["event"] == "feed_state_fenced"] == ["wire"]
    # Outside the shared scheduler's polls, the poller writes to the store as it always did.
    clock.advance(60)
    await poll_feed(FEEDS[0])
    latest = await store.get_feed_state("wire")
    assert latest is not None and latest.last_success_at == clock.now
    await client.aclose()


async def test_a_reset_announced_by_every_replica_alerts_once(clock: FrozenClock) -> None:
    store = MemoryStore()
    woken: list[int] = []
    section = {"health": FeedHealthConfig(notify=["ops", "log"])}
    reset = StoreReset("old", "new", clock.now - 1, clock.now)
    metrics = [Metrics(), Metrics()]
    announcers = [
        ResetAnnouncer(store, m, lambda: section["health"], lambda: woken.append(1), clock, 0.0)
        for m in metrics
    ]
    await asyncio.gather(*(announce(reset) for announce in announcers))
    pending = await store.pending()
    assert sorted(e.alert.channel for e in pending) == ["log", "ops"]
    assert all(m.store_resets._value.get() == 1 for m in metrics)
    assert woken == [1, 1]


async def test_without_a_feed_health_section_a_reset_is_only_counted(clock: FrozenClock) -> None:
    store, metrics = MemoryStore(), Metrics()
    announce = ResetAnnouncer(store, metrics, lambda: None, lambda: None, clock, 0.0)
    await announce(StoreReset("old", "new", clock.now, clock.now))
    assert await store.pending() == []
    assert metrics.store_resets._value.get() == 1


def test_the_feed_lease_must_outlast_a_fetch() -> None:
    with pytest.raises(ValidationError, match="MONITOR_FEED_LEASE"):
        make_settings(feed_lease=timedelta(seconds=30), fetch_timeout=timedelta(seconds=30))
    assert make_settings().feed_lease == timedelta(minutes=2)
