"""The SQLite store's schema: its tables, and the migration of files of older versions.

This is the on-disk format. A file written by an earlier version must still
open, so the schema only grows: a new table is a new ``CREATE ... IF NOT
EXISTS`` in :data:`SCHEMA`, a new column of an existing table goes into
:data:`ADDED_COLUMNS` (with a default) as well, and :func:`migrate` adds it to
an older file when it is opened. Nothing is renamed or dropped
(``tests/store/test_sqlite_store.py`` pins the tables and columns).

So far a file written by an older version gains the ``alert`` and ``attempts``
columns of ``delivered``, the ``claim`` column of ``outbox`` and the
``story_fingerprints`` table. Its old delivery records stay valid for
``is_delivered`` but have no alert, so ``recent_deliveries`` does not list them;
its claimed alerts have no token, so they wait for their lease to end and are
claimed again; its stories keep their first article's fingerprint in
``stories`` as before (``story_fingerprints`` holds those of later members a
story indexes, each row with the story's end, so it is purged on its own).
It also gains the empty ``archive`` and ``rule_fingerprints`` tables (new
tables need no migration step: ``CREATE ... IF NOT EXISTS`` adds them).

The statements that read and write these tables are in :mod:`monitor.store.sqlite`.
"""

from __future__ import annotations

import sqlite3

__all__ = ["ADDED_COLUMNS", "SCHEMA", "migrate"]

#: Every table and index, as the current version creates them in a new file.
SCHEMA = """
CREATE TABLE IF NOT EXISTS feeds (
    feed_id TEXT PRIMARY KEY,
    state   TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS marks (
    key   TEXT PRIMARY KEY,
    kind  TEXT NOT NULL CHECK (kind IN ('claim', 'seen')),
    until REAL NOT NULL
);
CREATE INDEX IF NOT EXISTS marks_until ON marks (until);
CREATE TABLE IF NOT EXISTS outbox (
    id         TEXT PRIMARY KEY,
    alert      TEXT NOT NULL,
    attempts   INTEGER NOT NULL DEFAULT 0,
    due_at     REAL NOT NULL,
    last_error TEXT NOT NULL DEFAULT '',
    claim      TEXT NOT NULL DEFAULT ''
);
CREATE INDEX IF NOT EXISTS outbox_due ON outbox (due_at, id);
CREATE TABLE IF NOT EXISTS dead (
    id         TEXT PRIMARY KEY,
    alert      TEXT NOT NULL,
    attempts   INTEGER NOT NULL,
    dead_at    REAL NOT NULL,
    last_error TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS delivered (
    id           TEXT PRIMARY KEY,
    until        REAL NOT NULL,
    delivered_at REAL NOT NULL,
    detail       TEXT NOT NULL,
    alert        TEXT,
    attempts     INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX IF NOT EXISTS delivered_until ON delivered (until);
CREATE INDEX IF NOT EXISTS delivered_at ON delivered (delivered_at, id);
CREATE TABLE IF NOT EXISTS send_slots (
    channel TEXT PRIMARY KEY,
    opens   REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS stories (
    id      TEXT PRIMARY KEY,
    until   REAL NOT NULL,
    sketch  BLOB NOT NULL,
    anchors TEXT NOT NULL,
    members TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS stories_until ON stories (until);
CREATE TABLE IF NOT EXISTS story_bands (
    band     TEXT NOT NULL,
    story_id TEXT NOT NULL,
    until    REAL NOT NULL,
    PRIMARY KEY (band, story_id)
);
CREATE INDEX IF NOT EXISTS story_bands_until ON story_bands (until);
CREATE TABLE IF NOT EXISTS story_articles (
    article_id TEXT PRIMARY KEY,
    story_id   TEXT NOT NULL,
    until      REAL NOT NULL
);
CREATE INDEX IF NOT EXISTS story_articles_until ON story_articles (until);
CREATE TABLE IF NOT EXISTS story_fingerprints (
    story_id TEXT NOT NULL,
    seq      INTEGER NOT NULL,
    sketch   BLOB NOT NULL,
    anchors  TEXT NOT NULL,
    until    REAL NOT NULL,
    PRIMARY KEY (story_id, seq)
);
CREATE INDEX IF NOT EXISTS story_fingerprints_until ON story_fingerprints (until);
CREATE TABLE IF NOT EXISTS archive (
    feed_id     TEXT NOT NULL,
    article_id  TEXT NOT NULL,
    archived_at REAL NOT NULL,
    story_id    TEXT NOT NULL DEFAULT '',
    article     TEXT NOT NULL,
    PRIMARY KEY (feed_id, article_id)
);
CREATE INDEX IF NOT EXISTS archive_at ON archive (archived_at, feed_id, article_id);
CREATE TABLE IF NOT EXISTS rule_fingerprints (
    rule_id     TEXT PRIMARY KEY,
    fingerprint TEXT NOT NULL
);
"""

#: Columns added after the first release: (table, column, definition).
ADDED_COLUMNS = (
    ("delivered", "alert", "TEXT"),
    ("delivered", "attempts", "INTEGER NOT NULL DEFAULT 0"),
    ("outbox", "claim", "TEXT NOT NULL DEFAULT ''"),
)


def migrate(conn: sqlite3.Connection) -> None:
    """Add the columns a file written by an older version lacks (one transaction)."""
    conn.execute("BEGIN IMMEDIATE")
    try:
        for table, column, definition in ADDED_COLUMNS:
            have = {row[1] for row in conn.execute(f"PRAGMA table_info({table})")}
            if column not in have:
                conn.execute(f"ALTER TABLE {table} ADD COLUMN {column} {definition}")
        conn.execute("COMMIT")
    except BaseException:
        if conn.in_transaction:
            conn.execute("ROLLBACK")
        raise
