"""How the outbox worker paces each channel: grouping, rate limits and digests.

A :class:`ChannelPolicy` answers two questions for the worker:

- *When may an alert first go out?* (:meth:`ChannelPolicy.hold_until`): at once;
  or, with ``group_wait``, when the window of that length it was created in
  closes, so alerts arriving together share one message (Alertmanager's
  group_wait; windows are aligned on the epoch, so every process sharing a
  store agrees on them); or at the next digest time for an email digest.
- *How long must the channel stay quiet after a message?* (``min_gap``): the
  longer of ``group_interval`` and the rate limit's spacing. Alerts that become
  due in that gap wait for the next slot and go out together, in one grouped
  message when the channel can group.

Slots are taken in the store (``StateStore.reserve_send``), so several daemon
processes sharing one Redis respect one rate limit between them.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from monitor.delivery.channel_config import ChannelConfig, Digest, parse_rate
from monitor.model import Alert


@dataclass(frozen=True, slots=True)
class ChannelPolicy:
    """The pacing of one channel."""

    #: Length of the windows alerts are collected in before their first message (0: none).
    group_wait: float = 0.0
    #: Least seconds between two messages (0: no limit).
    min_gap: float = 0.0
    #: Batch alerts into one message per hour or per day (email digests).
    digest: Digest | None = None
    #: With a daily digest: seconds after midnight UTC when it goes out.
    digest_offset: float = 0.0

    def hold_until(self, alert: Alert) -> float:
        """When ``alert`` may first be sent (epoch seconds)."""
        created = alert.created_at.timestamp()
        ready = created
        if self.group_wait > 0:
            ready = (math.floor(created / self.group_wait) + 1) * self.group_wait
        if self.digest is not None:
            ready = max(ready, self.next_digest(created))
        return ready

    def next_digest(self, after: float) -> float:
        """The first digest time strictly after ``after`` (epoch seconds)."""
        if self.digest == "hourly":
            return (math.floor(after / 3600) + 1) * 3600.0
        day = datetime.fromtimestamp(after, UTC).replace(hour=0, minute=0, second=0, microsecond=0)
        at = day + timedelta(seconds=self.digest_offset)
        if at.timestamp() <= after:
            at += timedelta(days=1)
        return at.timestamp()


def policy_for(config: ChannelConfig) -> ChannelPolicy:
    """The policy a channel's config asks for, with the type's defaults filled in (its
    ``DEFAULT_MIN_GAP`` without a ``rate_limit``; its digest schedule, if any)."""
    gap = config.DEFAULT_MIN_GAP
    if config.rate_limit is not None:
        gap = parse_rate(config.rate_limit)
    gap = max(gap, config.group_interval.total_seconds())
    digest: Digest | None = None
    offset = 0.0
    if (schedule := config.digest_schedule()) is not None:
        digest, offset = schedule
    return ChannelPolicy(
        group_wait=config.group_wait.total_seconds(),
        min_gap=gap,
        digest=digest,
        digest_offset=offset,
    )
