"""The outbox worker and disabled channels, across replicas: a 410 heard by one worker
stops every worker sharing the store, and enabling the channel lets all of them send.

Each worker has its own handle on the store (two SqliteStores on one file, two Redis
clients on one server), as two daemons would; the channel is a scripted fake.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from structlog.testing import capture_logs

from monitor.delivery.base import Channel
from monitor.delivery.gone import target_digest
from monitor.delivery.policy import ChannelPolicy
from monitor.delivery.worker import OutboxWorker
from monitor.model import Alert, DeliveryResult, DeliveryStatus, DisabledChannel
from monitor.store.base import StateStore
from tests.conftest import FrozenClock
from tests.factories import make_alert
from tests.store.support import PERSISTENT, Backend, make_backend


class Receiver(Channel):
    """Answers 410 Gone while ``gone`` is set, else delivers; records every request."""

    def __init__(self, name: str, url: str) -> None:
        super().__init__(name)
        self.target = target_digest(url)
        self.gone = False
        self.sent: list[str] = []

    async def send(self, alert: Alert) -> DeliveryResult:
        self.sent.append(alert.id)
        if self.gone:
            return DeliveryResult(
                alert.id, self.name, DeliveryStatus.PERMANENT, "HTTP 410: bye", gone=True
            )
        return DeliveryResult(alert.id, self.name, DeliveryStatus.DELIVERED, "HTTP 204")


@pytest.fixture(params=PERSISTENT)
async def backend(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Backend]:
    b = make_backend(request, request.param, tmp_path)
    try:
        yield b
    finally:
        await b.aclose()


def worker(store: StateStore, channel: Channel, clock: FrozenClock) -> OutboxWorker:
    return OutboxWorker(
        store=store,
        channels={channel.name: channel},
        attempt_timeout=5,
        max_attempts=5,
        retention=3600,
        clock=clock,
    )


def alerts(*ids: str) -> list[Alert]:
    return [make_alert(id=i, channel="siem") for i in ids]


async def test_a_disable_heard_by_one_replica_stops_the_other(
    backend: Backend, clock: FrozenClock
) -> None:
    store_a, store_b = await backend.open(), await backend.open()
    hook_a, hook_b = (
        Receiver("siem", "https://r.example/h"),
        Receiver("siem", "https://r.example/h"),
    )
    hook_a.gone = True
    await store_a.enqueue(alerts("a1"), clock.now)
    assert (await worker(store_a, hook_a, clock).deliver_due()).dead == 1

    await store_b.enqueue(alerts("b1", "b2"), clock.now)
    counts = await worker(store_b, hook_b, clock).deliver_due()
    assert (counts.dead, counts.delivered) == (2, 0)
    assert hook_b.sent == []  # replica B never asked the receiver
    dead = {e.alert.id: e.last_error for e in await store_b.dead_letters()}
    assert dead["b1"].startswith("channel disabled since ")
    assert "'news-monitor channels enable siem'" in dead["b1"]
    assert (await store_b.disabled_channels())[0].reason == "HTTP 410: bye"


async def test_enabling_the_channel_lets_every_replica_send_again(
    backend: Backend, clock: FrozenClock
) -> None:
    daemon, operator = await backend.open(), await backend.open()
    hook = Receiver("siem", "https://r.example/h")
    # Disabled by another process (a replica, or a daemon before its restart).
    await operator.disable_channel(DisabledChannel("siem", clock.now, "HTTP 410: bye", hook.target))
    await daemon.enqueue(alerts("a1"), clock.now)
    assert (await worker(daemon, hook, clock).deliver_due()).dead == 1
    assert hook.sent == []

    assert await operator.enable_channel("siem") is not None  # `news-monitor channels enable`
    assert await operator.requeue_all_dead(clock.now) == 1  # `news-monitor alerts retry --all`
    await daemon.enqueue(alerts("a2"), clock.now)
    # The very next pass reads the marks again: no restart, no cache to wait for.
    assert (await worker(daemon, hook, clock).deliver_due()).delivered == 2
    assert sorted(hook.sent) == ["a1", "a2"]


async def test_a_mark_of_another_url_does_not_apply(backend: Backend, clock: FrozenClock) -> None:
    store = await backend.open()
    hook = Receiver("siem", "https://new.example/h")
    old = target_digest("https://old.example/h")
    await store.disable_channel(DisabledChannel("siem", clock.now, "HTTP 410: bye", old))
    await store.enqueue(alerts("a1"), clock.now)
    assert (await worker(store, hook, clock).deliver_due()).delivered == 1
    assert hook.sent == ["a1"]


async def test_a_disabled_rate_limited_channel_takes_no_send_slot(
    backend: Backend, clock: FrozenClock
) -> None:
    store = await backend.open()
    hook = Receiver("siem", "https://r.example/h")
    await store.disable_channel(DisabledChannel("siem", clock.now, "HTTP 410: bye", hook.target))
    await store.enqueue(alerts("a1", "a2"), clock.now)
    paced = worker(store, hook, clock)
    paced.policies = {"siem": ChannelPolicy(min_gap=60.0)}
    assert (await paced.deliver_due()).dead == 2
    # The slot is still free: a message now would not wait for one a refusal took.
    assert await store.reserve_send("siem", clock.now, 60.0) is None


async def test_sends_in_flight_together_that_hear_the_410_log_it_once(
    backend: Backend, clock: FrozenClock
) -> None:
    store = await backend.open()
    hook = Receiver("siem", "https://r.example/h")
    hook.gone = True
    await store.enqueue(alerts("a1", "a2", "a3"), clock.now)
    with capture_logs() as events:
        assert (await worker(store, hook, clock).deliver_due()).dead == 3
    # All three were in flight at once (no rate limit): each asked, one line says why.
    assert sorted(hook.sent) == ["a1", "a2", "a3"]
    assert [e["event"] for e in events].count("channel_disabled") == 1
    assert len(await store.disabled_channels()) == 1
