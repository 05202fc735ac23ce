"""Per-host fetch slots and a politeness delay shared beyond one process.

:class:`~monitor.ingest.fetch.FetchLimits` caps the fetches one process runs per host
(``MONITOR_MAX_FETCHES_PER_HOST``). With several replicas on one Redis, each would run its
own share: three replicas, three times the load on a server carrying many feeds. A
:class:`HostGate` keeps the count where every replica sees it, and the next time a fetch
from the host may start (``MONITOR_HOST_DELAY``: starts at least that far apart);
:class:`SharedHostLimit` waits at the gate, holds a slot for the fetch and gives it back.

The gates: :class:`MemoryHostGate` here (one process: what the delay needs without Redis,
and the tests' fake), and ``monitor.store.redis_host_slots.RedisHostGate`` (one script to
acquire, one command to release). A holder records when its slot ends (the fetch deadline
and a grace), so the slot of a process that died comes free by itself.

A gate that fails (the store is down) lets the fetch go on under the process's own limits:
politeness must not stop polling, and the poll fails on the store soon enough anyway.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
import time
import uuid
from collections import deque
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import Literal, Protocol

from monitor.errors import StoreError
from monitor.log import get_logger
from monitor.model import Clock

__all__ = ["GRANTED", "Grant", "HostGate", "MemoryHostGate", "SharedHostLimit"]

log = get_logger("monitor.fetch")

#: A gate's answer: ("granted", 0), ("delay", when the next start is allowed: exact), or
#: ("busy", when the earliest holder's slot ends at the latest: a holder may give it back
#: sooner).
Grant = tuple[Literal["granted", "delay", "busy"], float]
GRANTED: Grant = ("granted", 0.0)
#: First and longest pause between two asks at a busy host (seconds): a slot another replica
#: gives back is only seen by asking (one this process gives back wakes a waiter at once).
FIRST_POLL, MAX_POLL = 0.02, 0.25


class HostGate(Protocol):
    """Fetch slots per host name, and the earliest next start, shared by their users."""

    async def acquire(
        self, host: str, token: str, now: float, *, limit: int, delay: float, lease_end: float
    ) -> Grant:
        """Atomically: drop the holders of ``host`` whose slot ended by ``now``; if the next
        start is later than ``now``, answer ("delay", it); if ``limit`` slots are held,
        answer ("busy", the earliest end); else hold one as ``token`` until ``lease_end``,
        make the next start ``now + delay``, and answer :data:`GRANTED`."""

    async def release(self, host: str, token: str) -> None:
        """Give back the slot ``token`` holds (nothing if it ended meanwhile)."""


class MemoryHostGate:
    """A :class:`HostGate` in one process's memory."""

    def __init__(self) -> None:
        #: host -> token -> when its slot ends.
        self._holders: dict[str, dict[str, float]] = {}
        self._next_start: dict[str, float] = {}

    async def acquire(
        self, host: str, token: str, now: float, *, limit: int, delay: float, lease_end: float
    ) -> Grant:
        holders = {t: end for t, end in self._holders.get(host, {}).items() if end > now}
        self._holders[host] = holders
        next_start = self._next_start.get(host, 0.0)
        if next_start > now:
            return ("delay", next_start)
        if len(holders) >= limit:
            return ("busy", min(holders.values()))
        holders[token] = lease_end
        if delay > 0:
            self._next_start[host] = now + delay
        else:
            self._next_start.pop(host, None)
        return GRANTED

    async def release(self, host: str, token: str) -> None:
        holders = self._holders.get(host, {})
        holders.pop(token, None)
        if not holders:
            self._holders.pop(host, None)  # an idle host costs nothing (but its next start)


class SharedHostLimit:
    """Waits at a :class:`HostGate` before each fetch and holds a slot during it."""

    def __init__(
        self,
        gate: HostGate,
        *,
        limit: int,
        delay: float,
        lease: float,
        clock: Clock = time.time,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        if limit < 1 or delay < 0 or lease <= 0:
            raise ValueError(f"bad host limit: {limit} slots, {delay}s delay, {lease}s lease")
        self.gate = gate
        self.limit = limit
        self.delay = delay
        #: How long a slot is held at most: a fetch's deadline and a grace, so a process
        #: that dies mid-fetch blocks its host no longer than this.
        self.lease = lease
        self._clock = clock
        self._sleep = sleep
        self._gate_down = False
        #: This process's fetches waiting for a busy host, oldest first: a slot given back
        #: here wakes one of them, so a busy host does not wait for the next ask.
        self._waiting: dict[str, deque[asyncio.Future[None]]] = {}

    @asynccontextmanager
    async def hold(self, host: str) -> AsyncIterator[None]:
        """Hold a slot of ``host`` for the duration of the block (waiting for one first)."""
        token = await self._acquire(host)
        try:
            yield
        finally:
            if token is not None:
                with contextlib.suppress(StoreError):  # else the slot ends with its lease
                    await self.gate.release(host, token)
                self._wake_one(host)

    async def _acquire(self, host: str) -> str | None:
        """The token of the slot taken, or None if the gate failed (the fetch goes on)."""
        token = uuid.uuid4().hex
        poll = FIRST_POLL
        while True:
            now = self._clock()
            try:
                kind, at = await self.gate.acquire(
                    host, token, now, limit=self.limit, delay=self.delay, lease_end=now + self.lease
                )
            except StoreError as e:
                if not self._gate_down:  # once per outage, not once per fetch
                    log.warning("host_limit_unavailable", host=host, error=str(e))
                self._gate_down = True
                return None
            self._gate_down = False
            if kind == "granted":
                return token
            if kind == "delay":  # exact: the next start allowed
                await self._sleep(max(at - now, 0.001))
                continue
            # Busy: `at` is an upper bound (a holder may give its slot back before it ends).
            # Jitter, so that replicas waiting for one host do not all ask at once.
            pause = min(poll * random.uniform(0.5, 1.0), at - now)
            poll = min(poll * 2, MAX_POLL)
            await self._wait_busy(host, max(pause, 0.001))

    async def _wait_busy(self, host: str, seconds: float) -> None:
        """Wait ``seconds``, or less if this process gives back a slot of ``host``."""
        woken: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        queue = self._waiting.setdefault(host, deque())
        queue.append(woken)
        pause = asyncio.ensure_future(self._sleep(seconds))
        try:
            await asyncio.wait({woken, pause}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            pause.cancel()
            if not woken.done():  # not woken: leave the line (a wake pops the woken one)
                woken.cancel()
                queue.remove(woken)
            if not queue:
                self._waiting.pop(host, None)

    def _wake_one(self, host: str) -> None:
        """Wake the oldest fetch of this process still waiting for ``host``."""
        queue = self._waiting.get(host)
        while queue:
            waiter = queue.popleft()
            if not waiter.done():
                waiter.set_result(None)
                return
