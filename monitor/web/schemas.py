"""The REST API's JSON: request and response models (snake_case fields, every one described
in the OpenAPI document at ``/api/v1/openapi.json``), and their making from the values
of :mod:`monitor.web.service` and :mod:`monitor.web.preview`.

Times are ISO 8601 strings in UTC.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Literal, overload

from pydantic import BaseModel, Field

from monitor.ingest.fetch import redact_url
from monitor.model import Alert, Article, Attempt, Hit, Silence
from monitor.store.websub import Subscription
from monitor.web.preview import Preview, PreviewMatch
from monitor.web.service import AlertView, ChannelRow, FeedRow, PushStatus, RuleRow

Status = Literal["pending", "retrying", "delivered", "dead", "silenced"]


@overload
def at(epoch: float) -> datetime: ...
@overload
def at(epoch: float | None) -> datetime | None: ...
def at(epoch: float | None) -> datetime | None:
    """Epoch seconds as an aware UTC datetime (None stays None)."""
    return datetime.fromtimestamp(epoch, tz=UTC) if epoch is not None else None


class HitOut(BaseModel):
    """Where a query term matched: character offsets into the article's title or text."""

    field: Literal["title", "text"] = Field(description="The field the offsets are in.")
    start: int = Field(description="Offset of the first matched character.")
    end: int = Field(description="Offset one past the last matched character.")
    term: str = Field(description="The query term or phrase that matched, as written.")

    @classmethod
    def of(cls, hit: Hit) -> HitOut:
        return cls(field=hit.field, start=hit.start, end=hit.end, term=hit.term)


class ArticleOut(BaseModel):
    """An article as read from its feed (plain text: HTML was removed when it was read)."""

    id: str = Field(description="Stable id: the feed's guid, else the canonical URL, else a hash.")
    feed_id: str = Field(description="The feed it was read from.")
    url: str = Field(description="Its canonical link, or an empty string.")
    title: str
    text: str = Field(description="Summary and content as plain text (the archive cuts long ones).")
    author: str
    published: datetime | None = Field(description="Publication time, if the feed gives one.")

    @classmethod
    def of(cls, article: Article) -> ArticleOut:
        return cls(
            id=article.id,
            feed_id=article.feed_id,
            url=article.url,
            title=article.title,
            text=article.text,
            author=article.author,
            published=article.published,
        )


class CoverageOut(BaseModel):
    """Another outlet's copy of the alert's story."""

    feed_id: str
    url: str
    title: str


class EventOut(BaseModel):
    """One event in an alert's life."""

    at: datetime
    outcome: str = Field(
        description='"queued", "retried", "delivered", "dead", "silenced" or "requeued".'
    )
    detail: str = Field(description="The receiver's answer, the error, or the silence id.")

    @classmethod
    def of(cls, event: Attempt) -> EventOut:
        return cls(at=at(event.at), outcome=event.outcome, detail=event.detail)


class AlertOut(BaseModel):
    """An alert (one match of one rule, for one channel) as the history lists it."""

    id: str
    rule_id: str
    channel: str
    status: Status
    query: str = Field(description="The rule's query when the alert was made.")
    title: str = Field(description="The article's title.")
    url: str = Field(description="The article's link.")
    feed_id: str
    feed_name: str
    story_id: str = Field(description="The story's id (its first article's); empty if none.")
    matched_terms: list[str]
    also_in: int = Field(description="How many other outlets carried the story.")
    created_at: datetime
    updated_at: datetime

    @classmethod
    def of(cls, alert: Alert, status: str, created_at: float, updated_at: float) -> AlertOut:
        return cls(
            id=alert.id,
            rule_id=alert.rule_id,
            channel=alert.channel,
            status=status,
            query=alert.query,
            title=alert.article.title,
            url=alert.article.url,
            feed_id=alert.article.feed_id,
            feed_name=alert.feed_name,
            story_id=alert.story_id,
            matched_terms=list(alert.matched_terms),
            also_in=len(alert.also_in),
            created_at=at(created_at),
            updated_at=at(updated_at),
        )


class AlertPageOut(BaseModel):
    """One page of a history search, newest first."""

    alerts: list[AlertOut]
    next_cursor: str | None = Field(
        description="Pass as `cursor` for the next (older) page; null on the last page."
    )


class AlertDetailOut(AlertOut):
    """One alert with its article, hits, story outlets, events and outbox state."""

    article: ArticleOut
    hits: list[HitOut]
    outlets: list[CoverageOut] = Field(description="The other outlets that carried the story.")
    events: list[EventOut] = Field(description="Queued, each attempt, the outcome (oldest first).")
    attempts: int | None = Field(
        description="Attempts so far while it is in the outbox or dead; null otherwise."
    )
    last_error: str = Field(description="The last failed attempt's error, if it is in the outbox.")
    retryable: bool = Field(description="Whether POST /alerts/{id}/retry would requeue it.")

    @classmethod
    def of_view(cls, view: AlertView) -> AlertDetailOut:
        base = AlertOut.of(view.alert, view.status, view.created_at, view.updated_at)
        return cls(
            **base.model_dump(),
            article=ArticleOut.of(view.alert.article),
            hits=[HitOut.of(h) for h in view.alert.hits],
            outlets=[
                CoverageOut(feed_id=c.feed_id, url=c.url, title=c.title) for c in view.alert.also_in
            ],
            events=[EventOut.of(e) for e in view.events],
            attempts=view.outbox.attempts if view.outbox is not None else None,
            last_error=view.outbox.last_error if view.outbox is not None else "",
            retryable=view.retryable,
        )


class RetryOut(BaseModel):
    """A dead letter moved back into the outbox."""

    id: str
    status: Literal["pending"] = "pending"


class PushOut(BaseModel):
    """How a WebSub hub pushes a feed, from its stored subscription."""

    status: PushStatus = Field(
        description="pushed: verified, lease not over; pending: a request sent, its intent not "
        "verified yet; denied: the hub refused (last_error says why); failing: the last request "
        "to the hub failed (failures in a row; a lease may still run); expired: the lease is "
        "over, not renewed; unsubscribing: the feed left the config; none: no subscription "
        "(the feed names no hub, or none was seen yet): only polled."
    )
    active: bool = Field(description="Whether the hub pushes the feed now (lease not over).")
    hub: str = Field(description="The hub subscribed at, without user info or query.")
    topic: str = Field(description="The topic URL subscribed to, without user info or query.")
    requested_at: datetime | None = Field(description="When the last request was sent.")
    unverified_since: datetime | None = Field(
        description="While a request awaits the hub's verification: when its first try went "
        "out (retries keep it); null when none awaits one."
    )
    expires_at: datetime | None = Field(
        description="End of the lease the hub granted (past when expired); null if never "
        "verified, or denied."
    )
    next_request_at: datetime | None = Field(
        description="When the daemon asks the hub next: a renewal, or a retry."
    )
    failures: int = Field(description="Requests to the hub that failed in a row.")
    last_error: str = Field(description="Why the last request failed, or why the hub denied it.")

    @classmethod
    def of(cls, status: PushStatus, sub: Subscription | None, now: float) -> PushOut:
        if sub is None:
            return cls(
                status="none",
                active=False,
                hub="",
                topic="",
                requested_at=None,
                unverified_since=None,
                expires_at=None,
                next_request_at=None,
                failures=0,
                last_error="",
            )
        return cls(
            status=status,
            active=sub.active(now),
            hub=redact_url(sub.hub),
            topic=redact_url(sub.topic),
            requested_at=at(sub.requested_at) if sub.requested_at else None,  # 0: unknown
            unverified_since=at(since) if (since := sub.unverified_since()) else None,
            expires_at=at(sub.expires_at),
            next_request_at=at(sub.due_at),
            failures=sub.failures,
            last_error=sub.last_error,
        )


class FeedOut(BaseModel):
    """A configured feed, how it is read, and its health."""

    id: str
    name: str
    url: str = Field(description="The configured URL without user info, query or fragment.")
    interval_seconds: float | None = Field(description="Its own polling interval, if set.")
    status: Literal["ok", "failing", "silent", "disabled", "never_polled"]
    since: datetime | None = Field(description="Since when it is failing, silent or disabled.")
    last_error: str
    consecutive_failures: int
    last_success_at: datetime | None
    last_new_item_at: datetime | None
    next_poll_at: datetime | None = Field(description="When the daemon means to poll it next.")
    items_seen: int
    moved_to: str = Field(description="Where it moved for good (301/308), if it did.")
    disabled_reason: str
    fulltext: bool | Literal["auto"] = Field(
        description="Whether new articles' pages are read for their main text: true (every "
        "one), false, or auto (only when the feed's text is shorter than fulltext_min_chars)."
    )
    fulltext_min_chars: int | None = Field(
        description="With fulltext auto: a page is read when the feed's text has fewer "
        "characters; null otherwise."
    )
    language: str | None = Field(
        description="The feed's configured language (an ISO 639 code) for all its articles; "
        "null: each article's declared or detected language."
    )
    push: PushOut | None = Field(
        description="How a WebSub hub pushes the feed (status none: no subscription); null "
        "when WebSub is off (MONITOR_PUBLIC_URL unset)."
    )

    @classmethod
    def of(cls, row: FeedRow, now: float) -> FeedOut:
        s, feed = row.state, row.feed
        push = PushOut.of(row.push, row.subscription, now) if row.push is not None else None
        return cls(
            id=feed.id,
            name=feed.name or "",
            url=redact_url(feed.url),
            interval_seconds=feed.interval.total_seconds() if feed.interval else None,
            status=row.status,
            since=at(row.since),
            last_error=s.last_error if s else "",
            consecutive_failures=s.consecutive_failures if s else 0,
            last_success_at=at(s.last_success_at) if s else None,
            last_new_item_at=at(s.last_new_item_at) if s else None,
            next_poll_at=at(s.next_poll_at) if s else None,
            items_seen=s.items_seen if s else 0,
            moved_to=redact_url(s.moved_to) if s and s.moved_to else "",
            disabled_reason=s.disabled_reason if s else "",
            fulltext=feed.fulltext,
            fulltext_min_chars=feed.fulltext_min_chars if feed.fulltext == "auto" else None,
            language=feed.language,
            push=push,
        )


class FeedListOut(BaseModel):
    feeds: list[FeedOut]


class ChannelOut(BaseModel):
    """A configured channel: whether it sends, and its alerts waiting."""

    name: str
    type: str = Field(description="Its type in the watch config: slack, email, webhook, ...")
    status: Literal["ok", "disabled"] = Field(
        description="disabled: its receiver answered 410 Gone; it sends nothing until enabled."
    )
    disabled_since: datetime | None
    disabled_reason: str = Field(description="What the receiver answered, if disabled.")
    queued: int = Field(description="Its alerts in the outbox (queued or retrying).")
    dead_letters: int = Field(description="Its alerts in the dead-letter list.")

    @classmethod
    def of(cls, row: ChannelRow) -> ChannelOut:
        mark = row.disabled
        return cls(
            name=row.name,
            type=row.type,
            status="disabled" if mark is not None else "ok",
            disabled_since=at(mark.since) if mark is not None else None,
            disabled_reason=mark.reason if mark is not None else "",
            queued=row.queued,
            dead_letters=row.dead,
        )


class ChannelListOut(BaseModel):
    channels: list[ChannelOut]


class RuleOut(BaseModel):
    """A configured rule and how often it alerted (distinct stories, whatever the channels)."""

    id: str
    query: str
    notify: list[str] | None = Field(description="Its channels; null: every channel.")
    feeds: list[str] | None = Field(description="The feeds it applies to; null: every feed.")
    hits_24h: int
    hits_7d: int
    last_match_at: datetime | None = Field(description="When it last alerted, if it did.")

    @classmethod
    def of(cls, row: RuleRow) -> RuleOut:
        rule = row.rule
        return cls(
            id=rule.id,
            query=rule.query,
            notify=rule.notify,
            feeds=rule.feeds,
            hits_24h=row.hits_24h,
            hits_7d=row.hits_7d,
            last_match_at=at(row.last_match_at),
        )


class RuleListOut(BaseModel):
    rules: list[RuleOut]


class MatchIn(BaseModel):
    """A query to run over the article archive."""

    query: str = Field(description="A query in the rule language, e.g. `Iran AND drones`.")
    since: str | None = Field(
        default=None,
        description="How far back: a duration like `24h`; default the archive's retention.",
    )
    limit: int = Field(default=50, ge=1, le=500, description="Most matches returned.")


class ArchiveMatchOut(BaseModel):
    """An archived article the query matches."""

    article: ArticleOut
    archived_at: datetime
    story_id: str
    hits: list[HitOut] = Field(description="The highlights: where each term matched.")
    explain: str = Field(description="The query tree on this article, each clause ✓ or ✗.")

    @classmethod
    def of(cls, match: PreviewMatch) -> ArchiveMatchOut:
        entry = match.entry
        return cls(
            article=ArticleOut.of(entry.article),
            archived_at=at(entry.archived_at),
            story_id=entry.story_id,
            hits=[HitOut.of(h) for h in match.hits],
            explain=match.explain,
        )


class MatchOut(BaseModel):
    """The archived articles a query matches, newest first."""

    query: str
    since_seconds: float = Field(description="The window searched.")
    searched: int = Field(description="Archived articles in the window.")
    matched: int = Field(description="How many of them match (all, not only those returned).")
    warnings: list[str] = Field(description="Remarks on a query that may not mean what it says.")
    matches: list[ArchiveMatchOut]

    @classmethod
    def of(cls, preview: Preview) -> MatchOut:
        return cls(
            query=preview.query,
            since_seconds=preview.since,
            searched=preview.searched,
            matched=preview.matched,
            warnings=list(preview.warnings),
            matches=[ArchiveMatchOut.of(m) for m in preview.matches],
        )


class QueryErrorOut(BaseModel):
    """A query that does not parse, or names an unknown entity."""

    error: Literal["bad_query"] = "bad_query"
    message: str
    query: str
    position: int = Field(description="0-based offset of the offending character.")


class SilenceIn(BaseModel):
    """A silence to create, starting now."""

    kind: Literal["rule", "story", "channel"]
    target: str = Field(min_length=1, description="The rule id, story id or channel name.")
    duration: str = Field(description="How long: `2h`, `30m`, `1d` (at most 365d).")
    comment: str = Field(default="", max_length=500)


class SilenceOut(BaseModel):
    """A silence: alerts it matches while it is active are recorded as silenced, not sent."""

    id: str
    kind: Literal["rule", "story", "channel"]
    target: str
    starts_at: datetime
    ends_at: datetime
    comment: str
    created_by: str
    active: bool = Field(description="Whether it mutes alerts now.")

    @classmethod
    def of(cls, silence: Silence, now: float) -> SilenceOut:
        return cls(
            id=silence.id,
            kind=silence.kind,
            target=silence.target,
            starts_at=at(silence.starts_at),
            ends_at=at(silence.ends_at),
            comment=silence.comment,
            created_by=silence.created_by,
            active=silence.active(now),
        )


class SilenceListOut(BaseModel):
    silences: list[SilenceOut]


class ErrorOut(BaseModel):
    """An error: what is wrong."""

    detail: str
