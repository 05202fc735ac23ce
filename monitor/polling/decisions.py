"""Pure decisions of the pipeline: no I/O, no clock reads, easy to test.

- which alerts a match makes (one per channel, with a deterministic id),
- whether an article is too old to alert,
- when a feed is polled next after a success or a failure (backoff with a cap
  and jitter, Retry-After, and the longer interval a server may ask for with
  Cache-Control max-age or RSS ``<ttl>``),
- which entries of a feed body are new to that feed,
- whether a feed is down (failing, silent, disabled) or recovered, and the
  health alerts that says so.
"""

from __future__ import annotations

import hashlib
import random
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from typing import Literal

from monitor.config.models import FeedConfig, FeedHealthConfig
from monitor.model import Alert, Article, Coverage, FeedState, Match

#: A failing feed is retried after interval * 2**failures, but never later than this.
MAX_FEED_BACKOFF = timedelta(hours=1)
#: A server's Retry-After is honoured up to this long (a typo of a year must not silence a feed).
MAX_RETRY_AFTER = timedelta(hours=6)
#: Default cap on the interval a server may ask for (MONITOR_MAX_SERVER_INTERVAL).
DEFAULT_MAX_SERVER_INTERVAL = timedelta(hours=1)
#: Bytes at the start of a body searched for an RSS ``<ttl>`` (it belongs before the items).
TTL_PEEK_BYTES = 64 * 1024
#: Entries per feed whose ids are remembered to tell new entries from known ones.
MAX_TRACKED_ENTRIES = 1000
#: ``rule_id`` of feed health alerts.
HEALTH_RULE_ID = "feed-health"


def alert_id(rule_id: str, article_id: str, channel: str) -> str:
    """Deterministic alert id: one (rule, article, channel) makes one alert, ever.

    It doubles as the webhook-id and email Message-ID, so receivers can drop
    a duplicate delivery.
    """
    digest = hashlib.sha256(f"{rule_id}\x00{article_id}\x00{channel}".encode()).hexdigest()
    return f"alrt_{digest[:32]}"


def alerts_for(
    match: Match,
    query: str,
    channels: Sequence[str],
    now: float,
    *,
    story_id: str = "",
    also_in: tuple[Coverage, ...] = (),
) -> list[Alert]:
    """One alert per channel for ``match``.

    With a ``story_id`` the id is made from the story instead of the article,
    so every copy of one story makes the same alert for a rule and channel,
    and the outbox keeps only the first (story-level dedup, ``monitor.stories``).
    The story id of an article no other outlet carried is its own id.
    """
    created = datetime.fromtimestamp(now, tz=UTC)
    subject = story_id or match.article.id
    return [
        Alert(
            id=alert_id(match.rule_id, subject, channel),
            channel=channel,
            rule_id=match.rule_id,
            query=query,
            article=match.article,
            hits=match.hits,
            created_at=created,
            story_id=story_id,
            also_in=also_in,
        )
        for channel in channels
    ]


def is_too_old(article: Article, now: float, max_age: timedelta) -> bool:
    """Whether ``article`` was published longer than ``max_age`` before ``now``.

    An article without a date is never too old: we cannot tell, and a missed
    alert is worse than a late one.
    """
    if article.published is None:
        return False
    return article.published.timestamp() < now - max_age.total_seconds()


def jitter_for(seconds: float) -> float:
    """Most random jitter added to a poll ``seconds`` away: 10%, at most 60 s."""
    return min(seconds * 0.1, 60.0)


def next_poll_delay(
    interval: timedelta,
    consecutive_failures: int,
    retry_after: float | None = None,
    rng: random.Random | None = None,
    *,
    server_interval: float | None = None,
    max_server_interval: timedelta = DEFAULT_MAX_SERVER_INTERVAL,
) -> float:
    """Seconds until the next poll of a feed.

    After a success: the interval, or the longer ``server_interval`` the
    server asked for (Cache-Control max-age, RSS ``<ttl>``) up to
    ``max_server_interval``, plus up to 10% (at most 60 s) of jitter so feeds
    do not poll in step. Jitter only adds: a poll is never sooner than asked.

    After failures: the interval doubled per failure in a row, capped at
    ``MAX_FEED_BACKOFF`` (never below the interval), with +-10% jitter so many
    failing feeds do not retry in step. Polling never stops for good: the cap
    keeps a broken feed tried at least hourly.

    Either way, never sooner than the server's Retry-After (itself capped at
    ``MAX_RETRY_AFTER``).
    """
    uniform = rng.uniform if rng is not None else random.uniform
    base = interval.total_seconds()
    if consecutive_failures <= 0:
        asked = min(server_interval or 0.0, max_server_interval.total_seconds())
        delay = max(base, asked)
        delay += uniform(0.0, jitter_for(delay))
    else:
        cap = max(base, MAX_FEED_BACKOFF.total_seconds())
        delay = min(base * 2 ** min(consecutive_failures, 20), cap)
        delay *= uniform(0.9, 1.1)
    if retry_after is not None:
        delay = max(delay, min(retry_after, MAX_RETRY_AFTER.total_seconds()))
    return delay


_TTL = re.compile(rb"<ttl\s*>\s*(\d{1,7})\s*</ttl\s*>", re.IGNORECASE)
_FIRST_ENTRY = re.compile(rb"<(?:item|entry)[\s/>]", re.IGNORECASE)


def rss_ttl(body: bytes) -> float | None:
    """Seconds of the RSS channel's ``<ttl>`` (minutes to cache the feed), or None.

    The body is only peeked at (the parser stays the parser's business): the
    element is searched in the first ``TTL_PEEK_BYTES`` and before the first
    item, where RSS puts it, so a ``<ttl>`` quoted inside an item cannot count.
    A body in UTF-16 or UTF-32 simply declares no ttl here.
    """
    head = body[:TTL_PEEK_BYTES]
    if first := _FIRST_ENTRY.search(head):
        head = head[: first.start()]
    found = _TTL.search(head)
    if found is None or int(found.group(1)) == 0:
        return None
    return int(found.group(1)) * 60.0


def entry_hashes(article_ids: Iterable[str]) -> tuple[str, ...]:
    """Short stable hashes of a body's entry ids, in feed order, at most ``MAX_TRACKED_ENTRIES``.

    12 hex digits (48 bits) keep the stored state small; a collision inside
    one feed's thousand entries is far less likely than one lost packet.
    """
    hashes = dict.fromkeys(hashlib.sha256(i.encode()).hexdigest()[:12] for i in article_ids)
    return tuple(hashes)[:MAX_TRACKED_ENTRIES]


def count_new_entries(previous: Sequence[str], current: Sequence[str]) -> int:
    """Entries of ``current`` (hashes) that were not in the previous body of the same feed."""
    known = set(previous)
    return sum(1 for h in current if h not in known)


def rebase(state: FeedState, url: str) -> FeedState:
    """``state`` as it applies to the configured ``url``.

    A URL edited in the config starts afresh where the old URL's answers no
    longer apply: validators (a Last-Modified of another resource could earn
    a wrong 304), a permanent move and a 410 mark are dropped; history
    (failures, items, health incident) stays with the feed. State stored
    before the URL was recorded is adopted, but its validators are dropped
    once so that a full body tells which entries the feed carries.
    """
    if state.url == url:
        return state
    return replace(
        state,
        url=url,
        validators=FeedState().validators,
        moved_to="",
        disabled_reason="",
        disabled_at=None,
        ttl=None,
    )


# -- feed health ------------------------------------------------------------------

ProblemKind = Literal["failing", "silent", "disabled"]


@dataclass(frozen=True, slots=True)
class HealthPolicy:
    """When a feed counts as down, for one feed (the config's ``feed_health`` applied)."""

    #: A feed failing at least this many seconds is down.
    failing_after: float
    #: A feed with no new entry for at least this many seconds is down; None: never.
    silent_after: float | None


@dataclass(frozen=True, slots=True)
class HealthChange:
    """A feed went down, or came back: one alert per channel says so."""

    #: "down" or "recovered".
    transition: Literal["down", "recovered"]
    #: What the incident is (or was).
    kind: ProblemKind
    #: When the incident began: with the feed and kind, it names the incident.
    since: float


def health_policy(feed: FeedConfig, feed_health: FeedHealthConfig | None) -> HealthPolicy | None:
    """When ``feed`` counts as down, or None when the config sends no health alerts."""
    if feed_health is None:
        return None
    silent = feed.silent_after if feed.silent_after is not None else feed_health.silent_after
    return HealthPolicy(
        failing_after=feed_health.failing_after.total_seconds(),
        # A feed's own "silent_after: 0" turns silence alerts off for it.
        silent_after=silent.total_seconds() if silent else None,
    )


def silent_since(state: FeedState) -> float | None:
    """Since when the feed has brought nothing new (None: it never succeeded)."""
    return state.last_new_item_at or state.first_polled_at


def feed_problem(state: FeedState, now: float, policy: HealthPolicy) -> HealthChange | None:
    """The incident ``state`` amounts to at ``now``, as a "down" change, or None.

    Disabled counts at once (it will not mend by itself); failing counts
    once the failures have lasted ``failing_after``; silence once nothing new
    came for ``silent_after`` while polls succeed.
    """
    if state.disabled:
        return HealthChange("down", "disabled", state.disabled_at or now)
    if state.consecutive_failures > 0:
        since = state.failing_since if state.failing_since is not None else now
        if now - since >= policy.failing_after:
            return HealthChange("down", "failing", since)
        return None
    quiet = silent_since(state)
    if policy.silent_after is None or quiet is None or now - quiet < policy.silent_after:
        return None
    return HealthChange("down", "silent", quiet)


def is_healthy(state: FeedState, now: float, policy: HealthPolicy) -> bool:
    """Polled, succeeding, and not silent past its threshold: an open incident is over."""
    if state.disabled or state.consecutive_failures > 0 or state.first_polled_at is None:
        return False
    quiet = silent_since(state)
    return policy.silent_after is None or quiet is None or now - quiet < policy.silent_after


def health_change(state: FeedState, now: float, policy: HealthPolicy) -> HealthChange | None:
    """What to alert after a poll: a feed going down, one recovering, or nothing.

    One incident at a time: while one is open (``state.incident``) only its
    end is reported, even if the reason changes meanwhile (``news-monitor
    feeds`` shows the current one). So every incident makes exactly one
    "down" and at most one "recovered" alert.
    """
    if state.incident:
        if is_healthy(state, now, policy):
            kind: ProblemKind = state.incident  # type: ignore[assignment]
            return HealthChange("recovered", kind, state.incident_since or now)
        return None
    return feed_problem(state, now, policy)


def health_alert_id(feed_id: str, change: HealthChange, channel: str) -> str:
    """Deterministic id: one alert per (feed, incident, transition, channel), ever.

    A restart, or two daemons sharing a store, enqueue the same id; the
    outbox keeps one.
    """
    key = f"{HEALTH_RULE_ID}\x00{feed_id}\x00{change.kind}\x00{change.since:.3f}"
    digest = hashlib.sha256(f"{key}\x00{change.transition}\x00{channel}".encode()).hexdigest()
    return f"alrt_{digest[:32]}"


def health_alerts(
    change: HealthChange,
    state: FeedState,
    *,
    feed_id: str,
    feed_name: str | None,
    url: str,
    channels: Sequence[str],
    now: float,
) -> list[Alert]:
    """One alert per channel telling that a feed went down or recovered.

    The alert carries an :class:`Article` describing the situation (the
    channels render it like any other), whose ``url`` is the feed's
    (``url``: pass it redacted).
    """
    label = f"{feed_name} ({feed_id})" if feed_name and feed_name != feed_id else feed_id
    when = format_utc(change.since)
    if change.transition == "recovered":
        was = {"failing": "failing", "silent": "silent", "disabled": "disabled"}[change.kind]
        title = f"Feed {feed_id} recovered"
        text = (
            f"{label} was {was} since {when} and is back after {span(now - change.since)}: "
            f"the last poll succeeded at {format_utc(state.last_success_at or now)}."
        )
    elif change.kind == "failing":
        title = f"Feed {feed_id} failing since {when}"
        text = (
            f"{label} has failed {state.consecutive_failures} poll(s) in a row since {when}. "
            f"Last error: {error_reason(state.last_error, feed_id)}. It is still polled, "
            "with backoff; `news-monitor feeds` shows its state."
        )
    elif change.kind == "silent":
        title = f"Feed {feed_id} silent since {when}"
        text = (
            f"{label} has brought no new entry since {when} ({span(now - change.since)}), "
            "although it is polled successfully: it may be stale or abandoned."
        )
    else:
        title = f"Feed {feed_id} disabled: {state.disabled_reason}"
        text = (
            f"{label} answered {state.disabled_reason} at {when}: the server says it is gone "
            "for good, so it is no longer polled. To poll it again, change its url in the "
            f"watch config or run `news-monitor feeds enable {feed_id}`."
        )
    article = Article(
        id=f"{HEALTH_RULE_ID}:{feed_id}:{change.kind}:{change.since:.3f}:{change.transition}",
        feed_id=feed_id,
        url=url,
        title=title,
        text=text,
        published=datetime.fromtimestamp(now, tz=UTC),
        author="news-monitor",
    )
    created = datetime.fromtimestamp(now, tz=UTC)
    return [
        Alert(
            id=health_alert_id(feed_id, change, channel),
            channel=channel,
            rule_id=HEALTH_RULE_ID,
            query=f"feed health: {change.kind} ({change.transition})",
            article=article,
            hits=(),
            created_at=created,
        )
        for channel in channels
    ]


def format_utc(at: float) -> str:
    """``at`` (epoch seconds) as ``2026-01-05 14:03 UTC``."""
    return datetime.fromtimestamp(at, tz=UTC).strftime("%Y-%m-%d %H:%M UTC")


def span(seconds: float) -> str:
    """A duration in its largest unit, and the next one if not zero: 42s, 3m, 5h 12m, 2d."""
    s = max(int(seconds), 0)
    units = (("d", 86_400), ("h", 3_600), ("m", 60), ("s", 1))
    for i, (unit, size) in enumerate(units):
        if s >= size or unit == "s":
            text = f"{s // size}{unit}"
            if i + 1 < len(units):
                next_unit, next_size = units[i + 1]
                if rest := (s % size) // next_size:
                    text += f" {rest}{next_unit}"
            return text
    raise AssertionError("unreachable: the last unit always matches")


def error_reason(error: str, feed_id: str) -> str:
    """A poll error without the ``feed ID: URL:`` prefix the fetcher puts on it."""
    reason = error.removeprefix(f"feed {feed_id}: ")
    head, sep, rest = reason.partition(": ")
    if sep and "://" in head and " " not in head:  # the redacted URL
        reason = rest
    return reason or error
