"""Poll one feed: fetch -> parse -> for each article: claim, match, enqueue alerts, mark seen.

What becomes of the articles (claimed, matched, alerted, archived, marked seen, in the
order that makes alerts never lost and never doubled) is
:class:`~monitor.polling.articles.ArticleProcessor`'s. Around that, :meth:`Poller.poll`
keeps each feed's :class:`FeedState` and polls politely: fetches wait for a slot
(:class:`~monitor.ingest.fetch.FetchLimits`, in all and per host), a permanent redirect
makes the new URL the one asked next (the config is not rewritten), a 410 disables the
feed until its URL changes or ``news-monitor feeds enable`` clears the mark, and every
poll records when the next one is due (backoff, Retry-After, Cache-Control max-age, RSS
``<ttl>``: :func:`monitor.polling.schedule.next_poll_delay`). After each poll the feed's
health is checked, and a feed going down or recovering enqueues a health alert into the
same outbox. The state is stored by the poll's writer (:mod:`monitor.polling.state_writer`).

However many feeds are polled at once (``run --once`` gathers them all, the daemon's first
round starts them within seconds), at most :attr:`Poller.active_polls` of them are *active*:
reading their state, or reading a fetched body and storing what it brought. Each active
poll makes one store call at a time, so the store sees a bounded number of callers, not
one per feed. A poll waiting for its fetch slot, or fetching, is not active (a feed
queued behind its busy host never holds a slot another host's feed could use), and it
gives its fetch slot back before it waits to be active again: an active poll may wait
for fetch slots itself (the pages of a ``fulltext`` feed), so holding one while waiting
could deadlock. The price is that when parsing lags behind fetching (every item new),
fetched bodies wait in memory for their turn.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Collection, Sequence
from dataclasses import InitVar, dataclass, field, replace
from datetime import timedelta

import httpx

from monitor.config.models import FeedConfig, FeedHealthConfig
from monitor.ingest import fetch_feed, redact_url
from monitor.ingest.fetch import FeedFetch, FetchLimits
from monitor.log import get_logger
from monitor.matching import RuleSet
from monitor.model import Article, Clock, FeedState, FetchStatus
from monitor.polling.articles import (
    ArchivePolicy,
    ArticleProcessor,
    ProcessCounts,
    Routes,
    Rules,
    record_queued,
)
from monitor.polling.feed_state import body_hash, count_new_entries, rebase, tracked_entries
from monitor.polling.fulltext import DEFAULT_PAGE_BYTES, PageReader
from monitor.polling.health import error_reason, health_alerts, health_change, health_policy
from monitor.polling.reading import known_entries, read_body
from monitor.polling.schedule import (
    DEFAULT_MAX_SERVER_INTERVAL,
    interval_for,
    next_poll_delay,
    rss_ttl,
    server_interval,
)
from monitor.polling.state_writer import SaveFeedState, store_writer, write_state
from monitor.store import PollingStore
from monitor.store.history_rules import DEFAULT_RETENTION
from monitor.stories import StoryDetector

log = get_logger("monitor.poll")

#: Default of how long a claimed article is reserved for the process handling it.
ARTICLE_LEASE = 120.0
#: Defaults of the fetch limits (MONITOR_MAX_CONCURRENT_FETCHES, MONITOR_MAX_FETCHES_PER_HOST).
DEFAULT_TOTAL_FETCHES, DEFAULT_FETCHES_PER_HOST = 16, 2
#: Default of how many polls are active at once (see the module docstring). Half of the
#: Redis store's connections (``monitor.store.redis.MAX_CONNECTIONS``), so polls never queue
#: for one and delivery and the web console keep the rest; more would not poll faster, the
#: work of an active poll being CPU (parsing, matching) and store round trips.
DEFAULT_ACTIVE_POLLS = 16


@dataclass(frozen=True, slots=True)
class PollReport:
    """What one poll of one feed did."""

    #: Feed id.
    feed_id: str
    #: "ok", "not_modified" (304), "unchanged" (a body identical to the last one read: not
    #: parsed), "error" or "disabled" (410 now or before: not fetched).
    status: str
    #: Entries in the feed body.
    entries: int = 0
    #: Articles processed for the first time.
    new: int = 0
    #: New articles recorded as seen without alerting (older than MONITOR_MAX_AGE).
    too_old: int = 0
    #: Alerts added to the outbox.
    alerts: int = 0
    #: Articles claimed by another process (or one that died): redone on a later poll.
    deferred: int = 0
    #: Error text when status is "error", the reason when "disabled".
    error: str = ""
    #: Failures in a row, this one included.
    consecutive_failures: int = 0
    #: Seconds the server asked us to wait, if it did.
    retry_after: float | None = None
    #: Seconds until the feed is due again (also stored as ``FeedState.next_poll_at``).
    next_poll_in: float | None = None
    #: Feed health alerts (down, recovered) added to the outbox.
    health_alerts: int = 0
    #: Seconds the fetch took; None when the feed was not fetched (disabled).
    elapsed: float | None = None
    #: The id of each rule that matched a new article, once per (article, rule).
    matched_rules: tuple[str, ...] = ()


@dataclass
class Poller:
    """Everything a poll needs, built once by the composition root."""

    store: PollingStore
    http: httpx.AsyncClient
    #: The rules and routes polls start with (:meth:`use_rules` swaps them).
    ruleset: InitVar[RuleSet]
    routes: InitVar[Routes]
    max_age: timedelta
    seen_retention: timedelta
    fetch_timeout: float
    max_feed_bytes: int
    clock: Clock = time.time
    #: How long a claimed article stays reserved (a process that dies holds it this long).
    article_lease: float = ARTICLE_LEASE
    #: Polling interval of a feed that sets none (MONITOR_POLL_INTERVAL).
    default_interval: timedelta = timedelta(minutes=5)
    #: Fetches in flight, in all and per host.
    limits: FetchLimits = field(
        default_factory=lambda: FetchLimits(DEFAULT_TOTAL_FETCHES, DEFAULT_FETCHES_PER_HOST)
    )
    #: Longest interval a server may ask for (MONITOR_MAX_SERVER_INTERVAL).
    max_server_interval: timedelta = DEFAULT_MAX_SERVER_INTERVAL
    #: The config's ``feed_health`` section; None: no health alerts.
    feed_health: FeedHealthConfig | None = None
    #: Story-level dedup of matching articles; None: every article alerts on its own.
    stories: StoryDetector | None = None
    #: How long and how many new articles the store archives (MONITOR_ARCHIVE_*).
    archive: ArchivePolicy = field(default_factory=ArchivePolicy)
    #: How long the alert history keeps an alert after its last change (seconds;
    #: MONITOR_HISTORY_RETENTION); 0 records nothing.
    history_retention: float = DEFAULT_RETENTION
    #: Polls active at once: reading their state, or processing a fetched body.
    active_polls: int = DEFAULT_ACTIVE_POLLS
    #: Largest article page read for a feed's ``fulltext`` (MONITOR_FULLTEXT_MAX_BYTES).
    fulltext_max_bytes: int = DEFAULT_PAGE_BYTES
    #: Told of each fetch (WebSub hub discovery: ``monitor.app.websub``); must be quick.
    on_fetched: Callable[[FeedConfig, FeedFetch], None] | None = None
    #: Asked at a feed's first poll (no state in the store): items published before the
    #: time it answers are recorded without alerting (the store lost its data; None: not).
    baseline: Callable[[], Awaitable[float | None]] | None = None

    def __post_init__(self, ruleset: RuleSet, routes: Routes) -> None:
        if self.active_polls < 1:
            raise ValueError(f"active_polls must be at least 1, not {self.active_polls}")
        # Without it, a thousand polls started together would each ask the store for a
        # connection at once: the Redis pool hands a freed connection to whichever call
        # runs first, which is the next call of a poll already running, so the first reads
        # of the feeds not yet started waited past the pool's timeout under CPU load.
        self._active = asyncio.Semaphore(self.active_polls)
        #: Claims, matches, enqueues, archives and marks seen the articles of a body.
        self.articles = ArticleProcessor(
            store=self.store,
            rules=Rules(ruleset, routes),
            max_age=self.max_age,
            seen_retention=self.seen_retention,
            article_lease=self.article_lease,
            clock=self.clock,
            stories=self.stories,
            archive=self.archive,
            history_retention=self.history_retention,
            pages=PageReader(self.http, self.limits, self.fetch_timeout, self.fulltext_max_bytes),
        )

    def use_rules(self, ruleset: RuleSet, routes: Routes) -> None:
        """Swap in a reloaded config's rules and routes; a batch being processed finishes
        with the ones it started with."""
        self.articles.rules = Rules(ruleset, routes)

    @property
    def rules(self) -> Rules:
        """The rules and routes polls use now."""
        return self.articles.rules

    async def process_articles(
        self, articles: Sequence[Article], *, feed_name: str = "", feed: FeedConfig | None = None
    ) -> ProcessCounts:
        """Claim, match, enqueue, archive and mark seen each article not processed before
        (:meth:`ArticleProcessor.process`)."""
        return await self.articles.process(articles, feed_name=feed_name, feed=feed)

    async def poll(
        self, feed: FeedConfig, *, save_state: SaveFeedState | None = None
    ) -> PollReport:
        """Fetch, parse and process one feed; never raises for a feed-level failure.

        Active (see the module docstring) while it reads the feed's state and from the
        fetched body on; not while it waits for its fetch slot or fetches. Its state is
        stored with ``save_state`` (default: straight to the store).
        """
        save = save_state or store_writer(self.store)
        interval = interval_for(feed, self.default_interval)
        async with self._active:
            state = rebase(await self.store.get_feed_state(feed.id) or FeedState(), feed.url)
            if state.disabled:
                return await self._still_disabled(feed, state, interval, save)
        url = state.moved_to or feed.url
        async with self.limits.slot(url):
            outcome = await fetch_feed(
                self.http,
                feed.id,
                url,
                state.validators,
                total_timeout=self.fetch_timeout,
                max_bytes=self.max_feed_bytes,
                allow_private=feed.allow_private_addresses,
                request=feed.request,
            )
        now = self.clock()  # when it was fetched, not when a slot to process it came free
        if self.on_fetched is not None:
            self.on_fetched(feed, outcome)
        async with self._active:
            return await self._settle(feed, state, outcome, interval, now, save)

    async def _settle(
        self,
        feed: FeedConfig,
        state: FeedState,
        outcome: FeedFetch,
        interval: timedelta,
        now: float,
        save: SaveFeedState,
    ) -> PollReport:
        """What a fetch brought: parse and process a new body, store the feed's state."""
        state = self._follow_move(feed, state, outcome)
        if outcome.status is FetchStatus.ERROR and outcome.http_status == 410:
            return await self._disable(feed, state, outcome, interval, now, save)
        digest = body_hash(outcome.body) if outcome.status is FetchStatus.OK else ""
        if outcome.status is FetchStatus.NOT_MODIFIED or (digest and digest == state.body_hash):
            return await self._unchanged(feed, state, outcome, interval, now, save)
        error = outcome.error
        reading = None
        if outcome.status is FetchStatus.OK:
            reading = await asyncio.to_thread(
                read_body,
                feed.id,
                outcome.body,
                outcome.headers,
                fetched_at=now,
                known=known_entries(state.entry_map),
            )
            error = reading.parsed.error
        if reading is None or error:
            return await self._failed(feed, state, error, outcome, interval, now, save)

        first_poll = state.first_polled_at is None
        parsed = reading.parsed
        not_before = await self.baseline() if first_poll and self.baseline else None
        counts = await self.articles.process(
            parsed.articles, feed_name=feed.name or "", feed=feed, not_before=not_before
        )
        hashes = tracked_entries(reading.id_hashes)
        fresh = count_new_entries(state.recent_entries, hashes)
        ttl = rss_ttl(outcome.body)
        delay = self._delay(interval, 0, server_interval=server_interval(outcome.headers, ttl))
        # With articles deferred, keep the old validators, no body hash and no entry map:
        # a 304, an identical body or identical entries next time would hide them.
        validators = state.validators if counts.deferred else outcome.validators
        state = replace(
            state,
            validators=validators,
            last_success_at=now,
            first_polled_at=state.first_polled_at or now,
            consecutive_failures=0,
            failing_since=None,
            last_error="",
            next_poll_at=now + delay,
            recent_entries=hashes,
            items_seen=state.items_seen + fresh,
            last_new_item_at=now if fresh else state.last_new_item_at,
            ttl=ttl,
            body_hash="" if counts.deferred else digest,
            entry_map=() if counts.deferred else reading.entry_map,
        )
        state, health = await self._check_health(feed, state, now)
        await write_state(save, feed.id, state)
        report = PollReport(
            feed.id,
            "ok",
            entries=len(reading.id_hashes),
            new=counts.new,
            too_old=counts.too_old,
            alerts=counts.alerts,
            deferred=counts.deferred,
            next_poll_in=delay,
            health_alerts=health,
            elapsed=outcome.elapsed,
            matched_rules=counts.matched_rules,
        )
        log.info(
            "poll",
            feed=feed.id,
            status="ok",
            first_poll=first_poll,
            entries=report.entries,
            new=report.new,
            too_old=report.too_old,
            alerts=report.alerts,
            deferred=report.deferred,
            skipped_entries=parsed.skipped,
            http_status=outcome.http_status,
            elapsed=round(outcome.elapsed, 3),
            next_poll_in=round(delay, 1),
        )
        return report

    async def _unchanged(
        self,
        feed: FeedConfig,
        state: FeedState,
        outcome: FeedFetch,
        interval: timedelta,
        now: float,
        save: SaveFeedState,
    ) -> PollReport:
        """A 304, or a body byte-identical to the last one read: nothing to parse or claim.

        Every entry of that body was processed by the poll that read it (its hash is
        stored only then), so only the feed's state moves on: success, validators, the
        next poll.
        """
        server = server_interval(outcome.headers, state.ttl)
        delay = self._delay(interval, 0, server_interval=server)
        state = replace(
            state,
            validators=outcome.validators,
            last_success_at=now,
            consecutive_failures=0,
            failing_since=None,
            last_error="",
            next_poll_at=now + delay,
        )
        state, health = await self._check_health(feed, state, now)
        await write_state(save, feed.id, state)
        status = "not_modified" if outcome.status is FetchStatus.NOT_MODIFIED else "unchanged"
        report = PollReport(
            feed.id, status, next_poll_in=delay, health_alerts=health, elapsed=outcome.elapsed
        )
        log.info(
            "poll",
            feed=feed.id,
            status=status,
            http_status=outcome.http_status,
            elapsed=round(outcome.elapsed, 3),
            next_poll_in=round(delay, 1),
        )
        return report

    async def first_polls(self, feeds: Sequence[FeedConfig]) -> dict[str, float]:
        """Feeds whose first poll after a start must wait, and until when (epoch seconds).

        Only failing feeds: their stored next poll is a backoff or a server's
        Retry-After, which a restart must not cut short. A healthy feed is
        polled at once, as is one whose URL changed in the config.
        """
        now = self.clock()
        waits: dict[str, float] = {}
        for feed in feeds:
            state = await self.store.get_feed_state(feed.id)
            if (
                state is not None
                and state.applies_to(feed.url)
                and state.consecutive_failures > 0
                and state.next_poll_at is not None
                and state.next_poll_at > now
            ):
                waits[feed.id] = state.next_poll_at
        return waits

    def _delay(
        self,
        interval: timedelta,
        failures: int,
        retry_after: float | None = None,
        server_interval: float | None = None,
    ) -> float:
        return next_poll_delay(
            interval,
            failures,
            retry_after,
            server_interval=server_interval,
            max_server_interval=self.max_server_interval,
        )

    def _follow_move(self, feed: FeedConfig, state: FeedState, outcome: FeedFetch) -> FeedState:
        """Record a permanent redirect: the new URL is asked first from now on (logged once).

        A fetch the address policy refused records no move (a 301 to loopback is never
        stored), and drops a stored move it was asked at: a URL stored before the policy
        (or while private addresses were allowed) falls back to the config's.
        """
        asked = state.moved_to or feed.url
        if outcome.refused:
            if state.moved_to:
                log.warning(
                    "feed_move_dropped",
                    feed=feed.id,
                    url=redact_url(feed.url),
                    moved_to=redact_url(state.moved_to),
                    detail="the stored new URL was refused; polled at the configured URL again",
                )
                return replace(state, moved_to="")
            return state
        if not outcome.moved_to or outcome.moved_to == asked:
            return state
        moved_to = "" if outcome.moved_to == feed.url else outcome.moved_to
        log.warning(
            "feed_moved",
            feed=feed.id,
            url=redact_url(asked),
            moved_to=redact_url(outcome.moved_to),
            http_status=outcome.http_status,
            detail="polled at the new URL from now on; update the watch config to match",
        )
        return replace(state, moved_to=moved_to)

    async def _still_disabled(
        self, feed: FeedConfig, state: FeedState, interval: timedelta, save: SaveFeedState
    ) -> PollReport:
        """A disabled feed is not fetched; its health is still checked (the config may have
        gained a feed_health section since)."""
        now = self.clock()
        checked, health = await self._check_health(feed, replace(state, next_poll_at=None), now)
        if checked != state:
            await write_state(save, feed.id, checked)
        return PollReport(
            feed.id,
            "disabled",
            error=state.disabled_reason,
            consecutive_failures=state.consecutive_failures,
            next_poll_in=interval.total_seconds(),
            health_alerts=health,
        )

    async def _disable(
        self,
        feed: FeedConfig,
        state: FeedState,
        outcome: FeedFetch,
        interval: timedelta,
        now: float,
        save: SaveFeedState,
    ) -> PollReport:
        """410 Gone: stop polling this URL for good (until the config or an operator says so)."""
        failures = state.consecutive_failures + 1
        reason = error_reason(outcome.error, feed.id)
        state = replace(
            state,
            consecutive_failures=failures,
            failing_since=state.failing_since if state.failing_since is not None else now,
            last_error=outcome.error,
            disabled_reason=reason,
            disabled_at=now,
            next_poll_at=None,
        )
        state, health = await self._check_health(feed, state, now)
        await write_state(save, feed.id, state)
        log.warning(
            "feed_disabled",
            feed=feed.id,
            url=redact_url(state.moved_to or feed.url),
            reason=reason,
            detail=f"not polled again until its url changes or `news-monitor feeds enable "
            f"{feed.id}`",
        )
        return PollReport(
            feed.id,
            "disabled",
            error=outcome.error,
            consecutive_failures=failures,
            next_poll_in=interval.total_seconds(),
            health_alerts=health,
            elapsed=outcome.elapsed,
        )

    async def _failed(
        self,
        feed: FeedConfig,
        state: FeedState,
        error: str,
        outcome: FeedFetch,
        interval: timedelta,
        now: float,
        save: SaveFeedState,
    ) -> PollReport:
        failures = state.consecutive_failures + 1
        delay = self._delay(interval, failures, outcome.retry_after)
        state = replace(
            state,
            consecutive_failures=failures,
            failing_since=state.failing_since if state.failing_since is not None else now,
            last_error=error,
            next_poll_at=now + delay,
        )
        state, health = await self._check_health(feed, state, now)
        await write_state(save, feed.id, state)
        log.warning(
            "poll",
            feed=feed.id,
            status="error",
            error=error,
            http_status=outcome.http_status,
            consecutive_failures=failures,
            retry_after=outcome.retry_after,
            next_poll_in=round(delay, 1),
        )
        return PollReport(
            feed.id,
            "error",
            error=error,
            consecutive_failures=failures,
            retry_after=outcome.retry_after,
            next_poll_in=delay,
            health_alerts=health,
            elapsed=outcome.elapsed,
        )

    async def check_health(self, feeds: Sequence[FeedConfig], busy: Collection[str] = ()) -> int:
        """Raise the feed-down alerts that came due between polls; how many were queued.

        A failing feed is polled again only after its backoff (up to an hour),
        so the poll that would notice ``failing_after`` has passed can come
        late; this check, run every minute by the scheduler, makes the alert
        come when the threshold passes. Only "down" can come from here:
        recovery needs a poll. Feeds in ``busy`` (being polled right now) are
        left to their poll, which checks them itself and must not have its
        state overwritten.
        """
        if self.feed_health is None:
            return 0
        queued = 0
        for feed in feeds:
            if feed.id in busy or health_policy(feed, self.feed_health) is None:
                continue  # being polled, or no threshold applies: no store read needed
            stored = await self.store.get_feed_state(feed.id)
            if stored is None:
                continue
            state = rebase(stored, feed.url)
            if state.incident or state.disabled:
                continue
            updated, count = await self._check_health(feed, state, self.clock())
            queued += count
            if updated.incident and feed.id not in busy:
                await self.store.put_feed_state(feed.id, updated)
        return queued

    async def _check_health(
        self, feed: FeedConfig, state: FeedState, now: float
    ) -> tuple[FeedState, int]:
        """Enqueue a feed-down or recovered alert if the feed just crossed that line.

        The alerts go into the outbox *before* the caller stores the state
        that records the incident; a crash between the two enqueues the same
        deterministic ids again, which the outbox ignores.
        """
        policy = health_policy(feed, self.feed_health)
        if policy is None or self.feed_health is None:
            return state, 0
        change = health_change(state, now, policy)
        if change is None:
            return state, 0
        alerts = health_alerts(
            change,
            state,
            feed_id=feed.id,
            feed_name=feed.name,
            url=redact_url(feed.url),
            channels=self.feed_health.notify,
            now=now,
        )
        queued = await self.store.enqueue(alerts, now)
        await record_queued(self.store, alerts, now, self.history_retention)
        if change.transition == "down":
            log.warning("feed_down", feed=feed.id, kind=change.kind, since=change.since)
            return replace(state, incident=change.kind, incident_since=change.since), queued
        log.info("feed_recovered", feed=feed.id, kind=change.kind, since=change.since)
        return replace(state, incident="", incident_since=None), queued
