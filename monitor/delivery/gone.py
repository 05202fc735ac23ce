"""Channels whose receiver is gone: when a disabled mark applies, and what it says.

A receiver that asks for no more messages (a webhook's 410 Gone: the channel's result
has ``gone`` set) disables its channel in the store
(:class:`~monitor.store.base.ChannelStateStore`), for every replica, until an operator
runs ``news-monitor channels enable NAME``. The mark belongs to the destination it was
recorded for (:attr:`Channel.target <monitor.delivery.base.Channel.target>`, a digest of
the URL), so a channel whose URL was changed since sends again, as a feed's 410 mark
belongs to its URL.

The outbox worker reads the marks once per pass (``monitor.delivery.worker``); these
pure helpers say whether one applies and word the dead letters it makes.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime

from monitor.delivery.base import Channel
from monitor.delivery.render import iso_utc
from monitor.model import DisabledChannel

__all__ = ["applies", "disabled_detail", "in_force", "target_digest"]


def target_digest(destination: str) -> str:
    """What a disabled mark remembers of a destination (a URL, a secret): 16 hex digits of
    its SHA-256, enough to tell a changed URL, never enough to recover it."""
    return hashlib.sha256(destination.encode("utf-8")).hexdigest()[:16]


def applies(record: DisabledChannel, channel: Channel) -> bool:
    """Whether ``record`` disables ``channel`` as configured now (same destination)."""
    return record.channel == channel.name and record.target == channel.target


def in_force(
    records: Iterable[DisabledChannel], channels: Mapping[str, Channel]
) -> dict[str, DisabledChannel]:
    """The records that disable a channel of ``channels``, by channel name."""
    return {
        r.channel: r
        for r in records
        if (channel := channels.get(r.channel)) is not None and applies(r, channel)
    }


def disabled_detail(record: DisabledChannel) -> str:
    """The error of an alert a disabled channel did not send (its dead letter), saying how
    to send again."""
    since = iso_utc(datetime.fromtimestamp(int(record.since), UTC))
    return (
        f"channel disabled since {since}: its receiver answered {record.reason}; fix its URL "
        f"or run 'news-monitor channels enable {record.channel}', "
        "then 'news-monitor alerts retry --all'"
    )
