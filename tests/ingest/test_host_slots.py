"""Per-host fetch slots and the politeness delay shared beyond one process
(:mod:`monitor.ingest.host_slots`), on the in-memory gate with a frozen clock.

The Redis gate, across replicas and a killed process, is in
``tests/polling/test_shared_host_limits.py``.
"""

from __future__ import annotations

import asyncio
import itertools

import pytest
from structlog.testing import capture_logs

from monitor.errors import StoreError
from monitor.ingest.fetch import FetchLimits
from monitor.ingest.host_slots import GRANTED, Grant, MemoryHostGate, SharedHostLimit
from tests.conftest import FrozenClock


class Sleeper:
    """An injected sleep that moves the frozen clock instead of waiting."""

    def __init__(self, clock: FrozenClock) -> None:
        self.clock = clock
        self.pauses: list[float] = []

    async def __call__(self, seconds: float) -> None:
        self.pauses.append(seconds)
        self.clock.advance(seconds)
        await asyncio.sleep(0)


async def test_the_gate_grants_up_to_the_limit_then_names_the_earliest_end(
    clock: FrozenClock,
) -> None:
    gate, now = MemoryHostGate(), clock.now
    assert await gate.acquire("h", "a", now, limit=2, delay=0, lease_end=now + 40) == GRANTED
    assert await gate.acquire("h", "b", now, limit=2, delay=0, lease_end=now + 30) == GRANTED
    assert await gate.acquire("h", "c", now, limit=2, delay=0, lease_end=now + 40) == (
        "busy",
        now + 30,
    )
    assert await gate.acquire("other", "c", now, limit=2, delay=0, lease_end=now + 40) == GRANTED
    await gate.release("h", "a")
    assert await gate.acquire("h", "c", now, limit=2, delay=0, lease_end=now + 40) == GRANTED


async def test_a_slot_not_given_back_ends_with_its_lease(clock: FrozenClock) -> None:
    gate, now = MemoryHostGate(), clock.now
    await gate.acquire("h", "dead", now, limit=1, delay=0, lease_end=now + 40)
    assert (await gate.acquire("h", "b", now + 39.9, limit=1, delay=0, lease_end=now + 80))[0] == (
        "busy"
    )
    assert await gate.acquire("h", "b", now + 40, limit=1, delay=0, lease_end=now + 80) == GRANTED


async def test_the_delay_spaces_the_starts(clock: FrozenClock) -> None:
    gate, now = MemoryHostGate(), clock.now
    assert await gate.acquire("h", "a", now, limit=5, delay=2, lease_end=now + 40) == GRANTED
    assert await gate.acquire("h", "b", now + 1, limit=5, delay=2, lease_end=now + 40) == (
        "delay",
        now + 2,
    )
    assert await gate.acquire("h", "b", now + 2, limit=5, delay=2, lease_end=now + 40) == GRANTED


async def test_shared_limit_waits_for_the_delay_and_the_slots(clock: FrozenClock) -> None:
    sleep = Sleeper(clock)
    limit = SharedHostLimit(MemoryHostGate(), limit=1, delay=3, lease=40, clock=clock, sleep=sleep)
    starts: list[float] = []
    in_flight = 0

    async def fetch(seconds: float) -> None:
        nonlocal in_flight
        async with limit.hold("h"):
            in_flight += 1
            assert in_flight == 1
            starts.append(clock.now)
            await sleep(seconds)
            in_flight -= 1

    await asyncio.gather(fetch(5), fetch(1), fetch(1))
    assert len(starts) == 3
    assert all(b - a >= 3 for a, b in itertools.pairwise(starts))
    # A busy host is asked again soon, not at the lease's end (40 s away).
    assert max(sleep.pauses) <= 5


class BrokenGate:
    async def acquire(
        self, host: str, token: str, now: float, *, limit: int, delay: float, lease_end: float
    ) -> Grant:
        raise StoreError("redis acquire_host_slot failed: ConnectionError")

    async def release(self, host: str, token: str) -> None:
        raise AssertionError("nothing was acquired")


async def test_a_gate_that_fails_lets_fetches_go_on_and_says_so_once(clock: FrozenClock) -> None:
    limit = SharedHostLimit(BrokenGate(), limit=1, delay=0, lease=40, clock=clock)
    done = 0
    with capture_logs() as events:
        for _ in range(3):
            async with limit.hold("h"):
                done += 1
    assert done == 3
    assert [e["event"] for e in events] == ["host_limit_unavailable"]


async def test_fetch_limits_of_two_processes_share_the_host_gate(clock: FrozenClock) -> None:
    # Two "replicas", each allowed 2 fetches per host by itself; 2 in all through the gate.
    gate = MemoryHostGate()
    replicas = [
        FetchLimits(8, 2, SharedHostLimit(gate, limit=2, delay=0, lease=40, clock=clock))
        for _ in range(2)
    ]
    in_flight, most = 0, 0

    async def fetch(limits: FetchLimits, url: str) -> None:
        nonlocal in_flight, most
        async with limits.slot(url):
            in_flight += 1
            most = max(most, in_flight)
            await asyncio.sleep(0.01)
            in_flight -= 1

    await asyncio.gather(
        *(fetch(replicas[i % 2], f"https://feeds.example.com/{i}") for i in range(12))
    )
    assert most == 2


def test_a_bad_limit_is_refused() -> None:
    with pytest.raises(ValueError, match="bad host limit"):
        SharedHostLimit(MemoryHostGate(), limit=0, delay=0, lease=1)


async def test_a_slot_given_back_here_wakes_a_waiter_at_once(clock: FrozenClock) -> None:
    forever = asyncio.Event()

    async def never(seconds: float) -> None:  # the next ask would never come
        await forever.wait()

    limit = SharedHostLimit(MemoryHostGate(), limit=1, delay=0, lease=40, clock=clock, sleep=never)
    order: list[str] = []

    async def fetch(name: str, hold: asyncio.Event | None = None) -> None:
        async with limit.hold("h"):
            order.append(name)
            if hold is not None:
                await hold.wait()

    release = asyncio.Event()
    first = asyncio.create_task(fetch("first", release))
    await asyncio.sleep(0)
    waiters = [asyncio.create_task(fetch(f"w{i}")) for i in range(3)]
    await asyncio.sleep(0.01)
    assert order == ["first"]
    release.set()
    await asyncio.wait_for(asyncio.gather(first, *waiters), timeout=2)
    assert order == ["first", "w0", "w1", "w2"]  # each woken by the one before, in turn
    assert limit._waiting == {}
