"""Embedded state store: one SQLite file, shared safely by processes on one machine.

Owns the connection, its transactions and every SQL statement of the contract
methods (but the outbox's, in :mod:`monitor.store.sqlite_outbox`, the archive's, in
:mod:`monitor.store.sqlite_archive`, the alert history's and the silences', in
:mod:`monitor.store.sqlite_history`, the disabled channels', in
:mod:`monitor.store.sqlite_channels`, and the WebSub subscriptions', in
:mod:`monitor.store.sqlite_websub`); the tables they work on, and the migration of
older files, are :mod:`monitor.store.sqlite_schema`. The file runs in WAL mode with a
busy timeout, and every write is one ``BEGIN IMMEDIATE`` transaction, so a claim is
atomic across processes (the second writer waits for the first to commit).

Calls are blocking, so each one runs in a worker thread (``asyncio.to_thread``)
on the store's single connection, guarded by a lock. Expired rows (article
marks and delivery records past their time) are purged opportunistically from
``mark_seen`` and ``ack``, at most once per :data:`PURGE_INTERVAL` of the
caller's clock, so the file does not grow forever.
"""

from __future__ import annotations

import asyncio
import sqlite3
import threading
from collections.abc import Callable, Mapping, Sequence
from functools import partial
from pathlib import Path
from typing import TypeVar

from monitor.errors import StoreError
from monitor.model import (
    MAX_STORY_MEMBERS,
    ArchivedArticle,
    ClaimResult,
    FeedState,
    StoryAssignment,
    StoryMember,
    StoryProbe,
)
from monitor.store import sqlite_archive
from monitor.store.base import StateStore, per_key
from monitor.store.codec import decode_feed_state, encode_feed_state
from monitor.store.sqlite_channels import SqliteChannels
from monitor.store.sqlite_history import SqliteHistory
from monitor.store.sqlite_outbox import SqliteOutbox
from monitor.store.sqlite_schema import SCHEMA, migrate
from monitor.store.sqlite_websub import SqliteSubscriptions
from monitor.store.story_rules import (
    Candidate,
    Fingerprint,
    decode_story_members,
    encode_story_member,
    pick_story,
)

T = TypeVar("T")

#: Default file name inside the data directory.
FILE_NAME = "state.sqlite3"
#: Seconds (of the caller's clock) between two purges of expired rows.
PURGE_INTERVAL = 60.0
#: Keys per ``IN (...)`` query, under SQLite's smallest limit on bound parameters (999).
_SQL_VARIABLES = 900
#: Milliseconds a writer waits for another process's transaction before failing.
BUSY_TIMEOUT_MS = 10_000


class SqliteStore(SqliteOutbox, SqliteHistory, SqliteChannels, SqliteSubscriptions, StateStore):
    """A :class:`StateStore` persisted to one SQLite file.

    The constructor does no I/O; the file and schema are created on first use.
    ``await SqliteStore.open(path)`` does that up front and raises StoreError
    if the file cannot be opened.
    """

    def __init__(self, path: Path) -> None:
        self.path = path
        self._lock = threading.Lock()
        self._conn: sqlite3.Connection | None = None
        self._next_purge = float("-inf")
        self._next_story_purge = float("-inf")

    @classmethod
    async def open(cls, path: Path) -> SqliteStore:
        """Open (creating if needed) the store at ``path``."""
        store = cls(path)
        await store.ping()
        return store

    # -- plumbing ------------------------------------------------------------

    def _connect(self) -> sqlite3.Connection:
        if self._conn is None:
            conn = sqlite3.connect(
                self.path,
                timeout=BUSY_TIMEOUT_MS / 1000,
                isolation_level=None,  # autocommit; we issue BEGIN ourselves
                check_same_thread=False,  # used from worker threads, one at a time
            )
            try:
                conn.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
                conn.execute("PRAGMA journal_mode = WAL")
                # NORMAL in WAL mode survives a killed process; only a power
                # loss can drop the last commits.
                conn.execute("PRAGMA synchronous = NORMAL")
                conn.executescript(SCHEMA)
                migrate(conn)
            except BaseException:
                conn.close()
                raise
            self._conn = conn
        return self._conn

    def _transact(self, fn: Callable[[sqlite3.Connection], T], write: bool) -> T:
        with self._lock:
            try:
                conn = self._connect()
                try:
                    conn.execute("BEGIN IMMEDIATE" if write else "BEGIN")
                    result = fn(conn)
                    conn.execute("COMMIT")
                except BaseException:
                    if conn.in_transaction:
                        conn.execute("ROLLBACK")
                    raise
                return result
            except sqlite3.Error as e:
                raise StoreError(f"sqlite store {self.path} failed: {e}") from e

    async def _write(self, fn: Callable[[sqlite3.Connection], T]) -> T:
        return await asyncio.to_thread(self._transact, fn, True)

    async def _read(self, fn: Callable[[sqlite3.Connection], T]) -> T:
        return await asyncio.to_thread(self._transact, fn, False)

    def _purge(self, conn: sqlite3.Connection, now: float) -> None:
        """Delete expired marks and delivery records, at most once per PURGE_INTERVAL."""
        if now < self._next_purge:
            return
        self._next_purge = now + PURGE_INTERVAL
        conn.execute("DELETE FROM marks WHERE until <= ?", (now,))
        conn.execute("DELETE FROM delivered WHERE until <= ?", (now,))

    # -- feeds ---------------------------------------------------------------

    async def get_feed_state(self, feed_id: str) -> FeedState | None:
        def run(conn: sqlite3.Connection) -> FeedState | None:
            row = conn.execute("SELECT state FROM feeds WHERE feed_id = ?", (feed_id,)).fetchone()
            return None if row is None else decode_feed_state(row[0])

        return await self._read(run)

    async def put_feed_state(self, feed_id: str, state: FeedState) -> None:
        text = encode_feed_state(state)

        def run(conn: sqlite3.Connection) -> None:
            conn.execute(
                "INSERT INTO feeds (feed_id, state) VALUES (?, ?)"
                " ON CONFLICT (feed_id) DO UPDATE SET state = excluded.state",
                (feed_id, text),
            )

        await self._write(run)

    # -- articles ------------------------------------------------------------

    async def claim_articles(
        self, articles: Sequence[Sequence[str]], now: float, lease: float
    ) -> list[ClaimResult]:
        lists = [list(keys) for keys in articles]
        every = list({k for keys in lists for k in keys})

        def run(conn: sqlite3.Connection) -> list[ClaimResult]:
            live: dict[str, str] = {}
            for start in range(0, len(every), _SQL_VARIABLES):
                chunk = every[start : start + _SQL_VARIABLES]
                live.update(
                    conn.execute(
                        f"SELECT key, kind FROM marks WHERE key IN ({','.join('?' * len(chunk))})"
                        " AND until > ?",
                        (*chunk, now),
                    ).fetchall()
                )
            results: list[ClaimResult] = []
            earlier: set[str] = set()
            claims: list[tuple[str, float]] = []
            for keys in lists:
                kinds = {live[k] for k in keys if k in live}
                if "seen" in kinds or not earlier.isdisjoint(keys):
                    results.append(ClaimResult.SEEN)
                elif kinds:
                    results.append(ClaimResult.BUSY)
                else:
                    claims += [(k, now + lease) for k in keys]
                    results.append(ClaimResult.CLAIMED)
                earlier.update(keys)
            conn.executemany(
                "INSERT OR REPLACE INTO marks (key, kind, until) VALUES (?, 'claim', ?)", claims
            )
            return results

        return await self._write(run)

    async def mark_seen(
        self, keys: Sequence[str], now: float, retention: float | Sequence[float]
    ) -> None:
        rows = [
            (k, now + keep) for k, keep in zip(keys, per_key(retention, len(keys)), strict=True)
        ]

        def run(conn: sqlite3.Connection) -> None:
            self._purge(conn, now)
            conn.executemany(
                "INSERT OR REPLACE INTO marks (key, kind, until) VALUES (?, 'seen', ?)", rows
            )

        await self._write(run)

    async def release_article(self, keys: Sequence[str]) -> None:
        rows = [(k,) for k in keys]

        def run(conn: sqlite3.Connection) -> None:
            conn.executemany("DELETE FROM marks WHERE key = ? AND kind = 'claim'", rows)

        await self._write(run)

    async def is_seen(self, key: str, now: float) -> bool:
        def run(conn: sqlite3.Connection) -> bool:
            row = conn.execute(
                "SELECT 1 FROM marks WHERE key = ? AND kind = 'seen' AND until > ?", (key, now)
            ).fetchone()
            return row is not None

        return await self._read(run)

    # -- send slots (the outbox is sqlite_outbox's) --------------------------

    async def reserve_send(self, channel: str, now: float, interval: float) -> float | None:
        def run(conn: sqlite3.Connection) -> float | None:
            row = conn.execute(
                "SELECT opens FROM send_slots WHERE channel = ?", (channel,)
            ).fetchone()
            if row is not None and float(row[0]) > now:
                return float(row[0])
            conn.execute(
                "INSERT OR REPLACE INTO send_slots (channel, opens) VALUES (?, ?)",
                (channel, now + interval),
            )
            return None

        return await self._write(run)

    # -- stories -------------------------------------------------------------

    def _purge_stories(self, conn: sqlite3.Connection, now: float) -> None:
        """Delete ended stories and their index rows, at most once per PURGE_INTERVAL."""
        if now < self._next_story_purge:
            return
        self._next_story_purge = now + PURGE_INTERVAL
        for table in ("stories", "story_bands", "story_articles", "story_fingerprints"):
            conn.execute(f"DELETE FROM {table} WHERE until <= ?", (now,))

    @staticmethod
    def _story(conn: sqlite3.Connection, story_id: str, now: float) -> tuple[float, str] | None:
        """(until, members) of a live story."""
        row = conn.execute(
            "SELECT until, members FROM stories WHERE id = ? AND until > ?", (story_id, now)
        ).fetchone()
        return None if row is None else (float(row[0]), row[1])

    async def assign_story(
        self,
        member: StoryMember,
        probe: StoryProbe,
        min_similarity: float,
        now: float,
        window: float,
    ) -> StoryAssignment:
        line = encode_story_member(member)
        bands = list(dict.fromkeys(probe.bands))
        anchor_text = "\n".join(probe.anchors)

        def run(conn: sqlite3.Connection) -> tuple[str, float, str]:
            self._purge_stories(conn, now)
            row = conn.execute(
                "SELECT story_id FROM story_articles WHERE article_id = ?", (member.article_id,)
            ).fetchone()
            if row is not None and (known := self._story(conn, row[0], now)) is not None:
                return row[0], *known
            rows = []
            for start in range(0, len(bands), 500):  # stay under SQLite's parameter limit
                chunk = bands[start : start + 500]
                rows += conn.execute(
                    "SELECT DISTINCT s.id, s.until, s.sketch, s.anchors, s.members"
                    " FROM story_bands b JOIN stories s ON s.id = b.story_id"
                    f" WHERE b.band IN ({','.join('?' * len(chunk))}) AND b.until > ?"
                    " AND s.until > ?",
                    (*chunk, now, now),
                ).fetchall()
            found = {r[0]: (float(r[1]), r[4]) for r in rows}
            prints = {
                r[0]: [Fingerprint(bytes(r[2]), r[3].split("\n") if r[3] else ())] for r in rows
            }
            ids = list(prints)
            for start in range(0, len(ids), 500):
                chunk = ids[start : start + 500]
                for story_id, sketch, anchors in conn.execute(
                    "SELECT story_id, sketch, anchors FROM story_fingerprints"
                    f" WHERE story_id IN ({','.join('?' * len(chunk))}) AND until > ?"
                    " ORDER BY story_id, seq",
                    (*chunk, now),
                ):
                    prints[story_id].append(
                        Fingerprint(bytes(sketch), anchors.split("\n") if anchors else ())
                    )
            pick = pick_story(
                (Candidate(i, found[i][0], fps) for i, fps in prints.items()),
                probe,
                min_similarity,
            )
            if pick is not None:
                chosen = pick.story_id
                until, members = found[chosen]
                if members.count("\n") + 1 < MAX_STORY_MEMBERS:
                    members += "\n" + line
                    conn.execute("UPDATE stories SET members = ? WHERE id = ?", (members, chosen))
                if pick.indexed:
                    conn.execute(
                        "INSERT OR REPLACE INTO story_fingerprints"
                        " (story_id, seq, sketch, anchors, until) VALUES (?, ?, ?, ?, ?)",
                        (chosen, len(prints[chosen]), probe.sketch, anchor_text, until),
                    )
            else:
                chosen, until, members = member.article_id, now + window, line
                conn.execute(
                    "INSERT OR REPLACE INTO stories (id, until, sketch, anchors, members)"
                    " VALUES (?, ?, ?, ?, ?)",
                    (chosen, until, probe.sketch, anchor_text, members),
                )
                conn.execute("DELETE FROM story_fingerprints WHERE story_id = ?", (chosen,))
            if pick is None or pick.indexed:
                conn.executemany(
                    "INSERT OR REPLACE INTO story_bands (band, story_id, until) VALUES (?, ?, ?)",
                    [(band, chosen, until) for band in bands],
                )
            conn.execute(
                "INSERT OR REPLACE INTO story_articles (article_id, story_id, until)"
                " VALUES (?, ?, ?)",
                (member.article_id, chosen, until),
            )
            return chosen, until, members

        story_id, until, members = await self._write(run)
        return StoryAssignment(
            story_id, story_id == member.article_id, decode_story_members(members), until
        )

    async def get_story(self, story_id: str, now: float) -> StoryAssignment | None:
        def run(conn: sqlite3.Connection) -> tuple[float, str] | None:
            return self._story(conn, story_id, now)

        found = await self._read(run)
        if found is None:
            return None
        return StoryAssignment(story_id, False, decode_story_members(found[1]), found[0])

    # -- archive (the statements are in sqlite_archive) -------------------------

    async def archive_articles(
        self, entries: Sequence[ArchivedArticle], now: float, retention: float, max_articles: int
    ) -> None:
        if retention > 0 and max_articles > 0:
            rows = sqlite_archive.rows_of(entries)
            cutoff = now - retention
            await self._write(
                partial(sqlite_archive.archive, rows=rows, cutoff=cutoff, most=max_articles)
            )

    async def archived_articles(
        self, since: float, limit: int | None = None
    ) -> list[ArchivedArticle]:
        return await self._read(partial(sqlite_archive.archived, since=since, limit=limit))

    async def rule_fingerprints(self) -> dict[str, str]:
        return await self._read(sqlite_archive.fingerprints)

    async def set_rule_fingerprints(self, fingerprints: Mapping[str, str]) -> None:
        items = dict(fingerprints)
        await self._write(partial(sqlite_archive.replace_fingerprints, items=items))

    # -- lifecycle -----------------------------------------------------------

    async def ping(self) -> None:
        def run(conn: sqlite3.Connection) -> None:
            conn.execute("SELECT 1").fetchone()

        await self._read(run)

    async def close(self) -> None:
        def run() -> None:
            with self._lock:
                if self._conn is not None:
                    self._conn.close()
                    self._conn = None

        await asyncio.to_thread(run)
