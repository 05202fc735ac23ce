"""Contract of :class:`~monitor.store.base.SeenStore`, run against every backend.

A key's mark (claim or seen) counts while ``now < until``.
"""

from __future__ import annotations

import asyncio

import pytest

from monitor.model import ClaimResult
from monitor.store.base import SeenStore
from tests.conftest import FrozenClock
from tests.store.support import DAY, Backend


async def test_claim_article_is_exclusive(store: SeenStore, clock: FrozenClock) -> None:
    keys = ["id:a", "url:https://example.com/ä"]
    assert await store.claim_article(keys, clock.now, lease=60)
    assert not await store.claim_article(keys, clock.now, lease=60)
    assert not await store.claim_article(["url:https://example.com/ä"], clock.now, lease=60)
    assert await store.claim_article(["id:b"], clock.now, lease=60)


async def test_failed_claim_claims_none_of_its_keys(store: SeenStore, clock: FrozenClock) -> None:
    assert await store.claim_article(["id:x"], clock.now, lease=60)
    assert not await store.claim_article(["id:y", "id:x", "id:z"], clock.now, lease=60)
    assert await store.claim_article(["id:y"], clock.now, lease=60)
    assert await store.claim_article(["id:z"], clock.now, lease=60)


async def test_claim_lease_ends(store: SeenStore, clock: FrozenClock) -> None:
    assert await store.claim_article(["id:a"], clock.now, lease=30)
    clock.advance(29.5)
    assert not await store.claim_article(["id:a"], clock.now, lease=30)
    clock.advance(0.5)  # the lease has ended exactly now
    assert await store.claim_article(["id:a"], clock.now, lease=30)
    assert not await store.claim_article(["id:a"], clock.now, lease=30)


async def test_claim_fails_on_any_seen_key(store: SeenStore, clock: FrozenClock) -> None:
    await store.mark_seen(["url:u"], clock.now, retention=DAY)
    assert not await store.claim_article(["id:a", "url:u"], clock.now, lease=60)
    assert await store.claim_article(["id:a"], clock.now, lease=60)
    assert not await store.is_seen("id:a", clock.now)  # claimed is not seen


async def test_mark_seen_replaces_the_claim(store: SeenStore, clock: FrozenClock) -> None:
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


async def test_seen_expires_after_retention(store: SeenStore, clock: FrozenClock) -> None:
    await store.mark_seen(["id:a"], clock.now, retention=100)
    assert await store.is_seen("id:a", clock.now)
    clock.advance(99.5)
    assert await store.is_seen("id:a", clock.now)
    assert not await store.claim_article(["id:a"], clock.now, lease=10)
    clock.advance(0.5)
    assert not await store.is_seen("id:a", clock.now)
    assert await store.claim_article(["id:a"], clock.now, lease=10)


async def test_each_key_may_have_its_own_retention(store: SeenStore, clock: FrozenClock) -> None:
    await store.mark_seen(["id:short", "id:long"], clock.now, retention=[100, DAY])
    clock.advance(100)
    assert not await store.is_seen("id:short", clock.now)
    assert await store.is_seen("id:long", clock.now)
    assert await store.claim_article(["id:short"], clock.now, lease=10)
    with pytest.raises(ValueError, match="2 retentions for 1 keys"):
        await store.mark_seen(["id:x"], clock.now, retention=[1, 2])


async def test_claim_articles_says_why_each_failed(store: SeenStore, clock: FrozenClock) -> None:
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


async def test_release_article_frees_the_claim(store: SeenStore, clock: FrozenClock) -> None:
    keys = ["id:a", "url:u"]
    assert await store.claim_article(keys, clock.now, lease=600)
    await store.release_article(keys)
    assert await store.claim_article(["url:u"], clock.now, lease=600)
    await store.release_article(["id:never-claimed"])  # harmless
    assert not await store.is_seen("id:never-claimed", clock.now)


async def test_is_seen_unknown_key(store: SeenStore, clock: FrozenClock) -> None:
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
