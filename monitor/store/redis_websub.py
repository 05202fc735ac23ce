"""The Redis store's WebSub subscriptions: one hash, feed id -> JSON record.

:class:`RedisSubscriptions` holds the :class:`~monitor.store.websub.SubscriptionStore`
methods of :class:`~monitor.store.redis.RedisStore` (a mixin, like
:class:`~monitor.store.redis_channels.RedisChannels`: the client, the key layout of
:mod:`monitor.store.redis_keys` and the error translation are that store's). The hash is
``Keys.websub_subscriptions`` (``<prefix>:websub_subscription``); a record is written whole
(:func:`~monitor.store.websub.encode`) and has no TTL. Creating one is ``HSETNX``, so of
two replicas adding at once the first wins and both get its record back.
"""

from __future__ import annotations

from contextlib import AbstractContextManager

import redis.asyncio as aioredis

from monitor.store.redis_keys import Keys
from monitor.store.websub import Subscription, decode, encode

__all__ = ["RedisSubscriptions"]


class RedisSubscriptions:
    """The WebSub subscriptions of :class:`~monitor.store.redis.RedisStore`, which provides
    the client, the keys and the error translation."""

    _client: aioredis.Redis
    keys: Keys

    def _errors(self, operation: str) -> AbstractContextManager[None]:
        raise NotImplementedError

    async def get_subscription(self, feed_id: str) -> Subscription | None:
        with self._errors("get_subscription"):
            text = await self._client.hget(self.keys.websub_subscriptions, feed_id)
        return decode(text) if text is not None else None

    async def put_subscription(self, subscription: Subscription) -> None:
        key = self.keys.websub_subscriptions
        with self._errors("put_subscription"):
            await self._client.hset(key, subscription.feed_id, encode(subscription))

    async def add_subscription(self, subscription: Subscription) -> Subscription:
        key = self.keys.websub_subscriptions
        with self._errors("add_subscription"):
            await self._client.hsetnx(key, subscription.feed_id, encode(subscription))
            text = await self._client.hget(key, subscription.feed_id)
        # Deleted between the two calls (an unsubscribe verified): ours is what was meant.
        return decode(text) if text is not None else subscription

    async def delete_subscription(self, feed_id: str) -> None:
        with self._errors("delete_subscription"):
            await self._client.hdel(self.keys.websub_subscriptions, feed_id)

    async def subscriptions(self) -> list[Subscription]:
        with self._errors("subscriptions"):
            stored = await self._client.hgetall(self.keys.websub_subscriptions)
        return sorted((decode(text) for text in stored.values()), key=lambda s: s.feed_id)
