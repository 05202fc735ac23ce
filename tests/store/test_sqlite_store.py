"""What only the SQLite backend does: its schema and migrations, purges, errors.

The contract itself is checked on SQLite by the role files.
"""

from __future__ import annotations

import sqlite3
import struct
from pathlib import Path

import pytest

from monitor.errors import StoreError
from monitor.model import ArchivedArticle, StoryMember, StoryProbe
from monitor.store.codec import encode_alert
from monitor.store.sqlite import FILE_NAME, SqliteStore
from monitor.store.sqlite_outbox import _OLDEST_CREATED
from tests.conftest import FrozenClock
from tests.store.support import DAY, claim, ids_of, make_alert


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


async def test_sqlite_stories_of_the_previous_version_index_their_later_members(
    tmp_path: Path, clock: FrozenClock
) -> None:
    """A file of the previous version (a story keeps its first article's fingerprint only,
    no ``story_fingerprints`` table): its story is joined, and then found through the
    member that joined it."""
    path = tmp_path / FILE_NAME
    until = clock.now + DAY
    with sqlite3.connect(path) as db:
        db.executescript(
            "CREATE TABLE stories (id TEXT PRIMARY KEY, until REAL NOT NULL,"
            " sketch BLOB NOT NULL, anchors TEXT NOT NULL, members TEXT NOT NULL);"
            "CREATE TABLE story_bands (band TEXT NOT NULL, story_id TEXT NOT NULL,"
            " until REAL NOT NULL, PRIMARY KEY (band, story_id));"
            "CREATE TABLE story_articles (article_id TEXT PRIMARY KEY,"
            " story_id TEXT NOT NULL, until REAL NOT NULL);"
        )
        line = '["s1","feed-1","https://x/s1","Title",1800000000.0]'
        db.execute(
            "INSERT INTO stories VALUES ('s1', ?, ?, 'chile\nquake', ?)",
            (until, struct.pack(">10I", *range(1, 11)), line),
        )
        db.execute("INSERT INTO story_bands VALUES ('b1', 's1', ?)", (until,))
        db.execute("INSERT INTO story_articles VALUES ('s1', 's1', ?)", (until,))
    db.close()
    store = await SqliteStore.open(path)
    try:
        member = StoryMember("s1", "feed-1", "https://x/s1", "Title", 1800000000.0)
        story = await store.get_story("s1", clock.now)
        assert story is not None and story.members == (member,)
        # Its second article joins through the first (7 of 13) and is indexed ...
        second = StoryProbe(("b1", "b2"), struct.pack(">10I", *range(4, 14)), ("quake",))
        got = await store.assign_story(StoryMember("s2", "feed-2"), second, 0.5, clock.now, DAY)
        assert got.story_id == "s1"
        # ... so a reprint of it (9 of 11; 6 of 14 with the first) joins through it.
        reprint = StoryProbe(("b2",), struct.pack(">10I", *range(5, 15)), ("quake",))
        got = await store.assign_story(StoryMember("s3", "feed-3"), reprint, 0.5, clock.now, DAY)
        assert (got.story_id, [m.article_id for m in got.members]) == ("s1", ["s1", "s2", "s3"])
    finally:
        await store.close()


#: The tables and columns (name, type, not null, default) of the file: the on-disk format.
#: Data written by an earlier version must still load, so this only ever grows.
SCHEMA = {
    "archive": [
        ("feed_id", "TEXT", 1, None),
        ("article_id", "TEXT", 1, None),
        ("archived_at", "REAL", 1, None),
        ("story_id", "TEXT", 1, "''"),
        ("article", "TEXT", 1, None),
    ],
    "dead": [
        ("id", "TEXT", 0, None),
        ("alert", "TEXT", 1, None),
        ("attempts", "INTEGER", 1, None),
        ("dead_at", "REAL", 1, None),
        ("last_error", "TEXT", 1, None),
    ],
    "delivered": [
        ("id", "TEXT", 0, None),
        ("until", "REAL", 1, None),
        ("delivered_at", "REAL", 1, None),
        ("detail", "TEXT", 1, None),
        ("alert", "TEXT", 0, None),
        ("attempts", "INTEGER", 1, "0"),
    ],
    "feeds": [("feed_id", "TEXT", 0, None), ("state", "TEXT", 1, None)],
    "history": [
        ("seq", "INTEGER", 0, None),
        ("id", "TEXT", 1, None),
        ("rule_id", "TEXT", 1, None),
        ("channel", "TEXT", 1, None),
        ("status", "TEXT", 1, None),
        ("story", "TEXT", 1, None),
        ("coverage", "INTEGER", 1, "0"),
        ("created_at", "REAL", 1, None),
        ("updated_at", "REAL", 1, None),
        ("events", "TEXT", 1, None),
    ],
    "history_alerts": [
        ("seq", "INTEGER", 0, None),
        ("title", "TEXT", 1, None),
        ("text", "TEXT", 1, None),
        ("rule_query", "TEXT", 1, None),
        ("alert", "TEXT", 1, None),
    ],
    "history_fts": [("title", "", 0, None), ("text", "", 0, None), ("rule_query", "", 0, None)],
    "history_fts_config": [("k", "", 1, None), ("v", "", 0, None)],
    "history_fts_data": [("id", "INTEGER", 0, None), ("block", "BLOB", 0, None)],
    "history_fts_idx": [("segid", "", 1, None), ("term", "", 1, None), ("pgno", "", 0, None)],
    "channel_disabled": [
        ("channel", "TEXT", 0, None),
        ("since", "REAL", 1, None),
        ("reason", "TEXT", 1, None),
        ("target", "TEXT", 1, "''"),
    ],
    "marks": [("key", "TEXT", 0, None), ("kind", "TEXT", 1, None), ("until", "REAL", 1, None)],
    "outbox": [
        ("id", "TEXT", 0, None),
        ("alert", "TEXT", 1, None),
        ("attempts", "INTEGER", 1, "0"),
        ("due_at", "REAL", 1, None),
        ("last_error", "TEXT", 1, "''"),
        ("claim", "TEXT", 1, "''"),
    ],
    "rule_fingerprints": [("rule_id", "TEXT", 0, None), ("fingerprint", "TEXT", 1, None)],
    "send_slots": [("channel", "TEXT", 0, None), ("opens", "REAL", 1, None)],
    "silences": [
        ("id", "TEXT", 0, None),
        ("kind", "TEXT", 1, None),
        ("target", "TEXT", 1, None),
        ("starts_at", "REAL", 1, None),
        ("ends_at", "REAL", 1, None),
        ("comment", "TEXT", 1, "''"),
        ("created_by", "TEXT", 1, "''"),
    ],
    "stories": [
        ("id", "TEXT", 0, None),
        ("until", "REAL", 1, None),
        ("sketch", "BLOB", 1, None),
        ("anchors", "TEXT", 1, None),
        ("members", "TEXT", 1, None),
    ],
    "story_articles": [
        ("article_id", "TEXT", 0, None),
        ("story_id", "TEXT", 1, None),
        ("until", "REAL", 1, None),
    ],
    "story_bands": [
        ("band", "TEXT", 1, None),
        ("story_id", "TEXT", 1, None),
        ("until", "REAL", 1, None),
    ],
    "story_fingerprints": [
        ("story_id", "TEXT", 1, None),
        ("seq", "INTEGER", 1, None),
        ("sketch", "BLOB", 1, None),
        ("anchors", "TEXT", 1, None),
        ("until", "REAL", 1, None),
    ],
    "websub_subscription": [("feed_id", "TEXT", 0, None), ("record", "TEXT", 1, None)],
}


@pytest.mark.parametrize("first_release", [False, True])
async def test_sqlite_schema_is_stable(tmp_path: Path, first_release: bool) -> None:
    path = tmp_path / FILE_NAME
    if first_release:  # a file of the first release comes out of the migration the same
        with sqlite3.connect(path) as db:
            db.execute(
                "CREATE TABLE delivered (id TEXT PRIMARY KEY, until REAL NOT NULL,"
                " delivered_at REAL NOT NULL, detail TEXT NOT NULL)"
            )
        db.close()
    store = await SqliteStore.open(path)
    await store.close()
    with sqlite3.connect(path) as db:
        tables = [r[0] for r in db.execute("SELECT name FROM sqlite_master WHERE type = 'table'")]
        got = {
            table: [tuple(row[1:5]) for row in db.execute(f"PRAGMA table_info({table})")]
            for table in sorted(tables)
        }
        index = db.execute("PRAGMA index_info(archive_at)").fetchall()
    db.close()
    assert got == SCHEMA
    assert [row[2] for row in index] == ["archived_at", "feed_id", "article_id"]


async def test_the_oldest_queued_alert_is_read_off_an_index(tmp_path: Path) -> None:
    """``outbox_summary`` finds the oldest creation time by one index step (its query must
    spell the indexed expression exactly), also in a file that had alerts queued before the
    index existed (built when the file is opened)."""
    path = tmp_path / FILE_NAME
    store = await SqliteStore.open(path)
    await store.enqueue([make_alert(1), make_alert(2)], 1_000.0)
    await store.close()
    with sqlite3.connect(path) as db:
        db.execute("DROP INDEX outbox_created")  # as a file of the previous version
    db.close()
    store = await SqliteStore.open(path)
    summary = await store.outbox_summary()
    await store.close()
    assert summary.pending == 2 and summary.oldest_created_at is not None
    with sqlite3.connect(path) as db:
        plan = " ".join(str(row[3]) for row in db.execute(f"EXPLAIN QUERY PLAN {_OLDEST_CREATED}"))
    db.close()
    assert "USING INDEX outbox_created" in plan, plan


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


async def test_sqlite_archive_of_a_file_of_an_earlier_version(
    tmp_path: Path, clock: FrozenClock
) -> None:
    """A file written before the archive existed gains its tables when opened, and keeps
    what it had; what is archived then survives reopening."""
    path = tmp_path / FILE_NAME
    old = await SqliteStore.open(path)
    await old.mark_seen(["id:a"], clock.now, retention=DAY)
    await old.close()
    with sqlite3.connect(path) as db:
        db.executescript("DROP TABLE archive; DROP TABLE rule_fingerprints;")
    db.close()
    entry = ArchivedArticle(make_alert(1).article, clock.now, "story-1")
    store = await SqliteStore.open(path)
    try:
        assert await store.archived_articles(0) == []
        await store.archive_articles([entry], clock.now, DAY, 10)
        await store.set_rule_fingerprints({"r1": "f1"})
    finally:
        await store.close()
    store = await SqliteStore.open(path)
    try:
        assert await store.is_seen("id:a", clock.now)
        assert await store.archived_articles(0) == [entry]
        assert await store.rule_fingerprints() == {"r1": "f1"}
    finally:
        await store.close()
