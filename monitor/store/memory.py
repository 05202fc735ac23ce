"""In-memory state store, for unit tests and ``--dry-run`` style runs.

Everything lives in dicts owned by one event loop. No method awaits while it
changes state, so each call is atomic with respect to other tasks, which is
all the contract asks of a store used by one process.

Ordering shared by every backend: the outbox is ordered by due time, ties by
alert id; dead letters by the time they died, most recent first (ties by id,
descending). A dead letter's ``due_at`` is the time it was dead-lettered.
Deliveries by delivery time, most recent first (ties by id, descending).
The archive by archived time, then feed id, then article id; a heap of those keys
(stale ones skipped when popped) finds the oldest entries without sorting. The alert
history likewise keeps a heap of (updated_at, id) for its expiry, and is searched by
filtering every entry (this store holds what one test or one dry run makes).
"""

from __future__ import annotations

import heapq
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace

from monitor.model import (
    MAX_STORY_MEMBERS,
    Alert,
    ArchivedArticle,
    Attempt,
    ClaimResult,
    DeliveryRecord,
    DisabledChannel,
    FeedState,
    HistoryEntry,
    HistoryPage,
    HistoryQuery,
    HistoryStats,
    OutboxEntry,
    OutboxLookup,
    OutboxSummary,
    Silence,
    StoryAssignment,
    StoryMember,
    StoryProbe,
)
from monitor.store import history_rules as rules
from monitor.store.base import StateStore, per_key
from monitor.store.codec import archived_copy, created_epoch
from monitor.store.story_rules import Candidate, Fingerprint, pick_story
from monitor.store.websub import Subscription


@dataclass(frozen=True, slots=True)
class _Mark:
    """A claim or a seen record on one article key."""

    #: "claim" or "seen".
    kind: str
    #: The record counts while ``now < until``.
    until: float


@dataclass(frozen=True, slots=True)
class _Delivered:
    """A delivered record."""

    #: The record counts while ``now < until``.
    until: float
    #: What ``recent_deliveries`` lists, or None for an ack of an id not in the outbox.
    record: DeliveryRecord | None


@dataclass(slots=True)
class _Story:
    """One story of the story index."""

    #: The story counts while ``now < until``.
    until: float
    #: Its indexed fingerprints (what later copies are compared with): the first article's,
    #: then up to MAX_STORY_FINGERPRINTS - 1 later members', in arrival order.
    fingerprints: list[Fingerprint]
    #: Its articles, in arrival order.
    members: list[StoryMember]


class MemoryStore(StateStore):
    """A :class:`StateStore` that forgets everything when the process ends."""

    def __init__(self) -> None:
        self._feeds: dict[str, FeedState] = {}
        self._marks: dict[str, _Mark] = {}
        self._outbox: dict[str, OutboxEntry] = {}
        self._dead: dict[str, OutboxEntry] = {}
        self._delivered: dict[str, _Delivered] = {}
        self._send_slots: dict[str, float] = {}
        self._next_purge = float("-inf")
        self._stories: dict[str, _Story] = {}
        #: band -> story id -> until.
        self._story_bands: dict[str, dict[str, float]] = {}
        #: article id -> story id.
        self._story_of: dict[str, str] = {}
        self._next_story_purge = float("-inf")
        #: (feed id, article id) -> entry.
        self._archive: dict[tuple[str, str], ArchivedArticle] = {}
        #: (archived_at, feed id, article id) of every entry, and stale ones (an entry
        #: archived again later, or dropped): a min-heap, oldest first.
        self._archive_order: list[tuple[float, str, str]] = []
        self._rule_fingerprints: dict[str, str] = {}
        #: alert id -> history entry, and its search text.
        self._history: dict[str, HistoryEntry] = {}
        self._history_text: dict[str, str] = {}
        #: (updated_at, alert id) of every entry, and stale ones: a min-heap, oldest first.
        self._history_order: list[tuple[float, str]] = []
        self._silences: dict[str, Silence] = {}
        self._disabled_channels: dict[str, DisabledChannel] = {}
        #: feed id -> its WebSub subscription.
        self._subscriptions: dict[str, Subscription] = {}

    def _purge(self, now: float) -> None:
        """Forget expired marks and delivery records, at most once a minute (caller's clock)."""
        if now >= self._next_purge:
            self._next_purge = now + 60.0
            self._marks = {k: m for k, m in self._marks.items() if m.until > now}
            self._delivered = {k: v for k, v in self._delivered.items() if v.until > now}

    # -- feeds ---------------------------------------------------------------

    async def get_feed_state(self, feed_id: str) -> FeedState | None:
        return self._feeds.get(feed_id)

    async def put_feed_state(self, feed_id: str, state: FeedState) -> None:
        self._feeds[feed_id] = state

    # -- articles ------------------------------------------------------------

    async def claim_articles(
        self, articles: Sequence[Sequence[str]], now: float, lease: float
    ) -> list[ClaimResult]:
        results: list[ClaimResult] = []
        earlier: set[str] = set()
        for keys in articles:
            live = [m.kind for k in keys if (m := self._marks.get(k)) is not None and m.until > now]
            if "seen" in live or not earlier.isdisjoint(keys):
                results.append(ClaimResult.SEEN)
            elif live:
                results.append(ClaimResult.BUSY)
            else:
                for key in keys:
                    self._marks[key] = _Mark("claim", now + lease)
                results.append(ClaimResult.CLAIMED)
            earlier.update(keys)
        return results

    async def mark_seen(
        self, keys: Sequence[str], now: float, retention: float | Sequence[float]
    ) -> None:
        self._purge(now)
        for key, keep in zip(keys, per_key(retention, len(keys)), strict=True):
            self._marks[key] = _Mark("seen", now + keep)

    async def release_article(self, keys: Sequence[str]) -> None:
        for key in keys:
            mark = self._marks.get(key)
            if mark is not None and mark.kind == "claim":
                del self._marks[key]

    async def is_seen(self, key: str, now: float) -> bool:
        mark = self._marks.get(key)
        return mark is not None and mark.kind == "seen" and mark.until > now

    # -- outbox --------------------------------------------------------------

    async def enqueue(self, alerts: Sequence[Alert], now: float) -> int:
        added = 0
        for alert in alerts:
            if (
                alert.id in self._outbox
                or alert.id in self._dead
                or await self.is_delivered(alert.id, now)
            ):
                continue
            self._outbox[alert.id] = OutboxEntry(alert=alert, attempts=0, due_at=now)
            added += 1
        return added

    async def claim_due(self, now: float, lease: float, limit: int) -> list[OutboxEntry]:
        due = [e for e in self._outbox.values() if e.due_at <= now]
        due.sort(key=lambda e: (e.due_at, e.alert.id))
        token = uuid.uuid4().hex
        claimed = [replace(e, due_at=now + lease, claim=token) for e in due[: max(limit, 0)]]
        for entry in claimed:
            self._outbox[entry.alert.id] = entry
        return claimed

    async def ack(self, alert_id: str, now: float, detail: str, retention: float) -> None:
        self._purge(now)
        entry = self._outbox.pop(alert_id, None)
        previous = self._delivered.get(alert_id)
        record: DeliveryRecord | None = None
        if entry is not None:
            record = DeliveryRecord(entry.alert, now, detail, entry.attempts + 1)
        elif previous is not None and previous.record is not None:
            record = replace(previous.record, delivered_at=now, detail=detail)
        self._delivered[alert_id] = _Delivered(now + retention, record)

    def _claimed(self, alert_id: str, claim: str) -> OutboxEntry | None:
        """The outbox entry of ``alert_id`` if it is held under ``claim``."""
        entry = self._outbox.get(alert_id)
        return entry if entry is not None and claim and entry.claim == claim else None

    async def retry_later(self, alert_id: str, due_at: float, error: str, *, claim: str) -> bool:
        entry = self._claimed(alert_id, claim)
        if entry is None:
            return False
        self._outbox[alert_id] = replace(
            entry, attempts=entry.attempts + 1, due_at=due_at, last_error=error, claim=""
        )
        return True

    async def defer(self, alert_id: str, due_at: float, *, claim: str) -> bool:
        entry = self._claimed(alert_id, claim)
        if entry is None:
            return False
        self._outbox[alert_id] = replace(entry, due_at=due_at, claim="")
        return True

    async def dead_letter(self, alert_id: str, now: float, error: str, *, claim: str) -> bool:
        entry = self._claimed(alert_id, claim)
        if entry is None:
            return False
        del self._outbox[alert_id]
        self._dead[alert_id] = replace(
            entry, attempts=entry.attempts + 1, due_at=now, last_error=error, claim=""
        )
        return True

    async def reserve_send(self, channel: str, now: float, interval: float) -> float | None:
        opens = self._send_slots.get(channel, float("-inf"))
        if opens > now:
            return opens
        self._send_slots[channel] = now + interval
        return None

    async def is_delivered(self, alert_id: str, now: float) -> bool:
        record = self._delivered.get(alert_id)
        return record is not None and record.until > now

    async def recent_deliveries(self, now: float, limit: int) -> list[DeliveryRecord]:
        live = [
            d.record for d in self._delivered.values() if d.until > now and d.record is not None
        ]
        live.sort(key=lambda r: (r.delivered_at, r.alert.id), reverse=True)
        return live[: max(limit, 0)]

    def _requeue(self, alert_id: str, now: float) -> bool:
        entry = self._dead.pop(alert_id, None)
        if entry is None:
            return False
        self._outbox[alert_id] = replace(entry, attempts=0, due_at=now, claim="")
        return True

    async def requeue(self, alert_id: str, now: float) -> bool:
        return self._requeue(alert_id, now)

    async def requeue_many(self, alert_ids: Sequence[str], now: float) -> list[str]:
        return [i for i in dict.fromkeys(alert_ids) if self._requeue(i, now)]

    async def requeue_all_dead(self, now: float) -> int:
        return sum(self._requeue(alert_id, now) for alert_id in list(self._dead))

    async def outbox_entry(self, alert_id: str) -> OutboxLookup | None:
        dead = self._dead.get(alert_id)
        entry = dead or self._outbox.get(alert_id)
        if entry is None:
            return None
        return OutboxLookup(replace(entry, claim=""), dead=dead is not None)

    async def pending(self) -> list[OutboxEntry]:
        entries = (replace(e, claim="") for e in self._outbox.values())
        return sorted(entries, key=lambda e: (e.due_at, e.alert.id))

    async def dead_letters(self) -> list[OutboxEntry]:
        return sorted(self._dead.values(), key=lambda e: (e.due_at, e.alert.id), reverse=True)

    async def outbox_summary(self) -> OutboxSummary:
        # A walk over the outbox, but in memory: nothing to decode, nothing to fetch.
        oldest = min(
            (created_epoch(e.alert.created_at) for e in self._outbox.values()), default=None
        )
        return OutboxSummary(len(self._outbox), len(self._dead), oldest)

    # -- stories -------------------------------------------------------------

    def _live_story(self, story_id: str, now: float) -> _Story | None:
        story = self._stories.get(story_id)
        return story if story is not None and story.until > now else None

    def _purge_stories(self, now: float) -> None:
        """Forget ended stories, at most once a minute (caller's clock)."""
        if now < self._next_story_purge:
            return
        self._next_story_purge = now + 60.0
        self._stories = {k: v for k, v in self._stories.items() if v.until > now}
        self._story_of = {a: s for a, s in self._story_of.items() if s in self._stories}
        bands = (
            (b, {i: u for i, u in ids.items() if u > now}) for b, ids in self._story_bands.items()
        )
        self._story_bands = {b: ids for b, ids in bands if ids}

    async def assign_story(
        self,
        member: StoryMember,
        probe: StoryProbe,
        min_similarity: float,
        now: float,
        window: float,
    ) -> StoryAssignment:
        self._purge_stories(now)
        known = self._story_of.get(member.article_id)
        if known is not None and (story := self._live_story(known, now)) is not None:
            return StoryAssignment(
                known, known == member.article_id, tuple(story.members), story.until
            )
        candidates = {
            story_id: self._stories[story_id]
            for band in dict.fromkeys(probe.bands)
            for story_id, until in self._story_bands.get(band, {}).items()
            if until > now and self._live_story(story_id, now) is not None
        }
        pick = pick_story(
            (Candidate(i, s.until, s.fingerprints) for i, s in candidates.items()),
            probe,
            min_similarity,
        )
        fingerprint = Fingerprint(probe.sketch, tuple(probe.anchors))
        if pick is not None:
            chosen, story = pick.story_id, candidates[pick.story_id]
            if len(story.members) < MAX_STORY_MEMBERS:
                story.members.append(member)
        else:
            chosen = member.article_id
            story = self._stories[chosen] = _Story(now + window, [], [member])
        if pick is None or pick.indexed:
            story.fingerprints.append(fingerprint)
            for band in probe.bands:
                self._story_bands.setdefault(band, {})[chosen] = story.until
        self._story_of[member.article_id] = chosen
        return StoryAssignment(
            chosen, chosen == member.article_id, tuple(story.members), story.until
        )

    async def get_story(self, story_id: str, now: float) -> StoryAssignment | None:
        story = self._live_story(story_id, now)
        if story is None:
            return None
        return StoryAssignment(story_id, False, tuple(story.members), story.until)

    # -- archive -------------------------------------------------------------

    async def archive_articles(
        self, entries: Sequence[ArchivedArticle], now: float, retention: float, max_articles: int
    ) -> None:
        if retention <= 0 or max_articles <= 0:
            return
        order = self._archive_order
        for entry in entries:
            key = (entry.article.feed_id, entry.article.id)
            old = self._archive.get(key)
            at = entry.archived_at if old is None else max(old.archived_at, entry.archived_at)
            story = entry.story_id or ("" if old is None else old.story_id)
            self._archive[key] = ArchivedArticle(archived_copy(entry.article), at, story)
            if old is None or old.archived_at != at:
                heapq.heappush(order, (at, *key))
        cutoff = now - retention
        while order and (order[0][0] < cutoff or len(self._archive) > max_articles):
            at, feed_id, article_id = heapq.heappop(order)
            current = self._archive.get((feed_id, article_id))
            if current is not None and current.archived_at == at:  # else a stale key
                del self._archive[(feed_id, article_id)]
        if len(order) > 2 * len(self._archive) + 64:  # too many stale keys: rebuild
            order[:] = [(e.archived_at, *k) for k, e in self._archive.items()]
            heapq.heapify(order)

    async def archived_articles(
        self, since: float, limit: int | None = None
    ) -> list[ArchivedArticle]:
        if limit is not None and limit <= 0:
            return []
        found = [
            (e.archived_at, *key, e) for key, e in self._archive.items() if e.archived_at >= since
        ]
        found.sort(key=lambda row: row[:3])
        return [row[3] for row in found[-limit if limit is not None else 0 :]]

    async def rule_fingerprints(self) -> dict[str, str]:
        return dict(self._rule_fingerprints)

    async def set_rule_fingerprints(self, fingerprints: Mapping[str, str]) -> None:
        self._rule_fingerprints = dict(fingerprints)

    # -- alert history ---------------------------------------------------------

    async def record_history(
        self, updates: Sequence[tuple[Alert, str, Attempt]], retention: float
    ) -> None:
        rules.check_updates(updates)
        if retention <= 0 or not updates:
            return
        order = self._history_order
        for alert, status, event in updates:
            old = self._history.get(alert.id)
            entry = rules.apply_update(old, alert, status, event)
            if entry is None:
                continue
            self._history[alert.id] = entry
            if old is None or entry.alert is not old.alert:
                self._history_text[alert.id] = rules.search_text(entry.alert)
            if old is None or old.updated_at != entry.updated_at:
                heapq.heappush(order, (entry.updated_at, alert.id))
        cutoff = max(event.at for _, _, event in updates) - retention
        while order and order[0][0] < cutoff:
            at, alert_id = heapq.heappop(order)
            current = self._history.get(alert_id)
            if current is not None and current.updated_at == at:  # else a stale key
                del self._history[alert_id]
                del self._history_text[alert_id]
        if len(order) > 2 * len(self._history) + 64:  # too many stale keys: rebuild
            order[:] = [(e.updated_at, i) for i, e in self._history.items()]
            heapq.heapify(order)

    async def search_history(self, query: HistoryQuery) -> HistoryPage:
        cursor = rules.check_query(query)
        if query.limit <= 0:
            return HistoryPage(())
        words = rules.query_words(query.text)
        found = [
            e
            for i, e in self._history.items()
            if (cursor is None or rules.sort_key(e.created_at, i) < cursor)
            and rules.matches(e, query, words, self._history_text[i])
        ]
        page = heapq.nlargest(
            query.limit + 1, found, key=lambda e: rules.sort_key(e.created_at, e.alert.id)
        )
        if len(page) <= query.limit:
            return HistoryPage(tuple(page))
        last = page[query.limit - 1]
        return HistoryPage(
            tuple(page[: query.limit]), rules.encode_cursor(last.created_at, last.alert.id)
        )

    async def history_entry(self, alert_id: str) -> HistoryEntry | None:
        return self._history.get(alert_id)

    async def history_stats(self, since: float) -> HistoryStats:
        return rules.stats_of(
            (e.status, e.alert.rule_id, rules.story_key(e.alert), e.created_at)
            for e in self._history.values()
            if e.created_at >= since
        )

    # -- silences ----------------------------------------------------------------

    async def add_silence(self, silence: Silence) -> None:
        rules.check_silence(silence)
        self._silences[silence.id] = silence

    async def list_silences(self, now: float, *, expired_for: float = 86_400.0) -> list[Silence]:
        self._silences = {
            i: s for i, s in self._silences.items() if not rules.droppable(s, now, expired_for)
        }
        listed = (s for s in self._silences.values() if rules.listed(s, now, expired_for))
        return sorted(listed, key=lambda s: (s.starts_at, s.id))

    async def expire_silence(self, silence_id: str, now: float) -> bool:
        silence = self._silences.get(silence_id)
        if silence is None:
            return False
        if silence.ends_at > now:
            self._silences[silence_id] = replace(silence, ends_at=now)
        return True

    # -- channel state -------------------------------------------------------------

    async def disable_channel(self, record: DisabledChannel) -> DisabledChannel:
        stored = self._disabled_channels.get(record.channel)
        if stored is not None and stored.target == record.target:
            return stored
        self._disabled_channels[record.channel] = record
        return record

    async def enable_channel(self, channel: str) -> DisabledChannel | None:
        return self._disabled_channels.pop(channel, None)

    async def disabled_channels(self) -> list[DisabledChannel]:
        return [self._disabled_channels[c] for c in sorted(self._disabled_channels)]

    # -- WebSub subscriptions ----------------------------------------------------------

    async def get_subscription(self, feed_id: str) -> Subscription | None:
        return self._subscriptions.get(feed_id)

    async def put_subscription(self, subscription: Subscription) -> None:
        self._subscriptions[subscription.feed_id] = subscription

    async def add_subscription(self, subscription: Subscription) -> Subscription:
        return self._subscriptions.setdefault(subscription.feed_id, subscription)

    async def delete_subscription(self, feed_id: str) -> None:
        self._subscriptions.pop(feed_id, None)

    async def subscriptions(self) -> list[Subscription]:
        return [self._subscriptions[k] for k in sorted(self._subscriptions)]
