"""A story is found through any of its indexed members, never drifting from its first article.

Real-shaped wire texts (:mod:`tests.stories.quakes`) through the real fingerprint
and ``StoryIndex.assign_story`` on every backend (memory, SQLite, fakeredis, real
Redis): a reprint of a story's second article joins the story even though it is
under the similarity threshold with the first; a second earthquake in the same
country and window stays a story of its own; a chain of writethrus, each close to
the previous one, stops where it leaves the first article behind.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from monitor.model import StoryAssignment
from monitor.store.base import StoryIndex
from monitor.store.story_rules import FIRST_FLOOR, NEAR_COPY, sketch_similarity
from monitor.stories import DEFAULT_MIN_SIMILARITY, StoryDetector, fingerprint
from tests.conftest import FrozenClock
from tests.store.support import ALL, make_backend
from tests.stories.quakes import (
    AP,
    AP_REPRINT,
    DRIFT,
    OTHER_AP,
    OTHER_REUTERS,
    REUTERS,
    Report,
)
from tests.stories.test_stories import article

FLOOR = DEFAULT_MIN_SIMILARITY * FIRST_FLOOR


@pytest.fixture(params=ALL)
async def store(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[StoryIndex]:
    backend = make_backend(request, request.param, tmp_path)
    try:
        yield await backend.open()
    finally:
        await backend.aclose()


def similarity(a: Report, b: Report) -> float:
    shared, compared = sketch_similarity(fingerprint(*a).sketch, fingerprint(*b).sketch)
    return shared / compared


async def observe(
    store: StoryIndex, article_id: str, feed_id: str, report: Report, now: float
) -> StoryAssignment:
    return await StoryDetector(store).observe(article(article_id, *report, feed_id), now)


def test_the_texts_are_what_the_tests_need() -> None:
    assert 0.5 <= similarity(REUTERS, AP) < 0.55  # the AP rewrite joins the Reuters report
    assert similarity(AP, AP_REPRINT) >= max(0.89, NEAR_COPY)  # a near copy of the AP text
    assert FLOOR <= similarity(REUTERS, AP_REPRINT) < 0.5  # ...under the threshold with Reuters
    for other in (OTHER_REUTERS, OTHER_AP):  # the other quake: same templates, another event
        assert similarity(other, REUTERS) < FLOOR
        assert max(similarity(other, x) for x in (AP, AP_REPRINT, *DRIFT)) < 0.4
    assert similarity(OTHER_REUTERS, OTHER_AP) >= 0.5
    a, b, c, d = DRIFT
    assert min(similarity(a, b), similarity(b, c), similarity(c, d)) >= 0.5  # each step close
    assert FLOOR <= similarity(a, c) < 0.5 and similarity(b, d) < 0.5
    assert similarity(a, d) < FLOOR  # ...and the last one far from the first


async def test_a_reprint_of_the_second_article_joins_the_story(
    store: StoryIndex, clock: FrozenClock
) -> None:
    first = await observe(store, "reuters-1", "reuters", REUTERS, clock.now)
    clock.advance(600)
    second = await observe(store, "ap-1", "ap", AP, clock.now)
    clock.advance(600)
    reprint = await observe(store, "local-1", "local", AP_REPRINT, clock.now)
    assert (first.story_id, first.is_new) == ("reuters-1", True)
    assert (second.story_id, second.is_new) == ("reuters-1", False)
    assert (reprint.story_id, reprint.is_new) == ("reuters-1", False)
    assert reprint.outlets == ("reuters", "ap", "local")
    assert reprint.until == first.until  # the window still counts from the first article


async def test_another_quake_in_the_same_window_is_another_story(
    store: StoryIndex, clock: FrozenClock
) -> None:
    for n, (feed_id, report) in enumerate(
        [("reuters", REUTERS), ("ap", AP), ("local", AP_REPRINT)]
    ):
        assert (await observe(store, f"q1-{n}", feed_id, report, clock.now)).story_id == "q1-0"
    clock.advance(20 * 3600)  # the next day, within the first story's window
    other = await observe(store, "q2-0", "reuters", OTHER_REUTERS, clock.now)
    assert (other.story_id, other.is_new) == ("q2-0", True)
    other_ap = await observe(store, "q2-1", "ap", OTHER_AP, clock.now)
    assert (other_ap.story_id, other_ap.is_new) == ("q2-0", False)
    # Re-observing the first quake's articles still finds them where they were.
    assert (await observe(store, "q1-2", "local", AP_REPRINT, clock.now)).story_id == "q1-0"
    story = await StoryDetector(store).story("q1-0", clock.now)
    assert story is not None and [m.article_id for m in story.members] == [
        "q1-0",
        "q1-1",
        "q1-2",
    ]


async def test_writethrus_drifting_away_do_not_chain_into_the_story(
    store: StoryIndex, clock: FrozenClock
) -> None:
    # B joins A; C is under the threshold with A but joins through B (and is indexed,
    # not being a near copy of B). D is close to C and shares a title anchor with A
    # ("strike"), but is under the floor with A: it starts a story of its own.
    got = [await observe(store, f"w{n}", "reuters", r, clock.now) for n, r in enumerate(DRIFT)]
    assert [(g.story_id, g.is_new) for g in got] == [
        ("w0", True),
        ("w0", False),
        ("w0", False),
        ("w3", True),
    ]
    story = await StoryDetector(store).story("w0", clock.now)
    assert story is not None and len(story.members) == 3
