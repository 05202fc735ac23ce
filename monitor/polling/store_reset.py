"""A store that lost its data, decided purely: what a replica knows of the loss
(:class:`StoreReset`) and the alert that tells the operator, with a deterministic id.

Every replica running through the loss notices it (``monitor.polling.shared_scheduler``)
and enqueues the alert; the id depends only on the new generation marker and the
channel, so the outbox keeps one, however many replicas noticed.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from monitor.model import Alert, Article
from monitor.polling.health import HEALTH_RULE_ID, format_utc


@dataclass(frozen=True, slots=True)
class StoreReset:
    """The store lost its data, as one replica saw it."""

    #: The generation marker the replica knew, and the one the store has now.
    previous: str
    generation: str
    #: The last time (this replica's clock) the old marker was seen in the store: items
    #: published before it are taken as read before the loss.
    cutoff: float
    #: When this replica noticed.
    detected_at: float


def store_reset_alert_id(generation: str, channel: str) -> str:
    """One alert per (loss, channel), whichever replica makes it."""
    digest = hashlib.sha256(f"store-reset\x00{generation}\x00{channel}".encode()).hexdigest()
    return f"alrt_{digest[:32]}"


def store_reset_alerts(reset: StoreReset, channels: Sequence[str], now: float) -> list[Alert]:
    """The alerts (one per channel: the ``feed_health`` channels) saying the store was reset."""
    text = (
        "The state store lost its data (a Redis server restarted without persistence, or "
        f"flushed) shortly after {format_utc(reset.cutoff)}. Alerts still queued then and "
        "the record of what was delivered are gone. To avoid re-alerting on everything "
        "still in the feeds, items published before that time are recorded as seen without "
        "alerting at each feed's first poll; newer items alert as usual. Give Redis "
        "persistence (appendonly yes) to keep queued alerts across its restarts."
    )
    article = Article(
        id=f"store-reset:{reset.generation}",
        feed_id="",
        url="",
        title="The state store was reset: alerts queued before it may be lost",
        text=text,
        published=datetime.fromtimestamp(now, tz=UTC),
        author="news-monitor",
    )
    created = datetime.fromtimestamp(now, tz=UTC)
    return [
        Alert(
            id=store_reset_alert_id(reset.generation, channel),
            channel=channel,
            rule_id=HEALTH_RULE_ID,
            query="store reset",
            article=article,
            hits=(),
            created_at=created,
        )
        for channel in channels
    ]
