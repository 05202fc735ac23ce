"""WebSub subscriptions in the state store: one record per feed, shared by every replica
and kept across restarts, so whichever process a hub calls back can check the callback's
token, verify an intent it did not send itself, and check a push's signature.

The role (:class:`SubscriptionStore`) sits beside the others of :mod:`monitor.store.base`
but is kept apart from :class:`~monitor.store.base.StateStore`: it is only needed when
``MONITOR_PUBLIC_URL`` is set, and :func:`subscriptions_for` gives it for any backend, on
that backend's own connection:

* memory: a dict kept per store object (what the tests share between "replicas");
* SQLite: the table ``websub_subscription`` (feed id -> JSON record) in the same file,
  created on first use;
* Redis: the hash ``<MONITOR_REDIS_PREFIX>:websub_subscription`` (feed id -> JSON record).

A record is small and changed rarely (a subscription, a verification, a renewal every
few days), so it is written whole; two replicas renewing at once both write the same kind
of record, and the hub's verification of either request is accepted. Creating one is
atomic (:meth:`SubscriptionStore.add_subscription`), so two replicas discovering a hub at
once agree on one token and one secret.
"""

from __future__ import annotations

import dataclasses
import json
import sqlite3
import weakref
from dataclasses import dataclass
from typing import Protocol

from monitor.store.base import StateStore
from monitor.store.memory import MemoryStore
from monitor.store.redis import RedisStore
from monitor.store.sqlite import SqliteStore

#: ``Subscription.mode`` of a subscription that is wanted.
SUBSCRIBE = "subscribe"
#: ``Subscription.mode`` of one being removed (its feed left the config, its hub changed).
UNSUBSCRIBE = "unsubscribe"

_TABLE = "websub_subscription"
_SCHEMA = f"CREATE TABLE IF NOT EXISTS {_TABLE} (feed_id TEXT PRIMARY KEY, record TEXT NOT NULL)"


@dataclass(frozen=True, slots=True)
class Subscription:
    """One feed's subscription at its hub, as the store keeps it (times: epoch seconds)."""

    #: The feed's id (one subscription per feed).
    feed_id: str
    #: The hub subscribed at.
    hub: str
    #: The topic URL subscribed to.
    topic: str
    #: The unguessable last part of the callback URL.
    token: str
    #: The ``hub.secret``: the key of the HMAC that signs pushed content.
    secret: str
    #: :data:`SUBSCRIBE` or :data:`UNSUBSCRIBE`.
    mode: str = SUBSCRIBE
    #: A request of ``mode`` was sent and its intent not verified yet: a verification of
    #: this mode is expected (and only then accepted).
    pending: bool = True
    #: When the last request was sent.
    requested_at: float = 0.0
    #: End of the lease the hub granted at the last verification; None: never verified,
    #: or denied.
    expires_at: float | None = None
    #: Seconds of that lease.
    lease_seconds: float = 0.0
    #: When to ask the hub next (a renewal, or a retry after a failure); None: never.
    due_at: float | None = None
    #: Requests that failed in a row (no answer, or not 2xx).
    failures: int = 0
    #: Why the last request failed, or why the hub denied it; "" otherwise.
    last_error: str = ""
    #: The hub may be on a private address (the feed's ``allow_private_addresses``; kept
    #: here for the unsubscribe of a feed the config no longer has).
    allow_private: bool = False

    def active(self, now: float) -> bool:
        """Whether the hub pushes this feed now: subscribed, verified, lease not over."""
        return self.mode == SUBSCRIBE and self.expires_at is not None and now < self.expires_at


def encode(subscription: Subscription) -> str:
    return json.dumps(dataclasses.asdict(subscription), sort_keys=True)


def decode(text: str | bytes) -> Subscription:
    data = json.loads(text)
    known = {f.name for f in dataclasses.fields(Subscription)}
    # A field a later version added is ignored, one it dropped takes its default.
    return Subscription(**{k: v for k, v in data.items() if k in known})


class SubscriptionStore(Protocol):
    """Where WebSub subscriptions are kept, by feed id."""

    async def get_subscription(self, feed_id: str) -> Subscription | None:
        """The subscription of ``feed_id``, or None."""

    async def put_subscription(self, subscription: Subscription) -> None:
        """Store ``subscription``, replacing the feed's record if there is one."""

    async def add_subscription(self, subscription: Subscription) -> Subscription:
        """Store ``subscription`` unless the feed has a record already (atomic); the
        record stored after the call (``subscription``, or the one that was there)."""

    async def delete_subscription(self, feed_id: str) -> None:
        """Forget the subscription of ``feed_id`` (nothing if there is none)."""

    async def subscriptions(self) -> list[Subscription]:
        """Every stored subscription, by feed id."""


class MemorySubscriptions:
    """Subscriptions in a dict (tests; the memory store forgets them with the process)."""

    def __init__(self) -> None:
        self._records: dict[str, Subscription] = {}

    async def get_subscription(self, feed_id: str) -> Subscription | None:
        return self._records.get(feed_id)

    async def put_subscription(self, subscription: Subscription) -> None:
        self._records[subscription.feed_id] = subscription

    async def add_subscription(self, subscription: Subscription) -> Subscription:
        return self._records.setdefault(subscription.feed_id, subscription)

    async def delete_subscription(self, feed_id: str) -> None:
        self._records.pop(feed_id, None)

    async def subscriptions(self) -> list[Subscription]:
        return [self._records[k] for k in sorted(self._records)]


class SqliteSubscriptions:
    """Subscriptions in a table of the SQLite store's file, through its transactions."""

    def __init__(self, store: SqliteStore) -> None:
        self._store = store
        self._ready = False

    async def _ensure(self) -> None:
        # The table is this module's; created on first use rather than by the store's
        # schema, so a daemon without WebSub never has it.
        if not self._ready:
            await self._store._write(lambda conn: conn.execute(_SCHEMA))
            self._ready = True

    async def get_subscription(self, feed_id: str) -> Subscription | None:
        await self._ensure()

        def run(conn: sqlite3.Connection) -> str | None:
            sql = f"SELECT record FROM {_TABLE} WHERE feed_id = ?"
            row = conn.execute(sql, (feed_id,)).fetchone()
            return str(row[0]) if row else None

        text = await self._store._read(run)
        return decode(text) if text is not None else None

    async def put_subscription(self, subscription: Subscription) -> None:
        await self._ensure()
        sql = f"INSERT OR REPLACE INTO {_TABLE} (feed_id, record) VALUES (?, ?)"
        args = (subscription.feed_id, encode(subscription))
        await self._store._write(lambda conn: conn.execute(sql, args))

    async def add_subscription(self, subscription: Subscription) -> Subscription:
        await self._ensure()

        def run(conn: sqlite3.Connection) -> str:
            conn.execute(
                f"INSERT OR IGNORE INTO {_TABLE} (feed_id, record) VALUES (?, ?)",
                (subscription.feed_id, encode(subscription)),
            )
            sql = f"SELECT record FROM {_TABLE} WHERE feed_id = ?"
            return str(conn.execute(sql, (subscription.feed_id,)).fetchone()[0])

        return decode(await self._store._write(run))

    async def delete_subscription(self, feed_id: str) -> None:
        await self._ensure()
        sql = f"DELETE FROM {_TABLE} WHERE feed_id = ?"
        await self._store._write(lambda conn: conn.execute(sql, (feed_id,)))

    async def subscriptions(self) -> list[Subscription]:
        await self._ensure()

        def run(conn: sqlite3.Connection) -> list[str]:
            rows = conn.execute(f"SELECT record FROM {_TABLE} ORDER BY feed_id").fetchall()
            return [str(row[0]) for row in rows]

        return [decode(text) for text in await self._store._read(run)]


class RedisSubscriptions:
    """Subscriptions in one Redis hash under the store's prefix (no TTL: a record is
    removed when its subscription is)."""

    def __init__(self, store: RedisStore) -> None:
        self._store = store
        self.key = f"{store.keys.prefix}:{_TABLE}"

    async def get_subscription(self, feed_id: str) -> Subscription | None:
        with self._store._errors("get_subscription"):
            text = await self._store._client.hget(self.key, feed_id)
        return decode(text) if text is not None else None

    async def put_subscription(self, subscription: Subscription) -> None:
        with self._store._errors("put_subscription"):
            await self._store._client.hset(self.key, subscription.feed_id, encode(subscription))

    async def add_subscription(self, subscription: Subscription) -> Subscription:
        client = self._store._client
        with self._store._errors("add_subscription"):
            await client.hsetnx(self.key, subscription.feed_id, encode(subscription))
            text = await client.hget(self.key, subscription.feed_id)
        # Deleted between the two calls (an unsubscribe verified): ours is what was meant.
        return decode(text) if text is not None else subscription

    async def delete_subscription(self, feed_id: str) -> None:
        with self._store._errors("delete_subscription"):
            await self._store._client.hdel(self.key, feed_id)

    async def subscriptions(self) -> list[Subscription]:
        with self._store._errors("subscriptions"):
            stored = await self._store._client.hgetall(self.key)
        records = [decode(text) for text in stored.values()]
        return sorted(records, key=lambda s: s.feed_id)


# One MemorySubscriptions per MemoryStore, so that two managers on one store (two
# "replicas" in a test) see the same records, as they would in SQLite or Redis.
_memory: weakref.WeakKeyDictionary[MemoryStore, MemorySubscriptions] = weakref.WeakKeyDictionary()


def subscriptions_for(store: StateStore) -> SubscriptionStore:
    """The subscription store living in ``store`` (any of the three backends)."""
    if isinstance(store, SqliteStore):
        return SqliteSubscriptions(store)
    if isinstance(store, RedisStore):
        return RedisSubscriptions(store)
    if isinstance(store, MemoryStore):
        return _memory.setdefault(store, MemorySubscriptions())
    raise TypeError(f"no WebSub subscriptions for a {type(store).__name__}")
