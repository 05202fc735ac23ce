"""What happens to the articles of a fetched body: claim, match, enqueue alerts, archive,
mark seen; and the backfill of a new rule over the archive.

The order inside :meth:`ArticleProcessor.process` is what makes alerts never
lost and never doubled: an article is *claimed* (a lease, so a crash lets a
later poll redo it), its alerts go into the durable outbox, and only then is it
marked *seen*. Alert ids are deterministic and the outbox ignores known ids, so
redoing an interrupted article is harmless.

Every new article also goes into the store's archive (``MONITOR_ARCHIVE_RETENTION``),
which ``match --archive`` previews rules over and :meth:`ArticleProcessor.backfill`
reads when a rule with ``backfill:`` is added or changed.

A feed with ``fulltext`` has the pages of the articles just claimed read before they are
matched (:class:`~monitor.polling.fulltext.PageReader`): only new articles, so a page is
read once; the rules, the archive and the alerts see the page's text, story detection the
feed's own text (so a feed read in full and one of teasers still share stories).

Every alert handed to the outbox is then recorded in the alert history as "queued"
(:func:`record_queued`; ``MONITOR_HISTORY_RETENTION``), also one the outbox already
knew: the history ignores a "queued" for an alert it has.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import timedelta

from monitor.config.models import FeedConfig
from monitor.log import get_logger
from monitor.matching import RuleSet
from monitor.model import (
    Alert,
    ArchivedArticle,
    Article,
    Attempt,
    ClaimResult,
    Clock,
    Coverage,
)
from monitor.polling.alerts import alerts_for, is_too_old, published_before
from monitor.polling.fulltext import PageReader
from monitor.store import AlertHistory, PollingStore
from monitor.store.history_rules import DEFAULT_RETENTION, QUEUED
from monitor.stories import StoryDetector, coverage_of

log = get_logger("monitor.poll")

#: rule id -> (query text, channel names to notify)
Routes = Mapping[str, tuple[str, Sequence[str]]]


@dataclass(frozen=True, slots=True)
class Rules:
    """Compiled rules and where each one's alerts go: one version of the config's rules."""

    ruleset: RuleSet
    routes: Routes


@dataclass(frozen=True, slots=True)
class ArchivePolicy:
    """How long and how many new articles the store keeps (0 in either: no archive)."""

    retention: float = 0.0
    max_articles: int = 0

    @property
    def enabled(self) -> bool:
        return self.retention > 0 and self.max_articles > 0


async def record_queued(
    store: AlertHistory, alerts: Sequence[Alert], now: float, retention: float
) -> None:
    """Record ``alerts``, just handed to the outbox, as queued (status "pending") in the
    alert history; nothing when ``retention`` is 0 (history off)."""
    if alerts and retention > 0:
        updates = [(alert, "pending", Attempt(now, QUEUED)) for alert in alerts]
        await store.record_history(updates, retention)


#: How long past the time it stops being able to alert a dated article stays seen: room
#: for clocks that disagree and for a later, longer MONITOR_MAX_AGE.
SEEN_MARGIN = 86_400.0


def seen_for(article: Article, now: float, max_age: timedelta, retention: timedelta) -> float:
    """Seconds to keep ``article`` seen: a dated one until it is too old to alert (its date
    plus MONITOR_MAX_AGE) and a margin, at least the margin; an undated one (it can alert
    whenever it is new) for the whole ``retention``. Never more than ``retention``.

    Forgetting a dated article that old is safe: if it comes back, it is too old to alert
    and is recorded as seen again; and an alert it made keeps its delivered record (whose
    id a repeat would have) for the whole retention.
    """
    keep = retention.total_seconds()
    if article.published is None:
        return keep
    alert_until = article.published.timestamp() + max_age.total_seconds()
    return min(keep, max(alert_until + SEEN_MARGIN - now, SEEN_MARGIN))


@dataclass(frozen=True, slots=True)
class ProcessCounts:
    """Counts from processing a batch of parsed articles."""

    new: int = 0
    too_old: int = 0
    alerts: int = 0
    deferred: int = 0
    #: The id of each rule that matched a new article, once per (article, rule).
    matched_rules: tuple[str, ...] = ()


@dataclass
class ArticleProcessor:
    """Turns articles into alerts, exactly once per (rule, story or article, channel)."""

    store: PollingStore
    rules: Rules
    max_age: timedelta
    seen_retention: timedelta
    #: How long a claimed article stays reserved (a process that dies holds it this long).
    article_lease: float
    clock: Clock = time.time
    #: Story-level dedup of matching articles; None: every article alerts on its own.
    stories: StoryDetector | None = None
    archive: ArchivePolicy = field(default_factory=ArchivePolicy)
    #: How long the alert history keeps an alert after its last change (seconds;
    #: MONITOR_HISTORY_RETENTION); 0 records nothing.
    history_retention: float = DEFAULT_RETENTION
    #: Reads the article pages of feeds with ``fulltext``; None: no page is ever read.
    pages: PageReader | None = None

    async def process(
        self,
        articles: Sequence[Article],
        *,
        feed_name: str = "",
        feed: FeedConfig | None = None,
        not_before: float | None = None,
    ) -> ProcessCounts:
        """Claim, match, enqueue, archive and mark seen each article not processed before.

        The whole body goes to the store in four round trips, whatever its
        size: one claim of every article (which says which were seen before
        and which another process holds), one enqueue of every alert, one
        archive write, one mark-seen of every claimed key. The order still
        makes an alert never lost: a crash before the mark leaves the claims
        to expire, and a later poll redoes those articles (enqueueing and
        archiving are idempotent). ``feed`` (its config) says whether the pages
        of the claimed articles are read first (``fulltext``) and may set their language
        (``language``). With ``not_before`` (a
        feed's first poll after the store lost its data), articles published before it,
        or undated, are recorded as seen without alerting, like those too old.
        """
        if not articles:
            return ProcessCounts()
        now = self.clock()
        key_lists = [article.dedup_keys() for article in articles]
        results = await self.store.claim_articles(key_lists, now, self.article_lease)
        # BUSY: in flight elsewhere, or its process died: redone by a later poll.
        deferred = results.count(ClaimResult.BUSY)
        claimed = [
            (article, keys)
            for article, keys, result in zip(articles, key_lists, results, strict=True)
            if result is ClaimResult.CLAIMED
        ]
        if not claimed:
            return ProcessCounts(deferred=deferred)
        if feed is not None and feed.language:
            # The feed's configured language outranks the one it declares and detection.
            claimed = [(replace(a, language=feed.language), keys) for a, keys in claimed]
        claimed_keys = [key for _, keys in claimed for key in keys]
        too_old, alerts = 0, []
        matched: list[str] = []
        archived: list[ArchivedArticle] = []
        # One version of the rules for the whole batch, whatever a reload swaps meanwhile.
        rules = self.rules
        try:
            read = await self._with_pages(feed, [article for article, _ in claimed], now)
            for (article, _), full in zip(claimed, read, strict=True):
                story_id = ""
                if is_too_old(article, now, self.max_age) or published_before(article, not_before):
                    too_old += 1
                else:
                    found, story_id = await self._alerts_of(
                        rules, full, now, matched, feed_name, as_fed=article
                    )
                    alerts += found
                archived.append(ArchivedArticle(full, now, story_id))
            queued = await self.store.enqueue(alerts, now) if alerts else 0
            # After the outbox: a failure here releases the claims, and the redo records it.
            await record_queued(self.store, alerts, now, self.history_retention)
            if self.archive.enabled:
                await self.store.archive_articles(
                    archived, now, self.archive.retention, self.archive.max_articles
                )
        except BaseException:
            await self.store.release_article(claimed_keys)
            raise
        keeps = [
            keep
            for article, keys in claimed
            for keep in [seen_for(article, now, self.max_age, self.seen_retention)] * len(keys)
        ]
        await self.store.mark_seen(claimed_keys, now, keeps)
        return ProcessCounts(
            new=len(claimed),
            too_old=too_old,
            alerts=queued,
            deferred=deferred,
            matched_rules=tuple(matched),
        )

    async def _with_pages(
        self, feed: FeedConfig | None, articles: list[Article], now: float
    ) -> list[Article]:
        """``articles`` (just claimed), those young enough to alert with their page's text
        when ``feed`` asks for it (``fulltext``); the others as they were."""
        if feed is None or not feed.fulltext or self.pages is None:
            return articles
        young = [
            i for i, article in enumerate(articles) if not is_too_old(article, now, self.max_age)
        ]
        # Half the lease at most: the articles must still be ours when they are matched.
        deadline = min(self.pages.timeout, self.article_lease / 2)
        read = await self.pages.read(feed, [articles[i] for i in young], deadline=deadline)
        out = list(articles)
        for i, article in zip(young, read, strict=True):
            out[i] = article
        return out

    async def backfill(
        self,
        entries: Sequence[ArchivedArticle],
        since: Mapping[str, float],
        feed_names: Mapping[str, str],
    ) -> int:
        """Enqueue the alerts of archived ``entries`` for the rules in ``since`` (rule id ->
        the earliest ``archived_at`` its backfill window reaches); how many were new.

        The alert ids are the ones the live poll would have made, so an article
        that already alerted for a rule (and a backfill redone after a crash or
        a restart) adds nothing the outbox does not already know.
        """
        rules = self.rules
        now = self.clock()
        alerts: list[Alert] = []
        matched: list[str] = []
        for entry in entries:

            def in_window(rule_id: str, at: float = entry.archived_at) -> bool:
                return at >= since.get(rule_id, math.inf)

            found, _ = await self._alerts_of(
                rules,
                entry.article,
                now,
                matched,
                feed_names.get(entry.article.feed_id, ""),
                accept=in_window,
                story_id=entry.story_id,
            )
            alerts += found
        queued = await self.store.enqueue(alerts, now) if alerts else 0
        await record_queued(self.store, alerts, now, self.history_retention)
        log.info(
            "backfill",
            rules=sorted(since),
            articles=len(entries),
            matches=len(matched),
            alerts=queued,
        )
        return queued

    async def _alerts_of(
        self,
        rules: Rules,
        article: Article,
        now: float,
        matched: list[str],
        feed_name: str = "",
        *,
        accept: Callable[[str], bool] | None = None,
        story_id: str = "",
        as_fed: Article | None = None,
    ) -> tuple[list[Alert], str]:
        """The alerts of every rule that matches ``article`` (and that ``accept`` accepts),
        one per channel, and the article's story id ("" without story dedup); the id of
        each matching rule is appended to ``matched``.

        A matching article is put into its story first (only matching ones:
        a story index of every article would cost a store call per item for
        nothing), so that a copy of a story already alerted on makes the same
        alert ids, which the outbox drops. An archived article brings the story
        it was given when it was polled. ``as_fed`` is the article as its feed gave it
        when ``article`` carries its page's text: stories compare what feeds carry.
        """
        matches = rules.ruleset.match(article)
        if accept is not None:
            matches = [m for m in matches if accept(m.rule_id)]
        if not matches:
            return [], story_id
        also_in: tuple[Coverage, ...] = ()
        if self.stories is not None and not story_id:
            story = await self.stories.observe(as_fed or article, now)
            story_id, also_in = story.story_id, coverage_of(story, article.id)
        alerts: list[Alert] = []
        for match in matches:
            matched.append(match.rule_id)
            query, channels = rules.routes[match.rule_id]
            alerts += alerts_for(
                match,
                query,
                channels,
                now,
                story_id=story_id,
                also_in=also_in,
                feed_name=feed_name,
            )
            log.info(
                "match",
                rule=match.rule_id,
                article=article.id,
                feed=article.feed_id,
                story=story_id or None,
                title=article.title[:120],
                terms=list(match.matched_terms),
                fulltext=article.fulltext or None,
                channels=list(channels),
            )
        return alerts, story_id
