"""The polling schedule: one job per feed, the next poll where the poller decided (backoff,
Retry-After, server hints), failing feeds' waits kept across restarts, graceful shutdown."""

from __future__ import annotations

import asyncio
from collections.abc import Collection, Sequence
from datetime import UTC, datetime, timedelta
from functools import partial
from typing import Any

from monitor.config.models import FeedConfig
from monitor.polling.poller import PollReport
from monitor.polling.scheduler import FeedScheduler, jitter_for

FEEDS = [
    FeedConfig(id="fast", url="http://127.0.0.1/a", interval=timedelta(minutes=1)),
    FeedConfig(id="default", url="http://127.0.0.1/b"),
]


class FakeMonitor:
    """Polls with scripted results per feed, as the scheduler's ``poll`` callable."""

    def __init__(self, reports: dict[str, PollReport], delay: float = 0.0) -> None:
        self.reports = reports
        self.delay = delay
        self.polled: list[str] = []

    async def poll_feed(self, feed: FeedConfig) -> PollReport:
        self.polled.append(feed.id)
        await asyncio.sleep(self.delay)
        return self.reports[feed.id]


def scheduler_for(monitor: FakeMonitor, health: HealthPoller | None = None) -> FeedScheduler:
    return FeedScheduler(
        FEEDS,
        poll=monitor.poll_feed,
        default_interval=timedelta(minutes=5),
        check_health=partial(health.check_health, FEEDS) if health is not None else None,
    )


def next_run(scheduler: FeedScheduler, feed_id: str) -> datetime:
    job: Any = scheduler._scheduler.get_job(f"poll:{feed_id}")
    assert job is not None
    return job.next_run_time  # type: ignore[no-any-return]


def test_jitter_is_a_tenth_of_the_interval_capped() -> None:
    assert jitter_for(timedelta(minutes=2)) == 12
    assert jitter_for(timedelta(hours=2)) == 60


async def test_every_feed_is_scheduled_on_its_interval() -> None:
    monitor = FakeMonitor({})
    scheduler = scheduler_for(monitor)
    scheduler.start()
    try:
        jobs = {job.id: job for job in scheduler._scheduler.get_jobs()}
        assert set(jobs) == {"poll:fast", "poll:default"}
        assert jobs["poll:fast"].trigger.interval == timedelta(minutes=1)
        assert jobs["poll:default"].trigger.interval == timedelta(minutes=5)
    finally:
        await scheduler.shutdown(1)


async def test_failure_moves_the_next_poll_out() -> None:
    # 3 failures in a row: the poller decided 1 min * 2**3 = 8 min.
    failing = PollReport("fast", "error", error="503", consecutive_failures=3, next_poll_in=480)
    monitor = FakeMonitor({"fast": failing})
    scheduler = scheduler_for(monitor)
    scheduler.start()
    try:
        await scheduler._poll(FEEDS[0])
        wait = next_run(scheduler, "fast") - datetime.now(UTC)
        assert timedelta(minutes=7.9) < wait <= timedelta(minutes=8)
    finally:
        await scheduler.shutdown(1)


async def test_a_success_moves_the_next_poll_where_the_poller_said() -> None:
    # A server asked for 30 min (Cache-Control max-age or <ttl>) on a 1 min feed.
    stretched = PollReport("fast", "ok", next_poll_in=1800)
    monitor = FakeMonitor({"fast": stretched})
    scheduler = scheduler_for(monitor)
    scheduler.start()
    try:
        await scheduler._poll(FEEDS[0])
        wait = next_run(scheduler, "fast") - datetime.now(UTC)
        assert timedelta(minutes=29.9) < wait <= timedelta(minutes=30)
    finally:
        await scheduler.shutdown(1)


async def test_a_poll_that_decided_nothing_leaves_the_interval() -> None:
    monitor = FakeMonitor({"fast": PollReport("fast", "ok")})
    scheduler = scheduler_for(monitor)
    scheduler.start()
    try:
        before = next_run(scheduler, "fast")
        await scheduler._poll(FEEDS[0])
        assert next_run(scheduler, "fast") == before
    finally:
        await scheduler.shutdown(1)


async def test_failing_feeds_keep_their_backoff_across_a_restart() -> None:
    monitor = FakeMonitor({})
    scheduler = scheduler_for(monitor)
    later = datetime.now(UTC) + timedelta(hours=2)
    scheduler.start({"fast": later.timestamp()})
    try:
        assert abs(next_run(scheduler, "fast") - later) < timedelta(seconds=1)
        soon = next_run(scheduler, "default") - datetime.now(UTC)
        assert soon <= timedelta(seconds=2), "the others are polled at once"
    finally:
        await scheduler.shutdown(1)
    # A wait already over delays nothing.
    again = scheduler_for(monitor)
    again.start({"fast": (datetime.now(UTC) - timedelta(hours=1)).timestamp()})
    try:
        assert next_run(again, "fast") - datetime.now(UTC) <= timedelta(seconds=2)
    finally:
        await again.shutdown(1)


async def test_a_poll_finishing_after_shutdown_does_not_reschedule() -> None:
    monitor = FakeMonitor({"fast": PollReport("fast", "ok", next_poll_in=60)}, delay=0.2)
    scheduler = scheduler_for(monitor)
    scheduler.start()
    poll = asyncio.create_task(scheduler._poll(FEEDS[0]))
    await asyncio.sleep(0.05)
    await scheduler.shutdown(grace=5)
    assert poll.done() and poll.exception() is None


async def test_shutdown_waits_for_polls_in_flight() -> None:
    monitor = FakeMonitor({"fast": PollReport("fast", "ok")}, delay=0.2)
    scheduler = scheduler_for(monitor)
    scheduler.start()
    poll = asyncio.create_task(scheduler._poll(FEEDS[0]))
    await asyncio.sleep(0.05)
    await scheduler.shutdown(grace=5)
    assert poll.done() and not poll.cancelled()


async def test_shutdown_cancels_polls_beyond_the_grace() -> None:
    monitor = FakeMonitor({"fast": PollReport("fast", "ok")}, delay=30)
    scheduler = scheduler_for(monitor)
    scheduler.start()
    poll = asyncio.create_task(scheduler._poll(FEEDS[0]))
    await asyncio.sleep(0.05)
    await scheduler.shutdown(grace=0.1)
    await asyncio.sleep(0)
    assert poll.cancelled()


class HealthPoller:
    """Records the health checks the scheduler asks for."""

    def __init__(self) -> None:
        self.checks: list[tuple[list[str], set[str]]] = []

    async def check_health(self, feeds: Sequence[FeedConfig], busy: Collection[str]) -> int:
        self.checks.append(([f.id for f in feeds], set(busy)))
        return 0


async def test_with_feed_health_every_feed_is_checked_each_minute() -> None:
    monitor = FakeMonitor({"fast": PollReport("fast", "ok", next_poll_in=60)}, delay=0.5)
    poller = HealthPoller()
    scheduler = scheduler_for(monitor, poller)
    scheduler.start()
    try:
        job: Any = scheduler._scheduler.get_job("health")
        assert job.trigger.interval == timedelta(minutes=1)
        scheduler._polling.add("fast")  # as while its poll runs
        await scheduler._check_health()
        assert poller.checks == [(["fast", "default"], {"fast"})]
    finally:
        await scheduler.shutdown(1)


async def test_without_feed_health_there_is_no_health_job() -> None:
    scheduler = scheduler_for(FakeMonitor({}))
    scheduler.start()
    try:
        assert scheduler._scheduler.get_job("health") is None
    finally:
        await scheduler.shutdown(1)


async def test_a_reload_adds_removes_and_reschedules_feeds() -> None:
    monitor = FakeMonitor({})
    scheduler = scheduler_for(monitor)
    scheduler.start()
    try:
        far = datetime.now(UTC) + timedelta(hours=1)
        for feed_id in ("fast", "default"):
            job: Any = scheduler._scheduler.get_job(f"poll:{feed_id}")
            job.modify(next_run_time=far)
        renamed = FEEDS[0].model_copy(update={"name": "Fast wire"})
        slower = FeedConfig(id="default", url="http://127.0.0.1/b", interval=timedelta(hours=2))
        added = FeedConfig(id="new", url="http://127.0.0.1/c")
        result = scheduler.update([renamed, slower, added])
        assert result == (["new"], [], ["fast", "default"])
        jobs = {job.id: job for job in scheduler._scheduler.get_jobs()}
        assert set(jobs) == {"poll:fast", "poll:default", "poll:new"}
        # A new name only: same next poll, new config handed to it.
        assert jobs["poll:fast"].next_run_time == far
        assert jobs["poll:fast"].args[0].name == "Fast wire"
        # A new interval: rescheduled on it, first poll within seconds.
        assert jobs["poll:default"].trigger.interval == timedelta(hours=2)
        soon = datetime.now(UTC) + timedelta(seconds=5)
        assert jobs["poll:default"].next_run_time < soon
        assert jobs["poll:new"].next_run_time < soon
        assert scheduler.update([added]) == ([], ["fast", "default"], [])
        assert {job.id for job in scheduler._scheduler.get_jobs()} == {"poll:new"}
    finally:
        await scheduler.shutdown(1)


async def test_a_poll_of_a_feed_a_reload_moved_does_not_delay_the_new_url() -> None:
    monitor = FakeMonitor({"fast": PollReport("fast", "ok", next_poll_in=3600)})
    scheduler = scheduler_for(monitor)
    scheduler.start()
    try:
        moved = FEEDS[0].model_copy(update={"url": "http://127.0.0.1/moved"})
        scheduler.update([moved, FEEDS[1]])
        first = next_run(scheduler, "fast")
        await scheduler._poll(FEEDS[0])  # the poll of the old URL, in flight during the reload
        assert next_run(scheduler, "fast") == first
    finally:
        await scheduler.shutdown(1)


async def test_a_poll_failing_on_the_store_is_retried_within_a_minute_spread_out() -> None:
    from monitor.errors import StoreError
    from monitor.polling.scheduler import STORE_RETRY

    async def failing(feed: FeedConfig) -> PollReport:
        raise StoreError("redis get_feed_state failed: ConnectionError")

    feeds = [FeedConfig(id=f"f{i}", url=f"http://127.0.0.1/{i}") for i in range(20)]
    scheduler = FeedScheduler(feeds, poll=failing, default_interval=timedelta(minutes=5))
    scheduler.start()
    try:
        for feed in feeds:
            await scheduler._poll(feed)
        waits = [(next_run(scheduler, f.id) - datetime.now(UTC)).total_seconds() for f in feeds]
        assert all(STORE_RETRY / 2 - 1 <= w <= STORE_RETRY for w in waits), waits
        assert max(waits) - min(waits) > 5  # not all at once when the store is back
        assert scheduler.outage.down and scheduler.outage.failures == 20
    finally:
        await scheduler.shutdown(1)
