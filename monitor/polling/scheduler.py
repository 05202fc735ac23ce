"""The polling schedule; the only module that imports APScheduler (3.x).

Each feed is an interval job. Every poll decides when the next one is due
(``PollReport.next_poll_in``, from ``monitor.polling.schedule.next_poll_delay``: the
interval with jitter so feeds sharing a host do not fire in step, a longer
interval a server asked for, exponential backoff after failures, Retry-After)
and the job's next run moves there. The interval trigger itself only matters
when a poll crashed (the store was unreachable): then the next tick retries.

At start, failing feeds keep the next poll their backoff (or the server's
Retry-After) set before the restart; the others are polled within seconds.

With a ``feed_health`` section, one more job checks every feed each minute
(``Poller.check_health``), so a feed that crossed ``failing_after`` or
``silent_after`` between its polls alerts then, not at its next poll.
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import Awaitable, Callable, Collection, Mapping, Sequence
from datetime import UTC, datetime, timedelta

from apscheduler.schedulers.asyncio import AsyncIOScheduler
from apscheduler.schedulers.base import STATE_RUNNING
from apscheduler.triggers.interval import IntervalTrigger

from monitor.config.models import FeedConfig
from monitor.log import get_logger
from monitor.polling.poller import PollReport
from monitor.polling.schedule import interval_for
from monitor.polling.schedule import jitter_for as _jitter_seconds

log = get_logger("monitor.scheduler")

#: Seconds between two feed-health checks (the alerts of feeds that crossed a threshold
#: between their polls).
HEALTH_CHECK_INTERVAL = 60.0

#: First polls after a start are spread over this many seconds.
START_SPREAD = 2.0

#: Polls one feed (and wakes delivery if it queued alerts); raises only if the store failed.
PollFeed = Callable[[FeedConfig], Awaitable[PollReport]]
#: Checks every feed's health except those being polled (``busy``); returns alerts queued.
CheckHealth = Callable[[Collection[str]], Awaitable[int]]


def jitter_for(interval: timedelta) -> int:
    """Whole seconds of random jitter of the interval trigger: 10%, at most 60 s."""
    return int(_jitter_seconds(interval.total_seconds()))


class FeedScheduler:
    """Runs the polls of a set of feeds when each is due.

    It is handed what it runs, not the application: ``poll`` polls one feed,
    ``check_health`` (None: no ``feed_health`` section, no health job) checks
    the feeds between polls, and ``wake`` tells delivery that alerts were queued.
    """

    def __init__(
        self,
        feeds: Sequence[FeedConfig],
        *,
        poll: PollFeed,
        default_interval: timedelta,
        check_health: CheckHealth | None = None,
        wake: Callable[[], None] = lambda: None,
    ) -> None:
        self.feeds = tuple(feeds)
        self.poll = poll
        self.default_interval = default_interval
        self.check_health = check_health
        self.wake = wake
        self._scheduler = AsyncIOScheduler(timezone=UTC)
        self._inflight: set[asyncio.Task[object]] = set()
        #: Feeds being polled right now (the health check leaves them to their poll).
        self._polling: set[str] = set()

    def start(self, not_before: Mapping[str, float] | None = None) -> None:
        """Schedule every feed and start.

        First polls are spread over a few seconds; a feed named in
        ``not_before`` (feed id -> epoch seconds) waits until then.
        """
        now = datetime.now(UTC)
        waits = not_before or {}
        for feed in self.feeds:
            interval = interval_for(feed, self.default_interval)
            first = now + timedelta(seconds=random.uniform(0, START_SPREAD))
            if feed.id in waits:
                first = max(first, datetime.fromtimestamp(waits[feed.id], UTC))
                log.info("poll_resume", feed=feed.id, next_poll=first.isoformat())
            self._scheduler.add_job(
                self._poll,
                IntervalTrigger(seconds=interval.total_seconds(), jitter=jitter_for(interval)),
                args=[feed],
                id=f"poll:{feed.id}",
                name=f"poll {feed.id}",
                next_run_time=first,
                max_instances=1,
                coalesce=True,
                misfire_grace_time=None,
            )
        if self.check_health is not None:
            self._scheduler.add_job(
                self._check_health,
                IntervalTrigger(seconds=HEALTH_CHECK_INTERVAL),
                id="health",
                name="feed health",
                max_instances=1,
                coalesce=True,
            )
        self._scheduler.start()

    @property
    def running(self) -> bool:
        """Whether the scheduler is started and not shut down or paused (for /healthz)."""
        return bool(self._scheduler.state == STATE_RUNNING)

    async def _check_health(self) -> None:
        if self.check_health is None:
            return
        try:
            queued = await self.check_health(frozenset(self._polling))
        except Exception:
            log.exception("feed_health", status="crashed")  # the store failed: next minute
            return
        if queued:
            self.wake()

    async def _poll(self, feed: FeedConfig) -> None:
        task = asyncio.current_task()
        if task is not None:
            self._inflight.add(task)
        self._polling.add(feed.id)
        try:
            report = await self.poll(feed)
        except Exception:
            # The store failed (Redis down ...): log, retry on the next tick.
            log.exception("poll", feed=feed.id, status="crashed")
            return
        finally:
            self._polling.discard(feed.id)
            if task is not None:
                self._inflight.discard(task)
        if report.next_poll_in is None:
            return
        job = self._scheduler.get_job(f"poll:{feed.id}")
        if job is not None and self._scheduler.running:  # not after shutdown
            job.modify(next_run_time=datetime.now(UTC) + timedelta(seconds=report.next_poll_in))
        if report.status == "error":
            log.info("poll_backoff", feed=feed.id, retry_in=round(report.next_poll_in, 1))

    async def shutdown(self, grace: float) -> None:
        """Stop scheduling; let polls in flight finish within ``grace`` seconds."""
        # Pause first: APScheduler's shutdown cancels the jobs it is running, which would
        # cut off a poll that was about to queue its alerts. Paused, it starts no new poll,
        # and the ones in flight get the grace period; only then is it shut down.
        self._scheduler.pause()
        if self._inflight:
            _, pending = await asyncio.wait(set(self._inflight), timeout=grace)
            for task in pending:
                task.cancel()  # the poller releases the articles it had claimed
            if pending:
                await asyncio.wait(pending)
        self._scheduler.shutdown(wait=False)
