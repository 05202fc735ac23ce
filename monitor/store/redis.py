"""Redis state store, shared by every replica: keys, Lua scripts and error translation.

Every key is built by :class:`Keys`, under one prefix. Operations that must
change several keys at once are Lua scripts, so they are atomic on the server.

Times come from the caller, never from Redis ``TIME``. Each record stores its
own end time ("seen 1800000030.5", a delivered record's ``until`` field) and is
compared with the caller's ``now``; the Redis TTL (the record's duration plus
:data:`TTL_GRACE_MS`, in real time) only collects the garbage. So a frozen test
clock far from real time behaves exactly like the real one.

Delivered records: ``delivered:<id>`` (a hash with its own TTL) answers
``is_delivered``; the sorted set ``delivered_log`` (id by delivery time) only
orders them for ``recent_deliveries``. ``ack`` trims the log to the newest
:data:`DELIVERED_LOG_LIMIT` entries and drops those older than its retention,
and a listing skips entries whose record has expired, so the log never grows
without bound and never shows what ``is_delivered`` would deny.

Redis exceptions become :class:`~monitor.errors.StoreError` at this boundary,
with the password of the URL, if any, redacted from the message.
"""

from __future__ import annotations

import contextlib
import math
import uuid
from collections.abc import Iterator, Sequence
from dataclasses import replace
from typing import Any, cast

import redis.asyncio as aioredis
from redis.asyncio.retry import Retry
from redis.backoff import ExponentialWithJitterBackoff
from redis.exceptions import RedisError

from monitor.errors import StoreError
from monitor.model import (
    MAX_STORY_MEMBERS,
    SKETCH_WORDS,
    Alert,
    ClaimResult,
    DeliveryRecord,
    FeedState,
    OutboxEntry,
    StoryAssignment,
    StoryMember,
    StoryProbe,
)
from monitor.store.base import StateStore, decode_story_members, encode_story_member
from monitor.store.codec import decode_alert, decode_feed_state, encode_alert, encode_feed_state

#: Real-time slack added to every TTL, so a record outlives its own end time.
TTL_GRACE_MS = 60_000
#: Connections a store made by ``RedisStore.from_url`` opens at most.
MAX_CONNECTIONS = 32
#: Seconds a call waits for a free connection before failing.
POOL_TIMEOUT = 20.0
#: How many delivered alerts ``recent_deliveries`` can reach back (the newest are kept).
DELIVERED_LOG_LIMIT = 10_000


class Keys:
    """Every Redis key of the store, in one place."""

    def __init__(self, prefix: str) -> None:
        self.prefix = prefix
        #: Sorted set: alert id -> due time (while claimed: lease end).
        self.outbox = f"{prefix}:outbox"
        #: Hash: alert id -> alert JSON (outbox and dead letters).
        self.alerts = f"{prefix}:alert"
        #: Hash: alert id -> failed attempts so far.
        self.attempts = f"{prefix}:attempts"
        #: Hash: alert id -> error of the last failed attempt.
        self.errors = f"{prefix}:error"
        #: Sorted set: alert id -> time it was dead-lettered.
        self.dead = f"{prefix}:dead"
        #: Sorted set: alert id -> time it was delivered (the newest, for listing only).
        self.delivered_log = f"{prefix}:delivered_log"
        #: Hash: alert id -> token of the claim that holds it (fencing).
        self.claims = f"{prefix}:claim"

    def feed(self, feed_id: str) -> str:
        """String: feed state JSON."""
        return f"{self.prefix}:feed:{feed_id}"

    def article(self, key: str) -> str:
        """String: "claim <until>" or "seen <until>" for one article dedup key."""
        return f"{self.prefix}:article:{key}"

    def delivered(self, alert_id: str) -> str:
        """Hash {until, at, detail[, alert, attempts]}: the alert was delivered."""
        return f"{self.prefix}:delivered:{alert_id}"

    def send_slot(self, channel: str) -> str:
        """String: when the channel's next send slot opens (caller's clock)."""
        return f"{self.prefix}:send_slot:{channel}"

    @property
    def story_until(self) -> str:
        """Sorted set: story id -> when its window ends (caller's clock)."""
        return f"{self.prefix}:story_until"

    @property
    def story_sketch(self) -> str:
        """Hash: story id -> its first article's sketch (bytes)."""
        return f"{self.prefix}:story_sketch"

    @property
    def story_anchors(self) -> str:
        """Hash: story id -> its first article's anchors, one per line."""
        return f"{self.prefix}:story_anchors"

    @property
    def story_members(self) -> str:
        """Hash: story id -> its members, one JSON line each, in arrival order."""
        return f"{self.prefix}:story_members"

    def story_article(self, article_id: str) -> str:
        """String: id of the story the article joined (live while that story is)."""
        return f"{self.prefix}:story_article:{article_id}"

    def story_band(self, band: str) -> str:
        """Sorted set: story id -> end time, for the stories created with this LSH band."""
        return f"{self.prefix}:story_band:{band}"


# KEYS: the article keys of every article, one article after the other.
# ARGV: now, "claim <until>", ttl ms, then how many keys each article has.
# Returns one code per article: 1 claimed, 2 seen, 3 busy (see ClaimResult).
_CLAIM_ARTICLES = """
local now = tonumber(ARGV[1])
local results, earlier, first = {}, {}, 1
for a = 4, #ARGV do
  local last = first + tonumber(ARGV[a]) - 1
  local seen, busy = false, false
  for i = first, last do
    local key = KEYS[i]
    if earlier[key] then seen = true end
    local value = redis.call('GET', key)
    if value and tonumber(string.match(value, ' (.+)$')) > now then
      if string.sub(value, 1, 5) == 'seen ' then seen = true else busy = true end
    end
  end
  if seen then
    results[#results + 1] = 2
  elseif busy then
    results[#results + 1] = 3
  else
    for i = first, last do redis.call('SET', KEYS[i], ARGV[2], 'PX', ARGV[3]) end
    results[#results + 1] = 1
  end
  for i = first, last do earlier[KEYS[i]] = true end
  first = last + 1
end
return results
"""

#: ``_CLAIM_ARTICLES`` codes.
_CLAIM_CODES = {1: ClaimResult.CLAIMED, 2: ClaimResult.SEEN, 3: ClaimResult.BUSY}

# KEYS: article keys.
_RELEASE_ARTICLE = """
for _, key in ipairs(KEYS) do
  local value = redis.call('GET', key)
  if value and string.sub(value, 1, 6) == 'claim ' then redis.call('DEL', key) end
end
return 0
"""

# KEYS: outbox, dead, alerts, attempts, errors, delivered(id) for each alert.
# ARGV: now, then id and JSON of each alert.
_ENQUEUE = """
local now = tonumber(ARGV[1])
local added = 0
for i = 6, #KEYS do
  local id, json = ARGV[2 * (i - 5)], ARGV[2 * (i - 5) + 1]
  local known = redis.call('ZSCORE', KEYS[1], id) or redis.call('ZSCORE', KEYS[2], id)
  if not known then
    local until_ = redis.call('HGET', KEYS[i], 'until')
    known = until_ and tonumber(until_) > now
  end
  if not known then
    redis.call('ZADD', KEYS[1], ARGV[1], id)
    redis.call('HSET', KEYS[3], id, json)
    redis.call('HSET', KEYS[4], id, 0)
    redis.call('HDEL', KEYS[5], id)
    added = added + 1
  end
end
return added
"""

# Shared tail: append [id, score, alert, attempts, error] for each id of `items`.
_ENTRIES = """
local function entries(items, scores)
  local out = {}
  for i = 1, #items, 2 do
    local id = items[i]
    out[#out + 1] = id
    out[#out + 1] = scores or items[i + 1]
    out[#out + 1] = redis.call('HGET', KEYS[2], id) or ''
    out[#out + 1] = redis.call('HGET', KEYS[3], id) or '0'
    out[#out + 1] = redis.call('HGET', KEYS[4], id) or ''
  end
  return out
end
"""

# KEYS: outbox, alerts, attempts, errors, claims. ARGV: now, lease end, limit, claim token.
_CLAIM_DUE = (
    _ENTRIES
    + """
local items = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', ARGV[1], 'WITHSCORES',
                         'LIMIT', 0, tonumber(ARGV[3]))
for i = 1, #items, 2 do
  redis.call('ZADD', KEYS[1], 'XX', ARGV[2], items[i])
  redis.call('HSET', KEYS[5], items[i], ARGV[4])
end
return entries(items, ARGV[2])
"""
)

# KEYS: a sorted set (outbox or dead), alerts, attempts, errors. ARGV: 'asc' or 'desc'.
_LIST = (
    _ENTRIES
    + """
local cmd = ARGV[1] == 'desc' and 'ZREVRANGE' or 'ZRANGE'
return entries(redis.call(cmd, KEYS[1], 0, -1, 'WITHSCORES'), nil)
"""
)

# KEYS: outbox, alerts, attempts, errors, delivered(id), delivered_log, claims.
# ARGV: id, until, now, detail, ttl ms, log limit, log entries older than this go.
# An id not in the outbox keeps the alert and attempts its record may already hold.
_ACK = """
redis.call('HSET', KEYS[5], 'until', ARGV[2], 'at', ARGV[3], 'detail', ARGV[4])
if redis.call('ZREM', KEYS[1], ARGV[1]) == 1 then
  local json = redis.call('HGET', KEYS[2], ARGV[1])
  local attempts = tonumber(redis.call('HGET', KEYS[3], ARGV[1]) or '0') + 1
  if json then redis.call('HSET', KEYS[5], 'alert', json, 'attempts', attempts) end
  redis.call('HDEL', KEYS[2], ARGV[1])
  redis.call('HDEL', KEYS[3], ARGV[1])
  redis.call('HDEL', KEYS[4], ARGV[1])
  redis.call('HDEL', KEYS[7], ARGV[1])
end
redis.call('PEXPIRE', KEYS[5], ARGV[5])
if redis.call('HEXISTS', KEYS[5], 'alert') == 1 then
  redis.call('ZADD', KEYS[6], ARGV[3], ARGV[1])
end
redis.call('ZREMRANGEBYSCORE', KEYS[6], '-inf', '(' .. ARGV[7])
redis.call('ZREMRANGEBYRANK', KEYS[6], 0, -1 - tonumber(ARGV[6]))
return 0
"""

# KEYS: dead, outbox, attempts, claims. ARGV: now, then the ids to requeue (none: every
# dead letter). Returns how many moved. The error hash is left alone: last_error is kept.
_REQUEUE = """
local ids = ARGV
local first = 2
if #ARGV == 1 then ids, first = redis.call('ZRANGE', KEYS[1], 0, -1), 1 end
local moved = 0
for i = first, #ids do
  if redis.call('ZREM', KEYS[1], ids[i]) == 1 then
    redis.call('ZADD', KEYS[2], ARGV[1], ids[i])
    redis.call('HSET', KEYS[3], ids[i], 0)
    redis.call('HDEL', KEYS[4], ids[i])
    moved = moved + 1
  end
end
return moved
"""

# Shared head of the fenced scripts: KEYS[1] is the outbox, KEYS[2] the claims, ARGV[1] the id,
# ARGV[2] the caller's claim token. Go on only if the alert is queued under that claim.
_FENCE = """
if ARGV[2] == '' or not redis.call('ZSCORE', KEYS[1], ARGV[1])
   or redis.call('HGET', KEYS[2], ARGV[1]) ~= ARGV[2] then return 0 end
redis.call('HDEL', KEYS[2], ARGV[1])
"""

# KEYS: outbox, claims, attempts, errors. ARGV: id, claim, due time, error.
_RETRY_LATER = (
    _FENCE
    + """
redis.call('ZADD', KEYS[1], 'XX', ARGV[3], ARGV[1])
redis.call('HINCRBY', KEYS[3], ARGV[1], 1)
redis.call('HSET', KEYS[4], ARGV[1], ARGV[4])
return 1
"""
)

# KEYS: outbox, claims. ARGV: id, claim, due time.
_DEFER = (
    _FENCE
    + """
redis.call('ZADD', KEYS[1], 'XX', ARGV[3], ARGV[1])
return 1
"""
)

# KEYS: outbox, claims, dead, attempts, errors. ARGV: id, claim, now, error.
_DEAD_LETTER = (
    _FENCE
    + """
redis.call('ZREM', KEYS[1], ARGV[1])
redis.call('ZADD', KEYS[3], ARGV[3], ARGV[1])
redis.call('HINCRBY', KEYS[4], ARGV[1], 1)
redis.call('HSET', KEYS[5], ARGV[1], ARGV[4])
return 1
"""
)

# KEYS: send slot. ARGV: now, next opening if taken, ttl ms. Returns '' if taken, else the opening.
_RESERVE_SEND = """
local opens = redis.call('GET', KEYS[1])
if opens and tonumber(opens) > tonumber(ARGV[1]) then return opens end
redis.call('SET', KEYS[1], ARGV[2], 'PX', ARGV[3])
return ''
"""


# KEYS: story_until, story_sketch, story_anchors, story_members, story_article(id), then
# story_band(band) for each band. ARGV: now, article id, member JSON line, sketch, anchors
# (one per line), min similarity, until if new, ttl ms, max members, sketch words, purge limit.
# Returns {story id, members, until}. See StateStore.assign_story for the rule; the sketch
# comparison is sketch_similarity's, on numbers (never on strings: Lua compares strings by
# locale). Ended stories are purged a few at a time, so the hashes stay bounded.
_ASSIGN_STORY = """
local now = tonumber(ARGV[1])
local ended = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', ARGV[1], 'LIMIT', 0, tonumber(ARGV[11]))
for _, id in ipairs(ended) do
  redis.call('HDEL', KEYS[2], id)
  redis.call('HDEL', KEYS[3], id)
  redis.call('HDEL', KEYS[4], id)
  redis.call('ZREM', KEYS[1], id)
end
local function until_of(id)
  local u = redis.call('ZSCORE', KEYS[1], id)
  if u and tonumber(u) > now then return tonumber(u) end
  return nil
end
local known = redis.call('GET', KEYS[5])
if known and until_of(known) then
  return {known, redis.call('HGET', KEYS[4], known) or '', redis.call('ZSCORE', KEYS[1], known)}
end
local function words(s)
  local out = {}
  for i = 1, #s - 3, 4 do
    local a, b, c, d = string.byte(s, i, i + 3)
    out[#out + 1] = ((a * 256 + b) * 256 + c) * 256 + d
  end
  return out
end
local function similarity(x, y, k)
  local i, j, compared, shared = 1, 1, 0, 0
  while compared < k and (i <= #x or j <= #y) do
    local a, b = x[i], y[j]
    if a ~= nil and b ~= nil and a == b then
      shared = shared + 1
      i, j = i + 1, j + 1
    elseif b == nil or (a ~= nil and a < b) then
      i = i + 1
    else
      j = j + 1
    end
    compared = compared + 1
  end
  return shared, compared
end
local function bytes_less(a, b)
  local n = math.min(#a, #b)
  for i = 1, n do
    local x, y = string.byte(a, i), string.byte(b, i)
    if x ~= y then return x < y end
  end
  return #a < #b
end
local mine, has_anchors = {}, false
for a in string.gmatch(ARGV[5], '[^\\n]+') do mine[a], has_anchors = true, true end
local probe, min_sim, k = words(ARGV[4]), tonumber(ARGV[6]), tonumber(ARGV[10])
local best, best_shared, best_compared, best_until = nil, 0, 1, 0
local tried = {}
for i = 6, #KEYS do
  redis.call('ZREMRANGEBYSCORE', KEYS[i], '-inf', ARGV[1])
  for _, id in ipairs(redis.call('ZRANGE', KEYS[i], 0, -1)) do
    local u = not tried[id] and until_of(id)
    tried[id] = true
    local ok = u ~= nil and u ~= false
    if ok and has_anchors then
      local theirs = redis.call('HGET', KEYS[3], id) or ''
      if theirs ~= '' then
        ok = false
        for a in string.gmatch(theirs, '[^\\n]+') do
          if mine[a] then ok = true break end
        end
      end
    end
    if ok then
      local shared, compared = similarity(probe, words(redis.call('HGET', KEYS[2], id) or ''), k)
      if compared > 0 and shared >= min_sim * compared then
        local l, r = shared * best_compared, best_shared * compared
        if best == nil or l > r or (l == r and (u < best_until
            or (u == best_until and bytes_less(id, best)))) then
          best, best_shared, best_compared, best_until = id, shared, compared, u
        end
      end
    end
  end
end
if best then
  local members = redis.call('HGET', KEYS[4], best) or ''
  local _, lines = string.gsub(members, '\\n', '')
  if lines + 1 < tonumber(ARGV[9]) then
    members = members .. '\\n' .. ARGV[3]
    redis.call('HSET', KEYS[4], best, members)
  end
  redis.call('SET', KEYS[5], best, 'PX', ARGV[8])
  return {best, members, redis.call('ZSCORE', KEYS[1], best)}
end
local id = ARGV[2]
redis.call('ZADD', KEYS[1], ARGV[7], id)
redis.call('HSET', KEYS[2], id, ARGV[4])
redis.call('HSET', KEYS[3], id, ARGV[5])
redis.call('HSET', KEYS[4], id, ARGV[3])
for i = 6, #KEYS do
  redis.call('ZADD', KEYS[i], ARGV[7], id)
  if redis.call('PTTL', KEYS[i]) < tonumber(ARGV[8]) then
    redis.call('PEXPIRE', KEYS[i], ARGV[8])
  end
end
redis.call('SET', KEYS[5], id, 'PX', ARGV[8])
return {id, ARGV[3], redis.call('ZSCORE', KEYS[1], id)}
"""

#: Ended stories one ``assign_story`` call purges at most (it creates at most one).
STORY_PURGE_LIMIT = 16


def _num(value: float) -> str:
    """A float as text that Redis and Lua parse back to the same double."""
    return repr(float(value))


def _ttl_ms(seconds: float) -> int:
    """A real-time TTL for a record that counts for ``seconds`` of the caller's clock."""
    return max(math.ceil(seconds * 1000), 0) + TTL_GRACE_MS


def _text(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value


def _entries(flat: list[Any]) -> list[OutboxEntry]:
    """Decode the [id, score, alert, attempts, error, ...] reply of the list scripts."""
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


class RedisStore(StateStore):
    """A :class:`StateStore` in Redis, safe for any number of replicas.

    ``client`` may decode responses or not. A client passed in stays the
    caller's to close; one made by :meth:`from_url` is closed by :meth:`close`.
    """

    def __init__(
        self,
        client: aioredis.Redis,
        prefix: str = "news-monitor",
        *,
        delivered_log_limit: int = DELIVERED_LOG_LIMIT,
    ) -> None:
        self._client = client
        self._log_limit = max(delivered_log_limit, 1)
        self._owns_client = False
        self.keys = Keys(prefix)
        password = client.connection_pool.connection_kwargs.get("password")
        self._secret = password if isinstance(password, str) and password else None
        script = client.register_script
        self._claim_articles = script(_CLAIM_ARTICLES)
        self._release_article = script(_RELEASE_ARTICLE)
        self._enqueue = script(_ENQUEUE)
        self._claim_due = script(_CLAIM_DUE)
        self._list = script(_LIST)
        self._ack = script(_ACK)
        self._retry_later = script(_RETRY_LATER)
        self._dead_letter = script(_DEAD_LETTER)
        self._defer = script(_DEFER)
        self._reserve_send = script(_RESERVE_SEND)
        self._requeue = script(_REQUEUE)
        self._assign_story = script(_ASSIGN_STORY)

    @classmethod
    def from_url(
        cls,
        url: str,
        prefix: str = "news-monitor",
        *,
        max_connections: int = MAX_CONNECTIONS,
        **client_kwargs: Any,
    ) -> RedisStore:
        """A store on a new client for ``url`` (no I/O until the first call).

        Defaults: 5 s connect timeout, 10 s socket timeout, 3 quick retries
        (at most about half a second), so a dead server fails fast. At most
        ``max_connections`` connections, and a caller beyond them waits for
        one (up to :data:`POOL_TIMEOUT`) instead of failing: a thousand feeds
        polled at once make a thousand store calls at once.
        """
        client_kwargs.setdefault("socket_connect_timeout", 5.0)
        client_kwargs.setdefault("socket_timeout", 10.0)
        client_kwargs.setdefault(
            "retry", Retry(ExponentialWithJitterBackoff(cap=0.25, base=0.05), 3)
        )
        pool = aioredis.BlockingConnectionPool.from_url(
            url, max_connections=max_connections, timeout=POOL_TIMEOUT, **client_kwargs
        )
        client = aioredis.Redis.from_pool(pool)  # the client owns (and closes) the pool
        store = cls(client, prefix)
        store._owns_client = True
        return store

    @contextlib.contextmanager
    def _errors(self, operation: str) -> Iterator[None]:
        """Translate Redis exceptions into StoreError, without leaking the password."""
        try:
            yield
        except RedisError as e:
            message = f"redis {operation} failed: {type(e).__name__}: {e}"
            if self._secret:
                message = message.replace(self._secret, "**********")
            raise StoreError(message) from e

    # -- feeds ---------------------------------------------------------------

    async def get_feed_state(self, feed_id: str) -> FeedState | None:
        with self._errors("get_feed_state"):
            value = await self._client.get(self.keys.feed(feed_id))
        return None if value is None else decode_feed_state(value)

    async def put_feed_state(self, feed_id: str, state: FeedState) -> None:
        with self._errors("put_feed_state"):
            await self._client.set(self.keys.feed(feed_id), encode_feed_state(state))

    # -- articles ------------------------------------------------------------

    async def claim_articles(
        self, articles: Sequence[Sequence[str]], now: float, lease: float
    ) -> list[ClaimResult]:
        if not articles:
            return []
        keys = [self.keys.article(k) for article in articles for k in article]
        args: list[str | int] = [_num(now), f"claim {_num(now + lease)}", _ttl_ms(lease)]
        args += [len(article) for article in articles]
        with self._errors("claim_articles"):
            codes = await self._claim_articles(keys=keys, args=args)
        return [_CLAIM_CODES[int(code)] for code in codes]

    async def mark_seen(self, keys: Sequence[str], now: float, retention: float) -> None:
        value, ttl = f"seen {_num(now + retention)}", _ttl_ms(retention)
        with self._errors("mark_seen"):
            async with self._client.pipeline(transaction=True) as pipe:
                for key in keys:
                    pipe.set(self.keys.article(key), value, px=ttl)
                await pipe.execute()

    async def release_article(self, keys: Sequence[str]) -> None:
        with self._errors("release_article"):
            await self._release_article(keys=[self.keys.article(k) for k in keys])

    async def is_seen(self, key: str, now: float) -> bool:
        with self._errors("is_seen"):
            value = await self._client.get(self.keys.article(key))
        if value is None:
            return False
        kind, _, until = _text(value).partition(" ")
        return kind == "seen" and float(until) > now

    # -- outbox --------------------------------------------------------------

    async def enqueue(self, alerts: Sequence[Alert], now: float) -> int:
        if not alerts:
            return 0
        k = self.keys
        args: list[str] = [_num(now)]
        for alert in alerts:
            args += [alert.id, encode_alert(alert)]
        with self._errors("enqueue"):
            added = await self._enqueue(
                keys=[k.outbox, k.dead, k.alerts, k.attempts, k.errors]
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
                args=[_num(now), _num(now + lease), limit, token],
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
                ],
                args=[
                    alert_id,
                    _num(now + retention),
                    _num(now),
                    detail,
                    _ttl_ms(retention),
                    self._log_limit,
                    _num(now - retention),
                ],
            )

    async def retry_later(self, alert_id: str, due_at: float, error: str, *, claim: str) -> bool:
        k = self.keys
        with self._errors("retry_later"):
            done = await self._retry_later(
                keys=[k.outbox, k.claims, k.attempts, k.errors],
                args=[alert_id, claim, _num(due_at), error],
            )
        return bool(done)

    async def defer(self, alert_id: str, due_at: float, *, claim: str) -> bool:
        k = self.keys
        with self._errors("defer"):
            done = await self._defer(
                keys=[k.outbox, k.claims], args=[alert_id, claim, _num(due_at)]
            )
        return bool(done)

    async def dead_letter(self, alert_id: str, now: float, error: str, *, claim: str) -> bool:
        k = self.keys
        with self._errors("dead_letter"):
            done = await self._dead_letter(
                keys=[k.outbox, k.claims, k.dead, k.attempts, k.errors],
                args=[alert_id, claim, _num(now), error],
            )
        return bool(done)

    async def reserve_send(self, channel: str, now: float, interval: float) -> float | None:
        with self._errors("reserve_send"):
            opens = await self._reserve_send(
                keys=[self.keys.send_slot(channel)],
                args=[_num(now), _num(now + interval), _ttl_ms(interval)],
            )
        text = _text(opens) if opens is not None else ""
        return float(text) if text else None

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
        return await self._run_requeue("requeue", [_num(now), alert_id]) > 0

    async def requeue_all_dead(self, now: float) -> int:
        return await self._run_requeue("requeue_all_dead", [_num(now)])

    async def _run_requeue(self, operation: str, args: list[str]) -> int:
        k = self.keys
        with self._errors(operation):
            moved = await self._requeue(keys=[k.dead, k.outbox, k.attempts, k.claims], args=args)
        return int(moved)

    async def pending(self) -> list[OutboxEntry]:
        return await self._entries("pending", self.keys.outbox, "asc")

    async def dead_letters(self) -> list[OutboxEntry]:
        return await self._entries("dead_letters", self.keys.dead, "desc")

    async def _entries(self, operation: str, zset: str, order: str) -> list[OutboxEntry]:
        k = self.keys
        with self._errors(operation):
            flat = await self._list(keys=[zset, k.alerts, k.attempts, k.errors], args=[order])
        return _entries(flat)

    # -- stories -------------------------------------------------------------

    async def assign_story(
        self,
        member: StoryMember,
        probe: StoryProbe,
        min_similarity: float,
        now: float,
        window: float,
    ) -> StoryAssignment:
        k = self.keys
        bands = list(dict.fromkeys(probe.bands))
        with self._errors("assign_story"):
            story_id, members, until = await self._assign_story(
                keys=[
                    k.story_until,
                    k.story_sketch,
                    k.story_anchors,
                    k.story_members,
                    k.story_article(member.article_id),
                ]
                + [k.story_band(b) for b in bands],
                args=[
                    _num(now),
                    member.article_id,
                    encode_story_member(member),
                    probe.sketch,
                    "\n".join(probe.anchors),
                    _num(min_similarity),
                    _num(now + window),
                    _ttl_ms(window),
                    MAX_STORY_MEMBERS,
                    SKETCH_WORDS,
                    STORY_PURGE_LIMIT,
                ],
            )
        story_id = _text(story_id)
        return StoryAssignment(
            story_id,
            story_id == member.article_id,
            decode_story_members(members),
            float(until),
        )

    async def get_story(self, story_id: str, now: float) -> StoryAssignment | None:
        k = self.keys
        with self._errors("get_story"):
            async with self._client.pipeline(transaction=True) as pipe:
                pipe.zscore(k.story_until, story_id)
                pipe.hget(k.story_members, story_id)
                until, members = await pipe.execute()
        if until is None or float(until) <= now or members is None:
            return None
        return StoryAssignment(story_id, False, decode_story_members(members), float(until))

    # -- lifecycle -----------------------------------------------------------

    async def ping(self) -> None:
        with self._errors("ping"):
            await self._client.ping()

    async def close(self) -> None:
        if self._owns_client:
            with self._errors("close"):
                await self._client.aclose()
