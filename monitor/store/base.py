"""The state-store contract: one protocol per role, and :class:`StateStore`, every role at once.

The docstrings below *are* the contract. The suite under ``tests/store/`` (a file
per role, each run against the memory, SQLite, fakeredis and real Redis
backends) holds every backend to it. Times are float seconds since the epoch,
passed in by the caller (the store never reads a clock), so tests can freeze
time. "Atomic" means atomic across every process sharing the store.

The roles, and who needs them:

* :class:`FeedStateStore`: what is remembered about each feed between polls.
* :class:`SeenStore`: which articles were processed (claimed, then marked seen).
* :class:`Outbox`: alerts waiting, delivered, or dead-lettered.
* :class:`SendSlots`: a send rate limit per channel, shared by every replica.
* :class:`StoryIndex`: which story an article belongs to.
* :class:`ArticleArchive`: the articles read lately (``match --archive``, a rule's
  backfill), and the fingerprint of each rule seen at the last start.
* :class:`AlertHistory`: every alert's life (queued, attempts, outcome), searchable.
* :class:`SilenceStore`: silences, which mute alerts when they are due to be sent.
* :class:`ChannelStateStore`: channels disabled because their receiver asked for no more.
* :class:`~monitor.store.websub.SubscriptionStore`: WebSub subscriptions (that role and
  its record are :mod:`monitor.store.websub`'s).
* :class:`DeliveryStore`: what the outbox worker uses (outbox, send slots, story index,
  history, silences, channel state).
* :class:`PollingStore`: what a poll uses (feed state, seen articles, outbox, archive,
  history).
* :class:`StateStore`: every role, plus ``ping`` and ``close``. The backends
  (``MemoryStore``, ``SqliteStore``, ``RedisStore``) are StateStores, and
  :func:`monitor.store.factory.open_store` returns one.
* ``monitor.store.schedule.FeedSchedule`` is not a StateStore role: only a store shared
  by replicas (Redis: ``RedisStore.feed_schedule()``) schedules their feeds.

Code that uses a store is typed against the narrowest role it needs: its
signature then says what it touches, and a test can hand it a small fake of
that role. Only the code that opens and closes the store needs a StateStore.
"""

from __future__ import annotations

import abc
from collections.abc import Mapping, Sequence
from typing import Protocol

from monitor.model import (
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
from monitor.store.websub import SubscriptionStore

__all__ = [
    "AlertHistory",
    "ArticleArchive",
    "ChannelStateStore",
    "DeliveryStore",
    "FeedStateStore",
    "Outbox",
    "PollingStore",
    "SeenStore",
    "SendSlots",
    "SilenceStore",
    "StateStore",
    "StoryIndex",
]


def per_key(retention: float | Sequence[float], count: int) -> Sequence[float]:
    """``SeenStore.mark_seen``'s ``retention`` as one number per key."""
    if isinstance(retention, int | float):
        return [float(retention)] * count
    if len(retention) != count:
        raise ValueError(f"{len(retention)} retentions for {count} keys")
    return retention


class FeedStateStore(Protocol):
    """What the poller remembers about each feed between polls (:class:`FeedState`)."""

    @abc.abstractmethod
    async def get_feed_state(self, feed_id: str) -> FeedState | None:
        """The stored state of ``feed_id``, or None if the feed was never recorded."""

    @abc.abstractmethod
    async def put_feed_state(self, feed_id: str, state: FeedState) -> None:
        """Replace the stored state of ``feed_id``."""


class SeenStore(Protocol):
    """Which articles were processed, by their dedup keys (``Article.dedup_keys``).

    Ordering that makes delivery at-least-once: an article is *claimed* (a short
    lease, so a crash lets another poll retry it), its alerts are *enqueued*
    (:meth:`Outbox.enqueue`), and only then is it *marked seen*. An alert id is
    deterministic, and the outbox ignores an id it already holds or has
    delivered, so redoing any step is safe.
    """

    @abc.abstractmethod
    async def claim_articles(
        self, articles: Sequence[Sequence[str]], now: float, lease: float
    ) -> list[ClaimResult]:
        """Atomically claim many articles (each a list of dedup keys), saying why any failed.

        Articles are taken in order, in one atomic operation. An article is
        SEEN if one of its keys is seen (and has not expired at ``now``) or is
        a key of an earlier article of the same call (the same article twice
        in one feed); else BUSY if one of its keys is claimed by a lease that
        has not ended at ``now``; else CLAIMED: every key is claimed until
        ``now + lease``. Across processes sharing the store, at most one
        caller wins a claim.
        """

    @abc.abstractmethod
    async def claim_article(self, keys: Sequence[str], now: float, lease: float) -> bool:
        """Claim one article (:meth:`claim_articles`); whether the claim was won."""

    @abc.abstractmethod
    async def mark_seen(
        self, keys: Sequence[str], now: float, retention: float | Sequence[float]
    ) -> None:
        """Record every key as seen until ``now + retention``; this replaces any claim.

        ``retention`` is one number for every key, or one per key (as long as ``keys``):
        a dated article is kept only while it could still alert, an undated one longer.
        """

    @abc.abstractmethod
    async def release_article(self, keys: Sequence[str]) -> None:
        """Drop the claim on ``keys`` (processing failed); seen keys stay seen."""

    @abc.abstractmethod
    async def is_seen(self, key: str, now: float) -> bool:
        """Whether ``key`` is recorded as seen (and has not expired) at ``now``."""


class Outbox(Protocol):
    """Alerts waiting to be delivered, the delivered ones, and the dead letters.

    Life of an alert: ``enqueue`` -> (``claim_due`` -> ``retry_later`` or
    ``defer``)* -> either ``ack`` (a delivered record, listed by
    ``recent_deliveries`` until its retention ends) or ``dead_letter`` (listed by
    ``dead_letters`` until an operator moves it back into the outbox with
    ``requeue`` or ``requeue_many``). ``outbox_entry`` finds one alert without a listing.

    Fencing: every ``claim_due`` hands out a fresh claim token. ``retry_later``,
    ``defer`` and ``dead_letter`` apply only while the alert still holds the token
    of the caller's claim, so a worker that stalled past its lease (a GC pause, a
    suspended VM) cannot reschedule or kill an alert another worker has since
    claimed. ``ack`` is not fenced: it records a delivery that happened, and a
    delivered alert must never be sent again, whoever sent it.
    """

    @abc.abstractmethod
    async def enqueue(self, alerts: Sequence[Alert], now: float) -> int:
        """Add alerts to the outbox, due at ``now``; return how many were new.

        An alert whose id is already queued, dead-lettered or delivered is
        ignored: enqueueing is idempotent.
        """

    @abc.abstractmethod
    async def claim_due(self, now: float, lease: float, limit: int) -> list[OutboxEntry]:
        """Claim up to ``limit`` queued alerts due at or before ``now``, oldest first.

        Oldest first is by due time, ties by alert id. A claimed alert is not
        returned again until ``now + lease`` has passed (so a worker that dies
        mid-send leaves it to be retried). Concurrent callers never receive
        the same alert within a lease. Each call draws a new claim token,
        carried by every returned entry's ``claim`` (and its ``due_at`` is the
        lease end).
        """

    @abc.abstractmethod
    async def ack(self, alert_id: str, now: float, detail: str, retention: float) -> None:
        """Record the alert as delivered (kept ``retention`` seconds); drop it from the outbox.

        The record keeps the alert and its attempt count (the outbox entry's
        attempts plus this one), so :meth:`recent_deliveries` can list it.
        An id that is not in the outbox is still recorded as delivered
        (:meth:`is_delivered`, enqueue idempotency): if it already has a
        record (a second worker acked it after a lease ran out), that record
        keeps its alert and attempts and takes the new time and detail; if it
        has none, the record has no alert and is never listed.
        """

    @abc.abstractmethod
    async def retry_later(self, alert_id: str, due_at: float, error: str, *, claim: str) -> bool:
        """Count a failed attempt and make the alert due again at ``due_at``.

        Applies only if the alert is in the outbox under ``claim`` (see
        fencing, above); returns whether it did.
        """

    @abc.abstractmethod
    async def defer(self, alert_id: str, due_at: float, *, claim: str) -> bool:
        """Make a claimed alert due again at ``due_at`` without counting an attempt.

        For alerts the worker holds back on purpose (grouping, a digest, a
        rate limit): attempts and ``last_error`` are unchanged. Fenced like
        :meth:`retry_later`; returns whether it applied.
        """

    @abc.abstractmethod
    async def dead_letter(self, alert_id: str, now: float, error: str, *, claim: str) -> bool:
        """Count a failed attempt, move the alert out of the outbox into the dead-letter list.

        Fenced like :meth:`retry_later`; returns whether it applied.
        """

    @abc.abstractmethod
    async def is_delivered(self, alert_id: str, now: float) -> bool:
        """Whether the alert was delivered (record not yet expired)."""

    @abc.abstractmethod
    async def recent_deliveries(self, now: float, limit: int) -> list[DeliveryRecord]:
        """Up to ``limit`` delivered alerts whose record has not expired at ``now``, newest first.

        Ordered by delivery time, ties by alert id descending. Only records
        written by an ``ack`` of an alert in the outbox are listed (see
        :meth:`ack`). A backend may bound this history (Redis keeps the newest
        :data:`~monitor.store.redis.DELIVERED_LOG_LIMIT`); :meth:`is_delivered`
        is never bounded by it.
        """

    @abc.abstractmethod
    async def requeue(self, alert_id: str, now: float) -> bool:
        """Atomically move a dead-lettered alert back into the outbox, due at ``now``.

        Its attempts restart at 0, so it gets the full retry schedule again;
        its ``last_error`` is kept (until the next attempt replaces it), so
        a listing still shows why it had died. Returns False, changing
        nothing, if ``alert_id`` is not in the dead-letter list.
        """

    @abc.abstractmethod
    async def requeue_many(self, alert_ids: Sequence[str], now: float) -> list[str]:
        """:meth:`requeue` each of ``alert_ids`` that is a dead letter; the ids moved, in the
        order given, each once (duplicates, and ids not dead, are skipped).

        Each alert moves atomically, once across concurrent callers. SQLite: one
        transaction; Redis: one script call (round trip) per
        :data:`~monitor.store.redis_outbox.REQUEUE_BATCH` ids, so a long list never
        blocks the server long (the list as a whole is then not one atomic step).
        """

    @abc.abstractmethod
    async def requeue_all_dead(self, now: float) -> int:
        """Atomically :meth:`requeue` every dead-lettered alert; return how many moved."""

    @abc.abstractmethod
    async def outbox_entry(self, alert_id: str) -> OutboxLookup | None:
        """The entry of one alert in the dead letters or the outbox, and which; None if in
        neither (unknown, delivered). What :meth:`dead_letters` or :meth:`pending` would list
        for it, without listing them: one small read, however full the outbox is.
        """

    @abc.abstractmethod
    async def pending(self) -> list[OutboxEntry]:
        """Every alert still in the outbox (queued or claimed), oldest due first.

        Ties by alert id. A listing carries no claim token (``claim`` is "").
        """

    @abc.abstractmethod
    async def dead_letters(self) -> list[OutboxEntry]:
        """Every dead-lettered alert, most recent first.

        An entry's ``due_at`` is when it was dead-lettered; ties by alert id, descending.
        """

    @abc.abstractmethod
    async def outbox_summary(self) -> OutboxSummary:
        """How many alerts :meth:`pending` and :meth:`dead_letters` would list, and when the
        oldest pending one was created, without listing them.

        ``oldest_created_at`` is the least ``alert.created_at`` (as epoch seconds, a naive
        time read as UTC) of the alerts in the outbox, queued or claimed; None if there
        are none. Dead letters never count toward it, however old; a requeued alert
        counts again with its own created time.

        Read at every metrics scrape, and most needed when the outbox is large (a
        receiver down for hours), so a backend must not read or decode every alert for
        it: Redis keeps an index of created times, SQLite counts and takes the minimum in
        SQL. It is a gauge's reading: under concurrent changes its numbers may be taken
        moments apart.
        """


class SendSlots(Protocol):
    """A rate limit per channel, shared by every process (``monitor.delivery.policy``)."""

    @abc.abstractmethod
    async def reserve_send(self, channel: str, now: float, interval: float) -> float | None:
        """Take the next send slot of ``channel`` (a shared rate limit), or say when it opens.

        If the channel's next slot opens at or before ``now``, take it: the
        next one opens at ``now + interval``, and the result is None. Otherwise
        change nothing and return the time the next slot opens. Across
        processes sharing the store, one slot goes to one caller.
        """


class StoryIndex(Protocol):
    """Which story an article belongs to (``monitor.stories``).

    The pure rules (similarity, which candidate wins, how members are kept) are
    in :mod:`monitor.store.story_rules`, shared by every backend.
    """

    @abc.abstractmethod
    async def assign_story(
        self,
        member: StoryMember,
        probe: StoryProbe,
        min_similarity: float,
        now: float,
        window: float,
    ) -> StoryAssignment:
        """Atomically put an article into the story it belongs to, creating one if none.

        If ``member.article_id`` is already in a story whose window has not ended at
        ``now``, return that story unchanged (re-observing is idempotent).

        Otherwise a story *indexes* fingerprints (bands, sketch, anchors): its first
        article's, and those of up to MAX_STORY_FINGERPRINTS - 1 (7) later members (see
        below). The candidates are the live stories with an indexed fingerprint among
        whose bands is one of ``probe.bands``. A fingerprint F *matches* if (when both
        have anchors) F shares an anchor with ``probe`` and ``shared >= min_similarity *
        compared`` for F's sketch and ``probe.sketch`` (see
        :func:`~monitor.store.story_rules.sketch_similarity`). A candidate *verifies* if
        its first article's fingerprint matches, or a later one matches and the probe
        also passes the *guard* against the first article: it shares an anchor with it
        (when both have some) and ``shared >= min_similarity * FIRST_FLOOR * compared``
        (0.3 at the default 0.5; see :mod:`~monitor.store.story_rules`). So every member
        of a story is close to its first article, and a chain of articles each close to
        the previous one does not drift into another event.

        A candidate's score is the highest ``shared / compared`` of its matching
        fingerprints (after the guard). The member joins the verified candidate with the
        highest score, ties going to the story whose window ends first, then to the
        smallest id (code point order); the story lists it unless it already has
        MAX_STORY_MEMBERS. Its fingerprint is indexed too (its bands then find the
        story) if the story has fewer than MAX_STORY_FINGERPRINTS and the member is not a
        near copy of its best matching fingerprint (``shared < NEAR_COPY * compared``,
        0.8): verbatim wire copies add no reach and do not use up the slots. With no
        verified candidate a new story starts: its id is ``member.article_id``, it
        indexes ``probe``, and it lives until ``now + window``; joining never extends a
        window, which counts from the first article. A story stored by an earlier
        version (its first article's fingerprint only) is a candidate like any other.
        Across processes sharing the store, two copies assigned at the same time never
        start two stories, and every process applies the same rule (replicas agree).
        """

    @abc.abstractmethod
    async def get_story(self, story_id: str, now: float) -> StoryAssignment | None:
        """The story ``story_id`` as it stands (``is_new`` False), or None if it has ended."""


class ArticleArchive(Protocol):
    """The articles read lately, so a query can run over the past; and the rules' fingerprints.

    An entry is keyed by (``article.feed_id``, ``article.id``). Entries are ordered
    by ``archived_at``, ties by feed id, then by article id (code point order); the
    *newest* are the last in that order. A backend keeps at most
    :data:`~monitor.store.codec.ARCHIVE_TEXT_LIMIT` characters of an article's text
    (and :data:`~monitor.store.codec.ARCHIVE_TITLE_LIMIT` of its title), cutting the
    rest, so one entry's size is bounded.

    The rule fingerprints (rule id -> a string the caller derives from the rule) let
    a daemon tell, across restarts, which rules are new or changed since it last ran.
    """

    @abc.abstractmethod
    async def archive_articles(
        self, entries: Sequence[ArchivedArticle], now: float, retention: float, max_articles: int
    ) -> None:
        """Atomically upsert ``entries``, then drop what is too old and what is too many.

        Upsert: an entry replaces the one stored under its key (and a later entry of
        the same call an earlier one): the article is the new one, ``archived_at`` the
        larger of the two, ``story_id`` the new one unless it is "" (then the stored one
        stays). Then every entry with ``archived_at < now - retention`` is dropped, and
        of the rest only the ``max_articles`` newest are kept. ``retention <= 0`` or
        ``max_articles <= 0`` means archiving is off: nothing is stored and nothing is
        dropped. One round trip (Redis) or one transaction (SQLite).
        """

    @abc.abstractmethod
    async def archived_articles(
        self, since: float, limit: int | None = None
    ) -> list[ArchivedArticle]:
        """The entries with ``archived_at >= since``, oldest first.

        With ``limit``, only the newest ``limit`` of them (still oldest first);
        ``limit <= 0`` gives none.
        """

    @abc.abstractmethod
    async def rule_fingerprints(self) -> dict[str, str]:
        """The rule fingerprints last set (rule id -> fingerprint); {} if none ever were."""

    @abc.abstractmethod
    async def set_rule_fingerprints(self, fingerprints: Mapping[str, str]) -> None:
        """Atomically replace every rule fingerprint with ``fingerprints``."""


class AlertHistory(Protocol):
    """Every alert's life (queued, attempts, outcome) for ``MONITOR_HISTORY_RETENTION``,
    searchable: what the web console's alert pages and the REST API read.

    Writers (the poller when it enqueues, the outbox worker at each outcome, a retry
    of a dead letter) call :meth:`record_history`; an entry is keyed by ``alert.id``.
    """

    @abc.abstractmethod
    async def record_history(
        self, updates: Sequence[tuple[Alert, str, Attempt]], retention: float
    ) -> None:
        """Upsert one entry per ``(alert, status, event)``: the status becomes ``status``,
        ``event`` is appended to its events (the last 50 kept), ``updated_at`` is
        ``event.at``; a new entry gets ``created_at = event.at`` and ``alert``, an existing
        one keeps its alert unless the update's alert has a fresher ``also_in``.
        Entries not updated for ``retention`` seconds (before the newest ``event.at``)
        are dropped. ``retention <= 0``: history is off, nothing is stored.

        Updates apply in order, atomically (one transaction, one script). An update
        whose ``event.outcome`` is "queued" for an alert that already has an entry is
        ignored (the poller records "queued" for every alert it enqueues, also those the
        outbox already knew). "Fresher" means more copies: ``len(also_in)`` grew. A
        status not in :data:`~monitor.model.ALERT_STATUSES` is a ValueError (nothing is
        stored). The rules are :mod:`monitor.store.history_rules`'s."""

    @abc.abstractmethod
    async def search_history(self, query: HistoryQuery) -> HistoryPage:
        """One page of the entries matching ``query``, newest ``created_at`` first (ties by
        alert id, descending), and the cursor of the next page.

        ``query.text``: each of its words (runs of letters and digits) must start a word
        of the article's title or text or of the rule's query, case and accents aside
        (``drone`` finds "Drones"). The cursor is opaque: a page's ``next_cursor``
        continues after its last entry, so paging neither skips nor repeats an entry
        that did not change meanwhile; it is None on the last page. ``limit <= 0`` gives
        an empty page. ValueError for a status not in ALERT_STATUSES or a cursor this
        method did not make."""

    @abc.abstractmethod
    async def history_entry(self, alert_id: str) -> HistoryEntry | None:
        """The entry of one alert, or None (never recorded, or expired)."""

    @abc.abstractmethod
    async def history_stats(self, since: float) -> HistoryStats:
        """Counts over the entries created at or after ``since``: by status, and per rule
        the distinct stories (else articles) it alerted on and its latest alert."""


class SilenceStore(Protocol):
    """Silences, shared by every replica (``monitor.model.Silence``)."""

    @abc.abstractmethod
    async def add_silence(self, silence: Silence) -> None:
        """Store ``silence`` (an existing one with its id is replaced). ValueError if its
        kind is not one of :data:`~monitor.model.SILENCE_KINDS`, it has no id or target,
        or it ends before it starts."""

    @abc.abstractmethod
    async def list_silences(self, now: float, *, expired_for: float = 86_400.0) -> list[Silence]:
        """Silences active or pending at ``now``, and those that ended less than
        ``expired_for`` seconds ago, by ``starts_at`` then id. Those that ended more than
        ``max(expired_for, SILENCE_KEEP)`` (7 days, ``monitor.store.history_rules``) ago
        may be dropped (a short window never drops what a longer one would list)."""

    @abc.abstractmethod
    async def expire_silence(self, silence_id: str, now: float) -> bool:
        """End a silence at ``now`` (its ``ends_at`` becomes ``now`` if it was later);
        False if there is no such silence."""


class ChannelStateStore(Protocol):
    """Channels that send nothing because their receiver asked for no more messages (a
    webhook's 410 Gone), shared by every replica (:class:`~monitor.model.DisabledChannel`),
    until an operator enables them again (``news-monitor channels enable``)."""

    @abc.abstractmethod
    async def disable_channel(self, record: DisabledChannel) -> DisabledChannel:
        """Atomically record ``record.channel`` as disabled, unless it already is for the same
        ``target``: then the stored record stays (the first 410 wins, so replicas hearing it
        at once agree on when). A record for another target is replaced. Returns the record
        stored after the call."""

    @abc.abstractmethod
    async def enable_channel(self, channel: str) -> DisabledChannel | None:
        """Atomically remove the record of ``channel``; the record removed, or None if there
        was none."""

    @abc.abstractmethod
    async def disabled_channels(self) -> list[DisabledChannel]:
        """Every record, by channel name."""


class DeliveryStore(
    Outbox, SendSlots, StoryIndex, AlertHistory, SilenceStore, ChannelStateStore, Protocol
):
    """The roles the outbox worker (``monitor.delivery.worker``) uses.

    It claims and settles alerts (:class:`Outbox`), paces rate-limited channels
    (:class:`SendSlots`), refreshes an alert's story coverage just before a
    send (:class:`StoryIndex`), reads the silences and the disabled channels once per
    pass (:class:`SilenceStore`, :class:`ChannelStateStore`), disables a channel whose
    receiver is gone, and records each outcome (:class:`AlertHistory`).
    """


class PollingStore(FeedStateStore, SeenStore, Outbox, ArticleArchive, AlertHistory, Protocol):
    """The roles a poll uses (``monitor.polling.poller``).

    It keeps the feed's state between polls (:class:`FeedStateStore`), claims
    and marks the body's articles (:class:`SeenStore`), enqueues their
    alerts, and feed health alerts, into the outbox (:class:`Outbox`),
    records them as queued (:class:`AlertHistory`) and archives the articles
    (:class:`ArticleArchive`), which a new rule's backfill reads.
    """


class StateStore(
    FeedStateStore,
    SeenStore,
    Outbox,
    SendSlots,
    StoryIndex,
    ArticleArchive,
    AlertHistory,
    SilenceStore,
    ChannelStateStore,
    SubscriptionStore,
    abc.ABC,
):
    """Every role at once: seen articles, feed state, the outbox, send slots, stories,
    the article archive, the alert history, silences, disabled channels and WebSub
    subscriptions.

    The base class of the backends, and what :func:`~monitor.store.factory.open_store`
    returns. Unlike the roles, it is an abstract base class rather than a protocol, on
    purpose:

    * a backend inherits the shared parts: :meth:`claim_article` (one article through
      :meth:`claim_articles`) and the optional :meth:`ping` and :meth:`close` hooks;
    * a backend that misses a method of any role cannot even be instantiated (every
      role method is abstract), and mypy checks each of its signatures against the
      role that declares it;
    * a StateStore is then a whole store by construction, while a consumer typed with
      a role accepts anything that has that role's methods (a test's small fake).
    """

    async def claim_article(self, keys: Sequence[str], now: float, lease: float) -> bool:
        """Claim one article (:meth:`claim_articles`); whether the claim was won."""
        [result] = await self.claim_articles([keys], now, lease)
        return result is ClaimResult.CLAIMED

    # -- lifecycle -----------------------------------------------------------

    async def ping(self) -> None:
        """Raise StoreError if the store is unreachable."""

    async def close(self) -> None:
        """Release connections and files."""
