"""The outbox worker: claim due alerts, send them, record the outcome.

Claim -> send -> record, like Alertmanager's notify pipeline: a claimed alert
is leased, so if the process dies mid-send the lease runs out and the alert is
sent again (at least once). The retry decision comes from the channel's
``DeliveryStatus``; the delay from ``monitor.delivery.retry.backoff_delay``.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field

from monitor.delivery.base import Channel
from monitor.delivery.retry import backoff_delay
from monitor.errors import StoreError
from monitor.log import get_logger
from monitor.store import OutboxEntry, StateStore
from monitor.types import Clock, DeliveryResult, DeliveryStatus

log = get_logger("monitor.deliver")


@dataclass
class DeliveryCounts:
    """What one pass over the outbox did."""

    delivered: int = 0
    retrying: int = 0
    dead: int = 0

    @property
    def attempted(self) -> int:
        return self.delivered + self.retrying + self.dead


@dataclass
class OutboxWorker:
    """Sends due alerts from the store's outbox through the configured channels."""

    store: StateStore
    channels: Mapping[str, Channel]
    #: Timeout of one attempt; the claim lease is longer so a slow send is not sent twice.
    attempt_timeout: float
    max_attempts: int
    #: How long delivered records are kept (dedup across restarts).
    retention: float
    batch_size: int = 50
    clock: Clock = time.time
    #: How ``drain`` waits for the next due alert; injected so tests move a frozen clock instead.
    sleep: Callable[[float], Awaitable[None]] = asyncio.sleep
    _wake: asyncio.Event = field(default_factory=asyncio.Event)

    @property
    def lease(self) -> float:
        """How long a claimed alert stays hidden from other workers.

        An attempt is cut off after ``attempt_timeout + 5`` s (see ``_attempt``);
        the lease outlasts that with room to record the outcome, so a live
        worker's alert is never sent twice, and a dead worker's comes back soon.
        """
        return self.attempt_timeout * 2 + 10

    def wake(self) -> None:
        """Tell a waiting ``run`` loop that new alerts were enqueued."""
        self._wake.set()

    async def deliver_due(self) -> DeliveryCounts:
        """Claim and send one batch of due alerts, concurrently."""
        counts = DeliveryCounts()
        entries = await self.store.claim_due(self.clock(), self.lease, self.batch_size)
        if not entries:
            return counts
        results = await asyncio.gather(*(self._attempt(e) for e in entries))
        for entry, result in zip(entries, results, strict=True):
            await self._record(entry, result, counts)
        return counts

    async def _attempt(self, entry: OutboxEntry) -> DeliveryResult:
        alert = entry.alert
        channel = self.channels.get(alert.channel)
        if channel is None:
            return DeliveryResult(
                alert.id,
                alert.channel,
                DeliveryStatus.PERMANENT,
                f"channel '{alert.channel}' is no longer configured",
            )
        try:
            async with asyncio.timeout(self.attempt_timeout + 5):
                return await channel.send(alert)
        except TimeoutError:
            return DeliveryResult(
                alert.id, alert.channel, DeliveryStatus.RETRY, "delivery attempt timed out"
            )
        except Exception as e:  # a channel bug must not abort the batch; retry it later
            log.exception("deliver", alert=alert.id, channel=alert.channel, status="crashed")
            return DeliveryResult(
                alert.id, alert.channel, DeliveryStatus.RETRY, f"channel raised {type(e).__name__}"
            )

    async def _record(
        self, entry: OutboxEntry, result: DeliveryResult, counts: DeliveryCounts
    ) -> None:
        alert, now = entry.alert, self.clock()
        attempt = entry.attempts + 1
        fields = {
            "alert": alert.id,
            "channel": alert.channel,
            "rule": alert.rule_id,
            "article": alert.article.id,
            "attempt": attempt,
            "detail": result.detail,
        }
        if result.status is DeliveryStatus.DELIVERED:
            await self.store.ack(alert.id, now, result.detail, self.retention)
            counts.delivered += 1
            log.info("deliver", status="delivered", **fields)
        elif result.status is DeliveryStatus.RETRY and attempt < self.max_attempts:
            delay = backoff_delay(attempt, retry_after=result.retry_after)
            await self.store.retry_later(alert.id, now + delay, result.detail)
            counts.retrying += 1
            log.warning("deliver", status="retry", retry_in=round(delay, 1), **fields)
        else:
            await self.store.dead_letter(alert.id, now, result.detail)
            counts.dead += 1
            reason = "permanent" if result.status is DeliveryStatus.PERMANENT else "gave_up"
            log.error("deliver", status="dead_letter", reason=reason, **fields)

    async def drain(self, deadline: float) -> DeliveryCounts:
        """Deliver until the outbox is empty or ``deadline`` (clock time) passes.

        Used by ``run --once``: retries happen within the deadline; what is
        still pending afterwards stays queued for the next run.
        """
        total = DeliveryCounts()
        while True:
            counts = await self.deliver_due()
            total.delivered += counts.delivered
            total.retrying += counts.retrying
            total.dead += counts.dead
            if counts.attempted:
                continue
            pending = await self.store.pending()
            if not pending:
                return total
            next_due = min(e.due_at for e in pending)
            now = self.clock()
            if next_due > deadline or now >= deadline:
                return total
            await self.sleep(max(0.0, min(next_due, deadline) - now))

    async def run(self, stop: asyncio.Event, idle: float = 1.0) -> None:
        """Deliver continuously until ``stop`` is set; wait up to ``idle`` s when nothing is due."""
        while not stop.is_set():
            try:
                counts = await self.deliver_due()
            except StoreError as e:
                # The store is down (Redis restarting ...): alerts wait in it; try again later.
                log.error("deliver", status="store_unavailable", error=str(e))
                counts = DeliveryCounts()
            if counts.attempted:
                continue
            self._wake.clear()
            waiters = [asyncio.ensure_future(self._wake.wait()), asyncio.ensure_future(stop.wait())]
            _, pending = await asyncio.wait(
                waiters, timeout=idle, return_when=asyncio.FIRST_COMPLETED
            )
            for task in pending:
                task.cancel()
