"""The feed schedule in memory: :class:`MemorySchedule`, a
:class:`~monitor.store.schedule.FeedSchedule` for one process.

Replicas share a schedule only through Redis (:mod:`monitor.store.redis_schedule`);
this one holds the same contract in dicts, so the contract suite has a reference and
the shared scheduler's unit tests run without a server (several schedulers on one
``MemorySchedule`` behave like replicas on one Redis). No method awaits while it
changes state, so each call is atomic with respect to other tasks.
:meth:`MemorySchedule.lose_everything` plays a Redis restarted empty.

:meth:`MemorySchedule.save_feed_state` writes into the feed-state store it is given (a
``MemoryStore``, so a poller on that store reads what the fenced write stored; by default
one of its own). The lease check and the write are one step only if that store's
``put_feed_state`` does not suspend, which a ``MemoryStore``'s never does.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from monitor.model import FeedState
from monitor.store.base import FeedStateStore
from monitor.store.memory import MemoryStore
from monitor.store.schedule import FeedClaim, FeedSchedule

__all__ = ["MemorySchedule"]


class MemorySchedule(FeedSchedule):
    """A :class:`FeedSchedule` in dicts; ``states`` is where it saves feed states."""

    def __init__(self, states: FeedStateStore | None = None) -> None:
        #: Where :meth:`save_feed_state` writes (the feed states of the store it stands by).
        self.states: FeedStateStore = states if states is not None else MemoryStore()
        #: Feed id -> due time, or lease end while leased.
        self.times: dict[str, float] = {}
        #: Feed id -> the token holding its lease (kept after the lease ends, as in Redis).
        self.leases: dict[str, str] = {}
        #: The generation marker; None until the first claim or ``generation`` call.
        self.marker: str | None = None

    def lose_everything(self) -> None:
        """Forget the schedule, the leases and the generation (a store restarted empty)."""
        self.times.clear()
        self.leases.clear()
        self.marker = None

    def _generation(self, candidate: str) -> str:
        if self.marker is None:
            self.marker = candidate
        return self.marker

    async def add_feeds(self, due: Mapping[str, float]) -> int:
        added = 0
        for feed_id, at in due.items():
            if feed_id not in self.times:
                self.times[feed_id] = float(at)
                added += 1
        return added

    async def reschedule_feeds(self, due: Mapping[str, float], now: float) -> int:
        moved = 0
        for feed_id, at in due.items():
            current = self.times.get(feed_id)
            if current is None or (feed_id in self.leases and current > now):
                continue
            self.leases.pop(feed_id, None)
            self.times[feed_id] = float(at)
            moved += 1
        return moved

    async def remove_feeds(self, feed_ids: Sequence[str]) -> None:
        for feed_id in feed_ids:
            self.times.pop(feed_id, None)
            self.leases.pop(feed_id, None)

    async def claim_feeds(
        self, now: float, lease: float, limit: int, token: str, generation: str
    ) -> FeedClaim:
        current = self._generation(generation)
        claimed: list[str] = []
        if limit > 0:
            due = sorted((at, feed_id) for feed_id, at in self.times.items() if at <= now)
            for _, feed_id in due[:limit]:
                self.times[feed_id] = now + lease
                self.leases[feed_id] = token
                claimed.append(feed_id)
        first = min(self.times.values(), default=None)
        return FeedClaim(tuple(claimed), first, current)

    async def finish_feed(self, feed_id: str, token: str, due: float) -> bool:
        if self.leases.get(feed_id) != token:
            return False
        del self.leases[feed_id]
        if feed_id not in self.times:
            return False
        self.times[feed_id] = float(due)
        return True

    async def save_feed_state(self, feed_id: str, token: str, state: FeedState) -> bool:
        # As in Redis, the lease alone decides: only a scheduled feed has one.
        if self.leases.get(feed_id) != token:
            return False
        await self.states.put_feed_state(feed_id, state)
        return True

    async def leased_feeds(self, now: float) -> dict[str, str]:
        return {
            feed_id: token
            for feed_id, token in self.leases.items()
            if self.times.get(feed_id, now) > now
        }

    async def due_times(self) -> dict[str, float]:
        return dict(self.times)

    async def generation(self, candidate: str) -> str:
        return self._generation(candidate)
