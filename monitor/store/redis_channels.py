"""The Redis store's disabled channels: one hash, channel name -> JSON record.

:class:`RedisChannels` holds the :class:`~monitor.store.base.ChannelStateStore` methods
of :class:`~monitor.store.redis.RedisStore` (a mixin, like
:class:`~monitor.store.redis_history.RedisHistory`: the client, the key layout of
:mod:`monitor.store.redis_keys` and the error translation are that store's). Disabling
is one script, so the first 410 heard by any replica is the one kept; enabling is one
script too (read and delete at once), so the record it reports is the one it removed.
"""

from __future__ import annotations

import json
from contextlib import AbstractContextManager
from typing import Any

import redis.asyncio as aioredis

from monitor.model import DisabledChannel
from monitor.store.redis_keys import Keys

__all__ = ["RedisChannels"]

#: KEYS: channel_disabled. ARGV: channel, record JSON, its target. Keeps a stored record
#: of the same target (the first 410 wins); else stores ARGV[2]. Returns the stored JSON.
DISABLE_CHANNEL = """
local stored = redis.call('HGET', KEYS[1], ARGV[1])
if stored and cjson.decode(stored)['target'] == ARGV[3] then
    return stored
end
redis.call('HSET', KEYS[1], ARGV[1], ARGV[2])
return ARGV[2]
"""

#: KEYS: channel_disabled. ARGV: channel. Deletes its record; returns it (nil: none).
ENABLE_CHANNEL = """
local stored = redis.call('HGET', KEYS[1], ARGV[1])
if stored then
    redis.call('HDEL', KEYS[1], ARGV[1])
end
return stored
"""


def encode(record: DisabledChannel) -> str:
    return json.dumps(
        {
            "channel": record.channel,
            "since": record.since,
            "reason": record.reason,
            "target": record.target,
        },
        sort_keys=True,
    )


def decode(value: bytes | str) -> DisabledChannel:
    data = json.loads(value)
    return DisabledChannel(
        str(data["channel"]),
        float(data["since"]),
        str(data.get("reason", "")),
        str(data.get("target", "")),
    )


class RedisChannels:
    """The disabled channels of :class:`~monitor.store.redis.RedisStore`, which provides the
    client, the keys and the error translation."""

    _client: aioredis.Redis
    keys: Keys

    def _errors(self, operation: str) -> AbstractContextManager[None]:
        raise NotImplementedError

    def _channel_scripts(self) -> tuple[Any, Any]:
        """The scripts (disable, enable), registered on first use."""
        scripts: tuple[Any, Any] | None = getattr(self, "_registered_channels", None)
        if scripts is None:
            register = self._client.register_script
            scripts = (register(DISABLE_CHANNEL), register(ENABLE_CHANNEL))
            self._registered_channels = scripts
        return scripts

    async def disable_channel(self, record: DisabledChannel) -> DisabledChannel:
        disable, _ = self._channel_scripts()
        with self._errors("disable_channel"):
            stored = await disable(
                keys=[self.keys.channel_disabled],
                args=[record.channel, encode(record), record.target],
            )
        return decode(stored)

    async def enable_channel(self, channel: str) -> DisabledChannel | None:
        _, enable = self._channel_scripts()
        with self._errors("enable_channel"):
            stored = await enable(keys=[self.keys.channel_disabled], args=[channel])
        return decode(stored) if stored is not None else None

    async def disabled_channels(self) -> list[DisabledChannel]:
        with self._errors("disabled_channels"):
            stored = await self._client.hgetall(self.keys.channel_disabled)
        return sorted((decode(v) for v in stored.values()), key=lambda r: r.channel)
