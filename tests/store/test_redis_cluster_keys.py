"""Every Redis key of a deployment is under its prefix and, with a hash-tagged prefix, in one
Cluster slot: what lets the store's multi-key scripts and transactions run on a Cluster.

Two checks: every key name :class:`~monitor.store.redis_keys.Keys` can make, and every key
a workload touching each role (scripts included, also the keys a script names itself from a
prefix it is given) leaves on the server. The contract suite also runs on a real
three-node Cluster (``tests/store/support.py``), where a script whose declared keys span
slots fails with CROSSSLOT.
"""

from __future__ import annotations

import inspect
import struct

import fakeredis

from monitor.model import (
    ArchivedArticle,
    Attempt,
    DisabledChannel,
    FeedState,
    HistoryQuery,
    Silence,
    StoryMember,
    StoryProbe,
)
from monitor.settings import redis_hash_tag
from monitor.store.redis import RedisStore
from monitor.store.redis_host_slots import RedisHostGate
from monitor.store.redis_keys import Keys
from monitor.store.websub import Subscription
from tests.conftest import FrozenClock
from tests.store.support import DAY, claim, make_alert

PREFIX = "{news-monitor}"
#: Arguments for each key-making method of Keys, by parameter name.
SAMPLES = {
    "feed_id": "feed-1",
    "article_id": "art{1}",  # a brace in a key's own part must not change its slot
    "key": "url:https://x.example/{a}",
    "alert_id": "alert-1",
    "channel": "slack",
    "band": "b1",
    "rule_id": "r1",
    "status": "pending",
    "hour": 481_000,
    "host": "feeds.example.com",
}


def every_key_name(keys: Keys) -> list[str]:
    names = [v for k, v in vars(keys).items() if k != "prefix" and isinstance(v, str)]
    for name, member in inspect.getmembers(type(keys)):
        if name.startswith("_") or name == "archive_member":  # a member, not a key
            continue
        if isinstance(member, property):
            names.append(getattr(keys, name))
        elif inspect.isfunction(member):
            params = list(inspect.signature(member).parameters)[1:]
            names.append(getattr(keys, name)(*(SAMPLES[p] for p in params)))
    return names


def test_every_key_name_is_under_the_prefix_and_its_hash_tag() -> None:
    names = every_key_name(Keys(PREFIX))
    assert len(names) >= 35  # the attributes, the properties and the methods
    assert all(n.startswith(PREFIX + ":") for n in names), names
    assert {redis_hash_tag(n) for n in names} == {"news-monitor"}


async def test_a_workload_of_every_role_leaves_keys_of_one_slot_only(clock: FrozenClock) -> None:
    client = fakeredis.FakeAsyncRedis()
    store = RedisStore(client, prefix=PREFIX)
    now = clock.now
    try:
        await store.put_feed_state("feed-1", FeedState())
        await store.claim_articles([["id:a", "url:b"]], now, 60)
        await store.mark_seen(["id:a"], now, DAY)
        alerts = [make_alert(n) for n in range(1, 4)]
        await store.enqueue(alerts, now)
        claims = await claim(store, clock)
        await store.ack("alert-001", now, "ok", DAY)
        await store.retry_later("alert-002", now + 5, "x", claim=claims["alert-002"])
        await store.dead_letter("alert-003", now, "x", claim=claims["alert-003"])
        await store.requeue_all_dead(now)
        await store.reserve_send("slack", now, 1.0)
        probe = StoryProbe(("b1", "b2"), struct.pack(">3I", 1, 2, 3), ("drone",))
        await store.assign_story(
            StoryMember("a", "f", "https://f/a", "T", now), probe, 0.5, now, DAY
        )
        await store.archive_articles([ArchivedArticle(alerts[0].article, now, "a")], now, DAY, 10)
        await store.set_rule_fingerprints({"r1": "f"})
        history = [(a, "pending", Attempt(now, "queued")) for a in alerts]
        await store.record_history(history, DAY)
        await store.record_history([(alerts[0], "delivered", Attempt(now + 1, "delivered"))], 1)
        await store.search_history(HistoryQuery(text="drones iran"))
        await store.history_stats(0)
        await store.add_silence(Silence("sil_0000000000000001", "rule", "r1", now, now + 60))
        await store.expire_silence("sil_0000000000000001", now)
        await store.disable_channel(DisabledChannel("siem", now, "HTTP 410", "t"))
        await store.put_subscription(Subscription("feed-1", "h", "t", "k", "s"))
        gate = RedisHostGate(store)
        await gate.acquire("feeds.example.com", "t1", now, limit=1, delay=5, lease_end=now + 40)
        keys = {k.decode() for k in await client.keys("*")}
    finally:
        await client.aclose()
    assert len(keys) >= 25
    assert {redis_hash_tag(k) for k in keys} == {"news-monitor"}, sorted(keys)
