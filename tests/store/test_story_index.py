"""Contract of :class:`~monitor.store.base.StoryIndex`, run against every backend.

The stories here are made by hand (sketches of chosen 32-bit words), so each
rule of ``assign_story`` is checked on its own, and one test replays random
probes on every backend against the Python rule (the Lua one must agree);
``tests/stories`` checks what merges on real texts.
"""

from __future__ import annotations

import asyncio
import random
import sqlite3
import struct
from pathlib import Path

import fakeredis
import pytest

from monitor.model import MAX_STORY_MEMBERS, StoryMember, StoryProbe
from monitor.store.base import StoryIndex
from monitor.store.memory import MemoryStore
from monitor.store.redis import RedisStore
from monitor.store.sqlite import FILE_NAME, SqliteStore
from monitor.store.story_rules import MAX_STORY_FINGERPRINTS, Candidate, Fingerprint, pick_story
from tests.conftest import FrozenClock
from tests.store.support import DAY, PERSISTENT, Backend


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


# -- later members: a story is found through any indexed member, guarded by its first ----------

#: A story's first article: {1..10}, anchored on "quake" and "antofagasta".
FIRST = StoryProbe(("f1", "f2"), sketch(*range(1, 11)), ("antofagasta", "quake"))
#: A second article: 7 of the 13 words of the union with FIRST (0.54): it joins, and, not
#: being a near copy (< 0.8), its fingerprint (with the bands s1, s2) is indexed.
SECOND = StoryProbe(("f2", "s1", "s2"), sketch(*range(4, 14)), ("chile", "quake"))


async def start(store: StoryIndex, clock: FrozenClock) -> None:
    """The story "first" with its second article "second" (joined: indexed)."""
    await store.assign_story(member("first", "reuters"), FIRST, 0.5, clock.now, DAY)
    got = await store.assign_story(member("second", "ap"), SECOND, 0.5, clock.now, DAY)
    assert (got.story_id, got.is_new) == ("first", False)


async def test_a_copy_of_a_later_member_joins_through_it(
    store: StoryIndex, clock: FrozenClock
) -> None:
    await start(store, clock)
    clock.advance(60)
    # 9 of 11 with SECOND (0.82), 6 of 14 with FIRST (0.43 < 0.5, but >= the 0.3 floor);
    # found only through SECOND's band s2.
    reprint = StoryProbe(("s2", "x"), sketch(*range(5, 15)), ("quake",))
    got = await store.assign_story(
        member("reprint", "local", clock.now), reprint, 0.5, clock.now, DAY
    )
    assert (got.story_id, got.is_new, got.outlets) == ("first", False, ("reuters", "ap", "local"))
    assert got.until == clock.now - 60 + DAY  # the window counts from the first article
    # Under a band no indexed fingerprint has, the same text is no candidate.
    alone = StoryProbe(("x",), reprint.sketch, reprint.anchors)
    assert (await store.assign_story(member("alone"), alone, 0.5, clock.now, DAY)).is_new


async def test_joining_through_a_later_member_is_guarded_by_the_first(
    store: StoryIndex, clock: FrozenClock
) -> None:
    await start(store, clock)
    cases = {
        # 7 of 13 with SECOND (0.54), but 4 of 16 with FIRST (0.25 < 0.3): too far from it.
        "drifted": StoryProbe(("s1",), sketch(*range(7, 17)), ("quake",)),
        # 8 of 12 with SECOND, 5 of 15 with FIRST (0.33), an anchor shared with SECOND
        # ("chile") but none with FIRST.
        "other-title": StoryProbe(("s1",), sketch(*range(6, 16)), ("chile", "mine")),
    }
    for article_id, probe in cases.items():
        got = await store.assign_story(member(article_id), probe, 0.5, clock.now, DAY)
        assert (got.story_id, got.is_new) == (article_id, True), article_id
    # The same text as "other-title" under a title sharing an anchor with FIRST joins.
    probe = StoryProbe(("s2",), sketch(*range(6, 16)), ("chile", "quake"))
    assert (await store.assign_story(member("ok"), probe, 0.5, clock.now, DAY)).story_id == "first"


async def test_the_best_member_decides_between_stories(
    store: StoryIndex, clock: FrozenClock
) -> None:
    await start(store, clock)
    await store.assign_story(
        member("other"), StoryProbe(("o",), sketch(*range(4, 15))), 0.5, clock.now, DAY
    )
    # 10 of 11 with SECOND (0.91, through "first"), 10 of 12 with "other" (0.83): "first" wins,
    # though its first article alone (7 of 14, 0.5) would lose.
    probe = StoryProbe(("o", "s1"), sketch(*range(4, 14), 99), ("quake",))
    assert (await store.assign_story(member("x"), probe, 0.5, clock.now, DAY)).story_id == "first"
    # As close to SECOND as to a story started a second later (10 of 11 each): the window
    # that ends first wins, whichever fingerprint of the story matched.
    clock.advance(1)
    await store.assign_story(
        member("later"), StoryProbe(("l",), sketch(*range(4, 13), 97)), 0.5, clock.now, DAY
    )
    probe = StoryProbe(("l", "s1"), sketch(*range(4, 14), 97), ("quake",))
    assert (await store.assign_story(member("y"), probe, 0.5, clock.now, DAY)).story_id == "first"


async def test_a_story_indexes_a_bounded_number_of_members_and_no_near_copies(
    store: StoryIndex, clock: FrozenClock
) -> None:
    base = set(range(1, 21))
    await store.assign_story(member("a"), StoryProbe(("a",), sketch(*base)), 0.5, clock.now, DAY)
    # A near copy (20 of 21, 0.95): it joins, but its band "n" finds nothing later.
    near = StoryProbe(("a", "n"), sketch(*base, 500))
    assert (await store.assign_story(member("near"), near, 0.5, clock.now, DAY)).story_id == "a"
    copy = StoryProbe(("n",), near.sketch)
    assert (await store.assign_story(member("near-copy"), copy, 0.5, clock.now, DAY)).is_new
    # Members 19 of 24 with "a" (0.79: not near copies), each with a band of its own: the
    # first MAX_STORY_FINGERPRINTS - 1 are indexed, the next is not.
    probes = [
        StoryProbe(("a", f"m{i}"), sketch(*(base - {i}), *range(1000 * i, 1000 * i + 4)))
        for i in range(1, MAX_STORY_FINGERPRINTS + 1)
    ]
    for i, probe in enumerate(probes, 1):
        got = await store.assign_story(member(f"m{i}"), probe, 0.5, clock.now, DAY)
        assert got.story_id == "a"
    for i, probe in enumerate(probes, 1):
        copy = StoryProbe((f"m{i}",), probe.sketch)
        got = await store.assign_story(member(f"copy-{i}"), copy, 0.5, clock.now, DAY)
        assert got.is_new == (i == MAX_STORY_FINGERPRINTS), i


async def test_concurrent_copies_of_a_later_member_join_one_story(
    backend: Backend, clock: FrozenClock
) -> None:
    handles = [await backend.open(), await backend.open()]
    await start(handles[0], clock)
    reprint = StoryProbe(("s2",), sketch(*range(5, 15)), ("quake",))
    results = await asyncio.gather(
        *(
            handles[i % 2].assign_story(
                member(f"r{i:02d}", f"feed-{i}"), reprint, 0.5, clock.now, DAY
            )
            for i in range(20)
        )
    )
    assert {(r.story_id, r.is_new) for r in results} == {("first", False)}
    story = await handles[1].get_story("first", clock.now)
    assert story is not None and len(story.members) == 22


@pytest.mark.parametrize("backend", PERSISTENT, indirect=True)
async def test_every_backend_makes_the_stories_the_rule_makes(
    backend: Backend, clock: FrozenClock
) -> None:
    """Random probes from a small universe (so ties, near copies, later members, the guard
    and ended windows all occur), assigned by each backend and by the Python rule
    (MemoryStore): the same story, membership and window every time, Lua included."""
    store, reference = await backend.open(), MemoryStore()
    rng = random.Random(16)
    firsts: dict[tuple[str, float], StoryProbe] = {}  # (story, until): its first probe
    joined = through_later = 0
    for n in range(400):
        topic = rng.randrange(5) * 6
        words = {topic + rng.randrange(14) for _ in range(rng.randint(3, 12))}
        bands = tuple(f"b{rng.randrange(10)}" for _ in range(rng.randint(1, 3)))
        anchors = tuple(
            rng.sample(("chile", "copper", "mine", "quake", "strike"), rng.randint(0, 2))
        )
        probe = StoryProbe(bands, sketch(*words), anchors)
        clock.advance(rng.choice((0.0, 0.0, 1.0, 900.0)))
        article = member(f"a{n:03d}", f"feed-{n % 7}", clock.now)
        if n > 10 and rng.random() < 0.05:  # now and then an article seen before
            article = member(f"a{n - rng.randint(1, 10):03d}", "feed-x", clock.now)
        want = await reference.assign_story(article, probe, 0.5, clock.now, 6 * 3600)
        got = await store.assign_story(article, probe, 0.5, clock.now, 6 * 3600)
        assert got == want, n
        if want.story_id == article.article_id:
            firsts.setdefault((want.story_id, want.until), probe)
        elif want.members[-1] == article:  # joined now: through its first article?
            joined += 1
            first = firsts[want.story_id, want.until]
            alone = Candidate(want.story_id, want.until, [Fingerprint(first.sketch, first.anchors)])
            through_later += pick_story([alone], probe, 0.5) is None
    assert joined > 50 and through_later > 5, (joined, through_later)


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
            later = StoryProbe(("b1", "l1"), sketch(*range(4, 14)), ("iran",))  # indexed
            await store.assign_story(member("old-later"), later, 0.5, clock.now, 100)
        clock.advance(3600)
        for store in (sqlite_store, redis_store):
            await store.assign_story(member("new"), PROBE, 0.5, clock.now, 100)
        with sqlite3.connect(path) as db:
            assert db.execute("SELECT id FROM stories").fetchall() == [("new",)]
            assert db.execute("SELECT DISTINCT story_id FROM story_bands").fetchall() == [("new",)]
            assert db.execute("SELECT article_id FROM story_articles").fetchall() == [("new",)]
            assert db.execute("SELECT story_id FROM story_fingerprints").fetchall() == []
        keys = redis_store.keys
        assert await client.zrange(keys.story_until, 0, -1) == [b"new"]
        for name in (keys.story_sketch, keys.story_anchors, keys.story_members):
            assert await client.hkeys(name) == [b"new"]
        assert await client.hkeys(keys.story_fingerprints) == []
        assert await client.zrange(keys.story_fingerprints_until, 0, -1) == []
        assert await client.zrange(keys.story_band("b1"), 0, -1) == [b"new"]
        assert 0 < await client.pttl(keys.story_band("b1")) <= 100_000 + 60_000
    finally:
        await sqlite_store.close()
        await client.aclose()
