"""State storage: seen articles, feed state and the alert outbox, behind one interface.

Backends: ``RedisStore`` (production, shared by replicas), ``SqliteStore``
(embedded, persists to a file) and ``MemoryStore`` (unit tests).
"""

from monitor.store.base import DeliveryRecord, FeedState, OutboxEntry, StateStore

__all__ = ["DeliveryRecord", "FeedState", "OutboxEntry", "StateStore"]
