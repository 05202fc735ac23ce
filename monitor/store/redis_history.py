"""The Redis store's alert history and silences: their calls (the scripts are
:mod:`monitor.store.redis_history_scripts`).

:class:`RedisHistory` holds the :class:`~monitor.store.base.AlertHistory` and
:class:`~monitor.store.base.SilenceStore` methods of
:class:`~monitor.store.redis.RedisStore` (a mixin: the client, the key layout of
:mod:`monitor.store.redis_keys` and the error translation are that store's).

The history is a sorted set of alert ids by ``created_at`` (the order of every search)
beside hashes of each entry's alert, events and metadata, and one sorted set per rule,
channel and status. ``record_history`` is one script: upsert, then drop what the
retention ends (at most :data:`PURGE_LIMIT` entries a call).

A search without words walks one sorted set newest first, from the cursor's position:
the smallest of the history and the rule, channel and status sets its filters name,
each entry checked against the other filters.

A text search cannot afford to read every entry (a Lua read costs microseconds, a
rare word would read them all), so words are kept per hour of creation
(:func:`hour_of`): each new entry appends a record of its words
(:func:`~monitor.store.history_rules.search_text`) to its hour's word block, and each
update ORs the bits of its words' prefixes of :data:`SIGNATURE_PREFIXES` characters
into the signature of its event's hour (where the entry is, if the update creates it;
the client builds the bitmap, so the script does one BITOP per hour, not a SETBIT per
bit), a Bloom filter of :data:`SIGNATURE_BITS` bits. A search goes through the hours
newest first, skips those whose signature lacks a bit of one of its words (if a word
starts a word of the hour, that word's prefixes of those lengths are all in the hour),
and scans the rest with ``string.find``. Words under 3 characters have no bits: a
search of only such words scans every hour. Both search scripts stop after a budget
(:data:`SEARCH_BUDGET` entries, :data:`TEXT_BUDGET` bytes of blocks) and the client
calls again from where they stopped, so no search blocks Redis for long. Silences are
a hash of JSON; an expiry is a compare-and-set, so two replicas never undo each other.
"""

from __future__ import annotations

import functools
import json
import math
import zlib
from collections.abc import Iterable, Sequence
from contextlib import AbstractContextManager
from dataclasses import replace
from typing import Any

import redis.asyncio as aioredis

from monitor.model import (
    ALERT_STATUSES,
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
from monitor.store.redis_history_scripts import (
    HISTORY_STATS,
    RECORD_HISTORY,
    SEARCH_HISTORY,
    SEARCH_TEXT,
    SILENCE_CAS,
)
from monitor.store.redis_keys import Keys

__all__ = ["SIGNATURE_BITS", "RedisHistory", "hour_of", "signature_bits"]

#: Entries one ``record_history`` drops at most (the rest go with the next calls).
PURGE_LIMIT = 1_000
#: Entries a search script call looks at (no words), bytes of word blocks (words).
SEARCH_BUDGET, TEXT_BUDGET = 20_000, 8_000_000
#: Bits of an hour's signature (16 KB), and the lengths of the word prefixes it holds.
SIGNATURE_BITS = 1 << 17
SIGNATURE_PREFIXES = (3, 5, 8)
#: Tries of an expiry's compare-and-set (another replica may write in between).
CAS_TRIES = 10
#: Longest TTL given to the history keys (a retention of years is not a TTL of years).
_TTL_CAP = 400 * 86_400.0


def signature_bits(words: Iterable[str]) -> list[int]:
    """The signature bits of ``words``: one per prefix of each length in
    :data:`SIGNATURE_PREFIXES` (a word shorter than a length has no prefix of it)."""
    prefixes = {w[:n] for w in words for n in SIGNATURE_PREFIXES if len(w) >= n}
    return sorted({zlib.crc32(p.encode()) % SIGNATURE_BITS for p in prefixes})


@functools.lru_cache(maxsize=4096)
def _indexed(title: str, text: str, query: str) -> tuple[str, tuple[int, ...]]:
    """The search text of an alert's title, text and query, and its signature bits (kept
    for the next updates of the same alert: its outcomes follow its queueing)."""
    words = rules.search_text_of(title, text, query)
    return words, tuple(signature_bits(words.split()))


def hour_of(at: float) -> int:
    """The hour an entry created at ``at`` is kept under (``hour_of`` in the scripts: the
    same double division and floor)."""
    return math.floor(at / 3600)


def _signature(bits: Iterable[int]) -> bytes:
    """A signature bitmap with ``bits`` set (Redis bit order: bit 0 is the first byte's
    most significant bit)."""
    bitmap = bytearray(SIGNATURE_BITS // 8)
    for bit in bits:
        bitmap[bit >> 3] |= 0x80 >> (bit & 7)
    return bytes(bitmap)


def _words_record(text: str, created: str, alert_id: str) -> str:
    """An entry's record in its hour's word block (see ``Keys.history_words``)."""
    return f"{text}\t{created}\t{alert_id.encode().hex()}\n"


def _num(value: float) -> str:
    """A float as text that Redis and Lua parse back to the same double."""
    return repr(float(value))


def _text(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value


def _meta(meta: bytes | str) -> tuple[str, float, float, str, str, str]:
    """(status, created_at, updated_at, rule, channel, story key) of a metadata field."""
    s, created, updated, _, rule, channel, story = _text(meta).split("\n", 6)
    return ALERT_STATUSES[int(s) - 1], float(created), float(updated), rule, channel, story


def _entry(meta: bytes | str, alert: bytes | str, events: bytes | str) -> HistoryEntry:
    status, created, updated, *_ = _meta(meta)
    return HistoryEntry(decode_alert(alert), status, created, updated, rules.decode_events(events))


def _entries(flat: Sequence[Any]) -> list[HistoryEntry]:
    """The entries of a search reply's [id, meta, alert, events, ...] tail (an entry dropped
    between the walk and the read has no meta or alert: skipped)."""
    out = []
    for i in range(0, len(flat), 4):
        meta, alert, events = flat[i + 1 : i + 4]
        if meta and alert:
            out.append(_entry(meta, alert, events))
    return out


def _encode_silence(silence: Silence) -> str:
    return json.dumps(
        {
            "id": silence.id,
            "kind": silence.kind,
            "target": silence.target,
            "starts_at": silence.starts_at,
            "ends_at": silence.ends_at,
            "comment": silence.comment,
            "created_by": silence.created_by,
        },
        ensure_ascii=False,
        separators=(",", ":"),
    )


def _decode_silence(text: bytes | str) -> Silence:
    d = json.loads(text)
    return Silence(
        d["id"],
        d["kind"],
        d["target"],
        float(d["starts_at"]),
        float(d["ends_at"]),
        d.get("comment", ""),
        d.get("created_by", ""),
    )


class RedisHistory:
    """The alert history and silences of :class:`~monitor.store.redis.RedisStore`, which
    provides the client, the keys and the error translation."""

    _client: aioredis.Redis
    keys: Keys

    def _errors(self, operation: str) -> AbstractContextManager[None]:
        raise NotImplementedError

    def _history_scripts(self) -> tuple[Any, Any, Any, Any, Any]:
        """The scripts (record, search, search text, stats, silence CAS), registered on
        first use."""
        scripts: tuple[Any, ...] | None = getattr(self, "_registered_history", None)
        if scripts is None:
            register = self._client.register_script
            scripts = (
                register(RECORD_HISTORY),
                register(SEARCH_HISTORY),
                register(SEARCH_TEXT),
                register(HISTORY_STATS),
                register(SILENCE_CAS),
            )
            self._registered_history = scripts
        return scripts

    # -- alert history -----------------------------------------------------------

    async def record_history(
        self, updates: Sequence[tuple[Alert, str, Attempt]], retention: float
    ) -> None:
        rules.check_updates(updates)
        if retention <= 0 or not updates:
            return
        k = self.keys
        cutoff = max(event.at for _, _, event in updates) - retention
        ttl = max(math.ceil(min(retention, _TTL_CAP) * 1000), 0) + 60_000
        keys = [
            k.history,
            k.history_updated,
            k.history_alerts,
            k.history_meta,
            k.history_events,
            k.history_hours,
            k.history_hour_live,
            k.history_scratch,
            k.history_stories,
        ] + [k.history_status(s) for s in ALERT_STATUSES]
        args: list[str | int | bytes] = [
            _num(cutoff),
            ttl,
            PURGE_LIMIT,
            k.history_index,
            rules.MAX_EVENTS,
            len(updates),
        ]
        signatures: dict[int, set[int]] = {}
        for alert, status, event in updates:
            article = alert.article
            text, bits = _indexed(article.title, article.text, alert.query)
            at, hour = _num(event.at), hour_of(event.at)
            signatures.setdefault(hour, set()).update(bits)
            keys += [k.history_rule(alert.rule_id), k.history_channel(alert.channel)]
            args += [
                alert.id,
                ALERT_STATUSES.index(status) + 1,
                at,
                "1" if event.outcome == rules.QUEUED else "0",
                len(alert.also_in),
                alert.rule_id,
                alert.channel,
                rules.story_key(alert),
                encode_alert(alert),
                rules.encode_event(event),
                _words_record(text, at, alert.id),
                hour,
            ]
        for hour, hour_bits in signatures.items():
            args += [hour, _signature(hour_bits)]
        record, *_ = self._history_scripts()
        with self._errors("record_history"):
            await record(keys=keys, args=args)

    async def search_history(self, query: HistoryQuery) -> HistoryPage:
        cursor = rules.check_query(query)
        if query.limit <= 0:
            return HistoryPage(())
        words = rules.query_words(query.text)
        with self._errors("search_history"):
            if words:
                found = await self._search_text(query, cursor, words)
            else:
                found = await self._search(query, cursor)
        if len(found) <= query.limit:
            return HistoryPage(tuple(found))
        last = found[query.limit - 1]
        return HistoryPage(
            tuple(found[: query.limit]), rules.encode_cursor(last.created_at, last.alert.id)
        )

    @staticmethod
    def _filters(query: HistoryQuery) -> list[str]:
        """ARGV of the filters: since, rule, channel, status index ('' for none)."""
        status = "" if query.status is None else str(ALERT_STATUSES.index(query.status) + 1)
        since = "" if query.since is None else _num(query.since)
        return [since, query.rule or "", query.channel or "", status]

    async def _search(
        self, query: HistoryQuery, cursor: tuple[float, str] | None
    ) -> list[HistoryEntry]:
        """Up to ``limit + 1`` entries, walking the smallest sorted set the filters name."""
        k = self.keys
        sets = [k.history]
        if query.rule is not None:
            sets.append(k.history_rule(query.rule))
        if query.channel is not None:
            sets.append(k.history_channel(query.channel))
        if query.status is not None:
            sets.append(k.history_status(query.status))
        want = query.limit + 1
        score, last_id = ("", "") if cursor is None else (_num(cursor[0]), cursor[1])
        found: list[HistoryEntry] = []
        _, search, *_ = self._history_scripts()
        while True:
            reply = await search(
                keys=[k.history_meta, k.history_alerts, k.history_events, *sets],
                args=[score, last_id, *self._filters(query), SEARCH_BUDGET, want - len(found)],
            )
            done, score, last_id = int(reply[0]), _text(reply[1]), _text(reply[2])
            found += _entries(reply[3:])
            if done or len(found) >= want:
                return found

    async def _search_text(
        self, query: HistoryQuery, cursor: tuple[float, str] | None, words: Sequence[str]
    ) -> list[HistoryEntry]:
        """Up to ``limit + 1`` entries holding ``words``, hour by hour (see the module)."""
        k = self.keys
        want = query.limit + 1
        score, last_id = ("", "") if cursor is None else (_num(cursor[0]), cursor[1])
        probes = [",".join(map(str, signature_bits([w]))) for w in words]
        found: list[HistoryEntry] = []
        hour = ""
        _, _, search, *_ = self._history_scripts()
        while True:
            reply = await search(
                keys=[k.history_meta, k.history_alerts, k.history_events, k.history_hours],
                args=[
                    score,
                    last_id,
                    hour,
                    *self._filters(query),
                    want - len(found),
                    TEXT_BUDGET,
                    k.history_index,
                    len(words),
                    *words,
                    *probes,
                ],
            )
            done, hour = int(reply[0]), _text(reply[1])
            found += _entries(reply[2:])
            if done or len(found) >= want:
                return found

    async def history_entry(self, alert_id: str) -> HistoryEntry | None:
        k = self.keys
        with self._errors("history_entry"):
            async with self._client.pipeline(transaction=True) as pipe:
                pipe.hget(k.history_meta, alert_id)
                pipe.hget(k.history_alerts, alert_id)
                pipe.hget(k.history_events, alert_id)
                meta, alert, events = await pipe.execute()
        if meta is None or alert is None:
            return None
        return _entry(meta, alert, events or "")

    async def history_stats(self, since: float) -> HistoryStats:
        k = self.keys
        *_, stats, _ = self._history_scripts()
        with self._errors("history_stats"):
            reply = await stats(
                keys=[k.history_stories, *(k.history_status(s) for s in ALERT_STATUSES)],
                args=[_num(since)],
            )
        counts, rest = reply[: len(ALERT_STATUSES)], reply[len(ALERT_STATUSES) :]
        return HistoryStats(
            {status: int(n) for status, n in zip(ALERT_STATUSES, counts, strict=True)},
            {
                _text(rest[i]): RuleStats(int(rest[i + 1]), float(rest[i + 2]))
                for i in range(0, len(rest), 3)
            },
        )

    # -- silences ------------------------------------------------------------------

    async def add_silence(self, silence: Silence) -> None:
        rules.check_silence(silence)
        with self._errors("add_silence"):
            await self._client.hset(self.keys.silences, silence.id, _encode_silence(silence))

    async def list_silences(self, now: float, *, expired_for: float = 86_400.0) -> list[Silence]:
        with self._errors("list_silences"):
            stored = await self._client.hgetall(self.keys.silences)
        listed, old = [], []
        for value in stored.values():
            silence = _decode_silence(value)
            if rules.listed(silence, now, expired_for):
                listed.append(silence)
            elif rules.droppable(silence, now, expired_for):
                old.append((silence.id, _text(value)))
        if old:
            *_, cas = self._history_scripts()
            with self._errors("list_silences"):
                for silence_id, value in old:  # unless it was replaced meanwhile
                    await cas(keys=[self.keys.silences], args=[silence_id, value, ""])
        return sorted(listed, key=lambda s: (s.starts_at, s.id))

    async def expire_silence(self, silence_id: str, now: float) -> bool:
        *_, cas = self._history_scripts()
        with self._errors("expire_silence"):
            for _ in range(CAS_TRIES):
                value = await self._client.hget(self.keys.silences, silence_id)
                if value is None:
                    return False
                silence = _decode_silence(value)
                if silence.ends_at <= now:
                    return True
                ended = _encode_silence(replace(silence, ends_at=now))
                if await cas(keys=[self.keys.silences], args=[silence_id, _text(value), ended]):
                    return True
        return True  # replaced over and over meanwhile: whoever wrote last decides
