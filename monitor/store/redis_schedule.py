"""The shared feed schedule in Redis: :class:`RedisSchedule`, the
:class:`~monitor.store.schedule.FeedSchedule` of :class:`~monitor.store.redis.RedisStore`.

Three keys (:mod:`monitor.store.redis_keys`): the sorted set ``schedule`` (feed id ->
due time, or lease end while leased), the hash ``schedule_lease`` (feed id -> the token
holding its lease) and the string ``generation`` (the store's generation marker). A
claim, a finish and a reschedule each read and write both of the first two, so each is
one Lua script below (atomic on the server); adding and removing feeds are plain
commands in a MULTI. Saving a leased feed's state is one more script: it reads the lease
hash and writes the store's feed-state key (``feed:<id>``, in the JSON of
``codec.encode_feed_state``, as ``RedisStore.put_feed_state`` writes it). Every key is
under the store's prefix, whose hash tag puts them in one Cluster slot, so each script
runs on a Cluster too.

A claim costs one round trip whatever it claims (``ZRANGEBYSCORE`` with a ``LIMIT``,
then a ``ZADD`` and an ``HSET`` per feed claimed) and also answers the next due time and
the generation, so a replica's claim loop needs no other call to know when to claim
again and whether the store was reset. Times are the caller's clock, as everywhere in
the store (:mod:`monitor.store.redis`): replicas' clocks must agree to well within a
lease (NTP does).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from contextlib import AbstractContextManager
from typing import Any, cast

import redis.asyncio as aioredis

from monitor.model import FeedState
from monitor.store.codec import encode_feed_state
from monitor.store.redis_keys import Keys
from monitor.store.schedule import FeedClaim, FeedSchedule

__all__ = [
    "CLAIM_FEEDS",
    "FINISH_FEED",
    "LEASED_FEEDS",
    "RESCHEDULE_FEEDS",
    "SAVE_FEED_STATE",
    "RedisSchedule",
]

#: Feeds one ``add_feeds`` or ``remove_feeds`` command carries at most (10,000 feeds make
#: a few commands, none of which blocks the server for long).
BATCH = 1_000

# FeedSchedule.claim_feeds. Atomically: the generation (written if missing), then up to
# `limit` feeds due at or before now, earliest first (ties by member), each moved to the
# lease end and recorded as leased to the token; then the earliest time left.
# KEYS: schedule, schedule_lease, generation.
# ARGV: now, lease end, limit, token, candidate generation.
# Returns {generation, earliest time or "", claimed feed ids ...}.
CLAIM_FEEDS = """
local generation = redis.call('GET', KEYS[3])
if not generation then
  generation = ARGV[5]
  redis.call('SET', KEYS[3], generation)
end
local reply = {generation, ''}
local limit = tonumber(ARGV[3])
if limit > 0 then
  local due = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', ARGV[1], 'LIMIT', 0, limit)
  for _, feed in ipairs(due) do
    redis.call('ZADD', KEYS[1], ARGV[2], feed)
    redis.call('HSET', KEYS[2], feed, ARGV[4])
    reply[#reply + 1] = feed
  end
end
local first = redis.call('ZRANGE', KEYS[1], 0, 0, 'WITHSCORES')
if first[2] then reply[2] = first[2] end
return reply
"""

# FeedSchedule.finish_feed. Atomically: if the feed's lease is the token's, drop the lease
# and, if the feed is still scheduled (not removed meanwhile), make it due at `due`.
# KEYS: schedule, schedule_lease. ARGV: feed id, token, due.
# Returns 1 if it applied, else 0.
FINISH_FEED = """
if redis.call('HGET', KEYS[2], ARGV[1]) ~= ARGV[2] then return 0 end
redis.call('HDEL', KEYS[2], ARGV[1])
if not redis.call('ZSCORE', KEYS[1], ARGV[1]) then return 0 end
redis.call('ZADD', KEYS[1], ARGV[3], ARGV[1])
return 1
"""

# FeedSchedule.save_feed_state. Atomically: if the feed's lease is the token's, set its
# feed state. The lease field alone decides: only a claim writes one, of a scheduled feed,
# and whatever drops a feed's entry (a removal, a store reset) drops its field too, so a
# field means the feed is scheduled and the schedule need not be read.
# KEYS: schedule_lease, feed:<id>. ARGV: feed id, token, the state's JSON.
# Returns 1 if it stored it, else 0.
SAVE_FEED_STATE = """
if redis.call('HGET', KEYS[1], ARGV[1]) ~= ARGV[2] then return 0 end
redis.call('SET', KEYS[2], ARGV[3])
return 1
"""

# FeedSchedule.reschedule_feeds. Atomically, for each (feed, due): if the feed is scheduled
# and not leased at `now` (no lease, or one whose end has passed), drop the lease and make
# it due at `due`.
# KEYS: schedule, schedule_lease. ARGV: now, then feed id, due pairs.
# Returns how many moved.
RESCHEDULE_FEEDS = """
local now = tonumber(ARGV[1])
local moved = 0
for i = 2, #ARGV, 2 do
  local feed = ARGV[i]
  local score = redis.call('ZSCORE', KEYS[1], feed)
  if score then
    local holder = redis.call('HGET', KEYS[2], feed)
    if (not holder) or tonumber(score) <= now then
      redis.call('HDEL', KEYS[2], feed)
      redis.call('ZADD', KEYS[1], ARGV[i + 1], feed)
      moved = moved + 1
    end
  end
end
return moved
"""

# FeedSchedule.leased_feeds: the leases whose end (the feed's time) is after now.
# KEYS: schedule, schedule_lease. ARGV: now. Returns {feed id, token, ...}.
LEASED_FEEDS = """
local now = tonumber(ARGV[1])
local pairs_ = redis.call('HGETALL', KEYS[2])
local out = {}
for i = 1, #pairs_, 2 do
  local score = redis.call('ZSCORE', KEYS[1], pairs_[i])
  if score and tonumber(score) > now then
    out[#out + 1] = pairs_[i]
    out[#out + 1] = pairs_[i + 1]
  end
end
return out
"""


def _num(value: float) -> str:
    """A float as text that Redis and Lua parse back to the same double."""
    return repr(float(value))


def _text(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value


class RedisSchedule(FeedSchedule):
    """The shared feed schedule on a Redis client (the one of a ``RedisStore``).

    ``errors`` is the store's error translation (Redis errors become StoreError, the
    password redacted), so both fail alike.
    """

    def __init__(
        self,
        client: aioredis.Redis,
        keys: Keys,
        errors: Callable[[str], AbstractContextManager[None]],
    ) -> None:
        self._client = client
        self.keys = keys
        self._errors = errors
        self._claim = client.register_script(CLAIM_FEEDS)
        self._finish = client.register_script(FINISH_FEED)
        self._reschedule = client.register_script(RESCHEDULE_FEEDS)
        self._leased = client.register_script(LEASED_FEEDS)
        self._save_state = client.register_script(SAVE_FEED_STATE)

    async def add_feeds(self, due: Mapping[str, float]) -> int:
        items = list(due.items())
        added = 0
        with self._errors("add_feeds"):
            for start in range(0, len(items), BATCH):
                mapping: Mapping[Any, Any] = dict(items[start : start + BATCH])
                count = await self._client.zadd(self.keys.schedule, mapping, nx=True)
                added += int(cast(int, count))
        return added

    async def reschedule_feeds(self, due: Mapping[str, float], now: float) -> int:
        if not due:
            return 0
        args: list[str] = [_num(now)]
        for feed_id, at in due.items():
            args += [feed_id, _num(at)]
        with self._errors("reschedule_feeds"):
            moved = await self._reschedule(
                keys=[self.keys.schedule, self.keys.schedule_leases], args=args
            )
        return int(moved)

    async def remove_feeds(self, feed_ids: Sequence[str]) -> None:
        ids = list(feed_ids)
        with self._errors("remove_feeds"):
            for start in range(0, len(ids), BATCH):
                batch = ids[start : start + BATCH]
                async with self._client.pipeline(transaction=True) as pipe:
                    pipe.zrem(self.keys.schedule, *batch)
                    pipe.hdel(self.keys.schedule_leases, *batch)
                    await pipe.execute()

    async def claim_feeds(
        self, now: float, lease: float, limit: int, token: str, generation: str
    ) -> FeedClaim:
        k = self.keys
        with self._errors("claim_feeds"):
            reply = await self._claim(
                keys=[k.schedule, k.schedule_leases, k.generation],
                args=[_num(now), _num(now + lease), max(limit, 0), token, generation],
            )
        current, first, *feeds = (_text(v) for v in reply)
        return FeedClaim(tuple(feeds), float(first) if first else None, current)

    async def finish_feed(self, feed_id: str, token: str, due: float) -> bool:
        with self._errors("finish_feed"):
            done = await self._finish(
                keys=[self.keys.schedule, self.keys.schedule_leases],
                args=[feed_id, token, _num(due)],
            )
        return bool(done)

    async def save_feed_state(self, feed_id: str, token: str, state: FeedState) -> bool:
        with self._errors("save_feed_state"):
            done = await self._save_state(
                keys=[self.keys.schedule_leases, self.keys.feed(feed_id)],
                args=[feed_id, token, encode_feed_state(state)],
            )
        return bool(done)

    async def leased_feeds(self, now: float) -> dict[str, str]:
        with self._errors("leased_feeds"):
            flat = await self._leased(
                keys=[self.keys.schedule, self.keys.schedule_leases], args=[_num(now)]
            )
        texts = [_text(v) for v in flat]
        return dict(zip(texts[0::2], texts[1::2], strict=True))

    async def due_times(self) -> dict[str, float]:
        with self._errors("due_times"):
            reply = await self._client.zrange(self.keys.schedule, 0, -1, withscores=True)
        pairs = cast(list[tuple[bytes | str, float]], reply)  # WITHSCORES: pairs
        return {_text(feed): float(at) for feed, at in pairs}

    async def generation(self, candidate: str) -> str:
        with self._errors("generation"):
            async with self._client.pipeline(transaction=True) as pipe:
                pipe.set(self.keys.generation, candidate, nx=True)
                pipe.get(self.keys.generation)
                _, current = await pipe.execute()
        return _text(current)
