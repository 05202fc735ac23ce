"""The outbox worker: claim due alerts, pace them per channel, send them, record the outcome.

Claim -> send -> record, like Alertmanager's notify pipeline. One pass
(:meth:`OutboxWorker.deliver_due`):

1. **Claim** up to ``batch_size`` due alerts under one claim token and a lease,
   so if the process dies mid-send the lease runs out and the alert is sent
   again (at least once).
2. **Pace**, per channel (``monitor.delivery.policy``): an alert its channel
   still holds back (``group_wait``, a digest) is deferred to its time; a
   rate-limited channel takes a send slot from the store before each message
   and defers what is left to the next slot. Deferring counts no attempt.
3. **Send** the rest in messages of up to ``channel.max_group`` alerts. Just
   before a send, the worker checks that its lease still covers a whole
   attempt; a worker that stalled (GC pause, suspended VM) past that point
   sends nothing and leaves the alerts to whoever claims them next.
4. **Record**: ``ack``, or ``retry_later`` with backoff, or ``dead_letter``
   after ``max_attempts`` attempts or once the alert has failed for
   ``max_age`` seconds. Both are fenced by the claim token in the store, so a
   stalled worker cannot undo what a newer claim did. Then each outcome goes
   into the alert history (``history_retention``), after the outbox operation:
   a store failure there loses and doubles nothing.

**Gone receivers**: a receiver that asks for no more messages (a webhook's 410 Gone, a
result with ``gone`` set) disables its channel in the store, for every replica
(``monitor.delivery.gone``). A pass that claimed alerts reads those marks once, with the
silences; an alert that is ready to go to a disabled channel is dead-lettered without a
request (``news-monitor channels enable`` sends again, from the next pass on).

**Silences** (Alertmanager style, at send time): a pass that claimed alerts reads the
silences once; an alert that is ready to go (not held back) and that an active silence
mutes is not sent. It leaves the outbox as done (``ack``, detail ``silenced by sil_…``,
so it is never sent later), is recorded as ``silenced`` in the history and counted with
the outcome "silenced". Once the silence ends, new matches alert again.

A pass that is cancelled (SIGTERM past the grace period) gives every alert it
has not recorded back to the outbox, due at once, so the next start sends it
without waiting for the lease to run out. An alert whose request was already
out may then be sent twice, with the same id: the same duplicate a lease
running out would give, only sooner.

The retry decision comes from the channel's ``DeliveryStatus``; the delay from
``monitor.delivery.retry.backoff_delay``.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace

from monitor.delivery.base import Channel
from monitor.delivery.gone import applies, disabled_detail, in_force
from monitor.delivery.policy import ChannelPolicy
from monitor.delivery.retry import backoff_delay
from monitor.errors import StoreError
from monitor.log import get_logger
from monitor.model import (
    Alert,
    Attempt,
    Clock,
    DeliveryResult,
    DeliveryStatus,
    DisabledChannel,
    OutboxEntry,
    Silence,
)
from monitor.store import DeliveryStore
from monitor.store.history_rules import DEFAULT_RETENTION
from monitor.store.outage import OutageLog
from monitor.stories import refresh_coverage

log = get_logger("monitor.deliver")

#: The policy of a channel the worker was given none for: send at once, no rate limit.
NO_POLICY = ChannelPolicy()
#: Seconds an attempt may overrun ``attempt_timeout`` before the worker cuts it off.
ATTEMPT_GRACE = 5.0
#: Seconds until an alert for a channel the config no longer has is looked at again.
ORPHAN_RECHECK = 60.0

#: Told each recorded attempt: its result and what became of the alert ("delivered",
#: "retried", "dead", or "silenced": not sent, its result says by which silence); the
#: composition root counts them (metrics).
ObserveOutcome = Callable[[DeliveryResult, str], None]
#: One alert history update: the alert, its new status, the event.
HistoryUpdate = tuple[Alert, str, Attempt]


def _ignore(result: DeliveryResult, outcome: str) -> None:
    """The default observer: records nothing."""


@dataclass
class DeliveryCounts:
    """What one or more passes over the outbox did."""

    delivered: int = 0
    retrying: int = 0
    dead: int = 0
    #: Held back on purpose (grouping, digest, rate limit); not an attempt.
    deferred: int = 0
    #: Left unsent because the lease no longer covered an attempt (the worker had stalled).
    abandoned: int = 0
    #: Not sent because a silence muted them (settled, like a delivery).
    silenced: int = 0

    @property
    def attempted(self) -> int:
        """Alerts settled by this work: attempted, or silenced."""
        return self.delivered + self.retrying + self.dead + self.silenced

    def add(self, other: DeliveryCounts) -> None:
        """Add ``other``'s counts to these."""
        self.delivered += other.delivered
        self.retrying += other.retrying
        self.dead += other.dead
        self.deferred += other.deferred
        self.abandoned += other.abandoned
        self.silenced += other.silenced


@dataclass
class _Pass(DeliveryCounts):
    """The counts of one pass, the claimed alerts it has not settled yet, and the channels
    disabled (read at its start, and those it disabled itself)."""

    unsettled: dict[str, OutboxEntry] = field(default_factory=dict)
    disabled: dict[str, DisabledChannel] = field(default_factory=dict)

    def settle(self, entry: OutboxEntry) -> None:
        """``entry`` is recorded, deferred or left to its lease: no longer ours to give back."""
        self.unsettled.pop(entry.alert.id, None)

    def totals(self) -> DeliveryCounts:
        return DeliveryCounts(
            self.delivered, self.retrying, self.dead, self.deferred, self.abandoned, self.silenced
        )


@dataclass
class OutboxWorker:
    """Sends due alerts from the store's outbox through the configured channels."""

    store: DeliveryStore
    channels: Mapping[str, Channel]
    #: Timeout of one attempt; the claim lease is longer so a slow send is not sent twice.
    attempt_timeout: float
    #: Dead-letter an alert after this many failed attempts.
    max_attempts: int
    #: How long delivered records are kept (dedup across restarts).
    retention: float
    #: Pacing per channel name; a channel without one is sent at once, unlimited.
    policies: Mapping[str, ChannelPolicy] = field(default_factory=dict)
    #: Dead-letter an alert whose next retry would come this long after it was first due.
    max_age: float = 86_400.0
    #: How long the alert history keeps an alert after its last change (seconds;
    #: MONITOR_HISTORY_RETENTION); 0 records nothing.
    history_retention: float = DEFAULT_RETENTION
    #: First retry delay and the cap of the exponential backoff (seconds).
    backoff_base: float = 5.0
    backoff_cap: float = 3600.0
    #: Alerts claimed per pass (a digest email carries at most this many).
    batch_size: int = 100
    #: Messages in flight at once per channel (a receiver is not flooded with a whole batch).
    max_in_flight: int = 16
    clock: Clock = time.time
    #: How ``drain`` waits for the next due alert; injected so tests move a frozen clock instead.
    sleep: Callable[[float], Awaitable[None]] = asyncio.sleep
    #: Told every recorded outcome (metrics); must not raise.
    observe: ObserveOutcome = _ignore
    #: Logs a store outage once, not once per pass (shared with the scheduler).
    outage: OutageLog = field(default_factory=OutageLog)
    _wake: asyncio.Event = field(default_factory=asyncio.Event)

    @property
    def lease(self) -> float:
        """How long a claimed alert stays hidden from other workers.

        An attempt is cut off after ``attempt_timeout + ATTEMPT_GRACE``; the
        lease outlasts that with room to pace and record, so a live worker's
        alert is never sent twice, and a dead worker's comes back soon.
        """
        return self.attempt_timeout * 2 + 10

    @property
    def _attempt_limit(self) -> float:
        return self.attempt_timeout + ATTEMPT_GRACE

    def wake(self) -> None:
        """Tell a waiting ``run`` loop that new alerts were enqueued."""
        self._wake.set()

    # -- one pass --------------------------------------------------------------

    async def deliver_due(self) -> DeliveryCounts:
        """Claim one batch of due alerts and deliver it."""
        return await self.deliver(await self.claim())

    async def claim(self) -> list[OutboxEntry]:
        """Claim up to ``batch_size`` due alerts (the first half of :meth:`deliver_due`)."""
        return await self.store.claim_due(self.clock(), self.lease, self.batch_size)

    async def deliver(self, entries: Sequence[OutboxEntry]) -> DeliveryCounts:
        """Pace, send and record claimed ``entries``; channels are served concurrently."""
        counts = _Pass(unsettled={entry.alert.id: entry for entry in entries})
        by_channel: dict[str, list[OutboxEntry]] = {}
        for entry in entries:
            by_channel.setdefault(entry.alert.channel, []).append(entry)
        try:
            silences = await self._active_silences() if entries else []
            if entries:
                counts.disabled = in_force(await self.store.disabled_channels(), self.channels)
            await asyncio.gather(
                *(
                    self._deliver_to(name, batch, counts, silences)
                    for name, batch in by_channel.items()
                )
            )
        except asyncio.CancelledError:
            await self._give_back(counts.unsettled.values())
            raise
        return counts.totals()

    async def _active_silences(self) -> list[Silence]:
        """The silences in force now (read once per pass)."""
        now = self.clock()
        return [s for s in await self.store.list_silences(now) if s.active(now)]

    async def _record_history(self, updates: Sequence[HistoryUpdate]) -> None:
        """Record outcomes in the alert history, after their outbox operations (a failure
        here propagates like any store failure; the outbox is already settled)."""
        if updates and self.history_retention > 0:
            await self.store.record_history(updates, self.history_retention)

    async def _give_back(self, entries: Iterable[OutboxEntry]) -> None:
        """Make claimed, unrecorded ``entries`` due now, so the next start need not wait."""
        now = self.clock()
        for entry in list(entries):
            try:
                await self.store.defer(entry.alert.id, now, claim=entry.claim)
            except StoreError:
                return  # the store is gone too: the lease brings them back later

    async def _deliver_to(
        self,
        name: str,
        entries: list[OutboxEntry],
        counts: _Pass,
        silences: Sequence[Silence] = (),
    ) -> None:
        """Deliver one channel's share of a pass; what ``silences`` mute is not sent."""
        policy = self.policies.get(name, NO_POLICY)
        channel = self.channels.get(name)
        if channel is None:
            # Removed from the config (or not yet added by this replica's config): the alert
            # stays queued, unattempted, and is sent if a reload brings the channel back.
            log.warning(
                "deliver",
                status="no_such_channel",
                channel=name,
                alerts=len(entries),
                detail=f"kept in the outbox; retried every {ORPHAN_RECHECK:g}s",
            )
            for entry in entries:
                await self._defer(entry, self.clock() + ORPHAN_RECHECK, "no_such_channel", counts)
            return
        now = self.clock()
        ready: list[OutboxEntry] = []
        muted: list[tuple[OutboxEntry, Silence]] = []
        for entry in entries:
            hold = policy.hold_until(entry.alert)
            silence = next((s for s in silences if s.mutes(entry.alert)), None)
            if hold > now:
                await self._defer(entry, hold, "held", counts)
            elif silence is not None:
                muted.append((entry, silence))
            else:
                ready.append(entry)
        await self._silence(muted, counts)
        if channel.name in counts.disabled:  # gone: no request, no send slot taken
            await self._refuse(channel, ready, policy, counts)
            return
        size = max(channel.max_group, 1)
        messages = [ready[i : i + size] for i in range(0, len(ready), size)]
        if policy.min_gap <= 0:
            in_flight = asyncio.Semaphore(self.max_in_flight)

            async def send(message: list[OutboxEntry]) -> None:
                async with in_flight:
                    await self._send(channel, message, policy, counts)

            await asyncio.gather(*(send(m) for m in messages))
            return
        for i, message in enumerate(messages):
            opens = await self.store.reserve_send(name, self.clock(), policy.min_gap)
            if opens is not None:  # rate limited: the rest waits for the next slot, together
                for entry in (e for rest in messages[i:] for e in rest):
                    await self._defer(entry, opens, "rate_limited", counts)
                return
            await self._send(channel, message, policy, counts)

    async def _silence(self, muted: Sequence[tuple[OutboxEntry, Silence]], counts: _Pass) -> None:
        """Settle muted alerts without sending them: done in the outbox, silenced in the
        history."""
        updates: list[HistoryUpdate] = []
        for entry, silence in muted:
            counts.settle(entry)
            alert, now = entry.alert, self.clock()
            detail = f"silenced by {silence.id}"
            await self.store.ack(alert.id, now, detail, self.retention)
            counts.silenced += 1
            self.observe(
                DeliveryResult(alert.id, alert.channel, DeliveryStatus.DELIVERED, detail),
                "silenced",
            )
            log.info(
                "deliver",
                status="silenced",
                alert=alert.id,
                channel=alert.channel,
                rule=alert.rule_id,
                article=alert.article.id,
                silence=silence.id,
                silenced_until=silence.ends_at,
            )
            updates.append((alert, "silenced", Attempt(now, "silenced", silence.id)))
        await self._record_history(updates)

    async def _refuse(
        self,
        channel: Channel,
        message: Sequence[OutboxEntry],
        policy: ChannelPolicy,
        counts: _Pass,
    ) -> None:
        """Dead-letter alerts of a disabled channel without sending them (like a permanent
        failure: ``alerts retry`` requeues them once the channel is enabled)."""
        detail = disabled_detail(counts.disabled[channel.name])
        updates: list[HistoryUpdate] = []
        for entry in message:
            result = DeliveryResult(entry.alert.id, channel.name, DeliveryStatus.PERMANENT, detail)
            if (
                update := await self._record(entry, entry.alert, result, policy, counts)
            ) is not None:
                updates.append(update)
        await self._record_history(updates)

    async def _disable(self, channel: Channel, result: DeliveryResult, counts: _Pass) -> str:
        """Record that ``channel``'s receiver is gone, for every replica; the detail of the
        alert that heard it. Logs ``channel_disabled`` once: the replica whose mark was kept."""
        mark = DisabledChannel(channel.name, self.clock(), result.detail, channel.target)
        stored = await self.store.disable_channel(mark)
        detail = f"{result.detail}; {disabled_detail(stored)}"
        # Sends in flight together can all hear the 410: the first to return logs.
        if stored == mark and channel.name not in counts.disabled:
            log.error("channel_disabled", channel=channel.name, detail=detail)
        if applies(stored, channel):
            counts.disabled[channel.name] = stored
        return detail

    async def _defer(self, entry: OutboxEntry, due_at: float, reason: str, counts: _Pass) -> None:
        counts.settle(entry)
        if await self.store.defer(entry.alert.id, due_at, claim=entry.claim):
            counts.deferred += 1
            log.debug("deliver", status="deferred", reason=reason, alert=entry.alert.id)
        else:
            self._lost_claim(entry, counts)

    async def _send(
        self,
        channel: Channel,
        message: list[OutboxEntry],
        policy: ChannelPolicy,
        counts: _Pass,
    ) -> None:
        if channel.name in counts.disabled:  # an earlier message of this pass heard a 410
            await self._refuse(channel, message, policy, counts)
            return
        # The story's other outlets as they are now: copies may have arrived since the match.
        alerts = [
            await refresh_coverage(self.store, entry.alert, self.clock()) for entry in message
        ]
        # The fence, right before the send: sending is safe only if the lease outlasts the
        # whole attempt. A worker that stalled since its claim would race the one that took over.
        now = self.clock()
        if any(entry.due_at - now < self._attempt_limit for entry in message):
            for entry in message:
                self._lost_claim(entry, counts)
            return
        result = await self._attempt(channel, alerts)
        if result.gone:
            result = replace(result, detail=await self._disable(channel, result, counts))
        updates: list[HistoryUpdate] = []
        for entry, alert in zip(message, alerts, strict=True):
            if (update := await self._record(entry, alert, result, policy, counts)) is not None:
                updates.append(update)
        await self._record_history(updates)  # after every outbox operation of the message

    def _lost_claim(self, entry: OutboxEntry, counts: _Pass) -> None:
        counts.settle(entry)
        counts.abandoned += 1
        log.warning(
            "deliver",
            status="lease_lost",
            alert=entry.alert.id,
            channel=entry.alert.channel,
            detail="the claim ran out before this worker got to it; another worker will send it",
        )

    async def _attempt(self, channel: Channel, alerts: list[Alert]) -> DeliveryResult:
        first = alerts[0]
        try:
            async with asyncio.timeout(self._attempt_limit):
                if len(alerts) == 1:
                    return await channel.send(first)
                return await channel.send_group(alerts)
        except TimeoutError:
            return DeliveryResult(
                first.id, channel.name, DeliveryStatus.RETRY, "delivery attempt timed out"
            )
        except Exception as e:  # a channel bug must not abort the batch; retry it later
            log.exception("deliver", alert=first.id, channel=channel.name, status="crashed")
            return DeliveryResult(
                first.id, channel.name, DeliveryStatus.RETRY, f"channel raised {type(e).__name__}"
            )

    async def _record(
        self,
        entry: OutboxEntry,
        sent: Alert,
        result: DeliveryResult,
        policy: ChannelPolicy,
        counts: _Pass,
    ) -> HistoryUpdate | None:
        """Record the outcome of an attempt in the outbox; its history update (``sent``:
        the alert as sent, coverage refreshed), or None if the claim was lost."""
        counts.settle(entry)
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
            self.observe(result, "delivered")
            log.info("deliver", status="delivered", **fields)
            return (sent, "delivered", Attempt(now, "delivered", result.detail))
        if result.status is DeliveryStatus.PERMANENT:
            reason = "permanent"
        else:
            delay = backoff_delay(
                attempt,
                base=self.backoff_base,
                cap=self.backoff_cap,
                retry_after=result.retry_after,
            )
            if attempt >= self.max_attempts:
                reason = "gave_up"
            elif now + delay > policy.hold_until(alert) + self.max_age:
                reason = "too_old"
            else:
                if await self.store.retry_later(
                    alert.id, now + delay, result.detail, claim=entry.claim
                ):
                    counts.retrying += 1
                    self.observe(result, "retried")
                    log.warning("deliver", status="retry", retry_in=round(delay, 1), **fields)
                    return (sent, "retrying", Attempt(now, "retried", result.detail))
                self._lost_claim(entry, counts)
                return None
        if await self.store.dead_letter(alert.id, now, result.detail, claim=entry.claim):
            counts.dead += 1
            self.observe(result, "dead")
            log.error("deliver", status="dead_letter", reason=reason, **fields)
            return (sent, "dead", Attempt(now, "dead", result.detail))
        self._lost_claim(entry, counts)
        return None

    # -- loops -------------------------------------------------------------------

    async def drain(self, deadline: float) -> DeliveryCounts:
        """Deliver until the outbox is empty or ``deadline`` (clock time) passes.

        Used by ``run --once``: retries happen within the deadline; what is
        still pending afterwards (a retry or a digest due later) stays queued
        for the next run.
        """
        total = DeliveryCounts()
        while True:
            counts = await self.deliver_due()
            total.add(counts)
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
                self.outage.failed(e, "deliver")
                counts = DeliveryCounts()
            else:
                self.outage.succeeded()
            if counts.attempted:
                continue
            self._wake.clear()
            waiters = [asyncio.ensure_future(self._wake.wait()), asyncio.ensure_future(stop.wait())]
            _, pending = await asyncio.wait(
                waiters, timeout=idle, return_when=asyncio.FIRST_COMPLETED
            )
            for task in pending:
                task.cancel()
