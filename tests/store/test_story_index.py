"""Contract of :class:`~monitor.store.base.StoryIndex`, run against every backend.

The stories here are made by hand (sketches of chosen 32-bit words), so each
rule of ``assign_story`` is checked on its own; ``tests/stories`` checks what
merges on real texts.
"""

from __future__ import annotations

import asyncio
import sqlite3
import struct
from pathlib import Path

import fakeredis

from monitor.model import MAX_STORY_MEMBERS, StoryMember, StoryProbe
from monitor.store.base import StoryIndex
from monitor.store.redis import RedisStore
from monitor.store.sqlite import FILE_NAME, SqliteStore
from tests.conftest import FrozenClock
from tests.store.support import DAY, Backend


def sketch(*values: int) -> bytes:
    """A bottom-k sketch of these 32-bit values."""
    ordered = sorted(set(values))
    return struct.pack(f">{len(ordered)}I", *ordered)


#: A story's fingerprint: bands b1..b3, the sketch {1..10}, anchored on "drone".
PROBE = StoryProbe(("b1", "b2", "b3"), sketch(*range(1, 11)), ("drone", "iran"))


def member(article_id: str, feed_id: str = "feed-1", at: float = 0.0) -> StoryMember:
    return StoryMember(article_id, feed_id, f"https://{feed_id}.example/{article_id}", "T", at)


async def test_assign_story_starts_then_joins(store: StoryIndex, clock: FrozenClock) -> None:
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
    store: StoryIndex, clock: FrozenClock
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
    store: StoryIndex, clock: FrozenClock
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
    store: StoryIndex, clock: FrozenClock
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


async def test_story_window_ends(store: StoryIndex, clock: FrozenClock) -> None:
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


async def test_story_lists_at_most_max_members(store: StoryIndex, clock: FrozenClock) -> None:
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


# -- backends: ended stories leave no rows or keys behind ------------------------------


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
