"""The running application: builds store, HTTP clients, rules and channels; owns their
lifetimes; swaps the watch config on a reload.

``Monitor`` is what the CLI drives: ``run_once`` for cron and tests, and
``run_forever`` for the daemon (the scheduler polls, the outbox worker
delivers, reloads are served, a stop event ends all of them gracefully).
"""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from collections.abc import Sequence
from contextlib import AsyncExitStack
from dataclasses import dataclass
from typing import Self

import httpx

from monitor.app.backfill import backfill_rules
from monitor.app.reload import load_candidate, log_refused, serve_reloads, watch_rules
from monitor.app.replicas import Scheduler, schedule_polls
from monitor.app.websub import WebSubManager, websub_for
from monitor.app.wiring import Wiring, build_ruleset, stories_for, wire
from monitor.config.load import LoadedConfig
from monitor.config.models import FeedConfig, WatchConfig
from monitor.delivery.base import Channel
from monitor.delivery.channels import build_delivery_client
from monitor.delivery.worker import ATTEMPT_GRACE, DeliveryCounts, OutboxWorker
from monitor.errors import ConfigError, StoreError
from monitor.ingest import build_http_client
from monitor.log import get_logger
from monitor.model import Clock
from monitor.polling.articles import ArchivePolicy
from monitor.polling.host_limits import fetch_limits
from monitor.polling.poller import Poller, PollReport
from monitor.polling.state_writer import SaveFeedState
from monitor.settings import Settings
from monitor.store import StateStore
from monitor.store.factory import open_store
from monitor.store.outage import OutageLog, wait_for_store
from monitor.web import ConsoleContext, HttpServer, Metrics, Probes

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


class Monitor:
    """The running application: one per process."""

    def __init__(
        self,
        settings: Settings,
        wiring: Wiring,
        store: StateStore,
        poller: Poller,
        worker: OutboxWorker,
        stack: AsyncExitStack,
        clock: Clock,
        metrics: Metrics | None = None,
        delivery_http: httpx.AsyncClient | None = None,
    ) -> None:
        self.settings = settings
        #: What the current watch config built (rules, routes, channels); swapped by a reload.
        self.wiring = wiring
        self.store = store
        self.poller = poller
        self.worker = worker
        self.clock = clock
        self._stack = stack
        self._delivery_http = delivery_http
        #: This monitor's Prometheus metrics (a registry of its own).
        self.metrics = metrics or Metrics(rules=len(wiring.loaded.config.rules))
        self._worker_task: asyncio.Task[None] | None = None
        self._scheduler: Scheduler | None = None
        #: WebSub (``run_forever`` with MONITOR_PUBLIC_URL set), else None.
        self._websub: WebSubManager | None = None
        self._reload_wanted = asyncio.Event()
        self._reload_lock = asyncio.Lock()
        self._retiring: set[asyncio.Task[None]] = set()

    @property
    def config(self) -> WatchConfig:
        """The watch config in force."""
        return self.wiring.loaded.config

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
        """Build every client once; ``store`` and transports are injectable for tests.

        An unreachable store is waited for, up to ``MONITOR_STORE_WAIT``.
        """
        stack = AsyncExitStack()
        try:
            if store is None:
                store = await open_store(settings)
            stack.push_async_callback(store.close)
            await wait_for_store(store.ping, settings.store_wait.total_seconds())
            fetch_http = await stack.enter_async_context(
                build_http_client(settings, transport=fetch_transport)
            )
            delivery_http = await stack.enter_async_context(
                build_delivery_client(settings, transport=delivery_transport)
            )
            wiring = wire(loaded, settings, delivery_http, clock)
            config = loaded.config
            metrics = Metrics(rules=len(config.rules))
            outage = OutageLog()
            poller = Poller(
                store=store,
                http=fetch_http,
                ruleset=wiring.ruleset,
                routes=wiring.routes,
                max_age=settings.max_age,
                seen_retention=settings.seen_retention,
                fetch_timeout=settings.fetch_timeout.total_seconds(),
                max_feed_bytes=settings.max_feed_bytes,
                fulltext_max_bytes=settings.fulltext_max_bytes,
                clock=clock,
                article_lease=settings.claim_lease.total_seconds(),
                default_interval=settings.poll_interval,
                limits=fetch_limits(settings, store, clock),
                max_server_interval=settings.max_server_interval,
                feed_health=config.feed_health,
                stories=stories_for(settings, store),
                archive=ArchivePolicy(
                    settings.archive_retention.total_seconds(), settings.archive_max_articles
                ),
                history_retention=settings.history_retention.total_seconds(),
            )
            worker = OutboxWorker(
                store=store,
                channels=wiring.channels,
                policies=wiring.policies,
                attempt_timeout=settings.delivery_timeout.total_seconds(),
                max_attempts=settings.delivery_max_attempts,
                max_age=settings.delivery_max_age.total_seconds(),
                backoff_base=settings.delivery_backoff.total_seconds(),
                backoff_cap=settings.delivery_backoff_cap.total_seconds(),
                retention=settings.seen_retention.total_seconds(),
                clock=clock,
                observe=metrics.observe_delivery,
                outage=outage,
                history_retention=settings.history_retention.total_seconds(),
            )
        except BaseException:
            await stack.aclose()
            raise
        monitor = cls(settings, wiring, store, poller, worker, stack, clock, metrics, delivery_http)
        # Registered last, so it runs first: the channels in force then, whatever reloads did.
        stack.push_async_callback(monitor._close_channels)
        return monitor

    async def aclose(self) -> None:
        """Close channels, HTTP clients and the store."""
        await self._stack.aclose()

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    async def _close_channels(self) -> None:
        for task in list(self._retiring):
            task.cancel()
        await asyncio.gather(*self._retiring, return_exceptions=True)
        for channel in self.wiring.channels.values():
            await channel.aclose()

    # -- polling -----------------------------------------------------------------

    async def poll_feeds(self, feeds: Sequence[FeedConfig] | None = None) -> list[PollReport]:
        """Poll feeds concurrently; the poller's FetchLimits bound the fetches in flight
        (MONITOR_MAX_CONCURRENT_FETCHES in all, MONITOR_MAX_FETCHES_PER_HOST per host), and
        its active polls the store calls and the parsing (``Poller.active_polls``)."""
        return list(await asyncio.gather(*(self.poll_feed(f) for f in feeds or self.config.feeds)))

    async def poll_feed(
        self, feed: FeedConfig, save_state: SaveFeedState | None = None
    ) -> PollReport:
        """Poll one feed and wake the outbox worker if it queued alerts; its state is stored
        with ``save_state`` (the shared scheduler's, fenced by the poll's lease), else
        straight to the store."""
        # While a hub pushes the feed, it is polled less often (MONITOR_WEBSUB_POLL_INTERVAL).
        polled = self._websub.polled_as(feed) if self._websub else feed
        report = await self.poller.poll(polled, save_state=save_state)
        self.metrics.observe_poll(report)
        if report.alerts or report.health_alerts:
            self.worker.wake()
        return report

    async def backfill(self) -> int:
        """Alert the archived articles that new or changed rules with a ``backfill:`` window
        match (once: their ids are deterministic); how many alerts were queued."""
        queued = await backfill_rules(
            self.store,
            self.poller.articles,
            self.config,
            self.settings.rule_backfill,
            self.clock(),
        )
        if queued:
            self.worker.wake()
        return queued

    async def run_once(self) -> RunSummary:
        """Backfill new rules, poll every feed once, then deliver until the outbox is empty
        or the deadline passes."""
        await self.backfill()
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

    # -- the daemon --------------------------------------------------------------

    async def run_forever(self, stop: asyncio.Event) -> None:
        """The daemon: scheduled polls, the outbox worker and reloads, until ``stop`` is set."""
        scheduler = schedule_polls(  # shared with other replicas on Redis
            self.settings,
            self.store,
            self.poller,
            self.metrics,
            feeds=lambda: self.config.feeds,
            poll=self.poll_feed,
            wake=self.worker.wake,
            outage=self.worker.outage,
            clock=self.clock,
        )
        self._scheduler = scheduler
        self._websub = websub_for(
            self.settings,
            self.store,
            self.poller,
            self.metrics,
            feeds=lambda: self.config.feeds,
            wake=self.worker.wake,
            clock=self.clock,
            outage=self.worker.outage,
        )
        if self._websub is not None:
            self.poller.on_fetched = self._websub.observe_fetch
        # First, so that an address in use stops the start before anything is polled.
        http = await self._start_http(scheduler)
        worker = asyncio.create_task(self.worker.run(stop), name="outbox-worker")
        self._worker_task = worker
        await self._backfill_logged()
        scheduler.start(await self.poller.first_polls(self.config.feeds))
        reloads = [asyncio.create_task(serve_reloads(self._reload_wanted, self.reload, stop))]
        if self.settings.watch_rules:
            reloads.append(
                asyncio.create_task(watch_rules(self.settings.rules_dir, self.request_reload, stop))
            )
        if self._websub is not None:  # the lease keeper, stopped like the reload tasks
            reloads.append(asyncio.create_task(self._websub.run(stop)))
        log.info(
            "startup",
            feeds=len(self.config.feeds),
            rules=len(self.config.rules),
            channels=sorted(self.config.channels),
            watching=str(self.settings.rules_dir) if self.settings.watch_rules else None,
        )
        try:
            await stop.wait()
        finally:
            # A reload in progress finishes its swap; then polls and sends in flight share
            # one grace period, so SIGTERM never takes longer.
            await asyncio.gather(*reloads, return_exceptions=True)
            grace = self.settings.shutdown_grace.total_seconds()
            await asyncio.gather(scheduler.shutdown(grace), self._finish_deliveries(worker, grace))
            if http is not None:
                await http.stop()
            log.info("shutdown", pending=len(await self.store.pending()))

    def request_reload(self) -> None:
        """Ask the daemon to reload the watch config (SIGHUP, a changed file); returns at
        once, the reload runs on the daemon's loop."""
        self._reload_wanted.set()

    async def reload(self) -> bool:
        """Load the watch config again and swap it in; False when it was refused.

        The candidate is validated as ``check`` validates; an invalid one is
        logged problem by problem (``file:line: message``) and counted, and the
        running config stays. A valid one replaces rules, routes, channels and
        feeds at once (no await between the swaps, so no poll or delivery sees
        half of it): added feeds start polling, removed ones stop, and alerts
        queued for a removed channel stay in the outbox (reported here).
        """
        async with self._reload_lock:
            try:
                loaded = await asyncio.to_thread(load_candidate, self.settings)
                ruleset = await asyncio.to_thread(build_ruleset, loaded)
                for rule_id in ruleset.unindexed_rule_ids():  # check's warning, too
                    log.warning(
                        "config_reload",
                        status="warning",
                        problem=f"rule '{rule_id}' cannot be indexed (it can match by "
                        "negation alone), so it is evaluated for every article",
                    )
                wiring = wire(
                    loaded,
                    self.settings,
                    self._require_delivery_http(),
                    self.clock,
                    previous=self.wiring,
                    ruleset=ruleset,
                )
            except ConfigError as e:
                log_refused(e)
                self.metrics.config_reloads.labels("failure").inc()
                return False
            except ValueError as e:  # a channel that cannot work (bad secret, template)
                log.error("config_reload", status="refused", problem=str(e))
                self.metrics.config_reloads.labels("failure").inc()
                return False
            await self._apply(wiring)
            self.metrics.config_reloads.labels("success").inc()
            return True

    def _require_delivery_http(self) -> httpx.AsyncClient:
        if self._delivery_http is None:
            raise RuntimeError("this Monitor was not built by Monitor.create")
        return self._delivery_http

    async def _apply(self, wiring: Wiring) -> None:
        """Swap ``wiring`` in, then report and backfill (store failures there are logged)."""
        before, config = self.config, wiring.loaded.config
        old_feeds = {f.id for f in before.feeds}
        try:  # read before the swap: the first polls of added feeds honour their backoff
            waits = await self.poller.first_polls(
                [f for f in config.feeds if f.id not in old_feeds]
            )
        except StoreError:
            waits = {}
        # -- the swap: no await from here to the end of it --
        self.wiring = wiring
        self.poller.use_rules(wiring.ruleset, wiring.routes)
        self.poller.feed_health = config.feed_health
        self.worker.channels = wiring.channels
        self.worker.policies = wiring.policies
        feeds: tuple[list[str], list[str], list[str]] = ([], [], [])
        if self._scheduler is not None:
            feeds = self._scheduler.update(config.feeds, waits)
        self.metrics.rules.set(len(config.rules))
        if self._websub is not None:
            self._websub.poke()  # unsubscribe the feeds removed
        # -- end of the swap --
        self._retire(wiring.retired)
        old_rules = {r.id: r for r in before.rules}
        log.info(
            "config_reload",
            status="applied",
            feeds=len(config.feeds),
            rules=len(config.rules),
            channels=sorted(config.channels),
            feeds_added=feeds[0],
            feeds_removed=feeds[1],
            feeds_changed=feeds[2],
            rules_added=[r.id for r in config.rules if r.id not in old_rules],
            rules_removed=sorted(set(old_rules) - {r.id for r in config.rules}),
            rules_changed=[
                r.id for r in config.rules if r.id in old_rules and old_rules[r.id] != r
            ],
        )
        self.worker.wake()
        try:
            await self._report_orphans(config)
            await self.backfill()
        except StoreError as e:
            self.worker.outage.failed(e, "config_reload")

    async def _report_orphans(self, config: WatchConfig) -> None:
        """Warn about alerts queued for channels the config no longer has (they stay)."""
        pending = await self.store.pending()
        orphans = Counter(e.alert.channel for e in pending)
        for name in config.channels:
            orphans.pop(name, None)
        for channel, count in sorted(orphans.items()):
            log.warning(
                "config_reload",
                status="channel_removed",
                channel=channel,
                pending=count,
                detail="its queued alerts stay in the outbox; they are sent if the channel "
                "comes back (news-monitor alerts lists them)",
            )

    def _retire(self, channels: Sequence[Channel]) -> None:
        """Close channels a reload replaced, once sends that may still use them are over."""
        if not channels:
            return

        async def close_later() -> None:
            await asyncio.sleep(self.settings.delivery_timeout.total_seconds() + ATTEMPT_GRACE)
            for channel in channels:
                await channel.aclose()

        task = asyncio.create_task(close_later(), name="retire-channels")
        self._retiring.add(task)
        task.add_done_callback(self._retiring.discard)

    async def _backfill_logged(self) -> None:
        try:
            await self.backfill()
        except StoreError as e:
            self.worker.outage.failed(e, "backfill")  # retried at the next start or reload

    async def _start_http(self, scheduler: Scheduler) -> HttpServer | None:
        """Serve /healthz, /readyz, /metrics, the web console and the API on
        MONITOR_HTTP_ADDR ("" : no server)."""
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

        async def refresh() -> None:
            feed_ids = [f.id for f in self.config.feeds]
            await self.metrics.refresh(self.store, feed_ids, self.clock, self.wiring.channels)

        probes = Probes(alive=alive, not_ready=not_ready, refresh=refresh)
        console = ConsoleContext(
            loaded=lambda: self.wiring.loaded,  # the config in force: a reload swaps it
            channels=lambda: self.wiring.channels,
            store=self.store,
            clock=self.clock,
            wake=self.worker.wake,
            history_retention=self.settings.history_retention.total_seconds(),
            archive_retention=self.settings.archive_retention.total_seconds(),
            # The manager's own store object (not a second one over the same backend), so
            # the console reads exactly what the lease keeper writes.
            subscriptions=self._websub.store if self._websub is not None else None,
        )
        token = self.settings.http_token
        http = HttpServer(
            self.settings.http_addr,
            probes,
            self.metrics,
            console=console,
            token=token.get_secret_value() if token is not None else None,
            websub=self._websub,
        )
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
