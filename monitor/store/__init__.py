"""State storage: seen articles, feed state and the alert outbox, behind one interface.

Backends: ``RedisStore`` (production, shared by replicas), ``SqliteStore``
(embedded, persists to a file) and ``MemoryStore`` (unit tests).
"""

from monitor.store.base import ClaimResult, DeliveryRecord, FeedState, OutboxEntry, StateStore

__all__ = ["ClaimResult", "DeliveryRecord", "FeedState", "OutboxEntry", "StateStore"]
