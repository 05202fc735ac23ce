"""The SQLite store's disabled channels: the statements on the ``channel_disabled`` table.

:class:`SqliteChannels` holds the :class:`~monitor.store.base.ChannelStateStore` methods
of :class:`~monitor.store.sqlite.SqliteStore` (a mixin, like
:class:`~monitor.store.sqlite_history.SqliteHistory`: each runs in one of that store's
transactions). The table is part of :data:`~monitor.store.sqlite_schema.SCHEMA`, so an
older file gains it, empty, when it is opened.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from functools import partial
from typing import TypeVar

from monitor.model import DisabledChannel

__all__ = ["SqliteChannels"]

T = TypeVar("T")

_COLUMNS = "channel, since, reason, target"


def _record(row: tuple[str, float, str, str]) -> DisabledChannel:
    channel, since, reason, target = row
    return DisabledChannel(channel, float(since), reason, target)


def _one(conn: sqlite3.Connection, channel: str) -> DisabledChannel | None:
    sql = f"SELECT {_COLUMNS} FROM channel_disabled WHERE channel = ?"
    row = conn.execute(sql, (channel,)).fetchone()
    return _record(row) if row is not None else None


def _disable(conn: sqlite3.Connection, record: DisabledChannel) -> DisabledChannel:
    stored = _one(conn, record.channel)
    if stored is not None and stored.target == record.target:
        return stored  # the first 410 wins: replicas hearing it at once agree on when
    conn.execute(
        f"INSERT OR REPLACE INTO channel_disabled ({_COLUMNS}) VALUES (?, ?, ?, ?)",
        (record.channel, record.since, record.reason, record.target),
    )
    return record


def _enable(conn: sqlite3.Connection, channel: str) -> DisabledChannel | None:
    stored = _one(conn, channel)
    if stored is not None:
        conn.execute("DELETE FROM channel_disabled WHERE channel = ?", (channel,))
    return stored


def _every(conn: sqlite3.Connection) -> list[DisabledChannel]:
    sql = f"SELECT {_COLUMNS} FROM channel_disabled ORDER BY channel"
    return [_record(row) for row in conn.execute(sql).fetchall()]


class SqliteChannels:
    """The disabled channels of :class:`~monitor.store.sqlite.SqliteStore`, which provides
    the transactions (:meth:`_read`, :meth:`_write`)."""

    async def _read(self, fn: Callable[[sqlite3.Connection], T]) -> T:
        raise NotImplementedError

    async def _write(self, fn: Callable[[sqlite3.Connection], T]) -> T:
        raise NotImplementedError

    async def disable_channel(self, record: DisabledChannel) -> DisabledChannel:
        return await self._write(partial(_disable, record=record))

    async def enable_channel(self, channel: str) -> DisabledChannel | None:
        return await self._write(partial(_enable, channel=channel))

    async def disabled_channels(self) -> list[DisabledChannel]:
        # Read once per delivery pass: no write lock.
        return await self._read(_every)
