"""What the console pages and the REST API both read and do, over a
:class:`~monitor.web.context.ConsoleContext`: feed health rows (with each feed's WebSub
state, when WebSub is on), channel states (and enabling a channel its receiver's 410
disabled), rule hit counts, the overview, one alert with its outbox entry, a retry of a
dead letter, silences.

Pages render these values as HTML (:mod:`monitor.web.pages`), the API as JSON
(:mod:`monitor.web.api`); neither reads the store on its own.
"""

from __future__ import annotations

import asyncio
import secrets
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Literal, get_args

from monitor.config.models import FeedConfig, RuleConfig
from monitor.delivery.gone import in_force
from monitor.log import get_logger
from monitor.model import (
    ALERT_STATUSES,
    SILENCE_KINDS,
    Alert,
    Attempt,
    DisabledChannel,
    FeedState,
    HistoryPage,
    HistoryQuery,
    OutboxEntry,
    Silence,
)
from monitor.polling.feed_state import rebase
from monitor.polling.health import HEALTH_RULE_ID, feed_problem, health_policy
from monitor.settings import parse_duration
from monitor.store.websub import UNSUBSCRIBE, Subscription
from monitor.web.context import ConsoleContext

log = get_logger("monitor.web")

DAY = 86_400.0
#: Feed states, as the feeds page and the API name them.
FEED_STATUSES = ("ok", "failing", "silent", "disabled", "never_polled")
#: WebSub states of a feed (:func:`push_status`), as the feeds page and the API name them.
PushStatus = Literal["pushed", "pending", "denied", "failing", "expired", "unsubscribing", "none"]
PUSH_STATUSES: tuple[PushStatus, ...] = get_args(PushStatus)
#: Longest silence the console makes.
MAX_SILENCE = timedelta(days=365)
#: Most alerts in one page of history.
MAX_PAGE = 500


class InputError(ValueError):
    """A request the console cannot honour as given (a 422, or a form's error message)."""


# -- feeds ----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class FeedRow:
    """One configured feed and its health."""

    feed: FeedConfig
    #: Its stored state, rebased on the configured URL; None: never polled.
    state: FeedState | None
    #: One of :data:`FEED_STATUSES`.
    status: str
    #: Since when it is in that status (failing, silent, disabled); None otherwise.
    since: float | None
    #: Its WebSub state, one of :data:`PUSH_STATUSES`; None: WebSub is off (or not asked).
    push: PushStatus | None = None
    #: Its stored WebSub subscription, if it has one.
    subscription: Subscription | None = None

    @property
    def down(self) -> bool:
        """Failing or disabled (what ``news_monitor_feeds_down`` counts)."""
        return self.status in ("failing", "disabled")


def feed_status(
    feed: FeedConfig, state: FeedState | None, now: float, ctx: ConsoleContext
) -> tuple[str, float | None]:
    """(status, since) of one feed, as ``news-monitor feeds`` judges it."""
    if state is None or (
        state.last_success_at is None and not state.consecutive_failures and not state.disabled
    ):
        return "never_polled", None
    if state.disabled:
        return "disabled", state.disabled_at
    if state.consecutive_failures:
        return "failing", state.failing_since
    policy = health_policy(feed, ctx.loaded().config.feed_health)
    problem = feed_problem(state, now, policy) if policy is not None else None
    return ("silent", problem.since) if problem is not None else ("ok", None)


def push_status(sub: Subscription | None, now: float) -> PushStatus:
    """How a hub pushes a feed, judged from its subscription record (one of
    :data:`PUSH_STATUSES`), the most pressing condition first:

    - ``none``: no record (the feed names no hub, or none was seen yet): only polled;
    - ``unsubscribing``: the feed left the config and its hub is asked to stop;
    - ``denied``: the hub refused the subscription (``last_error`` says why; asked again
      at ``due_at``);
    - ``failing``: the last request to the hub failed (``failures`` in a row), whether it
      was a first subscription or a renewal (then the lease may still run);
    - ``pushed``: verified and the lease not over (a renewal may be on its way);
    - ``expired``: the lease is over, not renewed (yet);
    - ``pending``: a request sent, its intent never verified.
    """
    if sub is None:
        return "none"
    if sub.mode == UNSUBSCRIBE:
        return "unsubscribing"
    if not sub.pending and sub.expires_at is None:
        # Only a denial ends a request without a lease (a verification grants one).
        return "denied"
    if sub.failures:
        return "failing"
    if sub.active(now):
        return "pushed"
    return "expired" if sub.expires_at is not None else "pending"


async def feed_rows(ctx: ConsoleContext, *, websub: bool = False) -> list[FeedRow]:
    """Every configured feed with its health, in config order; with ``websub`` (and
    WebSub on), with its push state too (every subscription read at once)."""
    feeds = ctx.loaded().config.feeds
    stored = await asyncio.gather(*(ctx.store.get_feed_state(f.id) for f in feeds))
    records: dict[str, Subscription] | None = None
    if websub and ctx.subscriptions is not None:
        records = {sub.feed_id: sub for sub in await ctx.subscriptions.subscriptions()}
    now = ctx.clock()
    rows = []
    for feed, state in zip(feeds, stored, strict=True):
        state = rebase(state, feed.url) if state is not None else None
        status, since = feed_status(feed, state, now, ctx)
        sub = records.get(feed.id) if records is not None else None
        push = push_status(sub, now) if records is not None else None
        rows.append(FeedRow(feed, state, status, since, push, sub))
    return rows


# -- channels ----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ChannelRow:
    """One configured channel: whether it sends, and its alerts waiting."""

    name: str
    #: Its ``type`` in the watch config (slack, email, webhook, ...).
    type: str
    #: The mark that stops it (its receiver answered 410 Gone); None: it sends.
    disabled: DisabledChannel | None
    #: Its alerts in the outbox (queued or retrying), and in the dead-letter list.
    queued: int
    dead: int

    @property
    def status(self) -> str:
        return "disabled" if self.disabled is not None else "ok"


async def channel_rows(
    ctx: ConsoleContext,
    pending: Sequence[OutboxEntry] | None = None,
    dead_letters: Sequence[OutboxEntry] | None = None,
) -> list[ChannelRow]:
    """Every configured channel with its state, in config order (what ``news-monitor
    channels`` prints); ``pending`` and ``dead_letters`` if the caller has read them (an
    empty ``pending`` from a caller that shows no queued counts: each is then 0)."""
    configs = ctx.loaded().config.channels
    disabled = in_force(await ctx.store.disabled_channels(), ctx.channels())
    if pending is None:
        pending = await ctx.store.pending()
    if dead_letters is None:
        dead_letters = await ctx.store.dead_letters()
    queued = Counter(e.alert.channel for e in pending)
    dead = Counter(e.alert.channel for e in dead_letters)
    return [
        ChannelRow(name, config.type, disabled.get(name), queued[name], dead[name])
        for name, config in configs.items()
    ]


async def enable_channel(ctx: ConsoleContext, name: str, by: str) -> ChannelRow | None:
    """Remove the disabled mark of channel ``name`` (as ``news-monitor channels enable``):
    every replica sends to it again from its next delivery pass; its dead letters stay
    until retried. The channel's row afterwards; None if it was not disabled; InputError
    for a channel the config does not have."""
    configs = ctx.loaded().config.channels
    if name not in configs:
        known = ", ".join(configs) or "none"
        raise InputError(f"no channel {name!r} (channels: {known})")
    if name not in in_force(await ctx.store.disabled_channels(), ctx.channels()):
        return None
    await ctx.store.enable_channel(name)
    ctx.wake()  # its queued alerts are due now
    log.info("channel_enabled", channel=name, by=by)
    return next(row for row in await channel_rows(ctx) if row.name == name)


# -- rules ------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class RuleRow:
    """One configured rule and how often it alerted."""

    rule: RuleConfig
    #: Distinct stories it alerted on in the last 24 h and 7 days.
    hits_24h: int
    hits_7d: int
    #: When it last alerted (within the history's retention); None: not since.
    last_match_at: float | None


async def rule_rows(ctx: ConsoleContext) -> list[RuleRow]:
    """Every configured rule with its hits (``history_stats`` of 24 h and 7 days), in config
    order; the last match of a rule quiet for 7 days is its newest history entry (an
    indexed lookup, much cheaper than counting the whole retention)."""
    now = ctx.clock()
    store = ctx.store
    day = await store.history_stats(now - DAY)
    week = await store.history_stats(now - 7 * DAY)
    rows = []
    for rule in ctx.loaded().config.rules:
        d, w = day.rules.get(rule.id), week.rules.get(rule.id)
        last = w.last_alert_at if w else None
        if last is None and ctx.history_retention > 7 * DAY:
            page = await store.search_history(HistoryQuery(rule=rule.id, limit=1))
            last = page.entries[0].created_at if page.entries else None
        rows.append(RuleRow(rule, d.hits if d else 0, w.hits if w else 0, last))
    return rows


# -- overview -----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Overview:
    """The front page's numbers."""

    feeds: list[FeedRow]
    #: The channels disabled (a 410 in force), in config order, with their dead letters
    #: counted; their ``queued`` is not counted (0): the overview never lists the outbox.
    channels_disabled: list[ChannelRow]
    #: Alerts created in the last 24 h, by status (every status present).
    alerts_24h: dict[str, int]
    #: Alerts in the outbox (queued, retrying or being sent), and dead letters.
    outbox_pending: int
    dead_letters: int
    #: Silences muting alerts now.
    active_silences: int

    @property
    def feeds_up(self) -> int:
        return sum(1 for row in self.feeds if row.status == "ok")

    @property
    def feeds_down(self) -> int:
        return sum(1 for row in self.feeds if row.down)

    def feeds_in(self, status: str) -> int:
        return sum(1 for row in self.feeds if row.status == status)


async def overview(ctx: ConsoleContext) -> Overview:
    """Feeds up and down, channels disabled, alerts of the last 24 h, outbox and dead
    letters, silences.

    The outbox and the dead letters are counted by ``outbox_summary``, not listed: the
    overview stays cheap however full the outbox is. The dead letters are listed only
    when a channel is disabled, to count each one's."""
    now = ctx.clock()
    rows = await feed_rows(ctx)
    stats = await ctx.store.history_stats(now - DAY)
    outbox = await ctx.store.outbox_summary()
    disabled: list[ChannelRow] = []
    if in_force(await ctx.store.disabled_channels(), ctx.channels()):
        dead = await ctx.store.dead_letters()
        every = await channel_rows(ctx, pending=(), dead_letters=dead)
        disabled = [row for row in every if row.disabled is not None]
    silences = await ctx.store.list_silences(now, expired_for=0.0)
    by_status = {status: stats.by_status.get(status, 0) for status in ALERT_STATUSES}
    active = sum(1 for s in silences if s.active(now))
    return Overview(rows, disabled, by_status, outbox.pending, outbox.dead, active)


# -- alerts ----------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class AlertView:
    """One alert: its history entry (if history keeps it) and its outbox entry (if queued or
    dead-lettered)."""

    alert: Alert
    #: One of :data:`~monitor.model.ALERT_STATUSES`.
    status: str
    created_at: float
    updated_at: float
    events: tuple[Attempt, ...]
    #: Its entry in the outbox or the dead-letter list; None once delivered or silenced.
    outbox: OutboxEntry | None = None

    @property
    def retryable(self) -> bool:
        return self.status == "dead" and self.outbox is not None


async def find_alert(ctx: ConsoleContext, alert_id: str) -> AlertView | None:
    """The alert ``alert_id`` from the history, else from the dead letters or the outbox.

    Its outbox entry is looked up by id (``outbox_entry``), never by listing the outbox:
    the page costs the same with 50,000 alerts queued as with none."""
    store = ctx.store
    entry = await store.history_entry(alert_id)
    found = await store.outbox_entry(alert_id)
    outbox = found.entry if found is not None else None
    dead = found is not None and found.dead
    if entry is not None:
        status = "dead" if dead else entry.status
        return AlertView(
            entry.alert, status, entry.created_at, entry.updated_at, entry.events, outbox
        )
    if outbox is None:
        return None
    created = outbox.alert.created_at.timestamp()
    status = "dead" if dead else ("retrying" if outbox.attempts else "pending")
    return AlertView(outbox.alert, status, created, outbox.due_at, (), outbox)


async def retry_alert(ctx: ConsoleContext, alert_id: str, by: str) -> Alert | None:
    """Move the dead letter ``alert_id`` back into the outbox, due now, and record a
    ``requeued`` event in its history; None if it is not a dead letter (looked up by id,
    not by listing the dead letters)."""
    store = ctx.store
    found = await store.outbox_entry(alert_id)
    now = ctx.clock()
    if found is None or not found.dead or not await store.requeue(alert_id, now):
        return None
    dead = found.entry
    await store.record_history(
        [(dead.alert, "pending", Attempt(now, "requeued", f"by {by}"))], ctx.history_retention
    )
    ctx.wake()
    log.info("alert_requeued", alert=alert_id, channel=dead.alert.channel, by=by)
    return dead.alert


def parse_since(text: str | None, now: float) -> float | None:
    """``since`` as a duration back from now (``24h``) or an ISO 8601 time; None if empty."""
    if text is None or not text.strip():
        return None
    text = text.strip()
    try:
        span = parse_duration(text)
    except ValueError:
        try:
            at = datetime.fromisoformat(text.replace("Z", "+00:00"))
        except ValueError:
            raise InputError(
                f"since: expected a duration like 24h or a time like 2026-01-05T14:00:00Z, "
                f"got {text!r}"
            ) from None
        return (at if at.tzinfo else at.replace(tzinfo=UTC)).timestamp()
    return now - span.total_seconds()


def history_query(
    ctx: ConsoleContext,
    *,
    q: str = "",
    rule: str | None = None,
    channel: str | None = None,
    status: str | None = None,
    since: str | None = None,
    limit: int = 50,
    cursor: str | None = None,
) -> HistoryQuery:
    """A history search from request parameters (empty ones ignored); InputError if bad."""
    if status and status not in ALERT_STATUSES:
        raise InputError(f"status: expected one of {', '.join(ALERT_STATUSES)}, got {status!r}")
    if not 1 <= limit <= MAX_PAGE:
        raise InputError(f"limit: expected 1 to {MAX_PAGE}, got {limit}")
    return HistoryQuery(
        text=q.strip(),
        rule=rule or None,
        channel=channel or None,
        status=status or None,
        since=parse_since(since, ctx.clock()),
        limit=limit,
        cursor=cursor or None,
    )


async def search(ctx: ConsoleContext, query: HistoryQuery) -> HistoryPage:
    """One page of the history; InputError for a cursor the store does not recognise."""
    try:
        return await ctx.store.search_history(query)
    except ValueError as e:  # the store's word for a bad cursor
        raise InputError(str(e)) from None


# -- silences ------------------------------------------------------------------------------


async def list_silences(ctx: ConsoleContext) -> list[Silence]:
    """Active and pending silences, and those that ended in the last 24 h."""
    return await ctx.store.list_silences(ctx.clock())


async def create_silence(
    ctx: ConsoleContext, kind: str, target: str, duration: str, comment: str, by: str
) -> Silence:
    """Store a silence starting now; InputError naming what is wrong with the input."""
    target, comment = target.strip(), comment.strip()
    if kind not in SILENCE_KINDS:
        raise InputError(f"kind: expected one of {', '.join(SILENCE_KINDS)}, got {kind!r}")
    if not target:
        raise InputError(f"target: the {kind} to silence is missing")
    config = ctx.loaded().config
    if kind == "rule":
        known = [r.id for r in config.rules] + [HEALTH_RULE_ID]
        if target not in known:
            raise InputError(f"target: no rule {target!r} (rules: {', '.join(known)})")
    if kind == "channel" and target not in config.channels:
        raise InputError(
            f"target: no channel {target!r} (channels: {', '.join(config.channels) or 'none'})"
        )
    try:
        span = parse_duration(duration)
    except ValueError as e:
        raise InputError(f"duration: {e}") from None
    if not timedelta(0) < span <= MAX_SILENCE:
        raise InputError(f"duration: expected more than 0 and at most 365d, got {duration!r}")
    if len(comment) > 500:
        raise InputError("comment: at most 500 characters")
    now = ctx.clock()
    silence = Silence(
        id=f"sil_{secrets.token_hex(8)}",
        kind=kind,
        target=target,
        starts_at=now,
        ends_at=now + span.total_seconds(),
        comment=comment,
        created_by=by,
    )
    await ctx.store.add_silence(silence)
    log.info("silence_added", silence=silence.id, kind=kind, target=target, by=by)
    return silence


async def expire_silence(ctx: ConsoleContext, silence_id: str, by: str) -> Silence | None:
    """End a silence now; the silence as it is afterwards, or None if there is none."""
    now = ctx.clock()
    if not await ctx.store.expire_silence(silence_id, now):
        return None
    log.info("silence_expired", silence=silence_id, by=by)
    found = [s for s in await ctx.store.list_silences(now) if s.id == silence_id]
    return found[0] if found else None
