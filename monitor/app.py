"""Composition root: builds store, HTTP clients, rules and channels once; owns their lifetimes.

``Monitor`` is what the CLI drives: ``run_once`` for cron and tests, and
``run_forever`` for the daemon (the scheduler polls, the outbox worker
delivers, a stop event ends both gracefully).
"""

from __future__ import annotations

import asyncio
import gc
import time
from collections.abc import Sequence
from contextlib import AsyncExitStack
from dataclasses import dataclass
from functools import partial
from typing import Self

import httpx

from monitor.config.load import LoadedConfig
from monitor.config.models import FeedConfig
from monitor.delivery.base import Channel
from monitor.delivery.channels import build_channel, build_delivery_client
from monitor.delivery.policy import policy_for
from monitor.delivery.worker import DeliveryCounts, OutboxWorker
from monitor.ingest import build_http_client
from monitor.ingest.fetch import FetchLimits
from monitor.log import get_logger
from monitor.matching import RuleSet, RuleSpec, compile_rules
from monitor.model import Clock
from monitor.polling.poller import Poller, PollReport
from monitor.polling.scheduler import FeedScheduler
from monitor.settings import Settings
from monitor.store import StateStore
from monitor.store.factory import open_store
from monitor.stories import StoryDetector
from monitor.web import HttpServer, Metrics, Probes

log = get_logger("monitor")


@dataclass(frozen=True, slots=True)
class RunSummary:
    """What ``run --once`` did."""

    #: One report per feed.
    polls: tuple[PollReport, ...]
    #: Delivery outcome of the drain that followed.
    deliveries: DeliveryCounts
    #: Alerts still queued when the run ended (retrying, or held for a digest or rate limit).
    pending: int
    #: Of those, the ones that failed at least once (held on purpose is not a failure).
    failing: int = 0


def stories_for(settings: Settings, store: StateStore) -> StoryDetector | None:
    """The story detector the settings ask for, or None when story dedup is off."""
    window = settings.story_window.total_seconds()
    if window <= 0:
        return None
    # A copy arriving after the first alert's delivered record expired would alert again.
    window = min(window, settings.seen_retention.total_seconds())
    return StoryDetector(store, window, min_similarity=settings.story_similarity)


def build_ruleset(loaded: LoadedConfig) -> RuleSet:
    """Compile and index every rule of the config, entities resolved through its catalog."""
    specs = [
        RuleSpec(r.id, r.query, frozenset(r.feeds) if r.feeds is not None else None)
        for r in loaded.config.rules
    ]
    ruleset = compile_rules(specs, catalog=loaded.catalog)
    # The compiled rules live as long as the process: move them (and everything else alive
    # now) out of the collector's generations, so that the collections that matching
    # triggers never traverse a million rule objects. (Cheap insurance: in the matching
    # benchmark the gain at 100k rules was within noise, but a daemon that keeps more
    # objects alive than the benchmark pays for every full collection.)
    gc.freeze()
    return ruleset


class Monitor:
    """The running application: one per process."""

    def __init__(
        self,
        settings: Settings,
        loaded: LoadedConfig,
        store: StateStore,
        poller: Poller,
        worker: OutboxWorker,
        stack: AsyncExitStack,
        clock: Clock,
        metrics: Metrics | None = None,
    ) -> None:
        self.settings = settings
        self.config = loaded.config
        self.store = store
        self.poller = poller
        self.worker = worker
        self.clock = clock
        self._stack = stack
        #: This monitor's Prometheus metrics (a registry of its own).
        self.metrics = metrics or Metrics(rules=len(loaded.config.rules))
        self._worker_task: asyncio.Task[None] | None = None

    @classmethod
    async def create(
        cls,
        settings: Settings,
        loaded: LoadedConfig,
        *,
        store: StateStore | None = None,
        fetch_transport: httpx.AsyncBaseTransport | None = None,
        delivery_transport: httpx.AsyncBaseTransport | None = None,
        clock: Clock = time.time,
    ) -> Self:
        """Build every client once; ``store`` and transports are injectable for tests."""
        stack = AsyncExitStack()
        try:
            if store is None:
                store = await open_store(settings)
            stack.push_async_callback(store.close)
            await store.ping()
            fetch_http = await stack.enter_async_context(
                build_http_client(settings, transport=fetch_transport)
            )
            delivery_http = await stack.enter_async_context(
                build_delivery_client(settings, transport=delivery_transport)
            )
            config = loaded.config
            metrics = Metrics(rules=len(config.rules))
            channels: dict[str, Channel] = {}
            for name, channel_config in config.channels.items():
                channel = build_channel(name, channel_config, settings, delivery_http, clock)
                stack.push_async_callback(channel.aclose)
                channels[name] = channel
            ruleset = build_ruleset(loaded)
            routes = {
                r.id: (r.query, tuple(r.notify if r.notify is not None else channels))
                for r in config.rules
            }
            poller = Poller(
                store=store,
                http=fetch_http,
                ruleset=ruleset,
                routes=routes,
                max_age=settings.max_age,
                seen_retention=settings.seen_retention,
                fetch_timeout=settings.fetch_timeout.total_seconds(),
                max_feed_bytes=settings.max_feed_bytes,
                clock=clock,
                article_lease=settings.claim_lease.total_seconds(),
                default_interval=settings.poll_interval,
                limits=FetchLimits(settings.max_concurrent_fetches, settings.max_fetches_per_host),
                max_server_interval=settings.max_server_interval,
                feed_health=config.feed_health,
                stories=stories_for(settings, store),
            )
            worker = OutboxWorker(
                store=store,
                channels=channels,
                policies={name: policy_for(c) for name, c in config.channels.items()},
                attempt_timeout=settings.delivery_timeout.total_seconds(),
                max_attempts=settings.delivery_max_attempts,
                max_age=settings.delivery_max_age.total_seconds(),
                backoff_base=settings.delivery_backoff.total_seconds(),
                backoff_cap=settings.delivery_backoff_cap.total_seconds(),
                retention=settings.seen_retention.total_seconds(),
                clock=clock,
                observe=metrics.observe_delivery,
            )
        except BaseException:
            await stack.aclose()
            raise
        return cls(settings, loaded, store, poller, worker, stack, clock, metrics)

    async def aclose(self) -> None:
        """Close channels, HTTP clients and the store."""
        await self._stack.aclose()

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    async def poll_feeds(self, feeds: Sequence[FeedConfig] | None = None) -> list[PollReport]:
        """Poll feeds concurrently; the poller's FetchLimits bound the fetches in flight
        (MONITOR_MAX_CONCURRENT_FETCHES in all, MONITOR_MAX_FETCHES_PER_HOST per host)."""
        return list(await asyncio.gather(*(self.poll_feed(f) for f in feeds or self.config.feeds)))

    async def poll_feed(self, feed: FeedConfig) -> PollReport:
        """Poll one feed and wake the outbox worker if it queued alerts."""
        report = await self.poller.poll(feed)
        self.metrics.observe_poll(report)
        if report.alerts or report.health_alerts:
            self.worker.wake()
        return report

    async def run_once(self) -> RunSummary:
        """Poll every feed once, then deliver until the outbox is empty or the deadline passes."""
        polls = await self.poll_feeds()
        deadline = self.clock() + self.settings.once_delivery_deadline.total_seconds()
        deliveries = await self.worker.drain(deadline)
        queued = await self.store.pending()
        pending = len(queued)
        failing = sum(1 for entry in queued if entry.attempts > 0)
        log.info(
            "run_once",
            feeds=len(polls),
            alerts=sum(p.alerts for p in polls),
            delivered=deliveries.delivered,
            dead=deliveries.dead,
            pending=pending,
        )
        return RunSummary(tuple(polls), deliveries, pending, failing)

    async def run_forever(self, stop: asyncio.Event) -> None:
        """The daemon: scheduled polls plus the outbox worker, until ``stop`` is set."""
        scheduler = FeedScheduler(
            self.config.feeds,
            poll=self.poll_feed,
            default_interval=self.settings.poll_interval,
            check_health=(
                partial(self.poller.check_health, self.config.feeds)
                if self.config.feed_health is not None
                else None
            ),
            wake=self.worker.wake,
        )
        # First, so that an address in use stops the start before anything is polled.
        http = await self._start_http(scheduler)
        worker = asyncio.create_task(self.worker.run(stop), name="outbox-worker")
        self._worker_task = worker
        scheduler.start(await self.poller.first_polls(self.config.feeds))
        log.info(
            "startup",
            feeds=len(self.config.feeds),
            rules=len(self.config.rules),
            channels=sorted(self.config.channels),
        )
        try:
            await stop.wait()
        finally:
            # Polls and sends in flight share one grace period, so SIGTERM never takes longer.
            grace = self.settings.shutdown_grace.total_seconds()
            await asyncio.gather(scheduler.shutdown(grace), self._finish_deliveries(worker, grace))
            if http is not None:
                await http.stop()
            log.info("shutdown", pending=len(await self.store.pending()))

    async def _start_http(self, scheduler: FeedScheduler) -> HttpServer | None:
        """Serve /healthz, /readyz and /metrics on MONITOR_HTTP_ADDR ("" : no server)."""
        if not self.settings.http_addr:
            return None

        def alive() -> dict[str, bool]:
            task = self._worker_task
            return {"scheduler": scheduler.running, "worker": bool(task and not task.done())}

        async def not_ready() -> str | None:
            # The config is loaded: a Monitor exists only with one. The store must answer.
            try:
                await self.store.ping()
            except Exception as e:
                return f"store: {str(e) or type(e).__name__}"
            return None

        feed_ids = [f.id for f in self.config.feeds]
        probes = Probes(
            alive=alive,
            not_ready=not_ready,
            refresh=partial(self.metrics.refresh, self.store, feed_ids, self.clock),
        )
        http = HttpServer(self.settings.http_addr, probes, self.metrics)
        await http.start()
        self._stack.push_async_callback(http.stop)  # also if the start fails further on
        return http

    async def _finish_deliveries(self, worker: asyncio.Task[None], grace: float) -> None:
        """Let the worker finish the batch it is sending; cut off after ``grace`` seconds."""
        try:
            await asyncio.wait_for(worker, timeout=grace)
        except TimeoutError:
            # Cancelled, the worker gives its unsent alerts back to the outbox, due at once.
            log.warning("shutdown", detail="deliveries still in flight stay queued")
