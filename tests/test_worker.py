"""The outbox worker on fakes: a scripted channel, MemoryStore, a frozen clock."""

from __future__ import annotations

import asyncio
from collections import deque
from dataclasses import replace

from monitor.delivery.base import Channel
from monitor.delivery.worker import OutboxWorker
from monitor.errors import StoreError
from monitor.store import OutboxEntry
from monitor.store.memory import MemoryStore
from monitor.types import Alert, DeliveryResult, DeliveryStatus
from tests.conftest import FrozenClock
from tests.factories import make_alert

OK, RETRY, PERMANENT = DeliveryStatus.DELIVERED, DeliveryStatus.RETRY, DeliveryStatus.PERMANENT


class ScriptedChannel(Channel):
    """Answers each send with the next scripted status (then DELIVERED); records every call."""

    def __init__(
        self, name: str, *script: DeliveryStatus | Exception, retry_after: float | None = None
    ) -> None:
        super().__init__(name)
        self.script: deque[DeliveryStatus | Exception] = deque(script)
        self.sent: list[str] = []
        self.retry_after = retry_after

    async def send(self, alert: Alert) -> DeliveryResult:
        self.sent.append(alert.id)
        step = self.script.popleft() if self.script else OK
        if isinstance(step, Exception):
            raise step
        return DeliveryResult(
            alert.id,
            self.name,
            step,
            f"scripted {step.value}",
            retry_after=self.retry_after if step is RETRY else None,
        )


def worker_for(channel: Channel, clock: FrozenClock, max_attempts: int = 5) -> OutboxWorker:
    return OutboxWorker(
        store=MemoryStore(),
        channels={channel.name: channel},
        attempt_timeout=1,
        max_attempts=max_attempts,
        retention=3600,
        clock=clock,
    )


async def queue(worker: OutboxWorker, *alerts: Alert) -> None:
    await worker.store.enqueue(alerts, worker.clock())


async def test_delivered_alert_is_recorded_and_never_resent(clock: FrozenClock) -> None:
    channel = ScriptedChannel("ops")
    worker = worker_for(channel, clock)
    alert = make_alert()
    await queue(worker, alert)
    counts = await worker.deliver_due()
    assert counts.delivered == 1
    assert await worker.store.is_delivered(alert.id, clock.now)
    await queue(worker, alert)  # the same (rule, article, channel) again
    assert (await worker.deliver_due()).attempted == 0
    assert channel.sent == [alert.id]


async def test_retry_waits_for_backoff_then_delivers(clock: FrozenClock) -> None:
    channel = ScriptedChannel("ops", RETRY, RETRY)
    worker = worker_for(channel, clock)
    await queue(worker, make_alert())
    assert (await worker.deliver_due()).retrying == 1
    (entry,) = await worker.store.pending()
    assert entry.attempts == 1 and entry.due_at > clock.now
    assert (await worker.deliver_due()).attempted == 0, "not before its due time"
    clock.now = entry.due_at
    assert (await worker.deliver_due()).retrying == 1
    clock.now = (await worker.store.pending())[0].due_at
    assert (await worker.deliver_due()).delivered == 1
    assert len(channel.sent) == 3 and not await worker.store.pending()


async def test_retry_after_is_honoured(clock: FrozenClock) -> None:
    channel = ScriptedChannel("ops", RETRY, retry_after=600)
    worker = worker_for(channel, clock)
    await queue(worker, make_alert())
    await worker.deliver_due()
    (entry,) = await worker.store.pending()
    assert entry.due_at >= clock.now + 600


async def test_permanent_failure_goes_to_dead_letters_at_once(clock: FrozenClock) -> None:
    channel = ScriptedChannel("ops", PERMANENT)
    worker = worker_for(channel, clock)
    await queue(worker, make_alert())
    assert (await worker.deliver_due()).dead == 1
    (dead,) = await worker.store.dead_letters()
    assert dead.last_error == "scripted permanent" and dead.attempts == 1
    assert not await worker.store.pending()


async def test_gives_up_after_max_attempts(clock: FrozenClock) -> None:
    channel = ScriptedChannel("ops", *[RETRY] * 10)
    worker = worker_for(channel, clock, max_attempts=3)
    await queue(worker, make_alert())
    for _ in range(3):
        pending = await worker.store.pending()
        if pending:
            clock.now = max(clock.now, pending[0].due_at)
        await worker.deliver_due()
    assert len(channel.sent) == 3
    (dead,) = await worker.store.dead_letters()
    assert dead.attempts == 3


async def test_a_crashing_channel_is_retried_not_fatal(clock: FrozenClock) -> None:
    channel = ScriptedChannel("ops", RuntimeError("bug"))
    worker = worker_for(channel, clock)
    good = make_alert()
    other = replace(make_alert(), id="other-alert")
    await queue(worker, good, other)
    counts = await worker.deliver_due()
    assert counts.delivered == 1 and counts.retrying == 1


async def test_unknown_channel_is_dead_lettered(clock: FrozenClock) -> None:
    worker = worker_for(ScriptedChannel("ops"), clock)
    await queue(worker, replace(make_alert(), channel="removed"))
    assert (await worker.deliver_due()).dead == 1
    (dead,) = await worker.store.dead_letters()
    assert "no longer configured" in dead.last_error


async def test_drain_retries_within_the_deadline(clock: FrozenClock) -> None:
    channel = ScriptedChannel("ops", RETRY)
    worker = worker_for(channel, clock)
    await queue(worker, make_alert())

    async def fast_sleep(seconds: float) -> None:  # the frozen clock moves instead of waiting
        clock.advance(seconds)
        await asyncio.sleep(0)

    worker.sleep = fast_sleep
    total = await worker.drain(deadline=clock.now + 3600)
    assert total.delivered == 1 and total.retrying == 1


async def test_drain_stops_at_the_deadline_and_keeps_the_alert(clock: FrozenClock) -> None:
    channel = ScriptedChannel("ops", RETRY, retry_after=600)
    worker = worker_for(channel, clock)
    await queue(worker, make_alert())
    total = await worker.drain(deadline=clock.now + 60)
    assert total.retrying == 1 and total.delivered == 0
    assert len(await worker.store.pending()) == 1


async def test_run_survives_a_store_outage(clock: FrozenClock) -> None:
    channel = ScriptedChannel("ops")
    worker = worker_for(channel, clock)
    await queue(worker, make_alert())
    store = worker.store
    real_claim = store.claim_due
    failures = {"left": 2}

    async def flaky_claim(now: float, lease: float, limit: int) -> list[OutboxEntry]:
        if failures["left"]:
            failures["left"] -= 1
            raise StoreError("redis is restarting")
        return await real_claim(now, lease, limit)

    store.claim_due = flaky_claim  # type: ignore[method-assign]
    stop = asyncio.Event()
    task = asyncio.create_task(worker.run(stop, idle=0.01))
    for _ in range(200):
        if channel.sent:
            break
        await asyncio.sleep(0.01)
    stop.set()
    await asyncio.wait_for(task, timeout=2)
    assert channel.sent == [make_alert().id]
    assert failures["left"] == 0
