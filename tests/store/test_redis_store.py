"""What only the Redis backend does: its key layout, its bounded delivery log, its errors.

The contract itself is checked on Redis by the role files (fakeredis and a real server).
"""

from __future__ import annotations

import asyncio
import struct
from collections.abc import Awaitable, Callable
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

import fakeredis
import pytest
import redis.asyncio as aioredis
from redis.exceptions import ConnectionError as RedisConnectionError
from structlog.testing import capture_logs

from monitor.errors import StoreError
from monitor.model import (
    ArchivedArticle,
    Article,
    ClaimResult,
    DeliveryRecord,
    FeedState,
    OutboxEntry,
    OutboxSummary,
    StoryAssignment,
    StoryMember,
    StoryProbe,
)
from monitor.store.codec import encode_alert, encode_archived_article, encode_feed_state
from monitor.store.redis import TTL_GRACE_MS, RedisStore
from tests.conftest import FrozenClock, free_port
from tests.store.support import DAY, Backend, claim, delete_prefix, ids_of, make_alert

#: The Redis backends of the store suite (``tests/store/support.py``).
REDIS = [
    "fakeredis",
    pytest.param("redis", marks=pytest.mark.redis),
    pytest.param("cluster", marks=pytest.mark.redis),
]


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
        await store.archive_articles([_archived(1, clock.now, "s")], clock.now, DAY, 10)
        await store.set_rule_fingerprints({"r1": "f1"})
        assert await other.archived_articles(0) == []
        assert await other.rule_fingerprints() == {}
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


async def test_redis_reads_records_written_in_the_stored_layout(clock: FrozenClock) -> None:
    """Records written by hand in the key layout of ``redis_keys`` (what earlier versions
    wrote) load: key names and value formats are the on-server format and must not change."""
    client = fakeredis.FakeAsyncRedis()
    store = RedisStore(client, prefix="p")
    now, alert = clock.now, make_alert(1)
    until = repr(now + DAY)
    try:
        await client.set("p:feed:feed-1", encode_feed_state(FeedState(consecutive_failures=2)))
        await client.set("p:article:id:a", f"seen {until}")
        await client.set("p:article:id:b", f"claim {until}")
        await client.zadd("p:outbox", {"alert-001": now})
        await client.hset("p:alert", mapping={"alert-001": encode_alert(alert)})
        await client.hset("p:attempts", mapping={"alert-001": 2})
        await client.hset("p:error", mapping={"alert-001": "HTTP 503"})
        await client.zadd("p:dead", {"alert-002": now})
        await client.hset("p:alert", mapping={"alert-002": encode_alert(make_alert(2))})
        await client.hset("p:attempts", mapping={"alert-002": 5})
        await client.hset("p:error", mapping={"alert-002": "HTTP 410"})
        await client.hset(
            "p:delivered:alert-003",
            mapping={
                "until": until,
                "at": repr(now),
                "detail": "HTTP 200",
                "alert": encode_alert(make_alert(3)),
                "attempts": 1,
            },
        )
        await client.zadd("p:delivered_log", {"alert-003": now})
        await client.set("p:send_slot:slack", repr(now + 30))
        await client.zadd("p:story_until", {"s1": now + DAY})
        await client.hset("p:story_sketch", mapping={"s1": struct.pack(">3I", 1, 2, 3)})
        await client.hset("p:story_anchors", mapping={"s1": "drone\niran"})
        line = '["s1","feed-1","https://x/s1","Title",1800000000.0]'
        await client.hset("p:story_members", mapping={"s1": line})
        await client.set("p:story_article:s1", "s1")
        await client.zadd("p:story_band:b1", {"s1": now + DAY})

        assert await store.get_feed_state("feed-1") == FeedState(consecutive_failures=2)
        assert await store.is_seen("id:a", now)
        assert await store.claim_articles([["id:a"], ["id:b"]], now, 60) == [
            ClaimResult.SEEN,
            ClaimResult.BUSY,
        ]
        assert await store.pending() == [OutboxEntry(alert, 2, now, "HTTP 503")]
        assert await store.dead_letters() == [OutboxEntry(make_alert(2), 5, now, "HTTP 410")]
        # No index of created times in that layout: the summary builds it (alert-002 too,
        # dead but indexed all the same).
        created = alert.created_at.timestamp()
        assert await store.outbox_summary() == OutboxSummary(1, 1, created)
        assert await client.zrange("p:outbox_born", 0, -1, withscores=True) == [
            (b"alert-001", created),
            (b"alert-002", created),
        ]
        assert await store.is_delivered("alert-003", now)
        assert await store.recent_deliveries(now, 10) == [
            DeliveryRecord(make_alert(3), now, "HTTP 200", 1)
        ]
        assert await store.reserve_send("slack", now, 1.0) == now + 30
        member = StoryMember("s1", "feed-1", "https://x/s1", "Title", 1800000000.0)
        assert await store.get_story("s1", now) == StoryAssignment(
            "s1", False, (member,), now + DAY
        )
        probe = StoryProbe(("b1",), struct.pack(">3I", 1, 2, 3), ("iran",))
        joined = await store.assign_story(StoryMember("s2", "feed-2"), probe, 0.5, now, DAY)
        assert (joined.story_id, [m.article_id for m in joined.members]) == ("s1", ["s1", "s2"])
    finally:
        await client.aclose()


async def test_redis_stories_of_the_previous_version_index_their_later_members(
    clock: FrozenClock,
) -> None:
    """A story written with its first article's fingerprint only (the previous version's
    layout) is joined, then found through the member that joined it; a later member's
    fingerprint written by hand in the current layout (4-byte big-endian length + sketch,
    length + anchors, in ``story_fingerprints``, live while ``story_fingerprints_until``
    says so) is found through its band."""
    client = fakeredis.FakeAsyncRedis()
    store = RedisStore(client, prefix="p")
    now, until = clock.now, clock.now + DAY

    def words(*values: int) -> bytes:
        return struct.pack(f">{len(values)}I", *values)

    try:
        for story_id in ("s1", "t1"):
            await client.zadd("p:story_until", {story_id: until})
            await client.hset("p:story_sketch", mapping={story_id: words(*range(1, 11))})
            await client.hset("p:story_anchors", mapping={story_id: "quake\nchile"})
            line = f'["{story_id}","feed-1","https://x/{story_id}","Title",1800000000.0]'
            await client.hset("p:story_members", mapping={story_id: line})
            await client.set(f"p:story_article:{story_id}", story_id)
            await client.zadd(f"p:story_band:{story_id}", {story_id: until})
        # s1: the previous version's layout. Its second article joins through the first
        # (7 of 13) and is indexed; a reprint of it (9 of 11; 6 of 14 with the first)
        # joins through it.
        second = StoryProbe(("s1", "b2"), words(*range(4, 14)), ("quake",))
        joined = await store.assign_story(StoryMember("s2", "feed-2"), second, 0.5, now, DAY)
        assert joined.story_id == "s1"
        record = struct.pack(">I", 40) + words(*range(4, 14)) + struct.pack(">I", 5) + b"quake"
        assert await client.hget("p:story_fingerprints", "s1") == record
        assert await client.zscore("p:story_fingerprints_until", "s1") == until
        reprint = StoryProbe(("b2",), words(*range(5, 15)), ("quake",))
        got = await store.assign_story(StoryMember("s3", "feed-3"), reprint, 0.5, now, DAY)
        assert [m.article_id for m in got.members] == ["s1", "s2", "s3"]
        # t1: a later member's fingerprint in the current layout, found through band t2.
        later = (
            struct.pack(">I", 40) + words(*range(4, 14)) + struct.pack(">I", 11) + b"chile\nmine"
        )
        await client.hset("p:story_fingerprints", mapping={"t1": later})
        await client.zadd("p:story_fingerprints_until", {"t1": until})
        await client.zadd("p:story_band:t2", {"t1": until})
        probe = StoryProbe(("t2",), words(*range(5, 15)), ("chile",))
        got = await store.assign_story(StoryMember("t3", "feed-3"), probe, 0.5, now, DAY)
        assert (got.story_id, got.is_new) == ("t1", False)
        # ... unless the record belongs to an ended story: then it is not counted.
        await client.zadd("p:story_fingerprints_until", {"t1": now - 1})
        probe = StoryProbe(("t2",), words(*range(5, 15)), ("chile",))
        got = await store.assign_story(StoryMember("t4", "feed-3"), probe, 0.5, now, DAY)
        assert (got.story_id, got.is_new) == ("t4", True)
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


# -- the outbox's index of created times ------------------------------------------------


async def _index_in_step(store: RedisStore) -> bool:
    """Whether ``outbox_born`` holds as many alerts as the outbox and the dead letters."""
    k, client = store.keys, store._client
    indexed = await client.zcard(k.outbox_born)
    return bool(indexed == await client.zcard(k.outbox) + await client.zcard(k.dead))


@pytest.mark.parametrize("backend", REDIS, indirect=True)
async def test_redis_outbox_index_follows_every_change(
    backend: Backend, clock: FrozenClock
) -> None:
    """Each outbox script keeps ``outbox_born`` in step, so no summary ever rebuilds it."""
    store = await backend.open()
    assert isinstance(store, RedisStore)
    with capture_logs() as events:
        await store.enqueue([make_alert(n) for n in range(1, 6)], clock.now)
        assert await _index_in_step(store)
        claims = await claim(store, clock)
        await store.retry_later("alert-001", clock.now, "HTTP 503", claim=claims["alert-001"])
        await store.defer("alert-002", clock.now, claim=claims["alert-002"])
        await store.dead_letter("alert-003", clock.now, "HTTP 404", claim=claims["alert-003"])
        await store.dead_letter("alert-004", clock.now, "HTTP 404", claim=claims["alert-004"])
        await store.ack("alert-005", clock.now, "HTTP 200", DAY)
        await store.ack("alert-404", clock.now, "HTTP 200", DAY)  # never queued
        assert await _index_in_step(store)
        await store.requeue("alert-003", clock.now)
        await store.ack("alert-003", clock.now, "HTTP 200", DAY)
        await store.requeue_all_dead(clock.now)
        assert await _index_in_step(store)
        assert (await store.outbox_summary()).pending == 3
    assert "outbox_index_rebuilt" not in [e["event"] for e in events]


@pytest.mark.parametrize("backend", REDIS, indirect=True)
async def test_redis_outbox_written_without_its_index_is_summed_up_after_a_rebuild(
    backend: Backend, clock: FrozenClock
) -> None:
    """An outbox written before ``outbox_born`` existed (deleted here) is indexed anew from
    its alerts at the first summary, once; one that lost a member (an older replica's
    enqueue, during an upgrade) likewise."""
    store = await backend.open()
    assert isinstance(store, RedisStore)
    start = datetime(2027, 1, 15, 8, 0, tzinfo=UTC)
    alerts = [replace(make_alert(n), created_at=start + timedelta(seconds=n)) for n in range(1, 6)]
    await store.enqueue(alerts, clock.now)
    claims = await claim(store, clock)
    await store.dead_letter("alert-001", clock.now, "HTTP 404", claim=claims["alert-001"])
    await store.ack("alert-005", clock.now, "HTTP 200", DAY)
    await store._client.delete(store.keys.outbox_born)
    expected = OutboxSummary(3, 1, alerts[1].created_at.timestamp())  # the oldest is dead

    with capture_logs() as events:
        assert await store.outbox_summary() == expected
        assert await store.outbox_summary() == expected  # from the index: no second rebuild
    rebuilt = [e for e in events if e["event"] == "outbox_index_rebuilt"]
    assert rebuilt == [{"event": "outbox_index_rebuilt", "alerts": 4, "log_level": "info"}]
    assert await _index_in_step(store)

    await store._client.zrem(store.keys.outbox_born, "alert-002")
    with capture_logs() as events:
        assert await store.outbox_summary() == expected
    assert [e["event"] for e in events] == ["outbox_index_rebuilt"]
    assert await _index_in_step(store)


# -- errors ----------------------------------------------------------------------------


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
        await delete_prefix(redis_server_url, redis_prefix)
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


# -- archive ---------------------------------------------------------------------------


def _archived(n: int, at: float, story: str = "") -> ArchivedArticle:
    article = make_alert(n).article
    return ArchivedArticle(article, at, story)


async def test_redis_archive_keys_are_bounded_and_expire(clock: FrozenClock) -> None:
    client = fakeredis.FakeAsyncRedis()
    store = RedisStore(client, prefix="nm")
    k = store.keys
    try:
        for n in range(1, 11):  # ten writes, a bound of three
            await store.archive_articles([_archived(n, clock.now, "s")], clock.now, 3600, 3)
            clock.advance(1)
        assert await client.zcard(k.archive) == 3
        assert await client.hlen(k.archive_articles) == 3
        assert await client.hlen(k.archive_stories) == 3
        for key in (k.archive, k.archive_articles, k.archive_stories):
            ttl = await client.pttl(key)  # garbage collection if archiving stops
            assert 3_600_000 < ttl <= 3_600_000 + TTL_GRACE_MS

        clock.advance(3600)  # all of them too old: the next write leaves no key behind
        await store.archive_articles([], clock.now, 3600, 3)
        assert await client.exists(k.archive, k.archive_articles, k.archive_stories) == 0

        # Archiving off: no key is even created.
        await store.archive_articles([_archived(1, clock.now)], clock.now, 0, 3)
        assert await client.keys("*") == []
    finally:
        await client.aclose()


async def test_redis_reads_the_archive_in_its_stored_layout(clock: FrozenClock) -> None:
    """An archive written by hand in the layout of ``redis_keys`` loads: member
    ``<feed id>\\n<article id>`` by time in ``archive``, the article JSON in
    ``archive_article``, the story id in ``archive_story``; fingerprints in a hash."""
    client = fakeredis.FakeAsyncRedis()
    store = RedisStore(client, prefix="p")
    try:
        await client.zadd("p:archive", {"feed-1\nart-001": clock.now, "feed-2\nx": clock.now + 1})
        await client.hset(
            "p:archive_article",
            mapping={
                "feed-1\nart-001": encode_archived_article(make_alert(1).article),
                "feed-2\nx": '{"id":"x","feed_id":"feed-2","title":"Quake"}',
            },
        )
        await client.hset("p:archive_story", mapping={"feed-1\nart-001": "story-1"})
        await client.hset("p:rule_fingerprint", mapping={"r1": "abc"})
        assert await store.archived_articles(0) == [
            ArchivedArticle(make_alert(1).article, clock.now, "story-1"),
            ArchivedArticle(Article("x", "feed-2", "", "Quake", ""), clock.now + 1),
        ]
        assert await store.rule_fingerprints() == {"r1": "abc"}
    finally:
        await client.aclose()
