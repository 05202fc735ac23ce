"""The SQLite store's WebSub subscriptions: the statements on the ``websub_subscription``
table (feed id -> the record's JSON, :func:`~monitor.store.websub.encode`).

:class:`SqliteSubscriptions` holds the :class:`~monitor.store.websub.SubscriptionStore`
methods of :class:`~monitor.store.sqlite.SqliteStore` (a mixin, like
:class:`~monitor.store.sqlite_channels.SqliteChannels`: each runs in one of that store's
transactions). The table is part of :data:`~monitor.store.sqlite_schema.SCHEMA`; earlier
versions created it, with the same columns, on first use, so a file of theirs that has it
keeps its records and one that has not gains it, empty, when it is opened.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from functools import partial
from typing import TypeVar

from monitor.store.websub import Subscription, decode, encode

__all__ = ["SqliteSubscriptions"]

T = TypeVar("T")


def _one(conn: sqlite3.Connection, feed_id: str) -> str | None:
    sql = "SELECT record FROM websub_subscription WHERE feed_id = ?"
    row = conn.execute(sql, (feed_id,)).fetchone()
    return str(row[0]) if row is not None else None


def _put(conn: sqlite3.Connection, feed_id: str, record: str) -> None:
    sql = "INSERT OR REPLACE INTO websub_subscription (feed_id, record) VALUES (?, ?)"
    conn.execute(sql, (feed_id, record))


def _add(conn: sqlite3.Connection, feed_id: str, record: str) -> str:
    # One write transaction: of two processes adding at once, the second sees the first's.
    sql = "INSERT OR IGNORE INTO websub_subscription (feed_id, record) VALUES (?, ?)"
    conn.execute(sql, (feed_id, record))
    # Inserted, or already there: the row exists in this transaction.
    row = conn.execute("SELECT record FROM websub_subscription WHERE feed_id = ?", (feed_id,))
    return str(row.fetchone()[0])


def _delete(conn: sqlite3.Connection, feed_id: str) -> None:
    conn.execute("DELETE FROM websub_subscription WHERE feed_id = ?", (feed_id,))


def _every(conn: sqlite3.Connection) -> list[str]:
    rows = conn.execute("SELECT record FROM websub_subscription ORDER BY feed_id").fetchall()
    return [str(row[0]) for row in rows]


class SqliteSubscriptions:
    """The WebSub subscriptions of :class:`~monitor.store.sqlite.SqliteStore`, which
    provides the transactions (:meth:`_read`, :meth:`_write`)."""

    async def _read(self, fn: Callable[[sqlite3.Connection], T]) -> T:
        raise NotImplementedError

    async def _write(self, fn: Callable[[sqlite3.Connection], T]) -> T:
        raise NotImplementedError

    async def get_subscription(self, feed_id: str) -> Subscription | None:
        text = await self._read(partial(_one, feed_id=feed_id))
        return decode(text) if text is not None else None

    async def put_subscription(self, subscription: Subscription) -> None:
        record = encode(subscription)
        await self._write(partial(_put, feed_id=subscription.feed_id, record=record))

    async def add_subscription(self, subscription: Subscription) -> Subscription:
        record = encode(subscription)
        return decode(await self._write(partial(_add, feed_id=subscription.feed_id, record=record)))

    async def delete_subscription(self, feed_id: str) -> None:
        await self._write(partial(_delete, feed_id=feed_id))

    async def subscriptions(self) -> list[Subscription]:
        return [decode(text) for text in await self._read(_every)]
