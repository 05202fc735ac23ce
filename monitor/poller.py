"""Poll one feed: fetch -> parse -> for each article: claim, match, enqueue alerts, mark seen.

The order inside ``process_articles`` is what makes alerts never lost and
never doubled: an article is *claimed* (a lease, so a crash lets a later poll
redo it), its alerts go into the durable outbox, and only then is it marked
*seen*. Alert ids are deterministic and the outbox ignores known ids, so
redoing an interrupted article is harmless.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import timedelta

import httpx

from monitor.config_models import FeedConfig
from monitor.ingest import fetch_feed, parse_feed
from monitor.log import get_logger
from monitor.matching import RuleSet
from monitor.pipeline import alerts_for, is_too_old
from monitor.store import FeedState, StateStore
from monitor.types import Article, Clock, FetchStatus

log = get_logger("monitor.poll")

#: Default of how long a claimed article is reserved for the process handling it.
ARTICLE_LEASE = 120.0


@dataclass(frozen=True, slots=True)
class PollReport:
    """What one poll of one feed did."""

    #: Feed id.
    feed_id: str
    #: "ok", "not_modified" or "error".
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
    #: Error text when status is "error".
    error: str = ""
    #: Failures in a row, this one included.
    consecutive_failures: int = 0
    #: Seconds the server asked us to wait, if it did.
    retry_after: float | None = None


@dataclass(frozen=True, slots=True)
class ProcessCounts:
    """Counts from processing a batch of parsed articles."""

    new: int = 0
    too_old: int = 0
    alerts: int = 0
    deferred: int = 0


@dataclass
class Poller:
    """Everything a poll needs, built once by the composition root."""

    store: StateStore
    http: httpx.AsyncClient
    ruleset: RuleSet
    #: rule id -> (query text, channel names to notify)
    routes: Mapping[str, tuple[str, Sequence[str]]]
    max_age: timedelta
    seen_retention: timedelta
    fetch_timeout: float
    max_feed_bytes: int
    clock: Clock = time.time
    #: How long a claimed article stays reserved (a process that dies holds it this long).
    article_lease: float = ARTICLE_LEASE

    async def poll(self, feed: FeedConfig) -> PollReport:
        """Fetch, parse and process one feed; never raises for a feed-level failure."""
        state = await self.store.get_feed_state(feed.id) or FeedState()
        outcome = await fetch_feed(
            self.http,
            feed.id,
            feed.url,
            state.validators,
            total_timeout=self.fetch_timeout,
            max_bytes=self.max_feed_bytes,
        )
        now = self.clock()
        if outcome.status is FetchStatus.NOT_MODIFIED:
            await self.store.put_feed_state(
                feed.id,
                replace(
                    state,
                    validators=outcome.validators,
                    last_success_at=now,
                    consecutive_failures=0,
                    last_error="",
                ),
            )
            report = PollReport(feed.id, "not_modified")
            log.info(
                "poll",
                feed=feed.id,
                status=report.status,
                http_status=outcome.http_status,
                elapsed=round(outcome.elapsed, 3),
            )
            return report
        error = outcome.error
        parsed = None
        if outcome.status is FetchStatus.OK:
            parsed = await asyncio.to_thread(
                parse_feed, feed.id, outcome.body, outcome.headers, fetched_at=now
            )
            error = parsed.error
        if parsed is None or error:
            return await self._failed(feed, state, error, outcome.retry_after, outcome.http_status)

        first_poll = state.first_polled_at is None
        counts = await self.process_articles(parsed.articles)
        # With articles deferred, keep the old validators: a 304 next time would hide them.
        validators = state.validators if counts.deferred else outcome.validators
        await self.store.put_feed_state(
            feed.id,
            replace(
                state,
                validators=validators,
                last_success_at=now,
                first_polled_at=state.first_polled_at or now,
                consecutive_failures=0,
                last_error="",
            ),
        )
        report = PollReport(
            feed.id,
            "ok",
            entries=len(parsed.articles),
            new=counts.new,
            too_old=counts.too_old,
            alerts=counts.alerts,
            deferred=counts.deferred,
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
        )
        return report

    async def _failed(
        self,
        feed: FeedConfig,
        state: FeedState,
        error: str,
        retry_after: float | None,
        http_status: int | None,
    ) -> PollReport:
        failures = state.consecutive_failures + 1
        await self.store.put_feed_state(
            feed.id, replace(state, consecutive_failures=failures, last_error=error)
        )
        log.warning(
            "poll",
            feed=feed.id,
            status="error",
            error=error,
            http_status=http_status,
            consecutive_failures=failures,
        )
        return PollReport(
            feed.id, "error", error=error, consecutive_failures=failures, retry_after=retry_after
        )

    async def process_articles(self, articles: Sequence[Article]) -> ProcessCounts:
        """Claim, match, enqueue and mark seen each article not processed before."""
        new = too_old = alerts = deferred = 0
        retention = self.seen_retention.total_seconds()
        for article in articles:
            keys = article.dedup_keys()
            now = self.clock()
            if not await self.store.claim_article(keys, now, self.article_lease):
                if not await self._any_seen(keys, now):
                    deferred += 1  # in flight elsewhere, or its process died: redo it later
                continue
            new += 1
            try:
                if is_too_old(article, now, self.max_age):
                    too_old += 1
                else:
                    alerts += await self._enqueue_matches(article, now)
            except BaseException:
                await self.store.release_article(keys)
                raise
            await self.store.mark_seen(keys, now, retention)
        return ProcessCounts(new=new, too_old=too_old, alerts=alerts, deferred=deferred)

    async def _any_seen(self, keys: Sequence[str], now: float) -> bool:
        for key in keys:
            if await self.store.is_seen(key, now):
                return True
        return False

    async def _enqueue_matches(self, article: Article, now: float) -> int:
        queued = 0
        for match in self.ruleset.match(article):
            query, channels = self.routes[match.rule_id]
            batch = alerts_for(match, query, channels, now)
            queued += await self.store.enqueue(batch, now)
            log.info(
                "match",
                rule=match.rule_id,
                article=article.id,
                feed=article.feed_id,
                title=article.title[:120],
                terms=list(match.matched_terms),
                channels=list(channels),
            )
        return queued
