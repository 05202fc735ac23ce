"""The SQLite store's alert history and silences: the statements on their tables.

:class:`SqliteHistory` holds the :class:`~monitor.store.base.AlertHistory` and
:class:`~monitor.store.base.SilenceStore` methods of
:class:`~monitor.store.sqlite.SqliteStore` (a mixin: each runs in one of that store's
transactions), on the ``history``, ``history_fts`` and ``silences`` tables of
:mod:`monitor.store.sqlite_schema`.

A ``history`` row holds an entry's small columns (what filters, sorts and counts read,
so a scan or a sort never drags an article along); its ``history_alerts`` row, under the
same ``seq``, holds the alert's title, text and query in columns of their own and the
rest of the alert as JSON (:func:`~monitor.store.codec.encode_alert` with those three
emptied), so nothing is stored twice. ``history_fts`` is an FTS5 index over those
columns with ``history_alerts`` as its external content; triggers keep it in step on
every insert, update and delete (expiry included: deleting a ``history`` row deletes
its ``history_alerts`` row). Its ``unicode61`` tokenizer
with ``remove_diacritics 2`` cuts and folds words as
:func:`~monitor.store.history_rules.words_of` does, and a search asks for every word as
a prefix (``"drone"*``). Pages are keyset pages on the ``(created_at, id)`` index (or
the rule, channel or status index): a cursor is a position, never an offset.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Sequence
from dataclasses import replace
from functools import partial
from typing import TypeVar

from monitor.model import (
    Alert,
    Attempt,
    HistoryEntry,
    HistoryPage,
    HistoryQuery,
    HistoryStats,
    RuleStats,
    Silence,
)
from monitor.store import history_rules as rules
from monitor.store.codec import decode_alert, encode_alert

__all__ = ["SqliteHistory"]

T = TypeVar("T")

#: One update, encoded before the transaction: id, status, event line, at, queued?,
#: coverage, rule, channel, story, title, text, query, stripped alert JSON.
_Update = tuple[str, str, str, float, bool, int, str, str, str, str, str, str, str]
#: What a page reads: the page's entries picked on ``history`` alone ({where}, limit ?),
#: then joined to their alerts.
_PAGE = (
    "SELECT h.id, h.status, h.created_at, h.updated_at, a.title, a.text, a.rule_query,"
    " a.alert, h.events FROM (SELECT seq, id, status, created_at, updated_at, events"
    " FROM history {where} ORDER BY created_at DESC, id DESC LIMIT ?) AS h"
    " JOIN history_alerts AS a ON a.seq = h.seq ORDER BY h.created_at DESC, h.id DESC"
)
_ONE = (
    "SELECT h.id, h.status, h.created_at, h.updated_at, a.title, a.text, a.rule_query,"
    " a.alert, h.events FROM history AS h JOIN history_alerts AS a ON a.seq = h.seq"
    " WHERE h.id = ?"
)


def _update_of(alert: Alert, status: str, event: Attempt) -> _Update:
    bare = replace(alert, query="", article=replace(alert.article, title="", text=""))
    return (
        alert.id,
        status,
        rules.encode_event(event),
        event.at,
        event.outcome == rules.QUEUED,
        len(alert.also_in),
        alert.rule_id,
        alert.channel,
        rules.story_key(alert),
        alert.article.title,
        alert.article.text,
        alert.query,
        encode_alert(bare),
    )


def _entry(row: tuple[str, str, float, float, str, str, str, str, str]) -> HistoryEntry:
    """A row of :data:`_PAGE` as an entry: the alert's title, text and query put back."""
    _, status, created_at, updated_at, title, text, query, alert, events = row
    bare = decode_alert(alert)
    whole = replace(bare, query=query, article=replace(bare.article, title=title, text=text))
    return HistoryEntry(
        whole, status, float(created_at), float(updated_at), rules.decode_events(events)
    )


def _record(conn: sqlite3.Connection, updates: Sequence[_Update], cutoff: float) -> None:
    for update in updates:
        (alert_id, status, line, at, is_queued, coverage, rule, channel, story) = update[:9]
        title, text, query, alert = update[9:]  # the new alert's, if it is fresher
        row = conn.execute(
            "SELECT seq, coverage, events FROM history WHERE id = ?", (alert_id,)
        ).fetchone()
        if row is None:
            seq = conn.execute(
                "INSERT INTO history (id, rule_id, channel, status, story, coverage, created_at,"
                " updated_at, events) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (alert_id, rule, channel, status, story, coverage, at, at, line),
            ).lastrowid
            conn.execute(
                "INSERT INTO history_alerts (seq, title, text, rule_query, alert)"
                " VALUES (?, ?, ?, ?, ?)",
                (seq, title, text, query, alert),
            )
            continue
        if is_queued:
            continue
        seq, old_coverage, old_events = row
        events = old_events.split("\n")[-(rules.MAX_EVENTS - 1) :] if old_events else []
        conn.execute(
            "UPDATE history SET status = ?, updated_at = ?, events = ? WHERE seq = ?",
            (status, at, "\n".join([*events, line]), seq),
        )
        if coverage > int(old_coverage):  # a fresher alert (more copies of its story)
            conn.execute(
                "UPDATE history SET coverage = ?, story = ? WHERE seq = ?", (coverage, story, seq)
            )
            conn.execute(
                "UPDATE history_alerts SET title = ?, text = ?, rule_query = ?, alert = ?"
                " WHERE seq = ?",
                (title, text, query, alert, seq),
            )
    conn.execute("DELETE FROM history WHERE updated_at < ?", (cutoff,))


def _search(
    conn: sqlite3.Connection, query: HistoryQuery, cursor: tuple[float, str] | None
) -> list[HistoryEntry]:
    where: list[str] = []
    params: list[object] = []
    for column, value in (
        ("rule_id", query.rule),
        ("channel", query.channel),
        ("status", query.status),
    ):
        if value is not None:
            where.append(f"{column} = ?")
            params.append(value)
    if query.since is not None:
        where.append("created_at >= ?")
        params.append(query.since)
    if cursor is not None:
        where.append("(created_at, id) < (?, ?)")
        params += cursor
    if words := rules.query_words(query.text):
        where.append("seq IN (SELECT rowid FROM history_fts WHERE history_fts MATCH ?)")
        params.append(" AND ".join(f'"{w}"*' for w in words))
    clause = "WHERE " + " AND ".join(where) if where else ""
    rows = conn.execute(_PAGE.format(where=clause), (*params, query.limit + 1)).fetchall()
    return [_entry(r) for r in rows]


def _one(conn: sqlite3.Connection, alert_id: str) -> HistoryEntry | None:
    row = conn.execute(_ONE, (alert_id,)).fetchone()
    return None if row is None else _entry(row)


def _stats(conn: sqlite3.Connection, since: float) -> HistoryStats:
    stats = rules.stats_of(())
    for status, count in conn.execute(
        "SELECT status, count(*) FROM history WHERE created_at >= ? GROUP BY status", (since,)
    ):
        stats.by_status[status] = int(count)
    for rule, hits, last in conn.execute(
        "SELECT rule_id, count(DISTINCT story), max(created_at) FROM history"
        " WHERE created_at >= ? GROUP BY rule_id",
        (since,),
    ):
        stats.rules[rule] = RuleStats(int(hits), float(last))
    return stats


def _silences(conn: sqlite3.Connection) -> list[Silence]:
    rows = conn.execute(
        "SELECT id, kind, target, starts_at, ends_at, comment, created_by FROM silences"
        " ORDER BY starts_at, id"
    ).fetchall()
    return [Silence(i, k, t, float(s), float(e), c, b) for i, k, t, s, e, c, b in rows]


def _drop_silences(conn: sqlite3.Connection, before: float) -> None:
    conn.execute("DELETE FROM silences WHERE ends_at <= ?", (before,))


def _add_silence(conn: sqlite3.Connection, silence: Silence) -> None:
    conn.execute(
        "INSERT OR REPLACE INTO silences (id, kind, target, starts_at, ends_at, comment,"
        " created_by) VALUES (?, ?, ?, ?, ?, ?, ?)",
        (
            silence.id,
            silence.kind,
            silence.target,
            silence.starts_at,
            silence.ends_at,
            silence.comment,
            silence.created_by,
        ),
    )


def _expire_silence(conn: sqlite3.Connection, silence_id: str, now: float) -> bool:
    found = conn.execute("SELECT 1 FROM silences WHERE id = ?", (silence_id,)).fetchone()
    conn.execute(
        "UPDATE silences SET ends_at = ? WHERE id = ? AND ends_at > ?", (now, silence_id, now)
    )
    return found is not None


class SqliteHistory:
    """The alert history and silences of :class:`~monitor.store.sqlite.SqliteStore`, which
    provides the transactions (:meth:`_read`, :meth:`_write`)."""

    async def _read(self, fn: Callable[[sqlite3.Connection], T]) -> T:
        raise NotImplementedError

    async def _write(self, fn: Callable[[sqlite3.Connection], T]) -> T:
        raise NotImplementedError

    async def record_history(
        self, updates: Sequence[tuple[Alert, str, Attempt]], retention: float
    ) -> None:
        rules.check_updates(updates)
        if retention <= 0 or not updates:
            return
        encoded = [_update_of(*u) for u in updates]
        cutoff = max(event.at for _, _, event in updates) - retention
        await self._write(partial(_record, updates=encoded, cutoff=cutoff))

    async def search_history(self, query: HistoryQuery) -> HistoryPage:
        cursor = rules.check_query(query)
        if query.limit <= 0:
            return HistoryPage(())
        found = await self._read(partial(_search, query=query, cursor=cursor))
        if len(found) <= query.limit:
            return HistoryPage(tuple(found))
        last = found[query.limit - 1]
        return HistoryPage(
            tuple(found[: query.limit]), rules.encode_cursor(last.created_at, last.alert.id)
        )

    async def history_entry(self, alert_id: str) -> HistoryEntry | None:
        return await self._read(partial(_one, alert_id=alert_id))

    async def history_stats(self, since: float) -> HistoryStats:
        return await self._read(partial(_stats, since=since))

    async def add_silence(self, silence: Silence) -> None:
        rules.check_silence(silence)
        await self._write(partial(_add_silence, silence=silence))

    async def list_silences(self, now: float, *, expired_for: float = 86_400.0) -> list[Silence]:
        every = await self._read(_silences)  # once per delivery pass: no write lock if it can
        if any(rules.droppable(s, now, expired_for) for s in every):
            horizon = now - max(expired_for, rules.SILENCE_KEEP)
            await self._write(partial(_drop_silences, before=horizon))
        return [s for s in every if rules.listed(s, now, expired_for)]

    async def expire_silence(self, silence_id: str, now: float) -> bool:
        return await self._write(partial(_expire_silence, silence_id=silence_id, now=now))
