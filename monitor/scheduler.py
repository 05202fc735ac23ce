"""The polling schedule; the only module that imports APScheduler (3.x).

Each feed is an interval job with jitter (so feeds sharing a host do not fire
in step). After a failure the job's next run moves out by
``monitor.pipeline.next_poll_delay`` (exponential backoff, Retry-After), and
back to the plain interval after the next success.
"""

from __future__ import annotations

import asyncio
import random
import time
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING

from apscheduler.schedulers.asyncio import AsyncIOScheduler
from apscheduler.triggers.interval import IntervalTrigger

from monitor.config_models import FeedConfig
from monitor.log import get_logger
from monitor.pipeline import next_poll_delay
from monitor.types import Clock

if TYPE_CHECKING:
    from monitor.app import Monitor

log = get_logger("monitor.scheduler")


def jitter_for(interval: timedelta) -> int:
    """Seconds of random jitter for an interval: 10%, at most 60 s."""
    return int(min(interval.total_seconds() * 0.1, 60))


class FeedScheduler:
    """Polls every feed of a Monitor on its interval."""

    def __init__(self, monitor: Monitor, clock: Clock = time.time) -> None:
        self.monitor = monitor
        self.clock = clock
        self._scheduler = AsyncIOScheduler(timezone=UTC)
        self._inflight: set[asyncio.Task[object]] = set()

    def start(self) -> None:
        """Schedule every feed (first polls spread over a few seconds) and start."""
        default = self.monitor.settings.poll_interval
        now = datetime.now(UTC)
        for feed in self.monitor.config.feeds:
            interval = feed.interval or default
            self._scheduler.add_job(
                self._poll,
                IntervalTrigger(seconds=interval.total_seconds(), jitter=jitter_for(interval)),
                args=[feed, interval],
                id=f"poll:{feed.id}",
                name=f"poll {feed.id}",
                next_run_time=now + timedelta(seconds=random.uniform(0, 2)),
                max_instances=1,
                coalesce=True,
                misfire_grace_time=None,
            )
        self._scheduler.start()

    async def _poll(self, feed: FeedConfig, interval: timedelta) -> None:
        task = asyncio.current_task()
        if task is not None:
            self._inflight.add(task)
        try:
            report = await self.monitor.poll_feed(feed)
        except Exception:
            # The store failed (Redis down ...): log, retry on the next tick.
            log.exception("poll", feed=feed.id, status="crashed")
            return
        finally:
            if task is not None:
                self._inflight.discard(task)
        if report.status == "error":
            delay = next_poll_delay(interval, report.consecutive_failures, report.retry_after)
            job = self._scheduler.get_job(f"poll:{feed.id}")
            if job is not None:
                job.modify(next_run_time=datetime.now(UTC) + timedelta(seconds=delay))
            log.info("poll_backoff", feed=feed.id, retry_in=round(delay, 1))

    async def shutdown(self, grace: float) -> None:
        """Stop scheduling; let polls in flight finish within ``grace`` seconds."""
        self._scheduler.shutdown(wait=False)
        if self._inflight:
            _, pending = await asyncio.wait(set(self._inflight), timeout=grace)
            for task in pending:
                task.cancel()
