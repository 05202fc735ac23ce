"""Per-host fetch limits and the politeness delay across replicas, on a real Redis.

Each "replica" is its own :class:`RedisStore` (own connections) with its own
:class:`FetchLimits`, built as the daemon builds them (:func:`fetch_limits`); one test
kills a real process that holds a slot, and the slot comes free when its lease ends.
"""

from __future__ import annotations

import asyncio
import itertools
import os
import signal
import sys
import time
from collections.abc import AsyncIterator
from datetime import timedelta

import pytest

from monitor.ingest.fetch import FetchLimits
from monitor.ingest.host_slots import Grant, HostGate, SharedHostLimit
from monitor.polling.host_limits import LEASE_GRACE, fetch_limits
from monitor.store.memory import MemoryStore
from monitor.store.redis import RedisStore
from monitor.store.redis_host_slots import RedisHostGate
from tests.factories import make_settings
from tests.store.support import delete_prefix

pytestmark = pytest.mark.redis

HOST = "feeds.example.com"


@pytest.fixture
async def replicas(redis_server_url: str, redis_prefix: str) -> AsyncIterator[list[RedisStore]]:
    stores = [RedisStore.from_url(redis_server_url, redis_prefix) for _ in range(3)]
    try:
        yield stores
    finally:
        for store in stores:
            await store.close()
        await delete_prefix(redis_server_url, redis_prefix)


async def test_replicas_never_exceed_the_per_host_limit_together(
    replicas: list[RedisStore],
) -> None:
    settings = make_settings(max_fetches_per_host=2, max_concurrent_fetches=8)
    limits = [fetch_limits(settings, store, time.time) for store in replicas]
    assert all(isinstance(x.shared, SharedHostLimit) for x in limits)
    in_flight: dict[str, int] = {}
    most: dict[str, int] = {}

    async def fetch(replica: FetchLimits, host: str, n: int) -> None:
        async with replica.slot(f"https://{host}/feed/{n}"):
            in_flight[host] = in_flight.get(host, 0) + 1
            most[host] = max(most.get(host, 0), in_flight[host])
            await asyncio.sleep(0.02)
            in_flight[host] -= 1

    hosts = [HOST, "other.example.org"]
    await asyncio.gather(
        *(fetch(limits[n % 3], hosts[n % 2], n) for n in range(60)),
    )
    # Each replica alone allows 2 per host: 6 at once without the shared gate.
    assert most == {HOST: 2, "other.example.org": 2}
    store = replicas[0]
    assert await store._client.zcard(store.keys.host_fetches(HOST)) == 0  # all given back


class Recording:
    """A gate that notes the time of every slot it granted (the time the gate decided on:
    a task may resume later than that, under load)."""

    def __init__(self, gate: HostGate, granted: list[float]) -> None:
        self.gate = gate
        self.granted = granted

    async def acquire(
        self, host: str, token: str, now: float, *, limit: int, delay: float, lease_end: float
    ) -> Grant:
        answer = await self.gate.acquire(
            host, token, now, limit=limit, delay=delay, lease_end=lease_end
        )
        if answer[0] == "granted":
            self.granted.append(now)
        return answer

    async def release(self, host: str, token: str) -> None:
        await self.gate.release(host, token)


async def test_the_delay_spaces_starts_across_replicas(replicas: list[RedisStore]) -> None:
    delay = 0.15
    settings = make_settings(max_fetches_per_host=4, host_delay=timedelta(seconds=delay))
    limits = [fetch_limits(settings, store, time.time) for store in replicas]
    granted: list[float] = []
    for replica in limits:
        assert replica.shared is not None
        replica.shared.gate = Recording(replica.shared.gate, granted)

    async def fetch(replica: FetchLimits, n: int) -> None:
        async with replica.slot(f"https://{HOST}/{n}"):
            await asyncio.sleep(0.01)

    await asyncio.gather(*(fetch(limits[n % 3], n) for n in range(6)))
    assert len(granted) == 6
    gaps = [b - a for a, b in itertools.pairwise(sorted(granted))]
    assert min(gaps) >= delay - 1e-6, gaps  # (float rounding of now + delay)


HOLDER = """
import asyncio, sys, time
from monitor.store.redis import RedisStore
from monitor.store.redis_host_slots import RedisHostGate

async def main() -> None:
    store = RedisStore.from_url(sys.argv[1], sys.argv[2])
    now = time.time()
    kind, _ = await RedisHostGate(store).acquire(
        sys.argv[3], "killed-replica", now, limit=1, delay=0, lease_end=now + float(sys.argv[4])
    )
    print(kind, flush=True)
    await asyncio.sleep(3600)

asyncio.run(main())
"""


async def test_the_slot_of_a_killed_process_comes_free_when_its_lease_ends(
    redis_server_url: str, redis_prefix: str, replicas: list[RedisStore]
) -> None:
    lease = 1.5
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-c",
        HOLDER,
        redis_server_url,
        redis_prefix,
        HOST,
        str(lease),
        stdout=asyncio.subprocess.PIPE,
    )
    try:
        assert proc.stdout is not None
        assert (await proc.stdout.readline()).strip() == b"granted"
        held_at = time.time()
        os.kill(proc.pid, signal.SIGKILL)  # no release, ever
    finally:
        if proc.returncode is None:
            proc.kill()
        await proc.wait()
    limit = SharedHostLimit(RedisHostGate(replicas[0]), limit=1, delay=0, lease=30)
    async with limit.hold(HOST):
        waited = time.time() - held_at
    assert lease * 0.9 <= waited < lease + 5  # not before its end, and soon after it


def test_the_daemon_gets_a_gate_with_redis_and_only_for_a_delay_without() -> None:
    assert fetch_limits(make_settings(), MemoryStore(), time.time).shared is None
    delayed = make_settings(host_delay=timedelta(seconds=2), fetch_timeout=timedelta(seconds=20))
    shared = fetch_limits(delayed, MemoryStore(), time.time).shared
    assert shared is not None
    assert (shared.delay, shared.lease, shared.limit) == (2.0, 20 + LEASE_GRACE, 2)
