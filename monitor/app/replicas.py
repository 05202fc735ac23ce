"""How the daemon schedules its polls: on its own (the embedded store: the APScheduler
``FeedScheduler``), or sharing the work with other replicas through Redis (the
``SharedScheduler`` on the store's feed schedule); and what it does when the shared
store lost its data (:class:`ResetAnnouncer`).

The daemon's poll callable (``Monitor.poll_feed``) takes the feed and a feed-state
writer: none from the APScheduler one (polls write to the store), one fenced by the
poll's lease from the shared scheduler, so a replica that stalled past a lease cannot
overwrite a newer feed state (``monitor.polling.state_writer``).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Collection, Sequence
from dataclasses import dataclass

from monitor.config.models import FeedConfig, FeedHealthConfig
from monitor.model import Clock
from monitor.polling.articles import record_queued
from monitor.polling.poller import Poller, PollReport
from monitor.polling.scheduler import FeedScheduler
from monitor.polling.shared_scheduler import SharedScheduler
from monitor.polling.state_writer import SaveFeedState
from monitor.polling.store_reset import StoreReset, store_reset_alerts
from monitor.settings import Settings
from monitor.store import PollingStore, StateStore
from monitor.store.outage import OutageLog
from monitor.store.redis import RedisStore
from monitor.web import Metrics

#: Whichever schedules the daemon's polls.
Scheduler = FeedScheduler | SharedScheduler


@dataclass
class ResetAnnouncer:
    """Told of a store reset by the shared scheduler (which logged the warning): one alert
    on the ``feed_health`` channels, if the config has them, and the metric."""

    store: PollingStore
    metrics: Metrics
    #: The config's ``feed_health`` section as it is now (a reload may change it).
    feed_health: Callable[[], FeedHealthConfig | None]
    wake: Callable[[], None]
    clock: Clock
    history_retention: float

    async def __call__(self, reset: StoreReset) -> None:
        section = self.feed_health()
        now = self.clock()
        alerts = store_reset_alerts(reset, section.notify if section else (), now)
        # Enqueued first: on a StoreError the scheduler calls again, and the metric counts
        # the reset once. Every replica enqueues the same ids; the outbox keeps one.
        if alerts:
            await self.store.enqueue(alerts, now)
            await record_queued(self.store, alerts, now, self.history_retention)
            self.wake()
        self.metrics.store_resets.inc()


#: Polls one feed, storing its state with the writer given (None: straight to the store).
PollWithWriter = Callable[[FeedConfig, SaveFeedState | None], Awaitable[PollReport]]


def schedule_polls(
    settings: Settings,
    store: StateStore,
    poller: Poller,
    metrics: Metrics,
    *,
    feeds: Callable[[], Sequence[FeedConfig]],
    poll: PollWithWriter,
    wake: Callable[[], None],
    outage: OutageLog,
    clock: Clock,
) -> Scheduler:
    """The scheduler of the daemon's polls (not started). ``feeds`` gives the config's
    feeds as they are now (the health check reads it each minute).

    With Redis, the shared one: at most MONITOR_MAX_CONCURRENT_FETCHES polls in flight,
    each feed leased for MONITOR_FEED_LEASE, each poll's feed state written under its
    lease (the writer ``poll`` is given), and the poller asks it whether a first poll
    re-baselines after a store reset.
    """

    async def check_health(busy: Collection[str]) -> int:
        return await poller.check_health(feeds(), busy)

    if not isinstance(store, RedisStore):

        async def poll_to_store(feed: FeedConfig) -> PollReport:
            return await poll(feed, None)

        return FeedScheduler(
            feeds(),
            poll=poll_to_store,
            default_interval=settings.poll_interval,
            check_health=check_health,
            wake=wake,
            outage=outage,
        )
    shared = SharedScheduler(
        feeds(),
        poll=poll,
        schedule=store.feed_schedule(),
        default_interval=settings.poll_interval,
        lease=settings.feed_lease.total_seconds(),
        capacity=settings.max_concurrent_fetches,
        check_health=check_health,
        wake=wake,
        outage=outage,
        on_reset=ResetAnnouncer(
            store,
            metrics,
            lambda: poller.feed_health,
            wake,
            clock,
            settings.history_retention.total_seconds(),
        ),
        rebaseline=settings.max_age.total_seconds(),
        clock=clock,
    )
    poller.baseline = shared.baseline
    return shared
