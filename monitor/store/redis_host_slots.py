"""Fetch slots per host and the politeness delay, shared by every replica on one Redis.

:class:`RedisHostGate` is the Redis :class:`~monitor.ingest.host_slots.HostGate` (matched
by shape: the store does not import the ingest wing): per host, a sorted set of the slots
held (token -> when it ends, caller's clock) and a string with the earliest next start
(keys ``host_fetches`` and ``host_next_fetch`` of :mod:`monitor.store.redis_keys`).
Acquiring is one script (drop ended slots, check the delay and the count, take a slot,
push the next start), releasing one ZREM: one round trip each. A replica that dies while
fetching holds its slot until the slot's end (the fetch deadline and a grace), never
longer; both keys expire when a host is left alone.
"""

from __future__ import annotations

import math
from typing import Literal, cast

from monitor.store.redis import RedisStore

__all__ = ["ACQUIRE_HOST_SLOT", "RedisHostGate"]

#: KEYS: host_fetches, host_next_fetch. ARGV: now, token, slot end, limit, delay, the
#: holders' TTL (ms), the next start's TTL (ms), the next start (now + delay). Returns
#: {kind, time as text}: see ``monitor.ingest.host_slots.HostGate.acquire``.
ACQUIRE_HOST_SLOT = """
local now = tonumber(ARGV[1])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', ARGV[1])
local next_start = redis.call('GET', KEYS[2])
if next_start and tonumber(next_start) > now then
  return {'delay', next_start}
end
if redis.call('ZCARD', KEYS[1]) >= tonumber(ARGV[4]) then
  local first = redis.call('ZRANGE', KEYS[1], 0, 0, 'WITHSCORES')
  return {'busy', first[2]}
end
redis.call('ZADD', KEYS[1], ARGV[3], ARGV[2])
redis.call('PEXPIRE', KEYS[1], ARGV[6])
if tonumber(ARGV[5]) > 0 then
  redis.call('SET', KEYS[2], ARGV[8], 'PX', ARGV[7])
end
return {'granted', '0'}
"""

#: Real-time slack added to the TTLs: they only collect garbage, the times decide.
_TTL_GRACE_MS = 60_000


def _text(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value


def _ms(seconds: float) -> int:
    return max(math.ceil(seconds * 1000), 0) + _TTL_GRACE_MS


class RedisHostGate:
    """The shared per-host fetch slots of the replicas sharing ``store``'s Redis."""

    def __init__(self, store: RedisStore) -> None:
        self._store = store
        self._acquire = store._client.register_script(ACQUIRE_HOST_SLOT)

    async def acquire(
        self, host: str, token: str, now: float, *, limit: int, delay: float, lease_end: float
    ) -> tuple[Literal["granted", "delay", "busy"], float]:
        keys = self._store.keys
        with self._store._errors("acquire_host_slot"):
            kind, at = await self._acquire(
                keys=[keys.host_fetches(host), keys.host_next_fetch(host)],
                args=[
                    repr(float(now)),
                    token,
                    repr(float(lease_end)),
                    limit,
                    repr(float(delay)),
                    _ms(lease_end - now),
                    _ms(delay),
                    repr(float(now + delay)),
                ],
            )
        answer = cast(Literal["granted", "delay", "busy"], _text(kind))
        return answer, float(_text(at))

    async def release(self, host: str, token: str) -> None:
        with self._store._errors("release_host_slot"):
            await self._store._client.zrem(self._store.keys.host_fetches(host), token)
