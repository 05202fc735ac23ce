"""State storage: seen articles, feed state, the alert outbox, the story index, the archive,
the alert history, silences, disabled channels and WebSub subscriptions.

The roles are protocols in ``monitor.store.base`` (their docstrings are the
contract; the WebSub one, ``SubscriptionStore``, is in ``monitor.store.websub`` with its
record); a consumer is typed against the roles it uses. Backends, each a
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
from monitor.store.websub import SubscriptionStore

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
    "SubscriptionStore",
]
