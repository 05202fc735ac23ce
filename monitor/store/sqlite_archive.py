"""The SQLite store's article archive and rule fingerprints: the statements on their tables.

Each function runs inside a transaction that :class:`~monitor.store.sqlite.SqliteStore`
opens (one per contract call), on the ``archive`` and ``rule_fingerprints`` tables of
:mod:`monitor.store.sqlite_schema`. An archived article is the JSON of
:func:`~monitor.store.codec.encode_archived_article`; its key, time and story are columns.
Ordering matches :mod:`monitor.store.memory`: archived time, then feed id, then article
id (SQLite's binary collation compares UTF-8 bytes, which is code point order).
"""

from __future__ import annotations

import sqlite3
from collections.abc import Mapping, Sequence

from monitor.model import ArchivedArticle
from monitor.store.codec import decode_archived_article, encode_archived_article

__all__ = ["archive", "archived", "fingerprints", "replace_fingerprints", "rows_of"]

#: One row to upsert: feed id, article id, archived_at, story id, article JSON.
Row = tuple[str, str, float, str, str]


def rows_of(entries: Sequence[ArchivedArticle]) -> list[Row]:
    """The rows of ``entries`` (encoded before the transaction, outside the lock)."""
    return [
        (
            e.article.feed_id,
            e.article.id,
            e.archived_at,
            e.story_id,
            encode_archived_article(e.article),
        )
        for e in entries
    ]


def archive(conn: sqlite3.Connection, rows: Sequence[Row], cutoff: float, most: int) -> None:
    """Upsert ``rows``, drop those archived before ``cutoff``, keep the ``most`` newest."""
    conn.executemany(
        "INSERT INTO archive (feed_id, article_id, archived_at, story_id, article)"
        " VALUES (?, ?, ?, ?, ?)"
        " ON CONFLICT (feed_id, article_id) DO UPDATE SET"
        " archived_at = max(archived_at, excluded.archived_at),"
        " story_id = CASE WHEN excluded.story_id = '' THEN story_id ELSE excluded.story_id END,"
        " article = excluded.article",
        rows,
    )
    conn.execute("DELETE FROM archive WHERE archived_at < ?", (cutoff,))
    # count(*) walks the pages of the smallest index, not the rows: cheap at 100k rows.
    (count,) = conn.execute("SELECT count(*) FROM archive").fetchone()
    if count > most:
        conn.execute(
            "DELETE FROM archive WHERE rowid IN (SELECT rowid FROM archive"
            " ORDER BY archived_at, feed_id, article_id LIMIT ?)",
            (count - most,),
        )


def archived(conn: sqlite3.Connection, since: float, limit: int | None) -> list[ArchivedArticle]:
    """The entries archived at or after ``since``, oldest first; the newest ``limit``."""
    columns = "archived_at, feed_id, article_id, story_id, article"
    if limit is None:
        rows = conn.execute(
            f"SELECT {columns} FROM archive WHERE archived_at >= ?"
            " ORDER BY archived_at, feed_id, article_id",
            (since,),
        ).fetchall()
    else:
        rows = conn.execute(
            f"SELECT * FROM (SELECT {columns} FROM archive WHERE archived_at >= ?"
            " ORDER BY archived_at DESC, feed_id DESC, article_id DESC LIMIT ?)"
            " ORDER BY archived_at, feed_id, article_id",
            (since, max(limit, 0)),
        ).fetchall()
    return [
        ArchivedArticle(decode_archived_article(article), float(at), story)
        for at, _, _, story, article in rows
    ]


def fingerprints(conn: sqlite3.Connection) -> dict[str, str]:
    """Every rule fingerprint."""
    return dict(conn.execute("SELECT rule_id, fingerprint FROM rule_fingerprints").fetchall())


def replace_fingerprints(conn: sqlite3.Connection, items: Mapping[str, str]) -> None:
    """Replace every rule fingerprint with ``items``."""
    conn.execute("DELETE FROM rule_fingerprints")
    conn.executemany(
        "INSERT INTO rule_fingerprints (rule_id, fingerprint) VALUES (?, ?)", items.items()
    )
