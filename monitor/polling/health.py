"""Feed health, decided purely: is a feed down (failing, silent, disabled) or recovered?

From a feed's :class:`~monitor.model.FeedState`, the config's ``feed_health``
thresholds and the time, decide the incident to report (one at a time), and
make the health alerts that say so, with deterministic ids. Also the small
text helpers the alerts and ``news-monitor feeds`` share (UTC times, spans,
error reasons).
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Literal

from monitor.config.models import FeedConfig, FeedHealthConfig
from monitor.model import Alert, Article, FeedState

#: ``rule_id`` of feed health alerts.
HEALTH_RULE_ID = "feed-health"


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
            feed_name=feed_name or "",
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
