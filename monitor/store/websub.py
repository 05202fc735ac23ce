"""WebSub subscriptions: the :class:`SubscriptionStore` role, its :class:`Subscription`
record and the record's JSON (:func:`encode`, :func:`decode`).

One record per feed, shared by every replica and kept across restarts, so whichever
process a hub calls back can check the callback's token, verify an intent it did not send
itself, and check a push's signature. The role is one of those every
:class:`~monitor.store.base.StateStore` has (a store is its own subscription store); it
lives here, beside its record, and :mod:`monitor.store.base` imports it. Each backend
implements it on its own connection:

* memory: a dict of the store (:class:`~monitor.store.memory.MemoryStore`);
* SQLite: the table ``websub_subscription`` (feed id -> JSON record) of
  :mod:`monitor.store.sqlite_schema`, statements in :mod:`monitor.store.sqlite_websub`;
* Redis: the hash ``<MONITOR_REDIS_PREFIX>:websub_subscription`` (feed id -> JSON record,
  ``Keys.websub_subscriptions``), calls in :mod:`monitor.store.redis_websub`.

A record is small and changed rarely (a subscription, a verification, a renewal every
few days), so it is written whole; two replicas renewing at once both write the same kind
of record, and the hub's verification of either request is accepted. Creating one is
atomic (:meth:`SubscriptionStore.add_subscription`), so two replicas discovering a hub at
once agree on one token and one secret.
"""

from __future__ import annotations

import abc
import dataclasses
import json
from dataclasses import dataclass
from typing import Protocol

__all__ = ["SUBSCRIBE", "UNSUBSCRIBE", "Subscription", "SubscriptionStore", "decode", "encode"]

#: ``Subscription.mode`` of a subscription that is wanted.
SUBSCRIBE = "subscribe"
#: ``Subscription.mode`` of one being removed (its feed left the config, its hub changed).
UNSUBSCRIBE = "unsubscribe"


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
    #: When the request now awaiting verification was first sent (retries after a failure
    #: or a silent hub keep it, so "unverified since" survives them); None: no request
    #: awaits one, or a record of an earlier version (``requested_at`` is then the best
    #: guess).
    pending_since: float | None = None
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

    def unverified_since(self) -> float | None:
        """While a request awaits the hub's verification, since when (its first try; the
        last one for a record of an earlier version); None when none awaits one."""
        if not self.pending:
            return None
        return self.pending_since if self.pending_since is not None else self.requested_at

    def active(self, now: float) -> bool:
        """Whether the hub pushes this feed now: subscribed, verified, lease not over."""
        return self.mode == SUBSCRIBE and self.expires_at is not None and now < self.expires_at


def encode(subscription: Subscription) -> str:
    """The record as stored (a JSON object of every field), by every persistent backend."""
    return json.dumps(dataclasses.asdict(subscription), sort_keys=True)


def decode(text: str | bytes) -> Subscription:
    """The record of :func:`encode`'s JSON."""
    data = json.loads(text)
    known = {f.name for f in dataclasses.fields(Subscription)}
    # A field a later version added is ignored, one it dropped takes its default.
    return Subscription(**{k: v for k, v in data.items() if k in known})


class SubscriptionStore(Protocol):
    """Where WebSub subscriptions are kept, by feed id (:class:`Subscription`)."""

    @abc.abstractmethod
    async def get_subscription(self, feed_id: str) -> Subscription | None:
        """The subscription of ``feed_id``, or None."""

    @abc.abstractmethod
    async def put_subscription(self, subscription: Subscription) -> None:
        """Store ``subscription``, replacing the feed's record if there is one."""

    @abc.abstractmethod
    async def add_subscription(self, subscription: Subscription) -> Subscription:
        """Store ``subscription`` unless the feed has a record already (atomic); the
        record stored after the call (``subscription``, or the one that was there)."""

    @abc.abstractmethod
    async def delete_subscription(self, feed_id: str) -> None:
        """Forget the subscription of ``feed_id`` (nothing if there is none)."""

    @abc.abstractmethod
    async def subscriptions(self) -> list[Subscription]:
        """Every stored subscription, by feed id."""
