"""The outbox worker on fakes: a scripted channel, MemoryStore, a frozen clock."""

from __future__ import annotations

import asyncio
import itertools
from collections import deque
from collections.abc import Sequence
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from pydantic import SecretStr

from monitor.delivery.base import Channel
from monitor.delivery.channels import EmailChannelConfig, SlackChannelConfig
from monitor.delivery.policy import ChannelPolicy, policy_for
from monitor.delivery.worker import ORPHAN_RECHECK, OutboxWorker
from monitor.errors import StoreError
from monitor.model import Alert, DeliveryResult, DeliveryStatus, OutboxEntry
from monitor.store.memory import MemoryStore
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
    """Enqueue ``alerts`` as the poller does: created now, by the worker's clock."""
    created = datetime.fromtimestamp(worker.clock(), UTC)
    await worker.store.enqueue([replace(a, created_at=created) for a in alerts], worker.clock())


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


async def test_an_alert_of_a_removed_channel_stays_queued_until_it_comes_back(
    clock: FrozenClock,
) -> None:
    worker = worker_for(ScriptedChannel("ops"), clock)
    await queue(worker, replace(make_alert(), channel="removed"))
    counts = await worker.deliver_due()
    assert (counts.attempted, counts.deferred) == (0, 1)
    (entry,) = await worker.store.pending()
    assert entry.attempts == 0 and entry.due_at == clock.now + ORPHAN_RECHECK
    assert await worker.store.dead_letters() == []
    # A reload brings the channel back: the alert goes out at its next look.
    back = ScriptedChannel("removed")
    worker.channels = {"ops": ScriptedChannel("ops"), "removed": back}
    clock.now += ORPHAN_RECHECK
    assert (await worker.deliver_due()).delivered == 1
    assert len(back.sent) == 1


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


# -- pacing: grouping, rate limits, digests, age ------------------------------------


class GroupingChannel(ScriptedChannel):
    """A scripted channel that takes up to ``max_group`` alerts per message; records messages."""

    def __init__(self, name: str, max_group: int, *script: DeliveryStatus | Exception) -> None:
        super().__init__(name, *script)
        self.max_group = max_group
        self.messages: list[tuple[float, list[str]]] = []
        self.clock: FrozenClock | None = None

    async def send(self, alert: Alert) -> DeliveryResult:
        return await self.send_group([alert])

    async def send_group(self, alerts: Sequence[Alert]) -> DeliveryResult:
        assert 1 <= len(alerts) <= self.max_group
        self.messages.append((self.clock() if self.clock else 0.0, [a.id for a in alerts]))
        return await super().send(alerts[0])


def numbered(n: int) -> Alert:
    return replace(make_alert(), id=f"alert-{n:03d}")


def paced_worker(
    channel: GroupingChannel, clock: FrozenClock, policy: ChannelPolicy, **kwargs: Any
) -> OutboxWorker:
    channel.clock = clock
    worker = worker_for(channel, clock)
    worker.policies = {channel.name: policy}
    for name, value in kwargs.items():
        setattr(worker, name, value)
    return worker


async def test_alerts_due_together_go_out_in_messages_of_max_group(clock: FrozenClock) -> None:
    channel = GroupingChannel("ops", 3)
    worker = paced_worker(channel, clock, ChannelPolicy())
    await queue(worker, *(numbered(n) for n in range(7)))
    counts = await worker.deliver_due()
    assert counts.delivered == 7
    assert sorted(len(ids) for _, ids in channel.messages) == [1, 3, 3]
    assert sorted(i for _, ids in channel.messages for i in ids) == [
        f"alert-{n:03d}" for n in range(7)
    ]


async def test_a_failed_group_is_retried_as_a_whole(clock: FrozenClock) -> None:
    channel = GroupingChannel("ops", 10, RETRY)
    worker = paced_worker(channel, clock, ChannelPolicy())
    await queue(worker, *(numbered(n) for n in range(4)))
    assert (await worker.deliver_due()).retrying == 4
    pending = await worker.store.pending()
    assert {e.attempts for e in pending} == {1}
    clock.now = max(e.due_at for e in pending)
    assert (await worker.deliver_due()).delivered == 4
    assert [len(ids) for _, ids in channel.messages] == [4, 4]


async def test_rate_limit_spaces_messages_and_groups_what_waited(clock: FrozenClock) -> None:
    channel = GroupingChannel("ops", 10)
    worker = paced_worker(channel, clock, ChannelPolicy(min_gap=1.0))
    await queue(worker, numbered(0))
    await worker.deliver_due()  # the first alert goes at once
    await queue(worker, *(numbered(n) for n in range(1, 25)))
    counts = await worker.deliver_due()
    assert (counts.delivered, counts.deferred) == (0, 24)  # the slot is taken for 1 s
    for _ in range(5):
        clock.advance(1.0)
        await worker.deliver_due()
    times = [at for at, _ in channel.messages]
    assert [len(ids) for _, ids in channel.messages] == [1, 10, 10, 4]
    assert all(b - a >= 1.0 for a, b in itertools.pairwise(times))
    assert not await worker.store.pending()
    assert len(await worker.store.recent_deliveries(clock.now, 100)) == 25


async def test_rate_limit_is_shared_by_workers_on_one_store(clock: FrozenClock) -> None:
    channel = GroupingChannel("ops", 1)
    first = paced_worker(channel, clock, ChannelPolicy(min_gap=2.0))
    second = replace(first, _wake=asyncio.Event())  # another process's worker on the same store
    await queue(first, numbered(1), numbered(2))
    await asyncio.gather(first.deliver_due(), second.deliver_due())
    assert len(channel.messages) == 1
    clock.advance(2.0)
    await asyncio.gather(first.deliver_due(), second.deliver_due())
    assert [at for at, _ in channel.messages] == [clock.now - 2.0, clock.now]


async def test_group_wait_collects_a_window_into_one_message(clock: FrozenClock) -> None:
    clock.now = 1_800_000_000.0  # a multiple of 10: windows are [.0, .10)
    channel = GroupingChannel("ops", 10)
    worker = paced_worker(channel, clock, ChannelPolicy(group_wait=10.0))
    for n in range(3):
        clock.now = 1_800_000_001.0 + 3 * n  # created at +1, +4, +7 s
        await queue(worker, numbered(n))
        assert (await worker.deliver_due()).delivered == 0
    clock.now = 1_800_000_010.0
    assert (await worker.deliver_due()).delivered == 3
    assert channel.messages == [(1_800_000_010.0, ["alert-000", "alert-001", "alert-002"])]


async def test_hourly_digest_sends_the_hour_at_its_end(clock: FrozenClock) -> None:
    hour = 1_800_000_000.0 - 1_800_000_000.0 % 3600
    channel = GroupingChannel("mail", 200)
    worker = paced_worker(channel, clock, ChannelPolicy(digest="hourly"))
    for n, offset in enumerate((60.0, 1800.0, 3599.0)):
        clock.now = hour + offset
        await queue(worker, replace(numbered(n), channel="mail"))
        await worker.deliver_due()
    assert channel.messages == []
    [entry, *_] = await worker.store.pending()
    assert entry.due_at == hour + 3600 and entry.attempts == 0
    clock.now = hour + 3600
    assert (await worker.deliver_due()).delivered == 3
    assert channel.messages == [(hour + 3600, ["alert-000", "alert-001", "alert-002"])]


def test_daily_digest_goes_out_at_digest_at() -> None:
    policy = ChannelPolicy(digest="daily", digest_offset=8 * 3600)
    morning = datetime(2026, 11, 27, 7, 59, tzinfo=UTC).timestamp()
    assert policy.next_digest(morning) == datetime(2026, 11, 27, 8, 0, tzinfo=UTC).timestamp()
    evening = datetime(2026, 11, 27, 8, 0, tzinfo=UTC).timestamp()
    assert policy.next_digest(evening) == datetime(2026, 11, 28, 8, 0, tzinfo=UTC).timestamp()


async def test_an_alert_failing_past_max_age_is_dead_lettered(clock: FrozenClock) -> None:
    channel = GroupingChannel("ops", 1, *[RETRY] * 20)
    worker = paced_worker(
        channel, clock, ChannelPolicy(), max_age=100.0, backoff_base=20.0, max_attempts=50
    )
    await queue(worker, numbered(1))
    while pending := await worker.store.pending():
        clock.now = max(clock.now, pending[0].due_at)
        await worker.deliver_due()
    (dead,) = await worker.store.dead_letters()
    # Waits of at least 10, 20, 40 s: the fourth failure's retry (>= 80 s more) would be past 100 s.
    assert 3 <= dead.attempts <= 4
    assert clock.now - 1_800_000_000.0 <= 100.0


def test_policy_for_reads_the_channel_config() -> None:
    slack = SlackChannelConfig(type="slack", webhook_url=SecretStr("https://hooks.slack.com/x"))
    assert policy_for(slack) == ChannelPolicy(min_gap=1.0)  # Slack's default: 1 message/s
    faster = slack.model_copy(update={"rate_limit": "120/min", "group_wait": timedelta(seconds=30)})
    assert policy_for(faster) == ChannelPolicy(group_wait=30.0, min_gap=0.5)
    mail = EmailChannelConfig.model_validate(
        {
            "type": "email",
            "to": ["a@example.org"],
            "digest": "daily",
            "digest_at": "07:30",
            "group_interval": "5m",
        }
    )
    assert policy_for(mail) == ChannelPolicy(min_gap=300.0, digest="daily", digest_offset=27000.0)


class BlockingChannel(ScriptedChannel):
    """Every send waits until ``release`` is set; counts the sends in flight."""

    def __init__(self, name: str) -> None:
        super().__init__(name)
        self.release = asyncio.Event()
        self.in_flight = 0
        self.most_in_flight = 0
        self.started: dict[int, asyncio.Event] = {}

    def when_in_flight(self, count: int) -> asyncio.Event:
        """An event set once ``count`` sends are in flight at the same time."""
        return self.started.setdefault(count, asyncio.Event())

    async def send(self, alert: Alert) -> DeliveryResult:
        self.in_flight += 1
        self.most_in_flight = max(self.most_in_flight, self.in_flight)
        self.when_in_flight(self.in_flight).set()
        try:
            await self.release.wait()
            return await super().send(alert)
        finally:
            self.in_flight -= 1


async def test_a_cancelled_pass_gives_its_alerts_back_due_at_once(clock: FrozenClock) -> None:
    channel = BlockingChannel("ops")
    worker = worker_for(channel, clock)
    await queue(worker, *(numbered(n) for n in range(3)))
    task = asyncio.create_task(worker.deliver_due())
    await channel.when_in_flight(3).wait()
    task.cancel()  # SIGTERM's grace ran out mid-send
    with pytest.raises(asyncio.CancelledError):
        await task
    pending = await worker.store.pending()
    assert [(e.due_at, e.attempts) for e in pending] == [(clock.now, 0)] * 3
    channel.release.set()
    assert (await worker.deliver_due()).delivered == 3  # at once, not after the lease


async def test_sends_in_flight_per_channel_are_bounded(clock: FrozenClock) -> None:
    channel = BlockingChannel("ops")
    worker = worker_for(channel, clock)
    worker.max_in_flight = 4
    await queue(worker, *(numbered(n) for n in range(10)))
    task = asyncio.create_task(worker.deliver_due())
    await channel.when_in_flight(4).wait()
    for _ in range(20):  # give a fifth send every chance to start
        await asyncio.sleep(0)
    assert channel.in_flight == 4
    channel.release.set()
    assert (await task).delivered == 10
    assert channel.most_in_flight == 4
