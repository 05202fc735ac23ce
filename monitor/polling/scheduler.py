"""The polling schedule; the only module that imports APScheduler (3.x).

Each feed is an interval job. Every poll decides when the next one is due
(``PollReport.next_poll_in``, from ``monitor.polling.schedule.next_poll_delay``: the
interval with jitter so feeds sharing a host do not fire in step, a longer
interval a server asked for, exponential backoff after failures, Retry-After)
and the job's next run moves there. The interval trigger itself only matters
when a poll crashed (the store was unreachable): then the next tick retries.

At start, failing feeds keep the next poll their backoff (or the server's
Retry-After) set before the restart; the others are polled within seconds.

With a ``check_health`` callable, one more job checks every feed each minute
(``Poller.check_health``), so a feed that crossed ``failing_after`` or
``silent_after`` between its polls alerts then, not at its next poll.

A reload hands the scheduler the new feed list (:meth:`FeedScheduler.update`):
added feeds are polled within seconds, removed ones are no longer scheduled (a
poll in flight finishes), and a feed whose URL or interval changed is
rescheduled; the others keep their timing.

A poll that raises is a store failure (the poller turns every feed-level failure
into a report): it goes to the :class:`~monitor.store.outage.OutageLog`, which
logs the outage once, not once per poll.
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
from monitor.errors import StoreError
from monitor.log import get_logger
from monitor.polling.poller import PollReport
from monitor.polling.schedule import interval_for
from monitor.polling.schedule import jitter_for as _jitter_seconds
from monitor.store.outage import OutageLog

log = get_logger("monitor.scheduler")

#: Seconds between two feed-health checks (the alerts of feeds that crossed a threshold
#: between their polls).
HEALTH_CHECK_INTERVAL = 60.0

#: First polls after a start are spread over this many seconds.
START_SPREAD = 2.0
#: Longest wait before a poll that failed on the store is tried again (drawn in its 2nd half).
STORE_RETRY = 60.0

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
        outage: OutageLog | None = None,
    ) -> None:
        self.feeds = tuple(feeds)
        self.poll = poll
        self.default_interval = default_interval
        self.check_health = check_health
        self.wake = wake
        self.outage = outage or OutageLog()
        self._scheduler = AsyncIOScheduler(timezone=UTC)
        self._inflight: set[asyncio.Task[object]] = set()
        #: Feeds being polled right now (the health check leaves them to their poll).
        self._polling: set[str] = set()

    def start(self, not_before: Mapping[str, float] | None = None) -> None:
        """Schedule every feed and start.

        First polls are spread over a few seconds; a feed named in
        ``not_before`` (feed id -> epoch seconds) waits until then.
        """
        waits = not_before or {}
        for feed in self.feeds:
            self._add(feed, waits.get(feed.id))
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

    def _add(self, feed: FeedConfig, not_before: float | None = None) -> None:
        """Schedule ``feed``: first poll within a few seconds, or at ``not_before``."""
        interval = interval_for(feed, self.default_interval)
        first = datetime.now(UTC) + timedelta(seconds=random.uniform(0, START_SPREAD))
        if not_before is not None:
            first = max(first, datetime.fromtimestamp(not_before, UTC))
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
            replace_existing=True,
        )

    def update(
        self, feeds: Sequence[FeedConfig], not_before: Mapping[str, float] | None = None
    ) -> tuple[list[str], list[str], list[str]]:
        """Schedule a new feed list (a reload); returns the ids (added, removed, changed).

        Added feeds and feeds whose URL or interval changed are (re)scheduled
        like at a start (``not_before`` as in :meth:`start`); a feed whose other
        settings changed (name, rules) keeps its next poll and gets the new
        config; removed feeds are unscheduled.
        """
        old = {f.id: f for f in self.feeds}
        new = {f.id: f for f in feeds}
        waits = not_before or {}
        added = [i for i in new if i not in old]
        removed = [i for i in old if i not in new]
        changed = [i for i in new if i in old and new[i] != old[i]]
        for feed_id in removed:
            if self._scheduler.get_job(f"poll:{feed_id}") is not None:
                self._scheduler.remove_job(f"poll:{feed_id}")
        for feed_id in changed:
            before, after = old[feed_id], new[feed_id]
            job = self._scheduler.get_job(f"poll:{feed_id}")
            if job is None or (
                before.url != after.url
                or interval_for(before, self.default_interval)
                != interval_for(after, self.default_interval)
            ):
                self._add(after, waits.get(feed_id))
            else:
                job.modify(args=[after])
        for feed_id in added:
            self._add(new[feed_id], waits.get(feed_id))
        self.feeds = tuple(feeds)
        return added, removed, changed

    @property
    def running(self) -> bool:
        """Whether the scheduler is started and not shut down or paused (for /healthz)."""
        return bool(self._scheduler.state == STATE_RUNNING)

    async def _check_health(self) -> None:
        if self.check_health is None:
            return
        try:
            queued = await self.check_health(frozenset(self._polling))
        except StoreError as e:
            self.outage.failed(e, "feed_health")  # next minute
            return
        except Exception:
            log.exception("feed_health", status="crashed")
            return
        # No outage.succeeded() here: without a feed_health section the check reads nothing,
        # so its success says nothing about the store (polls and deliveries tell).
        if queued:
            self.wake()

    async def _poll(self, feed: FeedConfig) -> None:
        task = asyncio.current_task()
        if task is not None:
            self._inflight.add(task)
        self._polling.add(feed.id)
        try:
            report = await self.poll(feed)
        except StoreError as e:
            # The store is down (Redis restarting ...): nothing was fetched (the feed's state
            # is read first). Retry within a minute, each feed at a random point of it, so
            # that the polls resume spread out rather than all at once.
            self.outage.failed(e, "poll")
            self._retry_soon(feed)
            return
        except Exception:
            log.exception("poll", feed=feed.id, status="crashed")  # a bug: retry next tick
            return
        finally:
            self._polling.discard(feed.id)
            if task is not None:
                self._inflight.discard(task)
        self.outage.succeeded()
        if report.next_poll_in is None:
            return
        job = self._scheduler.get_job(f"poll:{feed.id}")
        # Not after shutdown, nor for a feed a reload removed or moved to another URL.
        if job is not None and self._scheduler.running and job.args[0].url == feed.url:
            job.modify(next_run_time=datetime.now(UTC) + timedelta(seconds=report.next_poll_in))
        if report.status == "error":
            log.info("poll_backoff", feed=feed.id, retry_in=round(report.next_poll_in, 1))

    def _retry_soon(self, feed: FeedConfig) -> None:
        wait = min(interval_for(feed, self.default_interval).total_seconds(), STORE_RETRY)
        job = self._scheduler.get_job(f"poll:{feed.id}")
        if job is not None and self._scheduler.running:
            delay = random.uniform(wait / 2, wait)
            job.modify(next_run_time=datetime.now(UTC) + timedelta(seconds=delay))

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
