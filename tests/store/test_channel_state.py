"""Contract of :class:`~monitor.store.base.ChannelStateStore`, run against every backend.

A channel disabled by its receiver's 410 Gone stays disabled, for every handle on the
store, until it is enabled; the first record of a target wins, a record of another
target replaces it; enabling returns what it removed.
"""

from __future__ import annotations

import asyncio
import json

import fakeredis
import pytest

from monitor.model import DisabledChannel
from monitor.store.base import ChannelStateStore
from monitor.store.redis import RedisStore
from tests.conftest import FrozenClock
from tests.store.support import PERSISTENT, Backend

GONE = "HTTP 410: unsubscribed ü"


def record(channel: str, since: float, target: str = "t1", reason: str = GONE) -> DisabledChannel:
    return DisabledChannel(channel, since, reason, target)


async def test_nothing_is_disabled_at_first(store: ChannelStateStore) -> None:
    assert await store.disabled_channels() == []
    assert await store.enable_channel("siem") is None


async def test_disable_list_and_enable(store: ChannelStateStore, clock: FrozenClock) -> None:
    siem = record("siem", clock.now + 0.25)
    assert await store.disable_channel(siem) == siem
    assert await store.disable_channel(record("alpha", clock.now, target="")) == record(
        "alpha", clock.now, target=""
    )
    # By channel name, whatever the order they were disabled in.
    assert await store.disabled_channels() == [record("alpha", clock.now, target=""), siem]

    assert await store.enable_channel("siem") == siem
    assert await store.disabled_channels() == [record("alpha", clock.now, target="")]
    assert await store.enable_channel("siem") is None  # enabling twice changes nothing


async def test_the_first_record_of_a_target_wins(
    store: ChannelStateStore, clock: FrozenClock
) -> None:
    first = record("siem", clock.now)
    await store.disable_channel(first)
    later = record("siem", clock.now + 60, reason="HTTP 410: gone again")
    assert await store.disable_channel(later) == first
    assert await store.disabled_channels() == [first]


async def test_a_record_of_another_target_is_replaced(
    store: ChannelStateStore, clock: FrozenClock
) -> None:
    await store.disable_channel(record("siem", clock.now, target="old-url"))
    fresh = record("siem", clock.now + 60, target="new-url")
    assert await store.disable_channel(fresh) == fresh
    assert await store.disabled_channels() == [fresh]


async def test_replicas_disabling_at_once_agree_on_one_record(
    backend: Backend, clock: FrozenClock
) -> None:
    a, b = await backend.open(), await backend.open()
    records = [record("siem", clock.now + i) for i in range(10)]
    stored = await asyncio.gather(
        *(store.disable_channel(r) for store, r in zip([a, b] * 5, records, strict=True))
    )
    assert len(set(stored)) == 1
    assert await a.disabled_channels() == await b.disabled_channels() == [stored[0]]


@pytest.mark.parametrize("backend", PERSISTENT, indirect=True)
async def test_a_disable_is_seen_by_another_handle_and_outlives_it(
    backend: Backend, clock: FrozenClock
) -> None:
    writer = await backend.open()
    siem = record("siem", clock.now)
    await writer.disable_channel(siem)
    await writer.close()
    reader = await backend.open()
    assert await reader.disabled_channels() == [siem]
    assert await reader.enable_channel("siem") == siem
    assert await (await backend.open()).disabled_channels() == []


async def test_redis_reads_disabled_channels_in_their_stored_layout() -> None:
    """The key and value format of ``redis_keys.Keys.channel_disabled`` are the on-server
    format: a record written by hand in it loads, and a disable writes it."""
    client = fakeredis.FakeAsyncRedis()
    store = RedisStore(client, prefix="nm")
    try:
        stored = '{"channel": "siem", "reason": "HTTP 410", "since": 1800000000.5, "target": "ab"}'
        await client.hset("nm:channel_disabled", "siem", stored)
        assert await store.disabled_channels() == [
            DisabledChannel("siem", 1_800_000_000.5, "HTTP 410", "ab")
        ]
        await store.disable_channel(DisabledChannel("ops", 1.0, "HTTP 410: x", "cd"))
        assert json.loads(await client.hget("nm:channel_disabled", "ops")) == {
            "channel": "ops",
            "since": 1.0,
            "reason": "HTTP 410: x",
            "target": "cd",
        }
        assert {k.decode() for k in await client.keys("*")} == {"nm:channel_disabled"}
    finally:
        await client.aclose()
