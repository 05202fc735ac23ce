"""State storage: seen articles, feed state, the alert outbox, the story index, the archive,
the alert history, silences and disabled channels.

The roles are protocols in ``monitor.store.base`` (their docstrings are the
contract); a consumer is typed against the roles it uses. Backends, each a
:class:`StateStore` (every role): ``RedisStore`` (production, shared by
replicas), ``SqliteStore`` (embedded, persists to a file) and ``MemoryStore``
(unit tests); ``monitor.store.factory.open_store`` picks one from the settings.
The values they keep are in ``monitor.model``.
"""

from monitor.store.base import (
    AlertHistory,
    ArticleArchive,
    ChannelStateStore,
    DeliveryStore,
    FeedStateStore,
    Outbox,
    PollingStore,
    SeenStore,
    SendSlots,
    SilenceStore,
    StateStore,
    StoryIndex,
)

__all__ = [
    "AlertHistory",
    "ArticleArchive",
    "ChannelStateStore",
    "DeliveryStore",
    "FeedStateStore",
    "Outbox",
    "PollingStore",
    "SeenStore",
    "SendSlots",
    "SilenceStore",
    "StateStore",
    "StoryIndex",
]
