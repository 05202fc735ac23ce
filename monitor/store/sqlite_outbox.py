"""The SQLite store's outbox: the statements on the ``outbox``, ``dead`` and ``delivered``
tables.

:class:`SqliteOutbox` holds the :class:`~monitor.store.base.Outbox` methods of
:class:`~monitor.store.sqlite.SqliteStore` (a mixin, like
:class:`~monitor.store.sqlite_channels.SqliteChannels`: each runs in one of that store's
transactions, and ``ack`` purges expired rows through the store's ``_purge``). The tables
are :data:`~monitor.store.sqlite_schema.SCHEMA`'s.

Ordering matches :mod:`monitor.store.memory`: outbox by due time then alert id, dead
letters by death time then id, deliveries by delivery time then id, most recent first.

:meth:`SqliteOutbox.outbox_summary` counts both tables and finds the oldest created time
in SQL, through an index on each stored alert's creation time
(:data:`~monitor.store.sqlite_schema.OUTBOX_CREATED`), decoding no alert.
``codec.encode_alert`` writes ``created_at.isoformat()``: the daemon's alerts are UTC
(``+00:00``), but the contract allows any offset (or none), so the text alone does not
order them. SQLite's ``julianday`` reads any offset (a naive time as UTC, as
``codec.created_epoch`` does), so the rows are ordered by instant; its resolution is the
millisecond, and ties within one are broken by the text, exact for times of one offset.
Only the winning row's text is parsed, in Python, to the microsecond.
"""

from __future__ import annotations

import json
import sqlite3
import uuid
from collections.abc import Callable, Sequence
from datetime import datetime
from typing import TypeVar

from monitor.model import Alert, DeliveryRecord, OutboxEntry, OutboxLookup, OutboxSummary
from monitor.store.codec import created_epoch, decode_alert, encode_alert
from monitor.store.sqlite_schema import OUTBOX_CREATED

__all__ = ["SqliteOutbox"]

T = TypeVar("T")

_Row = tuple[str, str, int, float, str]

#: The oldest ``created_at`` of the outbox, by instant (see the module's docstring), read
#: off the ``outbox_created`` index. A row whose time SQLite cannot read (NULL) would sort
#: first: it is left out.
_OLDEST_CREATED = (
    f"SELECT {OUTBOX_CREATED} FROM outbox WHERE julianday({OUTBOX_CREATED}) IS NOT NULL"
    f" ORDER BY julianday({OUTBOX_CREATED}), {OUTBOX_CREATED} LIMIT 1"
)


def _entry(row: _Row, claim: str = "") -> OutboxEntry:
    """An outbox or dead-letter row (id, alert, attempts, time, last_error) as an entry."""
    _, alert, attempts, at, last_error = row
    return OutboxEntry(
        alert=decode_alert(alert),
        attempts=int(attempts),
        due_at=float(at),
        last_error=last_error,
        claim=claim,
    )


def _summary(conn: sqlite3.Connection) -> OutboxSummary:
    (pending,) = conn.execute("SELECT COUNT(*) FROM outbox").fetchone()
    (dead,) = conn.execute("SELECT COUNT(*) FROM dead").fetchone()
    row = conn.execute(_OLDEST_CREATED).fetchone()
    oldest = created_epoch(datetime.fromisoformat(row[0])) if row is not None else None
    return OutboxSummary(int(pending), int(dead), oldest)


class SqliteOutbox:
    """The outbox of :class:`~monitor.store.sqlite.SqliteStore`, which provides the
    transactions (:meth:`_read`, :meth:`_write`) and the purge of expired rows."""

    async def _read(self, fn: Callable[[sqlite3.Connection], T]) -> T:
        raise NotImplementedError

    async def _write(self, fn: Callable[[sqlite3.Connection], T]) -> T:
        raise NotImplementedError

    def _purge(self, conn: sqlite3.Connection, now: float) -> None:
        raise NotImplementedError

    async def enqueue(self, alerts: Sequence[Alert], now: float) -> int:
        rows = [(a.id, encode_alert(a)) for a in alerts]

        def run(conn: sqlite3.Connection) -> int:
            added = 0
            for alert_id, text in rows:
                known = conn.execute(
                    "SELECT 1 FROM outbox WHERE id = ?1"
                    " UNION ALL SELECT 1 FROM dead WHERE id = ?1"
                    " UNION ALL SELECT 1 FROM delivered WHERE id = ?1 AND until > ?2",
                    (alert_id, now),
                ).fetchone()
                if known is None:
                    conn.execute(
                        "INSERT INTO outbox (id, alert, due_at) VALUES (?, ?, ?)",
                        (alert_id, text, now),
                    )
                    added += 1
            return added

        return await self._write(run)

    async def claim_due(self, now: float, lease: float, limit: int) -> list[OutboxEntry]:
        def run(conn: sqlite3.Connection) -> list[OutboxEntry]:
            rows: list[_Row] = conn.execute(
                "SELECT id, alert, attempts, due_at, last_error FROM outbox"
                " WHERE due_at <= ? ORDER BY due_at, id LIMIT ?",
                (now, max(limit, 0)),
            ).fetchall()
            until, token = now + lease, uuid.uuid4().hex
            conn.executemany(
                "UPDATE outbox SET due_at = ?, claim = ? WHERE id = ?",
                [(until, token, r[0]) for r in rows],
            )
            return [_entry((i, a, n, until, e), token) for i, a, n, _, e in rows]

        return await self._write(run)

    async def ack(self, alert_id: str, now: float, detail: str, retention: float) -> None:
        def run(conn: sqlite3.Connection) -> None:
            self._purge(conn, now)
            row = conn.execute(
                "SELECT alert, attempts FROM outbox WHERE id = ?", (alert_id,)
            ).fetchone()
            conn.execute("DELETE FROM outbox WHERE id = ?", (alert_id,))
            alert, attempts = (row[0], int(row[1]) + 1) if row is not None else (None, 0)
            # Not in the outbox: an existing record keeps its alert and attempts.
            conn.execute(
                "INSERT INTO delivered (id, until, delivered_at, detail, alert, attempts)"
                " VALUES (?1, ?2, ?3, ?4, ?5, ?6)"
                " ON CONFLICT (id) DO UPDATE SET until = ?2, delivered_at = ?3, detail = ?4,"
                " alert = coalesce(?5, alert),"
                " attempts = CASE WHEN ?5 IS NULL THEN attempts ELSE ?6 END",
                (alert_id, now + retention, now, detail, alert, attempts),
            )

        await self._write(run)

    async def retry_later(self, alert_id: str, due_at: float, error: str, *, claim: str) -> bool:
        def run(conn: sqlite3.Connection) -> bool:
            changed: int = conn.execute(
                "UPDATE outbox SET attempts = attempts + 1, due_at = ?, last_error = ?, claim = ''"
                " WHERE id = ? AND claim = ? AND claim != ''",
                (due_at, error, alert_id, claim),
            ).rowcount
            return changed > 0

        return await self._write(run)

    async def defer(self, alert_id: str, due_at: float, *, claim: str) -> bool:
        def run(conn: sqlite3.Connection) -> bool:
            changed: int = conn.execute(
                "UPDATE outbox SET due_at = ?, claim = ''"
                " WHERE id = ? AND claim = ? AND claim != ''",
                (due_at, alert_id, claim),
            ).rowcount
            return changed > 0

        return await self._write(run)

    async def dead_letter(self, alert_id: str, now: float, error: str, *, claim: str) -> bool:
        def run(conn: sqlite3.Connection) -> bool:
            moved: int = conn.execute(
                "INSERT OR REPLACE INTO dead (id, alert, attempts, dead_at, last_error)"
                " SELECT id, alert, attempts + 1, ?, ? FROM outbox"
                " WHERE id = ? AND claim = ? AND claim != ''",
                (now, error, alert_id, claim),
            ).rowcount
            if moved:
                conn.execute("DELETE FROM outbox WHERE id = ?", (alert_id,))
            return moved > 0

        return await self._write(run)

    async def is_delivered(self, alert_id: str, now: float) -> bool:
        def run(conn: sqlite3.Connection) -> bool:
            row = conn.execute(
                "SELECT 1 FROM delivered WHERE id = ? AND until > ?", (alert_id, now)
            ).fetchone()
            return row is not None

        return await self._read(run)

    async def recent_deliveries(self, now: float, limit: int) -> list[DeliveryRecord]:
        def run(conn: sqlite3.Connection) -> list[DeliveryRecord]:
            rows = conn.execute(
                "SELECT alert, delivered_at, detail, attempts FROM delivered"
                " WHERE until > ? AND alert IS NOT NULL"
                " ORDER BY delivered_at DESC, id DESC LIMIT ?",
                (now, max(limit, 0)),
            ).fetchall()
            return [
                DeliveryRecord(decode_alert(a), float(at), detail, int(n))
                for a, at, detail, n in rows
            ]

        return await self._read(run)

    async def requeue(self, alert_id: str, now: float) -> bool:
        def run(conn: sqlite3.Connection) -> bool:
            return self._requeue(conn, now, "WHERE id = ?", (alert_id,)) > 0

        return await self._write(run)

    async def requeue_many(self, alert_ids: Sequence[str], now: float) -> list[str]:
        wanted = list(dict.fromkeys(alert_ids))
        # One parameter however many ids (SQLite caps the number of parameters a statement
        # takes): the ids as a JSON array, read back as rows by json_each.
        where = "WHERE id IN (SELECT value FROM json_each(?))"
        ids_json = json.dumps(wanted)

        def run(conn: sqlite3.Connection) -> list[str]:
            dead = {row[0] for row in conn.execute(f"SELECT id FROM dead {where}", (ids_json,))}
            if dead:
                self._requeue(conn, now, where, (ids_json,))
            return [alert_id for alert_id in wanted if alert_id in dead]

        return await self._write(run) if wanted else []

    async def requeue_all_dead(self, now: float) -> int:
        def run(conn: sqlite3.Connection) -> int:
            return self._requeue(conn, now, "", ())

        return await self._write(run)

    async def outbox_entry(self, alert_id: str) -> OutboxLookup | None:
        def run(conn: sqlite3.Connection) -> OutboxLookup | None:
            # One read transaction, one snapshot: an alert moving between the tables right
            # now is found in one of them. Dead letters first, as the console looked.
            for table, at, dead in (("dead", "dead_at", True), ("outbox", "due_at", False)):
                row: _Row | None = conn.execute(
                    f"SELECT id, alert, attempts, {at}, last_error FROM {table} WHERE id = ?",
                    (alert_id,),
                ).fetchone()
                if row is not None:
                    return OutboxLookup(_entry(row), dead=dead)
            return None

        return await self._read(run)

    @staticmethod
    def _requeue(conn: sqlite3.Connection, now: float, where: str, params: tuple[str, ...]) -> int:
        """Move the dead letters selected by ``where`` into the outbox; return how many."""
        moved: int = conn.execute(
            "INSERT OR REPLACE INTO outbox (id, alert, attempts, due_at, last_error, claim)"
            f" SELECT id, alert, 0, ?, last_error, '' FROM dead {where}",
            (now, *params),
        ).rowcount
        conn.execute(f"DELETE FROM dead {where}", params)
        return moved

    async def pending(self) -> list[OutboxEntry]:
        def run(conn: sqlite3.Connection) -> list[OutboxEntry]:
            rows = conn.execute(
                "SELECT id, alert, attempts, due_at, last_error FROM outbox ORDER BY due_at, id"
            ).fetchall()
            return [_entry(r) for r in rows]

        return await self._read(run)

    async def dead_letters(self) -> list[OutboxEntry]:
        def run(conn: sqlite3.Connection) -> list[OutboxEntry]:
            rows = conn.execute(
                "SELECT id, alert, attempts, dead_at, last_error FROM dead"
                " ORDER BY dead_at DESC, id DESC"
            ).fetchall()
            return [_entry(r) for r in rows]

        return await self._read(run)

    async def outbox_summary(self) -> OutboxSummary:
        # Read at every metrics scrape: no write lock, and no alert decoded.
        return await self._read(_summary)
