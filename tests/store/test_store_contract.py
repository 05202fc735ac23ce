"""One contract suite for every StateStore backend (memory, sqlite, fakeredis, real Redis).

Each test gets a ``backend`` that can open several handles on the same state
(two SqliteStores on one file, two Redis clients on one server), so
concurrency and persistence are tested across handles, not just tasks. Time is
the frozen ``clock``; every store call is given ``clock.now``.

Orderings all backends agree on: the outbox by due time then alert id; dead
letters by the time they died, most recent first; deliveries by the time
they were acked, most recent first (ties by id, descending). A dead letter's
``due_at`` is when it was dead-lettered. Article and delivered records count
while ``now < until``.
"""

from __future__ import annotations

import asyncio
import sqlite3
import struct
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import fakeredis
import pytest
import redis.asyncio as aioredis
from redis.exceptions import ConnectionError as RedisConnectionError

from monitor.errors import StoreError
from monitor.model import (
    MAX_STORY_MEMBERS,
    Alert,
    Article,
    ClaimResult,
    DeliveryRecord,
    FeedState,
    FeedValidators,
    Hit,
    OutboxEntry,
    StoryMember,
    StoryProbe,
)
from monitor.settings import Settings
from monitor.store.base import StateStore
from monitor.store.codec import encode_alert
from monitor.store.factory import open_store
from monitor.store.memory import MemoryStore
from monitor.store.redis import RedisStore
from monitor.store.sqlite import FILE_NAME, SqliteStore
from tests.conftest import FrozenClock, free_port

ALL = ["memory", "sqlite", "fakeredis", pytest.param("redis", marks=pytest.mark.redis)]
#: Backends whose state outlives a handle (memory is excluded: reopening it proves nothing).
PERSISTENT = ["sqlite", "fakeredis", pytest.param("redis", marks=pytest.mark.redis)]

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


async def _delete_prefix(url: str, prefix: str) -> None:
    client = aioredis.Redis.from_url(url)
    try:
        keys = [k async for k in client.scan_iter(match=f"{prefix}:*", count=500)]
        if keys:
            await client.delete(*keys)
    finally:
        await client.aclose()


def _make_backend(request: pytest.FixtureRequest, name: str, tmp_path: Path) -> Backend:
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
    assert name == "redis"
    url: str = request.getfixturevalue("redis_server_url")
    prefix: str = request.getfixturevalue("redis_prefix")

    async def open_redis() -> StateStore:
        return RedisStore.from_url(url, prefix)

    backend = Backend(name, open_redis)
    backend.cleanups.append(lambda: _delete_prefix(url, prefix))
    return backend


@pytest.fixture(params=ALL)
async def backend(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Backend]:
    b = _make_backend(request, request.param, tmp_path)
    try:
        yield b
    finally:
        await b.aclose()


@pytest.fixture
async def store(backend: Backend) -> StateStore:
    return await backend.open()


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


async def claim(
    store: StateStore, clock: FrozenClock, lease: float = 30.0, limit: int = 10
) -> dict[str, str]:
    """Claim what is due now; each claimed alert's claim token, by alert id."""
    return {e.alert.id: e.claim for e in await store.claim_due(clock.now, lease, limit)}


# -- feed state ----------------------------------------------------------------


async def test_feed_state_round_trip(store: StateStore, clock: FrozenClock) -> None:
    assert await store.get_feed_state("feed-1") is None
    state = FeedState(
        validators=FeedValidators(etag='W/"abc"', last_modified="Wed, 21 Oct 2026 07:28:00 GMT"),
        first_polled_at=clock.now - 3600.25,
        last_success_at=clock.now,
        consecutive_failures=0,
        last_error="",
    )
    await store.put_feed_state("feed-1", state)
    assert await store.get_feed_state("feed-1") == state

    failed = FeedState(
        first_polled_at=state.first_polled_at, consecutive_failures=3, last_error="HTTP 503 — down"
    )
    await store.put_feed_state("feed-1", failed)
    assert await store.get_feed_state("feed-1") == failed
    assert await store.get_feed_state("feed-2") is None


# -- articles ----------------------------------------------------------------------


async def test_claim_article_is_exclusive(store: StateStore, clock: FrozenClock) -> None:
    keys = ["id:a", "url:https://example.com/ä"]
    assert await store.claim_article(keys, clock.now, lease=60)
    assert not await store.claim_article(keys, clock.now, lease=60)
    assert not await store.claim_article(["url:https://example.com/ä"], clock.now, lease=60)
    assert await store.claim_article(["id:b"], clock.now, lease=60)


async def test_failed_claim_claims_none_of_its_keys(store: StateStore, clock: FrozenClock) -> None:
    assert await store.claim_article(["id:x"], clock.now, lease=60)
    assert not await store.claim_article(["id:y", "id:x", "id:z"], clock.now, lease=60)
    assert await store.claim_article(["id:y"], clock.now, lease=60)
    assert await store.claim_article(["id:z"], clock.now, lease=60)


async def test_claim_lease_ends(store: StateStore, clock: FrozenClock) -> None:
    assert await store.claim_article(["id:a"], clock.now, lease=30)
    clock.advance(29.5)
    assert not await store.claim_article(["id:a"], clock.now, lease=30)
    clock.advance(0.5)  # the lease has ended exactly now
    assert await store.claim_article(["id:a"], clock.now, lease=30)
    assert not await store.claim_article(["id:a"], clock.now, lease=30)


async def test_claim_fails_on_any_seen_key(store: StateStore, clock: FrozenClock) -> None:
    await store.mark_seen(["url:u"], clock.now, retention=DAY)
    assert not await store.claim_article(["id:a", "url:u"], clock.now, lease=60)
    assert await store.claim_article(["id:a"], clock.now, lease=60)
    assert not await store.is_seen("id:a", clock.now)  # claimed is not seen


async def test_mark_seen_replaces_the_claim(store: StateStore, clock: FrozenClock) -> None:
    keys = ["id:a", "guid:g"]
    assert await store.claim_article(keys, clock.now, lease=10)
    await store.mark_seen(keys, clock.now, retention=DAY)
    clock.advance(100)  # well past the lease
    assert await store.is_seen("id:a", clock.now)
    assert await store.is_seen("guid:g", clock.now)
    assert not await store.claim_article(["guid:g"], clock.now, lease=10)
    await store.release_article(keys)  # release never unsees
    assert await store.is_seen("id:a", clock.now)
    assert not await store.claim_article(["id:a"], clock.now, lease=10)


async def test_seen_expires_after_retention(store: StateStore, clock: FrozenClock) -> None:
    await store.mark_seen(["id:a"], clock.now, retention=100)
    assert await store.is_seen("id:a", clock.now)
    clock.advance(99.5)
    assert await store.is_seen("id:a", clock.now)
    assert not await store.claim_article(["id:a"], clock.now, lease=10)
    clock.advance(0.5)
    assert not await store.is_seen("id:a", clock.now)
    assert await store.claim_article(["id:a"], clock.now, lease=10)


async def test_claim_articles_says_why_each_failed(store: StateStore, clock: FrozenClock) -> None:
    await store.mark_seen(["id:seen"], clock.now, retention=DAY)
    assert await store.claim_article(["id:busy"], clock.now, lease=60)
    results = await store.claim_articles(
        [
            ["id:new", "url:a"],
            ["id:seen", "url:b"],
            ["id:busy"],
            ["id:busy-too", "id:seen"],  # seen wins over busy
            ["id:copy", "url:a"],  # shares a key with an earlier article of this call
            [],
        ],
        clock.now,
        lease=30,
    )
    assert results == [
        ClaimResult.CLAIMED,
        ClaimResult.SEEN,
        ClaimResult.BUSY,
        ClaimResult.SEEN,
        ClaimResult.SEEN,
        ClaimResult.CLAIMED,
    ]
    assert await store.claim_articles([], clock.now, lease=30) == []
    # Only the claimed article's keys were claimed, until its lease ends.
    assert not await store.claim_article(["url:a"], clock.now + 29, lease=30)
    assert await store.claim_article(["url:b"], clock.now, lease=30)
    assert await store.claim_article(["id:copy"], clock.now, lease=30)
    assert await store.claim_article(["url:a"], clock.now + 30, lease=30)


async def test_concurrent_claim_articles_hand_out_each_article_once(
    backend: Backend, clock: FrozenClock
) -> None:
    handles = [await backend.open(), await backend.open()]
    feed = [[f"id:{n}", f"url:{n}"] for n in range(40)]
    results = await asyncio.gather(
        *(handles[i % 2].claim_articles(feed, clock.now, lease=60) for i in range(6))
    )
    for n in range(40):
        outcomes = [r[n] for r in results]
        assert outcomes.count(ClaimResult.CLAIMED) == 1
        assert set(outcomes) <= {ClaimResult.CLAIMED, ClaimResult.BUSY}


async def test_release_article_frees_the_claim(store: StateStore, clock: FrozenClock) -> None:
    keys = ["id:a", "url:u"]
    assert await store.claim_article(keys, clock.now, lease=600)
    await store.release_article(keys)
    assert await store.claim_article(["url:u"], clock.now, lease=600)
    await store.release_article(["id:never-claimed"])  # harmless
    assert not await store.is_seen("id:never-claimed", clock.now)


async def test_is_seen_unknown_key(store: StateStore, clock: FrozenClock) -> None:
    assert not await store.is_seen("id:nope", clock.now)


async def test_concurrent_claims_have_one_winner(backend: Backend, clock: FrozenClock) -> None:
    handles = [await backend.open(), await backend.open()]
    results = await asyncio.gather(
        *(
            handles[i % 2].claim_article([f"id:{i}", "url:shared"], clock.now, lease=60)
            for i in range(20)
        )
    )
    assert sum(results) == 1


# -- outbox: enqueue -------------------------------------------------------------


async def test_enqueue_is_idempotent(store: StateStore, clock: FrozenClock) -> None:
    a1, a2, a3 = make_alert(1), make_alert(2), make_alert(3)
    assert await store.enqueue([a1, a2], clock.now) == 2
    assert await store.enqueue([a1, a2, a3], clock.now) == 1
    assert await store.enqueue([make_alert(4), make_alert(4)], clock.now) == 1
    assert await store.enqueue([], clock.now) == 0
    pending = await store.pending()
    assert ids(pending) == ["alert-001", "alert-002", "alert-003", "alert-004"]
    assert pending[0] == OutboxEntry(alert=a1, attempts=0, due_at=clock.now, last_error="")


async def test_enqueue_ignores_delivered_until_the_record_expires(
    store: StateStore, clock: FrozenClock
) -> None:
    alert = make_alert(1)
    await store.enqueue([alert], clock.now)
    assert ids(await store.claim_due(clock.now, lease=60, limit=10)) == ["alert-001"]
    await store.ack(alert.id, clock.now, detail="HTTP 200", retention=DAY)
    clock.advance(DAY - 1)
    assert await store.enqueue([alert], clock.now) == 0
    assert await store.pending() == []
    clock.advance(1)  # the delivered record has expired
    assert not await store.is_delivered(alert.id, clock.now)
    assert await store.enqueue([alert], clock.now) == 1


async def test_enqueue_ignores_dead_letters(store: StateStore, clock: FrozenClock) -> None:
    alert = make_alert(1)
    await store.enqueue([alert], clock.now)
    claims = await claim(store, clock)
    assert await store.dead_letter(alert.id, clock.now, error="HTTP 404", claim=claims[alert.id])
    clock.advance(10 * DAY)
    assert await store.enqueue([alert], clock.now) == 0
    assert await store.pending() == []
    assert ids(await store.dead_letters()) == ["alert-001"]


# -- outbox: claim_due -----------------------------------------------------------


async def test_claim_due_oldest_first_with_limit(store: StateStore, clock: FrozenClock) -> None:
    start = clock.now
    await store.enqueue([make_alert(3)], clock.now)
    clock.advance(1)
    await store.enqueue([make_alert(5), make_alert(4)], clock.now)  # ties: by id
    clock.advance(1)
    await store.enqueue([make_alert(1)], clock.now)
    assert [e.due_at for e in await store.pending()] == [start, start + 1, start + 1, start + 2]

    first = await store.claim_due(clock.now, lease=30, limit=2)
    assert ids(first) == ["alert-003", "alert-004"]
    assert all(e.due_at == clock.now + 30 for e in first)
    assert first[0].alert == make_alert(3)
    assert ids(await store.claim_due(clock.now, lease=30, limit=10)) == ["alert-005", "alert-001"]
    assert await store.claim_due(clock.now, lease=30, limit=10) == []


async def test_claim_due_limit_zero(store: StateStore, clock: FrozenClock) -> None:
    await store.enqueue([make_alert(1)], clock.now)
    assert await store.claim_due(clock.now, lease=30, limit=0) == []
    assert ids(await store.claim_due(clock.now, lease=30, limit=1)) == ["alert-001"]


async def test_claim_due_skips_alerts_due_later(store: StateStore, clock: FrozenClock) -> None:
    await store.enqueue([make_alert(1), make_alert(2)], clock.now)
    claims = await claim(store, clock, limit=1)
    await store.retry_later("alert-001", clock.now + 60, error="timeout", claim=claims["alert-001"])
    assert ids(await store.claim_due(clock.now, lease=600, limit=10)) == ["alert-002"]
    clock.advance(59)
    assert await store.claim_due(clock.now, lease=5, limit=10) == []
    clock.advance(1)
    [entry] = await store.claim_due(clock.now, lease=5, limit=10)
    assert entry == OutboxEntry(
        make_alert(1), attempts=1, due_at=clock.now + 5, last_error="timeout", claim=entry.claim
    )


async def test_lease_hides_a_claimed_alert_until_it_ends(
    store: StateStore, clock: FrozenClock
) -> None:
    await store.enqueue([make_alert(1)], clock.now)
    claimed_at = clock.now
    assert ids(await store.claim_due(clock.now, lease=30, limit=10)) == ["alert-001"]
    assert await store.claim_due(clock.now, lease=30, limit=10) == []
    [pending] = await store.pending()  # still in the outbox while claimed
    assert pending.due_at == claimed_at + 30
    clock.advance(29.5)
    assert await store.claim_due(clock.now, lease=30, limit=10) == []
    clock.advance(0.5)
    [again] = await store.claim_due(clock.now, lease=30, limit=10)
    assert (again.alert.id, again.attempts, again.due_at) == ("alert-001", 0, clock.now + 30)


async def test_concurrent_claim_due_never_hands_out_an_alert_twice(
    backend: Backend, clock: FrozenClock
) -> None:
    handles = [await backend.open(), await backend.open()]
    expected = [make_alert(n) for n in range(60)]
    assert await handles[0].enqueue(expected, clock.now) == 60
    received: list[str] = []

    async def worker(store: StateStore) -> None:
        while batch := await store.claim_due(clock.now, lease=300, limit=4):
            received.extend(ids(batch))
            await asyncio.sleep(0)

    await asyncio.gather(*(worker(handles[i % 2]) for i in range(12)))
    assert sorted(received) == [a.id for a in expected]


# -- outbox: outcomes ------------------------------------------------------------


async def test_retry_later_counts_attempts(store: StateStore, clock: FrozenClock) -> None:
    await store.enqueue([make_alert(1)], clock.now)
    claims = await claim(store, clock)
    assert await store.retry_later(
        "alert-001", clock.now + 120, "HTTP 503", claim=claims["alert-001"]
    )
    [entry] = await store.pending()
    assert (entry.attempts, entry.due_at, entry.last_error) == (1, clock.now + 120, "HTTP 503")
    clock.advance(120)
    claims = await claim(store, clock)
    assert await store.retry_later(
        "alert-001", clock.now + 240, "HTTP 429", claim=claims["alert-001"]
    )
    [entry] = await store.pending()
    assert (entry.attempts, entry.due_at, entry.last_error) == (2, clock.now + 240, "HTTP 429")
    assert entry.claim == ""  # listings never hand out a claim


async def test_outcomes_of_unknown_alerts_change_nothing(
    store: StateStore, clock: FrozenClock
) -> None:
    await store.enqueue([make_alert(1)], clock.now)
    token = (await claim(store, clock))["alert-001"]
    assert not await store.retry_later("alert-404", clock.now + 60, error="x", claim=token)
    assert not await store.defer("alert-404", clock.now + 60, claim=token)
    assert not await store.dead_letter("alert-404", clock.now, error="x", claim=token)
    assert ids(await store.pending()) == ["alert-001"]
    assert await store.dead_letters() == []
    assert await store.enqueue([make_alert(404)], clock.now) == 1


async def test_outcomes_are_fenced_by_the_claim(store: StateStore, clock: FrozenClock) -> None:
    """A worker whose lease ran out cannot reschedule or kill what another worker now holds."""
    await store.enqueue([make_alert(1)], clock.now)
    stale = (await claim(store, clock, lease=30))["alert-001"]
    clock.advance(31)  # the first worker stalled past its lease; a second one claims the alert
    current = (await claim(store, clock, lease=30))["alert-001"]
    assert current != stale

    assert not await store.retry_later("alert-001", clock.now + 600, "late", claim=stale)
    assert not await store.defer("alert-001", clock.now + 600, claim=stale)
    assert not await store.dead_letter("alert-001", clock.now, "late", claim=stale)
    assert not await store.retry_later("alert-001", clock.now + 600, "no claim", claim="")
    [entry] = await store.pending()
    assert (entry.attempts, entry.due_at, entry.last_error) == (0, clock.now + 30, "")
    assert await store.dead_letters() == []

    # The current claim applies once; the outcome ends the claim.
    assert await store.retry_later("alert-001", clock.now + 5, "HTTP 503", claim=current)
    assert not await store.retry_later("alert-001", clock.now + 5, "HTTP 503", claim=current)
    [entry] = await store.pending()
    assert (entry.attempts, entry.due_at) == (1, clock.now + 5)


async def test_defer_reschedules_without_counting_an_attempt(
    store: StateStore, clock: FrozenClock
) -> None:
    await store.enqueue([make_alert(1)], clock.now)
    claims = await claim(store, clock)
    await store.retry_later("alert-001", clock.now, "HTTP 500", claim=claims["alert-001"])
    claims = await claim(store, clock)
    assert await store.defer("alert-001", clock.now + 90, claim=claims["alert-001"])
    [entry] = await store.pending()
    assert (entry.attempts, entry.due_at, entry.last_error) == (1, clock.now + 90, "HTTP 500")
    assert await store.claim_due(clock.now + 89, lease=30, limit=10) == []
    assert ids(await store.claim_due(clock.now + 90, lease=30, limit=10)) == ["alert-001"]


async def test_reserve_send_hands_out_one_slot_per_interval(
    backend: Backend, clock: FrozenClock
) -> None:
    handles = [await backend.open(), await backend.open()]
    results = await asyncio.gather(
        *(handles[i % 2].reserve_send("slack", clock.now, 1.5) for i in range(8))
    )
    assert results.count(None) == 1
    assert all(r == clock.now + 1.5 for r in results if r is not None)
    assert await handles[0].reserve_send("email", clock.now, 60) is None  # per channel
    clock.advance(1.4)
    assert await handles[1].reserve_send("slack", clock.now, 1.5) == clock.now + 0.1
    clock.advance(0.1)
    assert await handles[1].reserve_send("slack", clock.now, 1.5) is None
    assert await handles[0].reserve_send("slack", clock.now, 1.5) == clock.now + 1.5


async def test_dead_letter_leaves_the_outbox(store: StateStore, clock: FrozenClock) -> None:
    await store.enqueue([make_alert(1), make_alert(2), make_alert(3)], clock.now)
    claims = await claim(store, clock)
    await store.retry_later("alert-001", clock.now, error="HTTP 500", claim=claims["alert-001"])
    claims |= await claim(store, clock, limit=1)
    first_death = clock.now
    assert await store.dead_letter(
        "alert-001", clock.now, "HTTP 410 Gone", claim=claims["alert-001"]
    )
    clock.advance(5)
    assert await store.dead_letter("alert-002", clock.now, "bad address", claim=claims["alert-002"])

    assert ids(await store.pending()) == ["alert-003"]
    dead = await store.dead_letters()
    assert dead == [
        OutboxEntry(make_alert(2), attempts=1, due_at=clock.now, last_error="bad address"),
        OutboxEntry(make_alert(1), attempts=2, due_at=first_death, last_error="HTTP 410 Gone"),
    ]
    clock.advance(3600)
    assert ids(await store.claim_due(clock.now, lease=30, limit=10)) == ["alert-003"]


async def test_ack_records_delivery(store: StateStore, clock: FrozenClock) -> None:
    await store.enqueue([make_alert(1), make_alert(2)], clock.now)
    await store.claim_due(clock.now, lease=30, limit=10)
    assert not await store.is_delivered("alert-001", clock.now)
    await store.ack("alert-001", clock.now, detail="HTTP 204", retention=3600)
    assert await store.is_delivered("alert-001", clock.now)
    assert not await store.is_delivered("alert-002", clock.now)
    assert ids(await store.pending()) == ["alert-002"]
    clock.advance(60)  # past the lease: only the unacked alert comes back
    assert ids(await store.claim_due(clock.now, lease=30, limit=10)) == ["alert-002"]
    clock.advance(3540)
    assert not await store.is_delivered("alert-001", clock.now)


async def test_pending_lists_queued_and_claimed(store: StateStore, clock: FrozenClock) -> None:
    assert await store.pending() == []
    await store.enqueue([make_alert(2), make_alert(1), make_alert(3)], clock.now)
    await store.claim_due(clock.now, lease=1000, limit=1)  # alert-001 now due at +1000
    claims = await claim(store, clock)  # alert-002 and alert-003
    await store.retry_later("alert-003", clock.now + 10, error="x", claim=claims["alert-003"])
    await store.defer("alert-002", clock.now, claim=claims["alert-002"])
    pending = await store.pending()
    assert [(e.alert.id, e.due_at - clock.now) for e in pending] == [
        ("alert-002", 0),
        ("alert-003", 10),
        ("alert-001", 1000),
    ]


# -- delivered records ------------------------------------------------------------


async def test_recent_deliveries_newest_first_with_limit(
    store: StateStore, clock: FrozenClock
) -> None:
    assert await store.recent_deliveries(clock.now, limit=10) == []
    await store.enqueue([make_alert(n) for n in (1, 2, 3, 4)], clock.now)
    claims = await claim(store, clock)
    await store.retry_later("alert-002", clock.now, error="HTTP 503", claim=claims["alert-002"])
    claims = await claim(store, clock)
    await store.retry_later("alert-002", clock.now, error="HTTP 503", claim=claims["alert-002"])
    await claim(store, clock)
    first = clock.now
    await store.ack("alert-002", clock.now, detail="HTTP 200", retention=DAY)
    clock.advance(5)
    await store.ack("alert-003", clock.now, detail="HTTP 204", retention=DAY)
    await store.ack("alert-001", clock.now, detail="250 OK", retention=DAY)  # tie: by id desc

    assert await store.recent_deliveries(clock.now, limit=10) == [
        DeliveryRecord(make_alert(3), delivered_at=clock.now, detail="HTTP 204", attempts=1),
        DeliveryRecord(make_alert(1), delivered_at=clock.now, detail="250 OK", attempts=1),
        DeliveryRecord(make_alert(2), delivered_at=first, detail="HTTP 200", attempts=3),
    ]
    assert ids_of(await store.recent_deliveries(clock.now, limit=2)) == ["alert-003", "alert-001"]
    assert await store.recent_deliveries(clock.now, limit=0) == []
    assert ids(await store.pending()) == ["alert-004"]


def ids_of(records: list[DeliveryRecord]) -> list[str]:
    return [r.alert.id for r in records]


async def test_recent_deliveries_drop_expired_records(
    store: StateStore, clock: FrozenClock
) -> None:
    await store.enqueue([make_alert(1), make_alert(2)], clock.now)
    await store.claim_due(clock.now, lease=30, limit=10)
    await store.ack("alert-001", clock.now, detail="ok", retention=100)
    await store.ack("alert-002", clock.now, detail="ok", retention=1000)
    clock.advance(99.5)
    assert ids_of(await store.recent_deliveries(clock.now, 10)) == ["alert-002", "alert-001"]
    clock.advance(0.5)  # alert-001's record ends exactly now
    assert ids_of(await store.recent_deliveries(clock.now, 10)) == ["alert-002"]
    # A later ack (which may purge or trim) changes nothing about what is listed.
    await store.enqueue([make_alert(3)], clock.now)
    await store.claim_due(clock.now, lease=30, limit=10)
    await store.ack("alert-003", clock.now, detail="ok", retention=1000)
    assert ids_of(await store.recent_deliveries(clock.now, 10)) == ["alert-003", "alert-002"]
    # The expired delivered record no longer blocks enqueueing, the live one does.
    assert await store.enqueue([make_alert(1), make_alert(2)], clock.now) == 1


async def test_ack_of_an_id_not_in_the_outbox(store: StateStore, clock: FrozenClock) -> None:
    await store.ack("alert-404", clock.now, detail="ok", retention=DAY)
    assert await store.is_delivered("alert-404", clock.now)  # recorded, so never enqueued again
    assert await store.enqueue([make_alert(404)], clock.now) == 0
    assert await store.recent_deliveries(clock.now, 10) == []  # but there is no alert to list

    # Acked twice (a second worker after a lease ran out): alert and attempts are kept.
    await store.enqueue([make_alert(1)], clock.now)
    claims = await claim(store, clock)
    await store.retry_later("alert-001", clock.now, error="timeout", claim=claims["alert-001"])
    await store.claim_due(clock.now, lease=30, limit=10)
    await store.ack("alert-001", clock.now, detail="HTTP 200", retention=DAY)
    clock.advance(40)
    await store.ack("alert-001", clock.now, detail="HTTP 200 again", retention=DAY)
    assert await store.recent_deliveries(clock.now, 10) == [
        DeliveryRecord(make_alert(1), delivered_at=clock.now, detail="HTTP 200 again", attempts=2)
    ]
    assert await store.pending() == []


# -- dead letters: requeue ----------------------------------------------------------


async def test_requeue_moves_a_dead_letter_back(store: StateStore, clock: FrozenClock) -> None:
    await store.enqueue([make_alert(1), make_alert(2)], clock.now)
    claims = await claim(store, clock)
    await store.retry_later("alert-001", clock.now, error="HTTP 500", claim=claims["alert-001"])
    claims = await claim(store, clock)
    await store.dead_letter("alert-001", clock.now, "HTTP 410 Gone", claim=claims["alert-001"])
    clock.advance(3600)

    assert await store.requeue("alert-001", clock.now)
    assert await store.dead_letters() == []
    assert await store.pending() == [
        OutboxEntry(make_alert(2), attempts=0, due_at=clock.now - 3570),  # its lease end
        OutboxEntry(make_alert(1), attempts=0, due_at=clock.now, last_error="HTTP 410 Gone"),
    ]
    assert ids(await store.claim_due(clock.now - 1, lease=30, limit=10)) == ["alert-002"]
    [again] = await store.claim_due(clock.now, lease=30, limit=10)  # due from the requeue on
    assert (again.alert, again.attempts, again.last_error) == (make_alert(1), 0, "HTTP 410 Gone")

    assert not await store.requeue("alert-001", clock.now)  # in the outbox, not dead
    assert not await store.requeue("alert-404", clock.now)
    assert await store.enqueue([make_alert(1)], clock.now) == 0  # still idempotent


async def test_requeued_alert_is_delivered_or_dies_again(
    store: StateStore, clock: FrozenClock
) -> None:
    await store.enqueue([make_alert(1), make_alert(2)], clock.now)
    claims = await claim(store, clock)
    await store.dead_letter("alert-001", clock.now, error="HTTP 404", claim=claims["alert-001"])
    await store.dead_letter("alert-002", clock.now, error="HTTP 404", claim=claims["alert-002"])
    assert await store.requeue_all_dead(clock.now) == 2
    # The requeue dropped the old claim: it no longer fences anything.
    assert not await store.dead_letter("alert-002", clock.now, "x", claim=claims["alert-002"])
    claims = await claim(store, clock)
    await store.ack("alert-001", clock.now, detail="HTTP 200", retention=DAY)
    await store.dead_letter("alert-002", clock.now, error="HTTP 403", claim=claims["alert-002"])
    assert await store.recent_deliveries(clock.now, 10) == [
        DeliveryRecord(make_alert(1), delivered_at=clock.now, detail="HTTP 200", attempts=1)
    ]
    assert await store.dead_letters() == [
        OutboxEntry(make_alert(2), attempts=1, due_at=clock.now, last_error="HTTP 403")
    ]
    assert not await store.requeue("alert-001", clock.now)  # delivered, not dead


async def test_requeue_all_dead(store: StateStore, clock: FrozenClock) -> None:
    assert await store.requeue_all_dead(clock.now) == 0
    await store.enqueue([make_alert(n) for n in (1, 2, 3, 4)], clock.now)
    claims = await claim(store, clock)
    for n in (3, 1, 2):
        alert_id = f"alert-00{n}"
        await store.dead_letter(alert_id, clock.now, error=f"error {n}", claim=claims[alert_id])
        clock.advance(1)
    assert await store.requeue_all_dead(clock.now) == 3
    assert await store.dead_letters() == []
    pending = await store.pending()
    assert [(e.alert.id, e.attempts, e.due_at, e.last_error) for e in pending] == [
        ("alert-001", 0, clock.now, "error 1"),
        ("alert-002", 0, clock.now, "error 2"),
        ("alert-003", 0, clock.now, "error 3"),
        ("alert-004", 0, clock.now - 3 + 30, ""),  # untouched: still claimed
    ]
    assert await store.requeue_all_dead(clock.now) == 0


async def test_concurrent_requeues_move_each_dead_letter_once(
    backend: Backend, clock: FrozenClock
) -> None:
    handles = [await backend.open(), await backend.open()]
    await handles[0].enqueue([make_alert(n) for n in range(10)], clock.now)
    claims = await claim(handles[0], clock)
    for alert_id, token in claims.items():
        await handles[0].dead_letter(alert_id, clock.now, error="x", claim=token)
    one = await asyncio.gather(*(handles[i % 2].requeue("alert-000", clock.now) for i in range(8)))
    assert sum(one) == 1
    every = await asyncio.gather(*(handles[i % 2].requeue_all_dead(clock.now) for i in range(4)))
    assert sum(every) == 9
    assert len(await handles[1].pending()) == 10
    assert await handles[1].dead_letters() == []


# -- persistence and isolation ---------------------------------------------------------


@pytest.mark.parametrize("backend", PERSISTENT, indirect=True)
async def test_state_survives_reopening(backend: Backend, clock: FrozenClock) -> None:
    store = await backend.open()
    state = FeedState(FeedValidators(etag='"v1"'), first_polled_at=clock.now, last_success_at=1.5)
    await store.put_feed_state("feed-1", state)
    await store.mark_seen(["id:seen"], clock.now, retention=DAY)
    assert await store.claim_article(["id:claimed"], clock.now, lease=600)
    await store.enqueue([make_alert(n) for n in (1, 2, 3)], clock.now)
    claims = await claim(store, clock, lease=600, limit=2)
    await store.ack("alert-001", clock.now, detail="ok", retention=DAY)
    await store.dead_letter("alert-002", clock.now, error="gone", claim=claims["alert-002"])
    await store.close()
    delivered = [DeliveryRecord(make_alert(1), delivered_at=clock.now, detail="ok", attempts=1)]

    reopened = await backend.open()
    assert await reopened.get_feed_state("feed-1") == state
    assert await reopened.is_seen("id:seen", clock.now)
    assert not await reopened.claim_article(["id:claimed"], clock.now, lease=600)
    assert await reopened.is_delivered("alert-001", clock.now)
    assert await reopened.pending() == [OutboxEntry(make_alert(3), attempts=0, due_at=clock.now)]
    assert await reopened.dead_letters() == [
        OutboxEntry(make_alert(2), attempts=1, due_at=clock.now, last_error="gone")
    ]
    assert await reopened.recent_deliveries(clock.now, limit=10) == delivered
    assert await reopened.requeue("alert-002", clock.now)


async def test_redis_keys_stay_under_the_prefix(clock: FrozenClock) -> None:
    client = fakeredis.FakeAsyncRedis()
    store, other = RedisStore(client, prefix="nm"), RedisStore(client, prefix="other")
    try:
        await store.put_feed_state("feed-1", FeedState())
        await store.mark_seen(["id:a"], clock.now, retention=DAY)
        await store.claim_article(["id:b"], clock.now, lease=60)
        await store.enqueue([make_alert(1), make_alert(2), make_alert(3)], clock.now)
        claims = await claim(store, clock, lease=60)
        await store.ack("alert-001", clock.now, detail="ok", retention=DAY)
        assert await store.retry_later("alert-002", clock.now, error="x", claim=claims["alert-002"])
        assert await store.dead_letter("alert-003", clock.now, error="x", claim=claims["alert-003"])
        await store.requeue("alert-003", clock.now)
        await store.reserve_send("slack", clock.now, 1.0)
        assert not await client.hexists(store.keys.alerts, "alert-001")  # acked: data dropped
        assert await client.zcard(store.keys.delivered_log) == 1
        assert await other.recent_deliveries(clock.now, 10) == []
        assert await other.pending() == []
        assert await other.dead_letters() == []
        assert not await other.is_seen("id:a", clock.now)
        keys = {k.decode() if isinstance(k, bytes) else k for k in await client.keys("*")}
        assert len(keys) >= 8
        assert all(k.startswith("nm:") for k in keys), keys
    finally:
        await client.aclose()


async def test_redis_delivered_log_is_bounded(clock: FrozenClock) -> None:
    client = fakeredis.FakeAsyncRedis()
    store = RedisStore(client, prefix="nm", delivered_log_limit=3)
    try:
        await store.enqueue([make_alert(n) for n in range(1, 6)], clock.now)
        await store.claim_due(clock.now, lease=30, limit=10)
        for n in range(1, 6):
            await store.ack(f"alert-00{n}", clock.now, detail="ok", retention=100)
            clock.advance(1)
        assert await client.zcard(store.keys.delivered_log) == 3
        recent = await store.recent_deliveries(clock.now, limit=10)
        assert ids_of(recent) == ["alert-005", "alert-004", "alert-003"]
        assert await store.is_delivered("alert-001", clock.now)  # only the listing is bounded

        clock.advance(200)  # every record has expired; the next ack drops them from the log
        await store.ack("alert-404", clock.now, detail="ok", retention=100)  # no alert: not logged
        assert await client.zcard(store.keys.delivered_log) == 0
    finally:
        await client.aclose()


async def test_sqlite_upgrades_a_file_of_the_first_release(
    tmp_path: Path, clock: FrozenClock
) -> None:
    path = tmp_path / FILE_NAME
    with sqlite3.connect(path) as db:  # the delivered table as the first release wrote it
        db.execute(
            "CREATE TABLE delivered (id TEXT PRIMARY KEY, until REAL NOT NULL,"
            " delivered_at REAL NOT NULL, detail TEXT NOT NULL)"
        )
        db.execute("INSERT INTO delivered VALUES ('alert-009', ?, ?, 'ok')", (clock.now + DAY, 0))
        db.execute(  # the outbox before claim tokens
            "CREATE TABLE outbox (id TEXT PRIMARY KEY, alert TEXT NOT NULL,"
            " attempts INTEGER NOT NULL DEFAULT 0, due_at REAL NOT NULL,"
            " last_error TEXT NOT NULL DEFAULT '')"
        )
        db.execute(
            "INSERT INTO outbox (id, alert, due_at) VALUES ('alert-002', ?, ?)",
            (encode_alert(make_alert(2)), clock.now),
        )
    db.close()
    stores = [await SqliteStore.open(path), await SqliteStore.open(path)]  # migrating twice is fine
    try:
        store = stores[0]
        assert await store.is_delivered("alert-009", clock.now)
        await store.enqueue([make_alert(1)], clock.now)
        claims = await claim(store, clock)
        assert await store.retry_later(
            "alert-002", clock.now, "HTTP 503", claim=claims["alert-002"]
        )
        await store.ack("alert-001", clock.now, detail="HTTP 200", retention=DAY)
        assert ids_of(await stores[1].recent_deliveries(clock.now, 10)) == ["alert-001"]
        assert [(e.alert.id, e.attempts) for e in await stores[1].pending()] == [("alert-002", 1)]
    finally:
        for store in stores:
            await store.close()


async def test_sqlite_purges_expired_rows(tmp_path: Path, clock: FrozenClock) -> None:
    path = tmp_path / FILE_NAME
    store = await SqliteStore.open(path)
    try:
        await store.mark_seen(["id:old"], clock.now, retention=100)
        await store.claim_article(["id:crashed"], clock.now, lease=30)
        await store.enqueue([make_alert(1)], clock.now)
        await store.ack("alert-001", clock.now, detail="ok", retention=100)
        clock.advance(3600)
        await store.mark_seen(["id:new"], clock.now, retention=100)
        await store.ack("alert-002", clock.now, detail="ok", retention=100)
        with sqlite3.connect(path) as db:
            assert db.execute("SELECT key FROM marks").fetchall() == [("id:new",)]
            assert db.execute("SELECT id FROM delivered").fetchall() == [("alert-002",)]
    finally:
        await store.close()


async def test_sqlite_unopenable_file_raises_store_error(tmp_path: Path) -> None:
    with pytest.raises(StoreError, match="sqlite"):
        await SqliteStore.open(tmp_path / "missing-dir" / FILE_NAME)


# -- errors --------------------------------------------------------------------------


@pytest.mark.redis
async def test_more_callers_than_connections_wait_instead_of_failing(
    redis_server_url: str, redis_prefix: str, clock: FrozenClock
) -> None:
    store = RedisStore.from_url(redis_server_url, redis_prefix, max_connections=2)
    try:
        await store.put_feed_state("feed-1", FeedState(consecutive_failures=3))
        states = await asyncio.gather(*(store.get_feed_state("feed-1") for _ in range(200)))
        assert {s.consecutive_failures for s in states if s is not None} == {3}
        assert len(states) == 200
    finally:
        await _delete_prefix(redis_server_url, redis_prefix)
        await store.close()


async def test_dead_redis_raises_store_error_without_the_password(clock: FrozenClock) -> None:
    store = RedisStore.from_url(f"redis://:hunter2@127.0.0.1:{free_port()}/0", "nm")
    try:
        calls: list[Callable[[], Awaitable[object]]] = [
            store.ping,
            lambda: store.claim_due(clock.now, 30, 10),
            lambda: store.is_seen("k", clock.now),
        ]
        for call in calls:
            with pytest.raises(StoreError) as info:
                await call()
            assert "hunter2" not in str(info.value)
            assert isinstance(info.value.__cause__, RedisConnectionError)
    finally:
        await store.close()


class _LeakyClient(aioredis.Redis):
    """A client whose every command fails with a message that quotes the password."""

    async def execute_command(self, *args: Any, **options: Any) -> Any:
        password = self.connection_pool.connection_kwargs["password"]
        raise RedisConnectionError(f"cannot reach redis://:{password}@db:6379")


async def test_redis_error_messages_redact_the_password(clock: FrozenClock) -> None:
    client = _LeakyClient(host="db", password="hunter2")
    store = RedisStore(client)
    with pytest.raises(StoreError, match=r"redis enqueue failed") as info:
        await store.enqueue([make_alert(1)], clock.now)
    assert "hunter2" not in str(info.value)
    assert "**********" in str(info.value)
    await client.aclose()


# -- factory ----------------------------------------------------------------------------


async def test_open_store_without_redis_url_uses_sqlite(tmp_path: Path) -> None:
    data_dir = tmp_path / "nested" / "data"
    store = await open_store(Settings(_env_file=None, data_dir=data_dir, redis_url=None))
    try:
        assert isinstance(store, SqliteStore)
        assert (data_dir / FILE_NAME).is_file()
    finally:
        await store.close()


async def test_open_store_with_redis_url_uses_redis() -> None:
    settings = Settings(
        _env_file=None, redis_url="redis://:pw@127.0.0.1:1/0", redis_prefix="deploy-a"
    )
    store = await open_store(settings)
    try:
        assert isinstance(store, RedisStore)
        assert store.keys.outbox == "deploy-a:outbox"
    finally:
        await store.close()


# -- stories ----------------------------------------------------------------------------


def sketch(*values: int) -> bytes:
    """A bottom-k sketch of these 32-bit values."""
    ordered = sorted(set(values))
    return struct.pack(f">{len(ordered)}I", *ordered)


#: A story's fingerprint: bands b1..b3, the sketch {1..10}, anchored on "drone".
PROBE = StoryProbe(("b1", "b2", "b3"), sketch(*range(1, 11)), ("drone", "iran"))


def member(article_id: str, feed_id: str = "feed-1", at: float = 0.0) -> StoryMember:
    return StoryMember(article_id, feed_id, f"https://{feed_id}.example/{article_id}", "T", at)


async def test_assign_story_starts_then_joins(store: StateStore, clock: FrozenClock) -> None:
    first = await store.assign_story(member("a", "reuters"), PROBE, 0.5, clock.now, DAY)
    assert (first.story_id, first.is_new, first.until) == ("a", True, clock.now + DAY)
    assert first.members == (member("a", "reuters"),)
    clock.advance(60)
    # Shares band b3 only, 8 of the 12 words of the union: 0.67 >= 0.5.
    copy = StoryProbe(("x1", "x2", "b3"), sketch(*range(3, 13)), ("iran",))
    second = await store.assign_story(member("b", "ap", clock.now), copy, 0.5, clock.now, DAY)
    assert (second.story_id, second.is_new, second.until) == ("a", False, first.until)
    assert second.members == (member("a", "reuters"), member("b", "ap", clock.now))
    third = await store.assign_story(member("c", "reuters", clock.now), PROBE, 0.5, clock.now, DAY)
    assert third.outlets == ("reuters", "ap")
    assert [m.article_id for m in third.members] == ["a", "b", "c"]
    story = await store.get_story("a", clock.now)
    assert story is not None and story.members == third.members and not story.is_new
    assert await store.get_story("b", clock.now) is None  # b joined a; it is no story


async def test_assign_story_is_idempotent_per_article(
    store: StateStore, clock: FrozenClock
) -> None:
    await store.assign_story(member("a"), PROBE, 0.5, clock.now, DAY)
    await store.assign_story(member("b", "ap"), PROBE, 0.5, clock.now, DAY)
    again_a = await store.assign_story(member("a"), PROBE, 0.5, clock.now, DAY)
    again_b = await store.assign_story(member("b", "ap"), PROBE, 0.5, clock.now, DAY)
    assert (again_a.story_id, again_a.is_new) == ("a", True)
    assert (again_b.story_id, again_b.is_new) == ("a", False)
    assert [m.article_id for m in again_b.members] == ["a", "b"]
    # Even with another fingerprint (an edited article keeps its id): its story is kept.
    other = StoryProbe(("z",), sketch(99), ())
    assert (await store.assign_story(member("b", "ap"), other, 0.5, clock.now, DAY)).story_id == "a"


async def test_assign_story_needs_band_similarity_and_anchor(
    store: StateStore, clock: FrozenClock
) -> None:
    await store.assign_story(member("a"), PROBE, 0.5, clock.now, DAY)
    cases = {
        # Same sketch and anchors, but no band in common: not a candidate.
        "no-band": StoryProbe(("b9",), PROBE.sketch, PROBE.anchors),
        # Band shared, 5 of 15 words in common: 0.33 < 0.5.
        "dissimilar": StoryProbe(("b1",), sketch(*range(6, 21)), PROBE.anchors),
        # Band and sketch shared, but the titles have no anchor in common.
        "other-title": StoryProbe(("b1",), PROBE.sketch, ("football",)),
    }
    for article_id, probe in cases.items():
        got = await store.assign_story(member(article_id), probe, 0.5, clock.now, DAY)
        assert (got.story_id, got.is_new) == (article_id, True), article_id
    # No anchors on either side: anchors are not required.
    await store.assign_story(
        member("bare"), StoryProbe(("q",), sketch(1, 2, 3), ()), 0.5, clock.now, DAY
    )
    joined = await store.assign_story(
        member("bare2"), StoryProbe(("q",), sketch(1, 2, 3), ("x",)), 0.5, clock.now, DAY
    )
    assert joined.story_id == "bare"
    # The threshold is inclusive: 5 of the 10 words of the union shared is exactly 0.5.
    half = StoryProbe(("b2",), sketch(1, 2, 3, 4, 5), ("drone",))
    got = await store.assign_story(member("half"), half, 0.5, clock.now, DAY)
    assert got.story_id == "a"


async def test_assign_story_picks_the_most_similar_then_the_oldest(
    store: StateStore, clock: FrozenClock
) -> None:
    await store.assign_story(
        member("old"), StoryProbe(("b",), sketch(*range(1, 11)), ()), 0.5, clock.now, DAY
    )
    clock.advance(10)
    await store.assign_story(
        member("new"), StoryProbe(("c",), sketch(*range(1, 9), 50, 51), ()), 0.5, clock.now, DAY
    )
    # Closer to "new" (10/10) than to "old" (8/12).
    probe = StoryProbe(("b", "c"), sketch(*range(1, 9), 50, 51), ())
    assert (await store.assign_story(member("x"), probe, 0.5, clock.now, DAY)).story_id == "new"
    # Equally close to both (8 of 12 with each): the story whose window ends first wins.
    probe = StoryProbe(("c", "b"), sketch(*range(1, 9), 60, 61), ())
    assert (await store.assign_story(member("y"), probe, 0.5, clock.now, DAY)).story_id == "old"
    # Same similarity, same end: the smallest id (code point order) wins.
    for story_id in ("zeta", "Zeta", "éta"):
        await store.assign_story(
            member(story_id), StoryProbe((story_id,), sketch(7, 8, 9, 10), ()), 0.5, clock.now, DAY
        )
    probe = StoryProbe(("éta", "zeta", "Zeta"), sketch(7, 8, 9, 10), ())
    assert (await store.assign_story(member("z"), probe, 0.5, clock.now, DAY)).story_id == "Zeta"
    probe = StoryProbe(("éta", "zeta"), sketch(7, 8, 9, 10), ())
    assert (await store.assign_story(member("w"), probe, 0.5, clock.now, DAY)).story_id == "zeta"


async def test_story_window_ends(store: StateStore, clock: FrozenClock) -> None:
    await store.assign_story(member("a"), PROBE, 0.5, clock.now, 100)
    clock.advance(99.5)
    assert (await store.assign_story(member("b"), PROBE, 0.5, clock.now, 100)).story_id == "a"
    clock.advance(0.5)  # the window has ended exactly now
    assert await store.get_story("a", clock.now) is None
    later = await store.assign_story(member("c"), PROBE, 0.5, clock.now, 100)
    assert (later.story_id, later.is_new, later.members) == ("c", True, (member("c"),))
    # An article of the ended story is assigned afresh (it starts a story of its own).
    again = await store.assign_story(
        member("b"), StoryProbe(("q",), PROBE.sketch), 0.5, clock.now, 100
    )
    assert (again.story_id, again.is_new) == ("b", True)


async def test_story_lists_at_most_max_members(store: StateStore, clock: FrozenClock) -> None:
    for n in range(MAX_STORY_MEMBERS + 3):
        got = await store.assign_story(member(f"a{n:03d}"), PROBE, 0.5, clock.now, DAY)
        assert got.story_id == "a000"
    assert len(got.members) == MAX_STORY_MEMBERS
    again = await store.assign_story(
        member(f"a{MAX_STORY_MEMBERS + 1:03d}"), PROBE, 0.5, clock.now, DAY
    )
    assert again.story_id == "a000"  # not listed, but still remembered as a member


async def test_concurrent_copies_start_one_story(backend: Backend, clock: FrozenClock) -> None:
    handles = [await backend.open(), await backend.open()]
    results = await asyncio.gather(
        *(
            handles[i % 2].assign_story(
                member(f"copy-{i:02d}", f"feed-{i}"), PROBE, 0.5, clock.now, DAY
            )
            for i in range(20)
        )
    )
    assert sum(r.is_new for r in results) == 1
    assert len({r.story_id for r in results}) == 1
    story = await handles[0].get_story(results[0].story_id, clock.now)
    assert story is not None and len(story.members) == 20
    assert len(story.outlets) == 20


async def test_ended_stories_are_purged(tmp_path: Path, clock: FrozenClock) -> None:
    path = tmp_path / FILE_NAME
    sqlite_store = await SqliteStore.open(path)
    client = fakeredis.FakeAsyncRedis()
    redis_store = RedisStore(client, prefix="nm")
    try:
        for store in (sqlite_store, redis_store):
            await store.assign_story(member("old"), PROBE, 0.5, clock.now, 100)
            await store.assign_story(member("old-copy"), PROBE, 0.5, clock.now, 100)
        clock.advance(3600)
        for store in (sqlite_store, redis_store):
            await store.assign_story(member("new"), PROBE, 0.5, clock.now, 100)
        with sqlite3.connect(path) as db:
            assert db.execute("SELECT id FROM stories").fetchall() == [("new",)]
            assert db.execute("SELECT DISTINCT story_id FROM story_bands").fetchall() == [("new",)]
            assert db.execute("SELECT article_id FROM story_articles").fetchall() == [("new",)]
        keys = redis_store.keys
        assert await client.zrange(keys.story_until, 0, -1) == [b"new"]
        for name in (keys.story_sketch, keys.story_anchors, keys.story_members):
            assert await client.hkeys(name) == [b"new"]
        assert await client.zrange(keys.story_band("b1"), 0, -1) == [b"new"]
        assert 0 < await client.pttl(keys.story_band("b1")) <= 100_000 + 60_000
    finally:
        await sqlite_store.close()
        await client.aclose()
