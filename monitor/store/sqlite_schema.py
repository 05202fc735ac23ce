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
It also gains the empty ``archive``, ``rule_fingerprints``, ``history`` (the small
columns of each entry, so scans and sorts stay fast), ``history_alerts`` (its alert,
title, text and query), ``history_fts`` (their full-text index, an FTS5 table whose
shadow tables SQLite makes, kept in step by triggers), ``silences`` and
``channel_disabled`` (channels whose receiver answered 410 Gone) tables (new tables need no
migration step: ``CREATE ... IF NOT EXISTS`` adds them), and ``websub_subscription``
(earlier versions created it, the same, on first use: a file that has it keeps it), and
the ``outbox_created`` index (built once, at the first open, over the alerts queued).

The statements that read and write these tables are in :mod:`monitor.store.sqlite`
(the archive's in :mod:`monitor.store.sqlite_archive`, the history's and the silences'
in :mod:`monitor.store.sqlite_history`, the disabled channels' in
:mod:`monitor.store.sqlite_channels`, the WebSub subscriptions' in
:mod:`monitor.store.sqlite_websub`).
"""

from __future__ import annotations

import sqlite3

__all__ = ["ADDED_COLUMNS", "OUTBOX_CREATED", "SCHEMA", "migrate"]

#: An outbox alert's creation time, as ``codec.encode_alert`` stores it (ISO 8601 text, in
#: the alert's JSON). ``outbox_created`` indexes it as an instant (``julianday`` reads any
#: offset), so the oldest alert of ``outbox_summary`` is one index step, not a scan of every
#: row's JSON; a query must write the expression exactly so for SQLite to use the index.
OUTBOX_CREATED = "json_extract(alert, '$.created_at')"

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
CREATE INDEX IF NOT EXISTS outbox_created
    ON outbox (julianday(json_extract(alert, '$.created_at')), json_extract(alert, '$.created_at'));
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
CREATE TABLE IF NOT EXISTS history (
    seq        INTEGER PRIMARY KEY,
    id         TEXT NOT NULL UNIQUE,
    rule_id    TEXT NOT NULL,
    channel    TEXT NOT NULL,
    status     TEXT NOT NULL,
    story      TEXT NOT NULL,
    coverage   INTEGER NOT NULL DEFAULT 0,
    created_at REAL NOT NULL,
    updated_at REAL NOT NULL,
    events     TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS history_created ON history (created_at, id);
CREATE INDEX IF NOT EXISTS history_rule ON history (rule_id, created_at, id);
CREATE INDEX IF NOT EXISTS history_channel ON history (channel, created_at, id);
CREATE INDEX IF NOT EXISTS history_status ON history (status, created_at, id);
CREATE INDEX IF NOT EXISTS history_updated ON history (updated_at);
CREATE INDEX IF NOT EXISTS history_stories ON history (rule_id, story, created_at);
CREATE TABLE IF NOT EXISTS history_alerts (
    seq        INTEGER PRIMARY KEY,
    title      TEXT NOT NULL,
    text       TEXT NOT NULL,
    rule_query TEXT NOT NULL,
    alert      TEXT NOT NULL
);
CREATE VIRTUAL TABLE IF NOT EXISTS history_fts USING fts5 (
    title, text, rule_query,
    content = 'history_alerts', content_rowid = 'seq',
    tokenize = 'unicode61 remove_diacritics 2', detail = 'none', columnsize = 0
);
CREATE TRIGGER IF NOT EXISTS history_drop AFTER DELETE ON history BEGIN
    DELETE FROM history_alerts WHERE seq = old.seq;
END;
CREATE TRIGGER IF NOT EXISTS history_fts_insert AFTER INSERT ON history_alerts BEGIN
    INSERT INTO history_fts (rowid, title, text, rule_query)
    VALUES (new.seq, new.title, new.text, new.rule_query);
END;
CREATE TRIGGER IF NOT EXISTS history_fts_delete AFTER DELETE ON history_alerts BEGIN
    INSERT INTO history_fts (history_fts, rowid, title, text, rule_query)
    VALUES ('delete', old.seq, old.title, old.text, old.rule_query);
END;
CREATE TRIGGER IF NOT EXISTS history_fts_update AFTER UPDATE OF title, text, rule_query
ON history_alerts BEGIN
    INSERT INTO history_fts (history_fts, rowid, title, text, rule_query)
    VALUES ('delete', old.seq, old.title, old.text, old.rule_query);
    INSERT INTO history_fts (rowid, title, text, rule_query)
    VALUES (new.seq, new.title, new.text, new.rule_query);
END;
CREATE TABLE IF NOT EXISTS silences (
    id         TEXT PRIMARY KEY,
    kind       TEXT NOT NULL,
    target     TEXT NOT NULL,
    starts_at  REAL NOT NULL,
    ends_at    REAL NOT NULL,
    comment    TEXT NOT NULL DEFAULT '',
    created_by TEXT NOT NULL DEFAULT ''
);
CREATE TABLE IF NOT EXISTS channel_disabled (
    channel TEXT PRIMARY KEY,
    since   REAL NOT NULL,
    reason  TEXT NOT NULL,
    target  TEXT NOT NULL DEFAULT ''
);
CREATE TABLE IF NOT EXISTS websub_subscription (
    feed_id TEXT PRIMARY KEY,
    record  TEXT NOT NULL
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
