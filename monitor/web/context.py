"""What the web console and the REST API need from the running daemon, handed to them as
one small object (:class:`ConsoleContext`), so this wing never imports ``monitor.app``.

The composition root (``Monitor._start_http``) builds it from the parts it owns: the
watch config and the channels in force (callables: a reload swaps them), the store, the
clock, the outbox worker's ``wake``, the retention settings and, when WebSub is on, the
WebSub manager's subscription store. Tests build one over a ``MemoryStore``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Protocol

from monitor.config.load import LoadedConfig
from monitor.delivery.base import Channel
from monitor.model import Clock
from monitor.store.base import (
    AlertHistory,
    ArticleArchive,
    ChannelStateStore,
    FeedStateStore,
    Outbox,
    SilenceStore,
)
from monitor.store.websub import SubscriptionStore


class ConsoleStore(
    FeedStateStore,
    Outbox,
    ArticleArchive,
    AlertHistory,
    SilenceStore,
    ChannelStateStore,
    Protocol,
):
    """The store roles the console reads and writes: feed state (health), the outbox
    (pending, dead letters, retry), the archive (playground), alert history, silences and
    the channels disabled by their receiver (enable)."""


@dataclass(frozen=True, slots=True)
class ConsoleContext:
    """The daemon as the console sees it."""

    #: The watch config in force, with its entity catalog (asked at each request: a
    #: reload swaps it).
    loaded: Callable[[], LoadedConfig]
    #: The channels in force, as built from that config (asked at each request): a
    #: disabled mark applies to the destination a channel sends to now.
    channels: Callable[[], Mapping[str, Channel]]
    store: ConsoleStore
    clock: Clock
    #: Tells the outbox worker that an alert is due (after a retry).
    wake: Callable[[], None]
    #: ``MONITOR_HISTORY_RETENTION`` in seconds (what a retry's history event is kept for).
    history_retention: float
    #: ``MONITOR_ARCHIVE_RETENTION`` in seconds: the playground's default and longest window.
    archive_retention: float
    #: The WebSub subscriptions (the feeds page shows how hubs push each feed); None when
    #: WebSub is off (no ``MONITOR_PUBLIC_URL``, or no HTTP server): nothing is shown.
    subscriptions: SubscriptionStore | None = None
