"""Which alerts a match makes, and whether an article is too old to alert: pure decisions.

One alert per (rule, story or article, channel), with a deterministic id, so
redoing a poll, a second daemon or a second outlet's copy of a story can only
make an alert the outbox already holds.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta

from monitor.model import Alert, Article, Coverage, Match


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
    feed_name: str = "",
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
            feed_name=feed_name,
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


def published_before(article: Article, not_before: float | None) -> bool:
    """Whether ``article`` counts as published before ``not_before`` (epoch seconds; None:
    no cutoff): the re-baseline of a feed's first poll after the store lost its data.

    An undated article counts as before: nothing tells it from the items read before the
    loss, and alerting every undated item again is the flood the cutoff is there to stop.
    """
    if not_before is None:
        return False
    return article.published is None or article.published.timestamp() < not_before
