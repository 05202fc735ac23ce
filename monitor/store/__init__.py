"""State storage: seen articles, feed state, the alert outbox and the story index.

The roles are protocols in ``monitor.store.base``; backends: ``RedisStore``
(production, shared by replicas), ``SqliteStore`` (embedded, persists to a
file) and ``MemoryStore`` (unit tests). The values they keep are in
``monitor.model``.
"""

from monitor.store.base import StateStore

__all__ = ["StateStore"]
