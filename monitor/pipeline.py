"""Pure decisions of the pipeline: no I/O, no clock reads, easy to test.

- which alerts a match makes (one per channel, with a deterministic id),
- whether an article is too old to alert,
- when a feed is polled next after a success or a failure.
"""

from __future__ import annotations

import hashlib
import random
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta

from monitor.types import Alert, Article, Match

#: A failing feed is retried after interval * 2**failures, but never later than this.
MAX_FEED_BACKOFF = timedelta(hours=1)
#: A server's Retry-After is honoured up to this long (a typo of a year must not silence a feed).
MAX_RETRY_AFTER = timedelta(hours=6)


def alert_id(rule_id: str, article_id: str, channel: str) -> str:
    """Deterministic alert id: one (rule, article, channel) makes one alert, ever.

    It doubles as the webhook-id and email Message-ID, so receivers can drop
    a duplicate delivery.
    """
    digest = hashlib.sha256(f"{rule_id}\x00{article_id}\x00{channel}".encode()).hexdigest()
    return f"alrt_{digest[:32]}"


def alerts_for(match: Match, query: str, channels: Sequence[str], now: float) -> list[Alert]:
    """One alert per channel for ``match``."""
    created = datetime.fromtimestamp(now, tz=UTC)
    return [
        Alert(
            id=alert_id(match.rule_id, match.article.id, channel),
            channel=channel,
            rule_id=match.rule_id,
            query=query,
            article=match.article,
            hits=match.hits,
            created_at=created,
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


def next_poll_delay(
    interval: timedelta,
    consecutive_failures: int,
    retry_after: float | None = None,
    rng: random.Random | None = None,
) -> float:
    """Seconds until the next poll of a feed.

    After a success: the interval. After failures: the interval doubled per
    failure in a row, capped at ``MAX_FEED_BACKOFF`` (never below the
    interval), with +-10% jitter so many failing feeds do not retry in step,
    and never sooner than the server's Retry-After (itself capped at ``MAX_RETRY_AFTER``).
    """
    base = interval.total_seconds()
    if consecutive_failures <= 0:
        delay = base
    else:
        cap = max(base, MAX_FEED_BACKOFF.total_seconds())
        delay = min(base * 2 ** min(consecutive_failures, 20), cap)
        delay *= (rng or random).uniform(0.9, 1.1)
    if retry_after is not None:
        delay = max(delay, min(retry_after, MAX_RETRY_AFTER.total_seconds()))
    return delay
