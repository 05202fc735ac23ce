"""What the store suite shares: handles on every backend, the alerts it queues, small helpers.

A :class:`Backend` opens several handles on the same state (two SqliteStores on
one file, two Redis clients on one server), so concurrency and persistence are
tested across handles, not just tasks. The fixtures that hand one to each test
are in ``conftest.py``. Time is the frozen ``clock``; every store call is given
``clock.now``.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import fakeredis
import pytest
import redis.asyncio as aioredis
from redis.asyncio.cluster import RedisCluster

from monitor.model import Alert, Article, DeliveryRecord, Hit, OutboxEntry
from monitor.store.base import Outbox, StateStore
from monitor.store.memory import MemoryStore
from monitor.store.redis import RedisStore
from monitor.store.sqlite import FILE_NAME, SqliteStore
from tests.conftest import FrozenClock

#: ``cluster``: a real three-node Redis Cluster (``tests/redis_servers.py``) under a prefix
#: with a hash tag; a script or a transaction whose keys span slots fails there.
ALL = [
    "memory",
    "sqlite",
    "fakeredis",
    pytest.param("redis", marks=pytest.mark.redis),
    pytest.param("cluster", marks=pytest.mark.redis),
]

#: Backends whose state outlives a handle (memory is excluded: reopening it proves nothing).
PERSISTENT = [
    "sqlite",
    "fakeredis",
    pytest.param("redis", marks=pytest.mark.redis),
    pytest.param("cluster", marks=pytest.mark.redis),
]

DAY = 86_400.0


class Backend:
    """Opens handles on one backend's state; closes them (and cleans Redis) at the end."""

    def __init__(self, name: str, opener: Callable[[], Awaitable[StateStore]]) -> None:
        self.name = name
        self._opener = opener
        self._opened: list[StateStore] = []
        self.cleanups: list[Callable[[], Awaitable[Any]]] = []

    async def open(self) -> StateStore:
        """A new handle on the same state (for memory: the one store)."""
        store = await self._opener()
        self._opened.append(store)
        return store

    async def aclose(self) -> None:
        for store in self._opened:
            await store.close()
        for cleanup in self.cleanups:
            await cleanup()


async def delete_prefix(url: str, prefix: str) -> None:
    client = aioredis.Redis.from_url(url)
    try:
        keys = [k async for k in client.scan_iter(match=f"{prefix}:*", count=500)]
        if keys:
            await client.delete(*keys)
    finally:
        await client.aclose()


async def delete_cluster_prefix(port: int, prefix: str) -> None:
    client = RedisCluster(host="127.0.0.1", port=port)
    try:
        keys = [k async for k in client.scan_iter(match=f"{prefix}:*", count=500)]
        for key in keys:  # one slot, but a DELETE of many keys is split per node anyway
            await client.delete(key)
    finally:
        await client.aclose()


def make_backend(request: pytest.FixtureRequest, name: str, tmp_path: Path) -> Backend:
    if name == "memory":
        memory = MemoryStore()

        async def open_memory() -> StateStore:
            return memory

        return Backend(name, open_memory)
    if name == "sqlite":

        async def open_sqlite() -> StateStore:
            return await SqliteStore.open(tmp_path / FILE_NAME)

        return Backend(name, open_sqlite)
    if name == "fakeredis":
        server = fakeredis.FakeServer()
        clients: list[fakeredis.FakeAsyncRedis] = []

        async def open_fake() -> StateStore:
            # Alternate raw and decoded replies: the store must handle both.
            client = fakeredis.FakeAsyncRedis(server=server, decode_responses=len(clients) % 2 == 1)
            clients.append(client)
            return RedisStore(client, prefix="nm")

        backend = Backend(name, open_fake)

        async def close_clients() -> None:
            for client in clients:
                await client.aclose()

        backend.cleanups.append(close_clients)
        return backend
    if name == "cluster":
        ports: list[int] = request.getfixturevalue("cluster_ports")
        tagged = "{" + request.getfixturevalue("redis_prefix") + "}"
        cluster_url = f"redis+cluster://127.0.0.1:{ports[0]}"

        async def open_cluster() -> StateStore:
            return RedisStore.from_url(cluster_url, tagged)

        backend = Backend(name, open_cluster)
        backend.cleanups.append(lambda: delete_cluster_prefix(ports[0], tagged))
        return backend
    assert name == "redis"
    url: str = request.getfixturevalue("redis_server_url")
    prefix: str = request.getfixturevalue("redis_prefix")

    async def open_redis() -> StateStore:
        return RedisStore.from_url(url, prefix)

    backend = Backend(name, open_redis)
    backend.cleanups.append(lambda: delete_prefix(url, prefix))
    return backend


def make_alert(n: int, channel: str = "slack") -> Alert:
    article = Article(
        id=f"art-{n:03d}",
        feed_id="feed-1",
        url=f"https://example.com/news/{n}",
        title=f"Drones over Kyiv — story {n}",
        text="Iran and Russia signed a deal on drones. Ünïcödé survives.",
        published=datetime(2027, 1, 2, 3, 4, 5, tzinfo=UTC),
        author="Jane Doe",
        guid=f"urn:uuid:{n}",
    )
    return Alert(
        id=f"alert-{n:03d}",
        channel=channel,
        rule_id="iran-drones",
        query="Iran AND drones",
        article=article,
        hits=(Hit("text", 0, 4, "Iran"), Hit("text", 42, 48, "drone*")),
        created_at=datetime(2027, 1, 15, 8, 0, 0, 250_000, tzinfo=UTC),
    )


def ids(entries: list[OutboxEntry]) -> list[str]:
    return [e.alert.id for e in entries]


def ids_of(records: list[DeliveryRecord]) -> list[str]:
    return [r.alert.id for r in records]


async def claim(
    store: Outbox, clock: FrozenClock, lease: float = 30.0, limit: int = 10
) -> dict[str, str]:
    """Claim what is due now; each claimed alert's claim token, by alert id."""
    return {e.alert.id: e.claim for e in await store.claim_due(clock.now, lease, limit)}
