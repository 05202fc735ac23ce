"""The WebSub subscription records (``monitor.store.websub``), on every backend: stored
whole, created once however many replicas race, shared by every handle on the same state."""

from __future__ import annotations

import asyncio
from dataclasses import replace

import pytest

from monitor.store.base import StateStore
from monitor.store.websub import (
    UNSUBSCRIBE,
    Subscription,
    decode,
    encode,
    subscriptions_for,
)
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
    subs = subscriptions_for(store)
    assert await subs.get_subscription("wire") is None
    assert await subs.subscriptions() == []
    await subs.put_subscription(record())
    assert await subs.get_subscription("wire") == record()
    verified = replace(record(), pending=False, expires_at=1_800_000_600.0, lease_seconds=600.0)
    await subs.put_subscription(verified)
    await subs.put_subscription(record("alpha", "tok-2"))
    assert await subs.subscriptions() == [record("alpha", "tok-2"), verified]
    await subs.delete_subscription("wire")
    await subs.delete_subscription("nothing")  # no error
    assert await subs.subscriptions() == [record("alpha", "tok-2")]


async def test_add_keeps_the_first_record(store: StateStore) -> None:
    subs = subscriptions_for(store)
    first = await subs.add_subscription(record(token="first"))
    second = await subs.add_subscription(record(token="second"))
    assert first.token == second.token == "first"
    assert (await subs.get_subscription("wire")) == record(token="first")


@pytest.mark.parametrize("backend", PERSISTENT, indirect=True)
async def test_replicas_racing_agree_on_one_token(backend: Backend) -> None:
    handles = [subscriptions_for(await backend.open()) for _ in range(4)]
    won = await asyncio.gather(
        *(h.add_subscription(record(token=f"tok-{i}")) for i, h in enumerate(handles))
    )
    assert len({sub.token for sub in won}) == 1
    # Another handle (a restart, another replica) reads what was stored.
    later = subscriptions_for(await backend.open())
    assert await later.get_subscription("wire") == won[0]


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
