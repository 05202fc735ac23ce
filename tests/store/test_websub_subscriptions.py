"""The WebSub subscription records (``monitor.store.websub.SubscriptionStore``, a role of
every store), on every backend: stored whole, created once however many replicas race,
shared by every handle on the same state."""

from __future__ import annotations

import asyncio
import sqlite3
from dataclasses import replace
from pathlib import Path

import fakeredis
import pytest

from monitor.store.base import StateStore
from monitor.store.redis import RedisStore
from monitor.store.sqlite import FILE_NAME, SqliteStore
from monitor.store.websub import UNSUBSCRIBE, Subscription, decode, encode
from tests.store.support import PERSISTENT, Backend


def record(feed_id: str = "wire", token: str = "tok-1") -> Subscription:
    return Subscription(
        feed_id,
        hub="https://hub.example/",
        topic="https://news.example.org/feed.xml",
        token=token,
        secret="s3cret",
        requested_at=1_800_000_000.0,
        due_at=1_800_000_000.0,
    )


async def test_a_subscription_is_stored_replaced_and_deleted(store: StateStore) -> None:
    assert await store.get_subscription("wire") is None
    assert await store.subscriptions() == []
    await store.put_subscription(record())
    assert await store.get_subscription("wire") == record()
    verified = replace(record(), pending=False, expires_at=1_800_000_600.0, lease_seconds=600.0)
    await store.put_subscription(verified)
    await store.put_subscription(record("alpha", "tok-2"))
    assert await store.subscriptions() == [record("alpha", "tok-2"), verified]
    await store.delete_subscription("wire")
    await store.delete_subscription("nothing")  # no error
    assert await store.subscriptions() == [record("alpha", "tok-2")]


async def test_add_keeps_the_first_record(store: StateStore) -> None:
    first = await store.add_subscription(record(token="first"))
    second = await store.add_subscription(record(token="second"))
    assert first.token == second.token == "first"
    assert (await store.get_subscription("wire")) == record(token="first")


@pytest.mark.parametrize("backend", PERSISTENT, indirect=True)
async def test_replicas_racing_agree_on_one_token(backend: Backend) -> None:
    handles = [await backend.open() for _ in range(4)]
    won = await asyncio.gather(
        *(h.add_subscription(record(token=f"tok-{i}")) for i, h in enumerate(handles))
    )
    assert len({sub.token for sub in won}) == 1
    # Another handle (a restart, another replica) reads what was stored.
    later = await backend.open()
    assert await later.get_subscription("wire") == won[0]


async def test_sqlite_reads_a_table_created_on_first_use_by_an_earlier_version(
    tmp_path: Path,
) -> None:
    """Earlier versions created the table lazily, outside the schema, with this statement:
    a file of theirs that has it (and records in it) opens and keeps them."""
    path = tmp_path / FILE_NAME
    with sqlite3.connect(path) as db:
        db.execute(
            "CREATE TABLE IF NOT EXISTS websub_subscription"
            " (feed_id TEXT PRIMARY KEY, record TEXT NOT NULL)"
        )
        db.execute("INSERT INTO websub_subscription VALUES ('wire', ?)", (encode(record()),))
    db.close()
    store = await SqliteStore.open(path)
    try:
        assert await store.get_subscription("wire") == record()
        assert await store.add_subscription(record(token="later")) == record()
        assert await store.subscriptions() == [record()]
    finally:
        await store.close()


@pytest.mark.parametrize("decoded", [False, True])
async def test_redis_reads_and_writes_the_hash_of_earlier_versions(decoded: bool) -> None:
    """The hash's name, ``<prefix>:websub_subscription``, is the on-server format: a record
    written there by hand (as by an earlier version) is read, and the store writes there."""
    client = fakeredis.FakeAsyncRedis(decode_responses=decoded)
    store = RedisStore(client, prefix="p")
    try:
        await client.hset("p:websub_subscription", "wire", encode(record()))
        assert await store.get_subscription("wire") == record()
        assert await store.subscriptions() == [record()]
        await store.put_subscription(record("alpha", "tok-2"))
        stored = await client.hget("p:websub_subscription", "alpha")
        assert stored is not None and decode(stored) == record("alpha", "tok-2")
        await store.delete_subscription("wire")
        assert await client.hkeys("p:websub_subscription") in (["alpha"], [b"alpha"])
    finally:
        await client.aclose()


def test_records_round_trip_and_tolerate_unknown_fields() -> None:
    sub = replace(record(), mode=UNSUBSCRIBE, failures=2, last_error="HTTP 500", expires_at=5.0)
    assert decode(encode(sub)) == sub
    text = encode(sub).replace('"failures": 2', '"failures": 2, "added_later": 1')
    assert decode(text) == sub


def test_active_needs_a_verified_unexpired_subscribe() -> None:
    sub = record()
    assert not sub.active(0)
    verified = replace(sub, pending=False, expires_at=100.0)
    assert verified.active(99.0) and not verified.active(100.0)
    assert not replace(verified, mode=UNSUBSCRIBE).active(50.0)
