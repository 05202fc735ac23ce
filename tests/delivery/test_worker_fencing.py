"""A worker that stalls past its lease (GC pause, suspended VM, SIGSTOP) cannot do harm.

Two workers share one store through separate handles (two SQLite connections,
two Redis clients), as two daemon processes would. The first one claims, then
"pauses" (the frozen clock jumps past its lease); the second takes the alerts
over. When the first resumes it must neither send what it had claimed nor
overwrite the outcome the second one recorded.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path

import pytest

from monitor.delivery.base import Channel
from monitor.delivery.worker import OutboxWorker
from monitor.model import Alert, DeliveryResult, DeliveryStatus
from monitor.store import StateStore
from tests.conftest import FrozenClock
from tests.factories import make_alert
from tests.store.support import ALL, Backend, make_backend


@pytest.fixture(params=ALL)
async def backend(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Backend]:
    b = make_backend(request, request.param, tmp_path)
    try:
        yield b
    finally:
        await b.aclose()


class Receiver:
    """Every message that reached the receiver, as alert ids, in order."""

    def __init__(self) -> None:
        self.received: list[str] = []


class ReceiverChannel(Channel):
    """Delivers into a shared :class:`Receiver`; ``pause`` makes the next send wait for it."""

    def __init__(self, receiver: Receiver, status: DeliveryStatus = DeliveryStatus.DELIVERED):
        super().__init__("ops")
        self.receiver = receiver
        self.status = status
        self.pause: asyncio.Event | None = None
        #: Set once a request has reached the receiver.
        self.reached = asyncio.Event()

    async def send(self, alert: Alert) -> DeliveryResult:
        self.receiver.received.append(alert.id)
        self.reached.set()
        if self.pause is not None:
            await self.pause.wait()
        return DeliveryResult(alert.id, self.name, self.status, self.status.value)


def worker_on(store: StateStore, channel: Channel, clock: FrozenClock) -> OutboxWorker:
    return OutboxWorker(
        store=store,
        channels={"ops": channel},
        attempt_timeout=5,
        max_attempts=3,
        retention=3600,
        clock=clock,
    )


async def enqueue(store: StateStore, clock: FrozenClock, count: int) -> list[str]:
    created = datetime.fromtimestamp(clock.now, UTC)
    alerts = [replace(make_alert(), id=f"alert-{n}", created_at=created) for n in range(count)]
    await store.enqueue(alerts, clock.now)
    return [a.id for a in alerts]


async def test_a_paused_worker_does_not_send_what_was_taken_over(
    backend: Backend, clock: FrozenClock
) -> None:
    receiver = Receiver()
    paused = worker_on(await backend.open(), ReceiverChannel(receiver), clock)
    other = worker_on(await backend.open(), ReceiverChannel(receiver), clock)
    ids = await enqueue(await backend.open(), clock, 3)

    claimed = await paused.claim()
    assert len(claimed) == 3
    clock.advance(paused.lease + 1)  # paused past its lease: the alerts are up for grabs
    assert (await other.deliver_due()).delivered == 3

    resumed = await paused.deliver(claimed)
    assert (resumed.attempted, resumed.abandoned) == (0, 3)
    assert sorted(receiver.received) == ids  # each exactly once
    assert await paused.store.pending() == []


async def test_a_worker_whose_lease_is_nearly_over_leaves_the_alert(
    backend: Backend, clock: FrozenClock
) -> None:
    receiver = Receiver()
    worker = worker_on(await backend.open(), ReceiverChannel(receiver), clock)
    await enqueue(worker.store, clock, 1)
    claimed = await worker.claim()
    # Less than one whole attempt (timeout + grace) left on the lease: sending now could
    # overlap the next claim's send, so the worker must not start.
    clock.advance(worker.lease - worker.attempt_timeout - 4)
    assert (await worker.deliver(claimed)).abandoned == 1
    assert receiver.received == []
    assert (await worker.deliver_due()).attempted == 0  # still claimed until the lease ends
    clock.advance(worker.attempt_timeout + 4)
    assert (await worker.deliver_due()).delivered == 1  # the lease ended: claimed again, sent


async def test_a_stale_failure_does_not_undo_a_delivery(
    backend: Backend, clock: FrozenClock
) -> None:
    """The first worker stalls mid-send and then reports a permanent failure: too late to count."""
    receiver = Receiver()
    failing = ReceiverChannel(receiver, DeliveryStatus.PERMANENT)
    failing.pause = asyncio.Event()
    stalled = worker_on(await backend.open(), failing, clock)
    other = worker_on(await backend.open(), ReceiverChannel(receiver), clock)
    [alert_id] = await enqueue(stalled.store, clock, 1)

    sending = asyncio.create_task(stalled.deliver_due())
    await failing.reached.wait()  # the stalled worker's request is out
    clock.advance(stalled.lease + 1)
    assert (await other.deliver_due()).delivered == 1
    failing.pause.set()
    counts = await sending

    assert (counts.dead, counts.abandoned) == (0, 1)
    assert await other.store.dead_letters() == []
    assert await other.store.is_delivered(alert_id, clock.now)
    # A duplicate is possible only here, where a send overlapped a stall: same alert id.
    assert receiver.received == [alert_id, alert_id]
