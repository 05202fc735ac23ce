"""The shared feed schedule's contract: :class:`FeedSchedule` (its docstrings are the
contract) and what a claim returns (:class:`FeedClaim`).

Not a :class:`~monitor.store.base.StateStore` role: only a store shared by replicas
schedules their feeds (Redis: :meth:`~monitor.store.redis.RedisStore.feed_schedule`,
:mod:`monitor.store.redis_schedule`); the embedded store serves one process, which
schedules its feeds itself. :mod:`monitor.store.memory_schedule` holds the same contract
in memory. ``tests/store/test_feed_schedule.py`` runs against all of them. Times are
float seconds since the epoch, passed in by the caller, as in every store role.

The schedule also writes a leased feed's :class:`~monitor.model.FeedState`
(:meth:`FeedSchedule.save_feed_state`), fenced by the lease like the finish: the state is
the store's (``FeedStateStore.get_feed_state`` reads it), but only the schedule knows who
holds the lease, and the check and the write must be one step.
"""

from __future__ import annotations

import abc
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Protocol

from monitor.model import FeedState

__all__ = ["FeedClaim", "FeedSchedule"]


@dataclass(frozen=True, slots=True)
class FeedClaim:
    """What one :meth:`FeedSchedule.claim_feeds` round gave the caller."""

    #: The feeds now leased to the caller, earliest due first (ties by id).
    feeds: tuple[str, ...]
    #: The earliest time of the feeds left in the schedule (a due time or a lease end), the
    #: claimed ones included; None: the schedule is empty.
    next_due: float | None
    #: The store's generation marker after the call (see :class:`FeedSchedule`).
    generation: str


class FeedSchedule(Protocol):
    """When each feed is polled next, shared by every replica: a feed is polled by one
    replica at a time, about once per interval, wherever it runs.

    Each feed in the schedule has a time: when it is due or, while a replica holds its
    *lease*, when the lease ends. :meth:`claim_feeds` leases due feeds to a caller's
    token (its time becomes the lease end, so a replica that dies or stalls lets the
    others claim the feed again once the lease is over), and :meth:`finish_feed` sets the
    next due time, *fenced*: only while the lease is still that token's, so a replica
    that stalled past its lease, and whose feed another replica has claimed since, cannot
    overwrite the schedule. The poll's feed state is written the same way
    (:meth:`save_feed_state`), so that replica cannot overwrite the newer state (validators,
    body hash, entries, failures) of the poll that took over either.

    The schedule also keeps the store's *generation*: a random id written once (by the
    first :meth:`claim_feeds` or :meth:`generation` call that finds none). A replica
    remembers the id it saw; a different or missing one means the store lost its data
    (a Redis restarted empty, a FLUSHALL), which every other key lost too.
    """

    @abc.abstractmethod
    async def add_feeds(self, due: Mapping[str, float]) -> int:
        """Add each feed (id -> due time) that is not in the schedule; a feed already in
        it keeps its time and lease (replicas starting, or reloading, agree). How many
        were added."""

    @abc.abstractmethod
    async def reschedule_feeds(self, due: Mapping[str, float], now: float) -> int:
        """Make each feed (id -> due time) that is in the schedule and not leased at
        ``now`` due at its new time (its URL or interval changed); a lease that has ended
        is dropped. Feeds not in the schedule and leased ones are left alone. How many
        moved."""

    @abc.abstractmethod
    async def remove_feeds(self, feed_ids: Sequence[str]) -> None:
        """Drop feeds and their leases (a poll in flight then cannot put them back)."""

    @abc.abstractmethod
    async def claim_feeds(
        self, now: float, lease: float, limit: int, token: str, generation: str
    ) -> FeedClaim:
        """Atomically lease to ``token`` up to ``limit`` feeds whose time is at or before
        ``now``, earliest first (ties by id): each one's time becomes ``now + lease``.

        Across callers, a feed is leased to one token at a time. ``limit <= 0`` leases
        nothing. Either way the claim says when the next feed falls due and the
        generation marker, ``generation`` (a fresh random id of the caller's) becoming
        it if there was none.
        """

    @abc.abstractmethod
    async def finish_feed(self, feed_id: str, token: str, due: float) -> bool:
        """End ``token``'s lease on ``feed_id``, making the feed due at ``due``; whether it
        applied. Fenced: it applies only if the feed is in the schedule and its lease is
        still ``token``'s (ended or not: if nobody claimed it since, the late poll still
        counts)."""

    @abc.abstractmethod
    async def save_feed_state(self, feed_id: str, token: str, state: FeedState) -> bool:
        """Store ``state`` as ``feed_id``'s feed state (what the store's
        ``get_feed_state`` answers from then on) if ``token`` holds the feed's lease, in one
        atomic step; whether it stored it. Fenced like :meth:`finish_feed`: the feed must be
        in the schedule and its lease still ``token``'s (ended or not, if nobody claimed it
        since); once the lease was finished, handed to another token or dropped (the feed
        removed or rescheduled, the store reset), nothing is written."""

    @abc.abstractmethod
    async def leased_feeds(self, now: float) -> dict[str, str]:
        """The feeds whose lease has not ended at ``now``, with the token holding each."""

    @abc.abstractmethod
    async def due_times(self) -> dict[str, float]:
        """Every feed in the schedule with its time (due time, or lease end)."""

    @abc.abstractmethod
    async def generation(self, candidate: str) -> str:
        """The generation marker; ``candidate`` becomes it if there is none."""
