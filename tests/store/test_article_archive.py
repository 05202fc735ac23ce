"""Contract of :class:`~monitor.store.base.ArticleArchive`, run against every backend.

Entries are keyed by (feed id, article id) and ordered by archived time, then feed id,
then article id; ``archive_articles`` upserts, then drops what is older than the
retention and all but the ``max_articles`` newest.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime

import pytest

from monitor.model import ArchivedArticle, Article
from monitor.store.base import ArticleArchive
from monitor.store.codec import ARCHIVE_TEXT_LIMIT, ARCHIVE_TITLE_LIMIT
from tests.conftest import FrozenClock
from tests.store.support import DAY, PERSISTENT, Backend

#: A retention and a bound that never get in the way.
KEEP, MANY = 30 * DAY, 1_000


def article(n: int, feed: str = "feed-1", **changes: str) -> Article:
    base = Article(
        id=f"art-{n:03d}",
        feed_id=feed,
        url=f"https://example.com/news/{n}",
        title=f"Drones over Kyiv — story {n}",
        text="Iran and Russia signed a deal on drones.\nÜnïcödé survives.",
        published=datetime(2027, 1, 2, 3, 4, 5, tzinfo=UTC),
        author="Jane Doe",
        guid=f"urn:uuid:{n}",
    )
    return replace(base, **changes)


def entry(n: int, at: float, story: str = "", feed: str = "feed-1") -> ArchivedArticle:
    return ArchivedArticle(article(n, feed), at, story)


def keys(entries: list[ArchivedArticle]) -> list[tuple[str, str]]:
    return [(e.article.feed_id, e.article.id) for e in entries]


async def test_archived_articles_round_trip_oldest_first(
    store: ArticleArchive, clock: FrozenClock
) -> None:
    now = clock.now
    bare = Article(id="bare", feed_id="feed-2", url="", title="", text="")  # empty fields too
    entries = [entry(2, now - 10, "story-1"), ArchivedArticle(bare, now - 30), entry(1, now - 20)]
    await store.archive_articles(entries, now, KEEP, MANY)
    got = await store.archived_articles(float("-inf"))
    assert got == [entries[1], entries[2], entries[0]]


async def test_upsert_keeps_the_newer_time_and_a_known_story(
    store: ArticleArchive, clock: FrozenClock
) -> None:
    now = clock.now
    await store.archive_articles([entry(1, now - 100, "story-1")], now, KEEP, MANY)
    edited = ArchivedArticle(article(1, title="Drones over Kyiv (updated)"), now - 50)
    await store.archive_articles([edited], now, KEEP, MANY)
    assert await store.archived_articles(0) == [replace(edited, story_id="story-1")]

    # An older time does not move the entry back; a new story id replaces the old one.
    again = ArchivedArticle(article(1, text="Rewritten."), now - 80, "story-2")
    await store.archive_articles([again], now, KEEP, MANY)
    assert await store.archived_articles(0) == [replace(again, archived_at=now - 50)]


async def test_a_later_entry_of_the_same_call_replaces_an_earlier_one(
    store: ArticleArchive, clock: FrozenClock
) -> None:
    now = clock.now
    first = entry(1, now - 5, "story-1")
    second = ArchivedArticle(article(1, title="Second"), now - 9)
    await store.archive_articles([first, second], now, KEEP, MANY)
    assert await store.archived_articles(0) == [ArchivedArticle(second.article, now - 5, "story-1")]


async def test_the_same_article_id_in_two_feeds_is_two_entries(
    store: ArticleArchive, clock: FrozenClock
) -> None:
    now = clock.now
    await store.archive_articles([entry(1, now, feed="b"), entry(1, now, feed="a")], now, 1, 9)
    assert keys(await store.archived_articles(0)) == [("a", "art-001"), ("b", "art-001")]


async def test_entries_older_than_the_retention_are_dropped(
    store: ArticleArchive, clock: FrozenClock
) -> None:
    start = clock.now
    await store.archive_articles([entry(1, start), entry(2, start + 10)], start, 100, MANY)
    clock.advance(100)  # entry 1 is exactly `retention` old: kept
    await store.archive_articles([], clock.now, 100, MANY)
    assert keys(await store.archived_articles(0)) == [("feed-1", "art-001"), ("feed-1", "art-002")]
    clock.advance(0.5)
    await store.archive_articles([entry(3, clock.now)], clock.now, 100, MANY)
    assert keys(await store.archived_articles(0)) == [("feed-1", "art-002"), ("feed-1", "art-003")]
    clock.advance(1000)  # an entry archived too long ago is dropped as it is written
    await store.archive_articles([entry(4, start)], clock.now, 100, MANY)
    assert await store.archived_articles(0) == []


async def test_only_the_newest_max_articles_are_kept(
    store: ArticleArchive, clock: FrozenClock
) -> None:
    now = clock.now
    await store.archive_articles([entry(n, now - 10 * n) for n in range(1, 6)], now, KEEP, 3)
    assert keys(await store.archived_articles(0)) == [
        ("feed-1", "art-003"),
        ("feed-1", "art-002"),
        ("feed-1", "art-001"),
    ]
    # Equal times: the last by feed id, then article id, are the newest.
    tied = [entry(9, now, feed="b"), entry(8, now, feed="a"), entry(7, now, feed="b")]
    await store.archive_articles(tied, now, KEEP, 2)
    assert keys(await store.archived_articles(0)) == [("b", "art-007"), ("b", "art-009")]


async def test_since_and_limit(store: ArticleArchive, clock: FrozenClock) -> None:
    now = clock.now
    await store.archive_articles([entry(n, now - n) for n in range(1, 6)], now, KEEP, MANY)
    names = [e.article.id for e in await store.archived_articles(now - 3)]
    assert names == ["art-003", "art-002", "art-001"]  # archived_at >= since, oldest first
    names = [e.article.id for e in await store.archived_articles(now - 10, limit=2)]
    assert names == ["art-002", "art-001"]  # the newest two, still oldest first
    assert len(await store.archived_articles(now - 10, limit=99)) == 5
    assert await store.archived_articles(now - 10, limit=0) == []
    assert await store.archived_articles(now + 1) == []


@pytest.mark.parametrize(("retention", "max_articles"), [(0, MANY), (-1, MANY), (KEEP, 0)])
async def test_archiving_off_stores_nothing_and_clears_nothing(
    store: ArticleArchive, clock: FrozenClock, retention: float, max_articles: int
) -> None:
    old = entry(1, clock.now - 10 * DAY)
    await store.archive_articles([old], clock.now, KEEP, MANY)
    await store.archive_articles([entry(2, clock.now)], clock.now, retention, max_articles)
    assert await store.archived_articles(0) == [old]


async def test_long_text_and_title_are_cut(store: ArticleArchive, clock: FrozenClock) -> None:
    long = article(1, title="T" * (ARCHIVE_TITLE_LIMIT + 5), text="x" * (ARCHIVE_TEXT_LIMIT + 500))
    await store.archive_articles([ArchivedArticle(long, clock.now)], clock.now, KEEP, MANY)
    [got] = await store.archived_articles(0)
    assert got.article == replace(
        long, title="T" * ARCHIVE_TITLE_LIMIT, text="x" * ARCHIVE_TEXT_LIMIT
    )


async def test_rule_fingerprints_round_trip_and_are_replaced(store: ArticleArchive) -> None:
    assert await store.rule_fingerprints() == {}
    await store.set_rule_fingerprints({"iran-drones": "a1b2", "ünï": "c3:d4\n"})
    assert await store.rule_fingerprints() == {"iran-drones": "a1b2", "ünï": "c3:d4\n"}
    await store.set_rule_fingerprints({"quakes": "e5"})  # the whole mapping is replaced
    assert await store.rule_fingerprints() == {"quakes": "e5"}
    await store.set_rule_fingerprints({})
    assert await store.rule_fingerprints() == {}


@pytest.mark.parametrize("backend", PERSISTENT, indirect=True)
async def test_archive_and_fingerprints_survive_reopening(
    backend: Backend, clock: FrozenClock
) -> None:
    store = await backend.open()
    entries = [entry(1, clock.now - 5, "story-1"), entry(2, clock.now)]
    await store.archive_articles(entries, clock.now, KEEP, MANY)
    await store.set_rule_fingerprints({"r1": "f1"})
    await store.close()

    reopened = await backend.open()
    assert await reopened.archived_articles(0) == entries
    assert await reopened.rule_fingerprints() == {"r1": "f1"}
    await reopened.archive_articles([entry(3, clock.now + 1)], clock.now + 1, KEEP, 2)
    assert keys(await reopened.archived_articles(0)) == [
        ("feed-1", "art-002"),
        ("feed-1", "art-003"),
    ]
