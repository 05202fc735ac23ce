"""The state-store contract every backend implements.

The docstrings below *are* the contract; ``tests/test_store_contract.py`` runs
one suite against every backend. Times are float seconds since the epoch,
passed in by the caller (the store never reads a clock), so tests can freeze
time.

Ordering that makes delivery at-least-once: an article is *claimed* (a short
lease, so a crash lets another poll retry it), its alerts are *enqueued*, and
only then is it *marked seen*. An alert id is deterministic, and the outbox
ignores an id it already holds or has delivered, so redoing any step is safe.
"""

from __future__ import annotations

import abc
from collections.abc import Sequence
from dataclasses import dataclass

from monitor.types import Alert, FeedValidators


@dataclass(frozen=True, slots=True)
class FeedState:
    """What we remember about one feed between polls."""

    #: Validators for the next conditional GET.
    validators: FeedValidators = FeedValidators()  # noqa: RUF009 - frozen, safe to share
    #: When the feed was first fetched successfully (None: never, so the next poll is the first).
    first_polled_at: float | None = None
    #: When the last fetch succeeded (200 or 304).
    last_success_at: float | None = None
    #: Failures in a row since the last success.
    consecutive_failures: int = 0
    #: Error of the last failed fetch, "" after a success.
    last_error: str = ""


@dataclass(frozen=True, slots=True)
class OutboxEntry:
    """An alert waiting in (or claimed from) the outbox."""

    #: The alert to deliver.
    alert: Alert
    #: Delivery attempts made so far.
    attempts: int
    #: When the alert is due (its next attempt); while claimed, when the lease ends.
    due_at: float
    #: Error of the last failed attempt, "" if none.
    last_error: str = ""


class StateStore(abc.ABC):
    """Seen articles, feed state and the alert outbox."""

    # -- feeds ---------------------------------------------------------------

    @abc.abstractmethod
    async def get_feed_state(self, feed_id: str) -> FeedState | None:
        """The stored state of ``feed_id``, or None if the feed was never recorded."""

    @abc.abstractmethod
    async def put_feed_state(self, feed_id: str, state: FeedState) -> None:
        """Replace the stored state of ``feed_id``."""

    # -- articles ------------------------------------------------------------

    @abc.abstractmethod
    async def claim_article(self, keys: Sequence[str], now: float, lease: float) -> bool:
        """Atomically claim an article for processing.

        Returns False if any of ``keys`` is seen, or claimed by a lease that
        has not ended at ``now``. Otherwise claims every key until
        ``now + lease`` and returns True. Across processes sharing the store,
        at most one caller wins a claim.
        """

    @abc.abstractmethod
    async def mark_seen(self, keys: Sequence[str], now: float, retention: float) -> None:
        """Record every key as seen until ``now + retention``; this replaces any claim."""

    @abc.abstractmethod
    async def release_article(self, keys: Sequence[str]) -> None:
        """Drop the claim on ``keys`` (processing failed); seen keys stay seen."""

    @abc.abstractmethod
    async def is_seen(self, key: str, now: float) -> bool:
        """Whether ``key`` is recorded as seen (and has not expired) at ``now``."""

    # -- outbox --------------------------------------------------------------

    @abc.abstractmethod
    async def enqueue(self, alerts: Sequence[Alert], now: float) -> int:
        """Add alerts to the outbox, due at ``now``; return how many were new.

        An alert whose id is already queued, dead-lettered or delivered is
        ignored: enqueueing is idempotent.
        """

    @abc.abstractmethod
    async def claim_due(self, now: float, lease: float, limit: int) -> list[OutboxEntry]:
        """Claim up to ``limit`` queued alerts due at or before ``now``, oldest first.

        A claimed alert is not returned again until ``now + lease`` has
        passed (so a worker that dies mid-send leaves it to be retried).
        Concurrent callers never receive the same alert within a lease.
        """

    @abc.abstractmethod
    async def ack(self, alert_id: str, now: float, detail: str, retention: float) -> None:
        """Record the alert as delivered (kept ``retention`` seconds); drop it from the outbox."""

    @abc.abstractmethod
    async def retry_later(self, alert_id: str, due_at: float, error: str) -> None:
        """Count a failed attempt and make the alert due again at ``due_at``."""

    @abc.abstractmethod
    async def dead_letter(self, alert_id: str, now: float, error: str) -> None:
        """Count a failed attempt, move the alert out of the outbox into the dead-letter list."""

    @abc.abstractmethod
    async def is_delivered(self, alert_id: str, now: float) -> bool:
        """Whether the alert was delivered (record not yet expired)."""

    @abc.abstractmethod
    async def pending(self) -> list[OutboxEntry]:
        """Every alert still in the outbox (queued or claimed), oldest due first."""

    @abc.abstractmethod
    async def dead_letters(self) -> list[OutboxEntry]:
        """Every dead-lettered alert, most recent first."""

    # -- lifecycle -----------------------------------------------------------

    async def ping(self) -> None:  # noqa: B027 - optional hook
        """Raise StoreError if the store is unreachable."""

    async def close(self) -> None:  # noqa: B027 - optional hook
        """Release connections and files."""
