"""The Redis store's outbox: its calls (the scripts are :mod:`monitor.store.redis_scripts`).

:class:`RedisOutbox` holds the :class:`~monitor.store.base.Outbox` methods of
:class:`~monitor.store.redis.RedisStore` (a mixin, like
:class:`~monitor.store.redis_history.RedisHistory`: the client, the key layout of
:mod:`monitor.store.redis_keys` and the error translation are that store's).

The outbox is a sorted set of alert ids by due time, the dead letters one by the time
they died, beside hashes of each alert's JSON, attempts, last error and claim token.
``outbox_entry`` reads one alert's scores and hash fields in one script (no listing);
``requeue_many`` sends its ids to the requeue script :data:`REQUEUE_BATCH` at a time.

Delivered records: ``delivered:<id>`` (a hash with its own TTL) answers
``is_delivered``; the sorted set ``delivered_log`` (id by delivery time) only
orders them for ``recent_deliveries``. ``ack`` trims the log to the newest
``DELIVERED_LOG_LIMIT`` entries and drops those older than its retention,
and a listing skips entries whose record has expired, so the log never grows
without bound and never shows what ``is_delivered`` would deny.

The summary (``outbox_summary``, read at every metrics scrape) reads no alert: the
sorted set ``outbox_born`` indexes the created time of every alert in the outbox or the
dead letters (``enqueue`` adds, ``ack`` removes; one index for both sets, so moving an
alert between them changes nothing), and one script counts the sets and walks the index
from its oldest member to the first that is in the outbox, a bounded number of members a
call (:data:`SUMMARY_BUDGET`). An index whose size is not the outbox's plus the dead
letters' (data written before the index existed, or by an older version during a rolling
upgrade) is rebuilt once, from the listings, and the summary read again; an enqueue or
ack racing the rebuild only leaves a size that makes the next call rebuild again.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from contextlib import AbstractContextManager
from dataclasses import replace
from typing import Any, cast

import redis.asyncio as aioredis
from redis.commands.core import AsyncScript

from monitor.log import get_logger
from monitor.model import Alert, DeliveryRecord, OutboxEntry, OutboxLookup, OutboxSummary
from monitor.store import redis_scripts as lua
from monitor.store.codec import created_epoch, decode_alert, encode_alert
from monitor.store.redis_keys import Keys
from monitor.store.redis_scripts import num, ttl_ms

__all__ = ["REQUEUE_BATCH", "SUMMARY_BUDGET", "RedisOutbox"]

log = get_logger("monitor.store")

#: Index members one summary script call walks at most, and per ZRANGE: a long run of
#: dead letters older than every queued alert costs several short calls, never one long
#: block of the server.
SUMMARY_BUDGET, SUMMARY_PAGE = 1_000, 100
#: Members per ZADD when the index is rebuilt.
REBUILD_BATCH = 1_000
#: Ids per call of the requeue script in ``requeue_many``: 5,000 dead letters retried at
#: once cost five short calls, never one long block of the server.
REQUEUE_BATCH = 1_000


def _text(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value


def _entries(flat: list[Any]) -> list[OutboxEntry]:
    """Decode the [id, score, alert, attempts, error, ...] reply of the entry-listing scripts."""
    out = []
    for i in range(0, len(flat), 5):
        _, score, alert, attempts, error = (_text(v) for v in flat[i : i + 5])
        if alert:  # an id without its alert would be a bug; skip rather than crash
            out.append(
                OutboxEntry(
                    alert=decode_alert(alert),
                    attempts=int(attempts),
                    due_at=float(score),
                    last_error=error,
                )
            )
    return out


class RedisOutbox:
    """The outbox of :class:`~monitor.store.redis.RedisStore`, which provides the client,
    the keys, the error translation and the delivered log's bound, and calls
    :meth:`_register_outbox_scripts` once."""

    _client: aioredis.Redis
    keys: Keys
    _log_limit: int

    def _errors(self, operation: str) -> AbstractContextManager[None]:
        raise NotImplementedError

    def _register_outbox_scripts(self) -> None:
        script = self._client.register_script
        self._enqueue: AsyncScript = script(lua.ENQUEUE)
        self._claim_due: AsyncScript = script(lua.CLAIM_DUE)
        self._list: AsyncScript = script(lua.LIST_ENTRIES)
        self._ack: AsyncScript = script(lua.ACK)
        self._retry_later: AsyncScript = script(lua.RETRY_LATER)
        self._dead_letter: AsyncScript = script(lua.DEAD_LETTER)
        self._defer: AsyncScript = script(lua.DEFER)
        self._requeue: AsyncScript = script(lua.REQUEUE)
        self._summary: AsyncScript = script(lua.OUTBOX_SUMMARY)
        self._outbox_entry: AsyncScript = script(lua.OUTBOX_ENTRY)

    async def enqueue(self, alerts: Sequence[Alert], now: float) -> int:
        if not alerts:
            return 0
        k = self.keys
        args: list[str] = [num(now)]
        for alert in alerts:
            args += [alert.id, encode_alert(alert), num(created_epoch(alert.created_at))]
        with self._errors("enqueue"):
            added = await self._enqueue(
                keys=[k.outbox, k.dead, k.alerts, k.attempts, k.errors, k.outbox_born]
                + [k.delivered(a.id) for a in alerts],
                args=args,
            )
        return int(added)

    async def claim_due(self, now: float, lease: float, limit: int) -> list[OutboxEntry]:
        if limit <= 0:
            return []
        k = self.keys
        with self._errors("claim_due"):
            token = uuid.uuid4().hex
            flat = await self._claim_due(
                keys=[k.outbox, k.alerts, k.attempts, k.errors, k.claims],
                args=[num(now), num(now + lease), limit, token],
            )
        return [replace(entry, claim=token) for entry in _entries(flat)]

    async def ack(self, alert_id: str, now: float, detail: str, retention: float) -> None:
        k = self.keys
        with self._errors("ack"):
            await self._ack(
                keys=[
                    k.outbox,
                    k.alerts,
                    k.attempts,
                    k.errors,
                    k.delivered(alert_id),
                    k.delivered_log,
                    k.claims,
                    k.outbox_born,
                ],
                args=[
                    alert_id,
                    num(now + retention),
                    num(now),
                    detail,
                    ttl_ms(retention),
                    self._log_limit,
                    num(now - retention),
                ],
            )

    async def retry_later(self, alert_id: str, due_at: float, error: str, *, claim: str) -> bool:
        k = self.keys
        with self._errors("retry_later"):
            done = await self._retry_later(
                keys=[k.outbox, k.claims, k.attempts, k.errors],
                args=[alert_id, claim, num(due_at), error],
            )
        return bool(done)

    async def defer(self, alert_id: str, due_at: float, *, claim: str) -> bool:
        k = self.keys
        with self._errors("defer"):
            done = await self._defer(keys=[k.outbox, k.claims], args=[alert_id, claim, num(due_at)])
        return bool(done)

    async def dead_letter(self, alert_id: str, now: float, error: str, *, claim: str) -> bool:
        k = self.keys
        with self._errors("dead_letter"):
            done = await self._dead_letter(
                keys=[k.outbox, k.claims, k.dead, k.attempts, k.errors],
                args=[alert_id, claim, num(now), error],
            )
        return bool(done)

    async def is_delivered(self, alert_id: str, now: float) -> bool:
        with self._errors("is_delivered"):
            until = await self._client.hget(self.keys.delivered(alert_id), "until")
        return until is not None and float(until) > now

    async def recent_deliveries(self, now: float, limit: int) -> list[DeliveryRecord]:
        out: list[DeliveryRecord] = []
        if limit <= 0:
            return out
        start = 0
        with self._errors("recent_deliveries"):
            # Newest first, a page at a time, skipping entries whose record expired.
            while len(out) < limit:
                page = await self._client.zrevrange(
                    self.keys.delivered_log, start, start + limit - 1
                )
                ids = cast(list[bytes | str], page)  # no WITHSCORES: members only
                if not ids:
                    break
                start += len(ids)
                async with self._client.pipeline(transaction=False) as pipe:
                    for alert_id in ids:
                        pipe.hmget(
                            self.keys.delivered(_text(alert_id)),
                            ["until", "at", "detail", "alert", "attempts"],
                        )
                    rows = await pipe.execute()
                for until, at, detail, alert, attempts in rows:
                    if until is None or float(until) <= now or alert is None:
                        continue
                    out.append(
                        DeliveryRecord(
                            alert=decode_alert(alert),
                            delivered_at=float(at),
                            detail=_text(detail),
                            attempts=int(attempts),
                        )
                    )
        # ZREVRANGE orders equal scores by member descending: ties by id, descending.
        return out[:limit]

    async def requeue(self, alert_id: str, now: float) -> bool:
        return bool(await self._run_requeue("requeue", [num(now), alert_id]))

    async def requeue_many(self, alert_ids: Sequence[str], now: float) -> list[str]:
        # Deduplicated here, so no batch is empty: the script given no id requeues them all.
        wanted = list(dict.fromkeys(alert_ids))
        moved: list[str] = []
        for start in range(0, len(wanted), REQUEUE_BATCH):
            batch = wanted[start : start + REQUEUE_BATCH]
            moved += await self._run_requeue("requeue_many", [num(now), *batch])
        return moved

    async def requeue_all_dead(self, now: float) -> int:
        return len(await self._run_requeue("requeue_all_dead", [num(now)]))

    async def _run_requeue(self, operation: str, args: list[str]) -> list[str]:
        """One call of the requeue script (ARGV ``args``); the ids it moved."""
        k = self.keys
        with self._errors(operation):
            moved = await self._requeue(keys=[k.dead, k.outbox, k.attempts, k.claims], args=args)
        return [_text(alert_id) for alert_id in moved]

    async def outbox_entry(self, alert_id: str) -> OutboxLookup | None:
        k = self.keys
        with self._errors("outbox_entry"):
            flat = await self._outbox_entry(
                keys=[k.dead, k.alerts, k.attempts, k.errors, k.outbox], args=[alert_id]
            )
        found = _entries(flat[:5])  # [] if in neither set (or, a bug, without its alert)
        return OutboxLookup(found[0], dead=_text(flat[5]) == "dead") if found else None

    async def pending(self) -> list[OutboxEntry]:
        return await self._entries("pending", self.keys.outbox, "asc")

    async def dead_letters(self) -> list[OutboxEntry]:
        return await self._entries("dead_letters", self.keys.dead, "desc")

    async def _entries(self, operation: str, zset: str, order: str) -> list[OutboxEntry]:
        k = self.keys
        with self._errors(operation):
            flat = await self._list(keys=[zset, k.alerts, k.attempts, k.errors], args=[order])
        return _entries(flat)

    async def outbox_summary(self) -> OutboxSummary:
        k = self.keys
        keys = [k.outbox, k.dead, k.outbox_born]
        rebuilt = False
        with self._errors("outbox_summary"):
            while True:
                pending, dead, indexed, oldest, rank = await self._summary_step(keys, 0)
                if indexed == pending + dead or rebuilt:
                    break
                await self._rebuild_outbox_index()
                rebuilt = True  # once a call: a racing write is the next call's to mend
            while not oldest and rank >= 0:  # a long run of dead letters: walk on
                pending, dead, _, oldest, rank = await self._summary_step(keys, rank)
        return OutboxSummary(pending, dead, float(oldest) if oldest else None)

    async def _summary_step(self, keys: list[str], rank: int) -> tuple[int, int, int, str, int]:
        """One call of the summary script from ``rank`` of the index."""
        pending, dead, indexed, oldest, after = await self._summary(
            keys=keys, args=[rank, SUMMARY_BUDGET, SUMMARY_PAGE]
        )
        return int(pending), int(dead), int(indexed), _text(oldest), int(after)

    async def _rebuild_outbox_index(self) -> None:
        """Write ``outbox_born`` anew from the outbox and the dead letters (decoding every
        alert, once: what an index missing or out of step costs)."""
        entries = await self.pending() + await self.dead_letters()
        # By id: an alert dead-lettered between the two listings is in both.
        born = list({e.alert.id: created_epoch(e.alert.created_at) for e in entries}.items())
        key = self.keys.outbox_born
        # MULTI: no summary sees the index half written.
        async with self._client.pipeline(transaction=True) as pipe:
            pipe.delete(key)
            for start in range(0, len(born), REBUILD_BATCH):
                pipe.zadd(key, dict(born[start : start + REBUILD_BATCH]))
            await pipe.execute()
        log.info("outbox_index_rebuilt", alerts=len(born))
