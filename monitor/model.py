"""The value objects that flow between pipeline stages.

schedule -> fetch (FetchOutcome) -> parse/normalize (Article) -> match (Match)
-> outbox (Alert) -> deliver (DeliveryResult). All are frozen: a stage returns
new values, it never mutates what it was given.
"""

from __future__ import annotations

import enum
import hashlib
import re
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime

#: A clock returns seconds since the epoch; injected so tests can freeze time.
Clock = Callable[[], float]
#: The real clock.
system_clock: Clock = time.time

_GLOBAL_GUID = re.compile(r"(?:https?://|urn:|tag:)\S", re.IGNORECASE)


def guid_scope(guid: str, feed_id: str) -> str:
    """The namespace a guid is unique in: everywhere for a URI, else only its own feed.

    Many feeds number their items ("1", "2", ...; the JSON Feed spec examples
    do), so a bare guid from one feed must not mark another feed's item seen.
    """
    return "" if _GLOBAL_GUID.match(guid) else feed_id


@dataclass(frozen=True, slots=True)
class Article:
    """One normalized feed entry."""

    #: Stable identity: the feed's guid, else the canonical URL, else a hash of title and date.
    id: str
    #: Id of the feed (from the watch config) the article was read from.
    feed_id: str
    #: Canonical link (tracking parameters stripped), or "" when the entry has none.
    url: str
    #: Plain-text title.
    title: str
    #: Plain text of the summary and the content, HTML removed.
    text: str
    #: Publication (else update) time in UTC, or None when the feed gives none.
    published: datetime | None = None
    #: Author name(s), plain text, or "".
    author: str = ""
    #: The entry's guid / Atom id as the feed gives it, or "".
    guid: str = ""
    #: ``text`` is the main text of the article's web page, read because its feed asks for
    #: ``fulltext`` (``monitor.ingest.fulltext``), not the feed's own summary.
    fulltext: bool = False
    #: Language of title and text, an ISO 639 code ("es"): the feed's declared language,
    #: else detected (``monitor.ingest.language``); "" when unknown (matched as English).
    language: str = ""

    def dedup_keys(self) -> tuple[str, ...]:
        """Keys under which this article counts as seen; two entries sharing one are one article.

        - ``id:``: the article's id (its guid, else its canonical URL, else title and date);
        - ``guid:``: its guid (a URI guid everywhere, any other guid within its feed);
        - ``link:``: its canonical URL with its title, and its URL with the start of its
          text: a guid that changed while the link and the title (or the text) stayed,
          or one article in two feeds under two titles, is one article; but entries that
          merely share a link with their own title and their own text (posts anchored in
          one page, a sponsor post beside the post it links to, entries linking to the
          site's home page) are several;
        - ``url:``: its canonical URL alone, only for an entry without a guid: the link is
          all that identifies it.
        """
        keys = [f"id:{self.id}"]
        if self.url:
            for content in (self.title, self.text):
                if words := content_words(content):
                    keys.append(f"link:{link_key(self.url, words)}")
            if not self.guid:
                keys.append(f"url:{self.url}")
        if self.guid:
            keys.append(f"guid:{guid_scope(self.guid, self.feed_id)}:{self.guid}")
        return tuple(dict.fromkeys(keys))


#: Characters of a title or text that tell two entries sharing a link apart.
CONTENT_PREFIX = 120


def content_words(content: str) -> str:
    """The start of a title or text as compared for identity: case and spacing do not count."""
    # Only the start is cut into words: a text may be a whole article.
    return " ".join(content[: 4 * CONTENT_PREFIX].casefold().split())[:CONTENT_PREFIX]


def link_key(url: str, words: str) -> str:
    """A short hash of a link and the :func:`content_words` of a title or text."""
    return hashlib.sha256(f"{url}\n{words}".encode("utf-8", "surrogatepass")).hexdigest()[:32]


@dataclass(frozen=True, slots=True)
class Hit:
    """One place where a query term matched."""

    #: Field the hit is in: "title" or "text".
    field: str
    #: Character offset of the first matched character in that field.
    start: int
    #: Character offset one past the last matched character.
    end: int
    #: The query term or phrase that matched, as written in the query.
    term: str


@dataclass(frozen=True, slots=True)
class Match:
    """A rule that matched an article."""

    #: Id of the rule that matched.
    rule_id: str
    #: The matched article.
    article: Article
    #: Where the positive terms of the query matched, in field then offset order.
    hits: tuple[Hit, ...] = ()

    @property
    def matched_terms(self) -> tuple[str, ...]:
        """Distinct query terms that matched, in first-seen order."""
        return tuple(dict.fromkeys(h.term for h in self.hits))


@dataclass(frozen=True, slots=True)
class Coverage:
    """Another outlet's copy of an alert's story (see ``monitor.stories``)."""

    #: The feed (outlet) that carried it.
    feed_id: str
    #: Its link, or "".
    url: str = ""
    #: Its title.
    title: str = ""


@dataclass(frozen=True, slots=True)
class Alert:
    """One match to be delivered to one channel; the unit of the outbox."""

    #: Deterministic id from (rule, article, channel): the same pair never makes two alerts.
    #: Also the webhook-id / Message-ID, so it never changes across retries.
    id: str
    #: Channel name from the watch config.
    channel: str
    #: Rule id from the watch config.
    rule_id: str
    #: The rule's query text, for display.
    query: str
    #: The matched article.
    article: Article
    #: Where the query matched.
    hits: tuple[Hit, ...]
    #: When the alert was created (UTC).
    created_at: datetime
    #: The story the article belongs to (the id of the story's first article); "" if none.
    story_id: str = ""
    #: The story's other copies known so far, in arrival order (refreshed just before a send).
    also_in: tuple[Coverage, ...] = ()
    #: The display name of the article's feed (its ``name:`` in the watch config), or "".
    feed_name: str = ""

    @property
    def matched_terms(self) -> tuple[str, ...]:
        """Distinct query terms that matched, in first-seen order."""
        return tuple(dict.fromkeys(h.term for h in self.hits))


class FetchStatus(enum.Enum):
    """How a fetch ended."""

    OK = "ok"
    NOT_MODIFIED = "not_modified"
    ERROR = "error"


@dataclass(frozen=True, slots=True)
class FeedValidators:
    """HTTP cache validators kept per feed for conditional GET."""

    #: ETag response header of the last 200, or None.
    etag: str | None = None
    #: Last-Modified response header of the last 200, or None.
    last_modified: str | None = None


@dataclass(frozen=True, slots=True)
class FetchOutcome:
    """The result of fetching one feed; failures are values, not exceptions."""

    #: Feed id from the watch config.
    feed_id: str
    #: OK (body present), NOT_MODIFIED (304) or ERROR.
    status: FetchStatus
    #: Response body (decompressed), empty unless status is OK.
    body: bytes = b""
    #: Validators to store for the next conditional GET.
    validators: FeedValidators = field(default_factory=FeedValidators)
    #: HTTP status code, or None when no response arrived.
    http_status: int | None = None
    #: Response headers that matter for parsing (content-type, content-location ...).
    headers: dict[str, str] = field(default_factory=dict)
    #: Human-readable reason for an ERROR, "" otherwise.
    error: str = ""
    #: Whether retrying later could succeed (network error, 5xx, 429) or not (404, not a feed).
    retryable: bool = True
    #: Seconds the server asked us to wait (Retry-After), if any.
    retry_after: float | None = None
    #: Wall-clock seconds the fetch took.
    elapsed: float = 0.0


@dataclass(frozen=True, slots=True)
class ParseOutcome:
    """Articles read from one feed body, or why the body could not be read."""

    #: Feed id from the watch config.
    feed_id: str
    #: Normalized articles, in feed order.
    articles: tuple[Article, ...] = ()
    #: Why the body is not a usable feed, "" when it is.
    error: str = ""
    #: Entries skipped because they could not be normalized.
    skipped: int = 0


class DeliveryStatus(enum.Enum):
    """How one delivery attempt ended."""

    DELIVERED = "delivered"
    #: Failed, and trying again later may succeed (timeout, 5xx, 429, SMTP 4xx).
    RETRY = "retry"
    #: Failed, and trying again will not help (other 4xx, bad address, SMTP 5xx).
    PERMANENT = "permanent"


@dataclass(frozen=True, slots=True)
class DeliveryResult:
    """The outcome of one attempt to send one alert."""

    #: The alert's id.
    alert_id: str
    #: Channel name.
    channel: str
    #: Delivered, retry later, or give up.
    status: DeliveryStatus
    #: What the receiver answered (status code, SMTP reply) or the error, secrets redacted.
    detail: str = ""
    #: Seconds the receiver asked us to wait before retrying (Retry-After), if any.
    retry_after: float | None = None
    #: The receiver asked for no more messages (a webhook's 410 Gone): the outbox worker
    #: disables the channel in the store, for every replica (:class:`DisabledChannel`).
    gone: bool = False


# -- state the stores keep (``monitor.store`` implements how) ------------------------

#: Most 32-bit words a story sketch holds: the ``k`` of the bottom-k sketches below.
SKETCH_WORDS = 128


#: Most members a story lists; later copies still join it but are not listed.
MAX_STORY_MEMBERS = 50


@dataclass(frozen=True, slots=True)
class FeedState:
    """What we remember about one feed between polls."""

    #: Validators for the next conditional GET.
    validators: FeedValidators = FeedValidators()
    #: When the feed was first fetched successfully (None: never, so the next poll is the first).
    first_polled_at: float | None = None
    #: When the last fetch succeeded (200 or 304).
    last_success_at: float | None = None
    #: Failures in a row since the last success.
    consecutive_failures: int = 0
    #: Error of the last failed fetch, "" after a success.
    last_error: str = ""
    #: The configured URL this state belongs to ("" in state stored before it was recorded).
    #: When the config names another URL, the validators and the marks below no longer apply.
    url: str = ""
    #: Where ``url`` moved for good (a 301/308 chain), polled instead of it; "" if it did not.
    moved_to: str = ""
    #: When the current run of failures began; None while the feed is not failing.
    failing_since: float | None = None
    #: Why the feed is no longer polled (e.g. "HTTP 410 Gone"), "" while it is polled.
    disabled_reason: str = ""
    #: When it was disabled.
    disabled_at: float | None = None
    #: When the daemon means to poll the feed next (None: not scheduled).
    next_poll_at: float | None = None
    #: When a poll last found an entry the feed had not carried before.
    last_new_item_at: float | None = None
    #: Entries the feed has carried, in all, each counted when it first appeared.
    items_seen: int = 0
    #: Short hashes of the entry ids in the last body read (which entries are new to the feed).
    recent_entries: tuple[str, ...] = ()
    #: Refresh interval the feed body declares (RSS ``<ttl>``), in seconds; None if none.
    ttl: float | None = None
    #: Kind of the open health incident already alerted ("failing", "silent", "disabled"), or "".
    incident: str = ""
    #: When that incident began (with the feed and kind, it names the incident).
    incident_since: float | None = None
    #: Hash of the last 200 body that was read in full ("" if none): an identical body
    #: next time needs no parse and no store round trip.
    body_hash: str = ""
    #: The last body's entries as ``"<bytes digest>:<id hash>"``, in feed order, when each
    #: entry was read into one article (else empty): an entry whose bytes are the same
    #: next time is not parsed again (``monitor.polling.reading``).
    entry_map: tuple[str, ...] = ()

    def applies_to(self, url: str) -> bool:
        """Whether this state was recorded for the configured ``url`` (legacy state: yes)."""
        return self.url in ("", url)

    @property
    def disabled(self) -> bool:
        """Whether the feed is disabled (a 410, until its URL changes or it is re-enabled)."""
        return bool(self.disabled_reason)


@dataclass(frozen=True, slots=True)
class OutboxEntry:
    """An alert waiting in (or claimed from) the outbox."""

    #: The alert to deliver.
    alert: Alert
    #: Delivery attempts made so far.
    attempts: int
    #: When the alert is due (its next attempt); while claimed, when the lease ends.
    due_at: float
    #: Error of the last failed attempt, "" if none.
    last_error: str = ""
    #: Token of the claim that returned this entry ("" in listings); fences the outcome calls.
    claim: str = ""


@dataclass(frozen=True, slots=True)
class OutboxLookup:
    """One alert's outbox entry and where it is (``Outbox.outbox_entry``)."""

    #: As :meth:`~monitor.store.base.Outbox.pending` or ``dead_letters`` would list it
    #: (``claim`` ""; a dead letter's ``due_at`` is when it died).
    entry: OutboxEntry
    #: True: in the dead-letter list; False: in the outbox (queued or claimed).
    dead: bool


@dataclass(frozen=True, slots=True)
class OutboxSummary:
    """How full the outbox is, without its alerts (``Outbox.outbox_summary``): what the
    metrics scrape and the console overview read."""

    #: Alerts in the outbox (queued, retrying or claimed).
    pending: int
    #: Dead-lettered alerts.
    dead: int
    #: The ``created_at`` of the oldest alert in the outbox (dead letters aside), as epoch
    #: seconds; None when the outbox is empty.
    oldest_created_at: float | None = None


@dataclass(frozen=True, slots=True)
class DeliveryRecord:
    """An alert that was delivered, as ``Outbox.recent_deliveries`` lists it."""

    #: The alert that was delivered.
    alert: Alert
    #: When it was delivered (the ``now`` given to ``ack``).
    delivered_at: float
    #: What the receiver answered (the ``detail`` given to ``ack``).
    detail: str
    #: Attempts it took in all, the delivering one included (1: delivered at the first try).
    attempts: int


@dataclass(frozen=True, slots=True)
class StoryProbe:
    """What the story index compares: an article's fingerprint (see ``monitor.stories``)."""

    #: Index keys (LSH bands): a story is a candidate if one of its indexed members had one.
    bands: tuple[str, ...]
    #: Bottom-k sketch of the article's shingles (see ``store.story_rules.sketch_similarity``).
    sketch: bytes
    #: Title words; if both sides have some, a candidate must share one (no newlines).
    anchors: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class StoryMember:
    """One article of a story, as the story lists it."""

    #: The article's id (``Article.id``).
    article_id: str
    #: The feed (outlet) it came from.
    feed_id: str
    #: Its link, or "".
    url: str = ""
    #: Its title.
    title: str = ""
    #: When it joined the story (the caller's ``now``).
    seen_at: float = 0.0


@dataclass(frozen=True, slots=True)
class StoryAssignment:
    """The story an article belongs to, as ``StoryIndex.assign_story`` returns it."""

    #: Story id: the id of its first article (an article no one else carried keeps its own id).
    story_id: str
    #: Whether the article given started the story (True again if the same article is re-observed).
    is_new: bool
    #: The story's articles in arrival order, the first one first (at most MAX_STORY_MEMBERS).
    members: tuple[StoryMember, ...]
    #: When the story's window ends (caller's clock): later copies start a new story.
    until: float = 0.0

    @property
    def outlets(self) -> tuple[str, ...]:
        """Distinct feed ids that carried the story, in arrival order."""
        return tuple(dict.fromkeys(m.feed_id for m in self.members))


class ClaimResult(enum.Enum):
    """What :meth:`~monitor.store.base.SeenStore.claim_articles` did with one article."""

    #: Claimed for this caller: process it, then mark it seen (or release it).
    CLAIMED = "claimed"
    #: Processed before: nothing to do.
    SEEN = "seen"
    #: Claimed by another process (or one that died, until its lease ends): redo it later.
    BUSY = "busy"


@dataclass(frozen=True, slots=True)
class ArchivedArticle:
    """An article kept in the archive (``store.base.ArticleArchive``), for ``match --archive``
    and a rule's backfill."""

    #: The article as read from its feed (a store may cut a very long text).
    article: Article
    #: When it was archived (caller's clock); the archive keeps what is young enough.
    archived_at: float
    #: The story it belongs to (the id of the story's first article); "" if none is known.
    story_id: str = ""


@dataclass(frozen=True, slots=True)
class DisabledChannel:
    """A channel whose receiver asked for no more messages (a webhook's 410 Gone): it sends
    nothing until ``news-monitor channels enable`` (or a new ``target``). Kept in the store,
    so every replica honours it (``monitor.store.base.ChannelStateStore``)."""

    #: The channel's name in the watch config.
    channel: str
    #: When it was disabled (epoch seconds).
    since: float
    #: What the receiver answered ("HTTP 410: unsubscribed").
    reason: str
    #: Where the channel sent to when it was disabled (``Channel.target``, a digest of its
    #: URL): a channel now configured with another destination is not disabled.
    target: str = ""


#: What a silence mutes: alerts of a rule, of a story, or to a channel.
SILENCE_KINDS = ("rule", "story", "channel")
#: Where an alert of the history stands (``HistoryEntry.status``).
ALERT_STATUSES = ("pending", "retrying", "delivered", "dead", "silenced")


@dataclass(frozen=True, slots=True)
class Silence:
    """Mutes the alerts of a rule, a story or a channel for a while (like an Alertmanager
    silence): an alert it matches when it is due to be sent is recorded as ``silenced``,
    not sent. Kept in the store, so every replica honours it."""

    #: ``sil_`` and 16 hex digits.
    id: str
    #: "rule", "story" or "channel" (:data:`SILENCE_KINDS`).
    kind: str
    #: The rule id, story id or channel name it mutes.
    target: str
    #: When it starts and ends (epoch seconds); expiring it early sets ``ends_at`` to now.
    starts_at: float
    ends_at: float
    #: Why, in the words of whoever made it.
    comment: str = ""
    #: Who or what made it ("cli", "web", "api", or a name).
    created_by: str = ""

    def active(self, now: float) -> bool:
        """Whether it mutes alerts at ``now``."""
        return self.starts_at <= now < self.ends_at

    def mutes(self, alert: Alert) -> bool:
        """Whether it applies to ``alert`` (at any time: see :meth:`active`)."""
        if self.kind == "rule":
            return alert.rule_id == self.target
        if self.kind == "story":
            return (alert.story_id or alert.article.id) == self.target
        return alert.channel == self.target


@dataclass(frozen=True, slots=True)
class Attempt:
    """One event in an alert's life, as the history lists it."""

    #: When (epoch seconds).
    at: float
    #: "queued", "retried", "delivered", "dead", "silenced" or "requeued".
    outcome: str
    #: The receiver's answer, the error, or the silence id.
    detail: str = ""


@dataclass(frozen=True, slots=True)
class HistoryEntry:
    """One alert as the history keeps it (``MONITOR_HISTORY_RETENTION``)."""

    alert: Alert
    #: Where it stands: one of :data:`ALERT_STATUSES`.
    status: str
    #: When it was queued, and when its status last changed (epoch seconds).
    created_at: float
    updated_at: float
    #: Its events in order (queued, each attempt, the outcome), at most the last 50.
    events: tuple[Attempt, ...] = ()


@dataclass(frozen=True, slots=True)
class HistoryQuery:
    """A search of the alert history; every field given narrows it."""

    #: Words that must all appear in the article's title or text, or the rule's query
    #: (case-insensitive; "" matches everything).
    text: str = ""
    rule: str | None = None
    channel: str | None = None
    #: One of :data:`ALERT_STATUSES`.
    status: str | None = None
    #: Only alerts created at or after this time (epoch seconds).
    since: float | None = None
    #: Most entries in one page (newest first).
    limit: int = 50
    #: The ``next_cursor`` of the previous page; None for the first page.
    cursor: str | None = None


@dataclass(frozen=True, slots=True)
class HistoryPage:
    """One page of a history search, newest first."""

    entries: tuple[HistoryEntry, ...]
    #: Pass as ``HistoryQuery.cursor`` for the next (older) page; None on the last page.
    next_cursor: str | None = None


@dataclass(frozen=True, slots=True)
class RuleStats:
    """How often a rule alerted in a window (``AlertHistory.history_stats``)."""

    #: Distinct stories (else articles) it alerted on, whatever the number of channels.
    hits: int
    #: When it last alerted (epoch seconds).
    last_alert_at: float


@dataclass(frozen=True, slots=True)
class HistoryStats:
    """Counts over the alert history since a time."""

    #: Alerts by status (every status of :data:`ALERT_STATUSES` present, 0 if none).
    by_status: dict[str, int]
    #: Per rule id that alerted in the window.
    rules: dict[str, RuleStats]
