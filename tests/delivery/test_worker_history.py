"""The outbox worker records each outcome in the alert history, and honours silences at
send time (Alertmanager style): a muted alert leaves the outbox unsent, as "silenced"."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from datetime import UTC, datetime

import pytest

from monitor.delivery.policy import ChannelPolicy
from monitor.delivery.worker import OutboxWorker
from monitor.errors import StoreError
from monitor.model import (
    Alert,
    Attempt,
    Coverage,
    DeliveryResult,
    DeliveryStatus,
    HistoryQuery,
    Silence,
    StoryAssignment,
    StoryMember,
)
from monitor.store.memory import MemoryStore
from tests.conftest import FrozenClock
from tests.delivery.test_worker import GroupingChannel, ScriptedChannel
from tests.factories import make_alert

OK, RETRY, PERMANENT = DeliveryStatus.DELIVERED, DeliveryStatus.RETRY, DeliveryStatus.PERMANENT
HOUR = 3600.0


def worker_with(
    clock: FrozenClock, *channels: ScriptedChannel, store: MemoryStore | None = None, **kw: object
) -> tuple[OutboxWorker, list[tuple[str, str]]]:
    """A worker over a MemoryStore, and the (channel, outcome) pairs it observed."""
    observed: list[tuple[str, str]] = []

    def observe(result: DeliveryResult, outcome: str) -> None:
        observed.append((result.channel, outcome))

    worker = OutboxWorker(
        store=store or MemoryStore(),
        channels={c.name: c for c in channels},
        attempt_timeout=1,
        max_attempts=2,
        retention=HOUR,
        clock=clock,
        observe=observe,
        **kw,  # type: ignore[arg-type]
    )
    return worker, observed


async def queue(worker: OutboxWorker, *alerts: Alert) -> None:
    """Enqueue and record as queued, as the poller does."""
    now = worker.clock()
    created = datetime.fromtimestamp(now, UTC)
    alerts = tuple(replace(a, created_at=created) for a in alerts)
    await worker.store.enqueue(alerts, now)
    await worker.store.record_history(
        [(a, "pending", Attempt(now, "queued")) for a in alerts], worker.history_retention
    )


async def outcomes(worker: OutboxWorker, alert_id: str) -> tuple[str, list[tuple[str, str]]]:
    entry = await worker.store.history_entry(alert_id)
    assert entry is not None
    return entry.status, [(e.outcome, e.detail) for e in entry.events]


def silence(kind: str, target: str, starts: float, ends: float, n: int = 1) -> Silence:
    return Silence(f"sil_{n:016x}", kind, target, starts, ends, "maintenance", "test")


# -- history ---------------------------------------------------------------------------


async def test_each_outcome_is_recorded(clock: FrozenClock) -> None:
    ops = ScriptedChannel("ops", RETRY, OK)
    dead = ScriptedChannel("dead", PERMANENT)
    worker, observed = worker_with(clock, ops, dead)
    a, b = make_alert(id="a-ops"), make_alert(id="a-dead", channel="dead")
    await queue(worker, a, b)
    await worker.deliver_due()
    assert await outcomes(worker, b.id) == (
        "dead",
        [("queued", ""), ("dead", "scripted permanent")],
    )
    assert await outcomes(worker, a.id) == (
        "retrying",
        [("queued", ""), ("retried", "scripted retry")],
    )
    clock.now = (await worker.store.pending())[0].due_at
    await worker.deliver_due()
    status, events = await outcomes(worker, a.id)
    assert status == "delivered" and events[-1] == ("delivered", "scripted delivered")
    entry = await worker.store.history_entry(a.id)
    assert entry is not None and entry.updated_at == clock.now
    assert sorted(observed) == [("dead", "dead"), ("ops", "delivered"), ("ops", "retried")]


class OneStory(MemoryStore):
    """A story index that knows one story, whose copies the test adds."""

    members: list[StoryMember]

    async def get_story(self, story_id: str, now: float) -> StoryAssignment | None:
        return StoryAssignment(story_id, False, tuple(self.members), now + HOUR)


async def test_the_history_keeps_the_alert_as_sent(clock: FrozenClock) -> None:
    """Coverage refreshed just before the send (a copy arrived meanwhile) reaches the entry."""
    store = OneStory()
    alert = make_alert(story_id="s1")
    store.members = [StoryMember(alert.article.id, alert.article.feed_id)]
    worker, _ = worker_with(clock, ScriptedChannel("ops"), store=store)
    await queue(worker, alert)
    store.members.append(StoryMember("copy-1", "bbc-world", "https://b/1", "t"))
    await worker.deliver_due()
    entry = await store.history_entry(alert.id)
    assert entry is not None and entry.status == "delivered"
    assert entry.alert.also_in == (Coverage("bbc-world", "https://b/1", "t"),)


async def test_history_off_records_nothing(clock: FrozenClock) -> None:
    worker, observed = worker_with(clock, ScriptedChannel("ops"), history_retention=0.0)
    await worker.store.enqueue([make_alert()], clock.now)
    assert (await worker.deliver_due()).delivered == 1
    assert (await worker.store.search_history(HistoryQuery())).entries == ()
    assert observed == [("ops", "delivered")]


async def test_the_default_retention_is_the_settings_default() -> None:
    from monitor.settings import Settings

    default = Settings.model_fields["history_retention"].default.total_seconds()
    assert OutboxWorker.__dataclass_fields__["history_retention"].default == default


class BrokenHistory(MemoryStore):
    """A store whose history writes fail (the outbox still works)."""

    async def record_history(
        self, updates: Sequence[tuple[Alert, str, Attempt]], retention: float
    ) -> None:
        raise StoreError("history write failed")


async def test_a_failing_history_neither_loses_nor_doubles_alerts(clock: FrozenClock) -> None:
    channel = GroupingChannel("ops", 3)
    worker, _ = worker_with(clock, channel, store=BrokenHistory())
    alerts = [
        make_alert(id=f"a{i}", article=replace(make_alert().article, id=f"art-{i}"))
        for i in range(3)
    ]
    await worker.store.enqueue(alerts, clock.now)
    with pytest.raises(StoreError):
        await worker.deliver_due()
    # Every alert of the message was acked before the history was written: none is sent again.
    for alert in alerts:
        assert await worker.store.is_delivered(alert.id, clock.now)
    clock.advance(worker.lease + 1)
    assert (await worker.deliver_due()).attempted == 0
    assert [ids for _, ids in channel.messages] == [["a0", "a1", "a2"]]


# -- silences ----------------------------------------------------------------------------


async def test_a_muted_alert_is_settled_unsent(clock: FrozenClock) -> None:
    ops, email = ScriptedChannel("ops"), ScriptedChannel("email")
    worker, observed = worker_with(clock, ops, email)
    mute = silence("rule", "iran-russia-drones", clock.now - 60, clock.now + HOUR)
    await worker.store.add_silence(mute)
    other = make_alert(id="other-rule", rule_id="markets", channel="email")
    muted = make_alert(id="muted")
    await queue(worker, muted, other)
    counts = await worker.deliver_due()
    assert (counts.silenced, counts.delivered, counts.attempted) == (1, 1, 2)
    assert ops.sent == [] and email.sent == ["other-rule"]
    assert not await worker.store.pending()
    assert await worker.store.is_delivered("muted", clock.now)  # never sent later
    [record] = [
        d for d in await worker.store.recent_deliveries(clock.now, 10) if d.alert.id == "muted"
    ]
    assert record.detail == f"silenced by {mute.id}"
    assert await outcomes(worker, "muted") == ("silenced", [("queued", ""), ("silenced", mute.id)])
    assert sorted(observed) == [("email", "delivered"), ("ops", "silenced")]
    # Queued again (another poll): the outbox knows it; nothing is sent.
    await queue(worker, muted)
    assert (await worker.deliver_due()).attempted == 0


@pytest.mark.parametrize(
    ("kind", "target", "muted"),
    [
        ("rule", "iran-russia-drones", {"a-ops", "a-email"}),
        ("channel", "email", {"a-email", "b-email"}),
        ("story", "story-a", {"a-ops", "a-email"}),
        ("story", "art-b", {"b-email"}),  # an alert without a story: its article
    ],
)
async def test_what_each_kind_of_silence_mutes(
    clock: FrozenClock, kind: str, target: str, muted: set[str]
) -> None:
    worker, _ = worker_with(clock, ScriptedChannel("ops"), ScriptedChannel("email"))
    await worker.store.add_silence(silence(kind, target, clock.now, clock.now + HOUR))
    art_b = replace(make_alert().article, id="art-b")
    await queue(
        worker,
        make_alert(id="a-ops", story_id="story-a"),
        make_alert(id="a-email", channel="email", story_id="story-a"),
        make_alert(id="b-email", channel="email", rule_id="markets", article=art_b),
    )
    await worker.deliver_due()
    silenced = {
        e.alert.id
        for e in (await worker.store.search_history(HistoryQuery(status="silenced"))).entries
    }
    assert silenced == muted


async def test_pending_and_ended_silences_mute_nothing(clock: FrozenClock) -> None:
    channel = ScriptedChannel("ops")
    worker, _ = worker_with(clock, channel)
    rule = "iran-russia-drones"
    await worker.store.add_silence(silence("rule", rule, clock.now + 60, clock.now + HOUR, 1))
    await worker.store.add_silence(silence("rule", rule, clock.now - HOUR, clock.now, 2))
    await queue(worker, make_alert(id="a1"))
    assert (await worker.deliver_due()).delivered == 1
    # Expired early: new matches alert again.
    clock.advance(120)
    assert (await worker.deliver_due()).attempted == 0
    await queue(worker, make_alert(id="a2"))
    assert (await worker.deliver_due()).silenced == 1
    assert await worker.store.expire_silence(f"sil_{1:016x}", clock.now)
    await queue(worker, make_alert(id="a3"))
    assert (await worker.deliver_due()).delivered == 1
    assert channel.sent == ["a1", "a3"]


async def test_silences_apply_when_an_alert_is_due_to_go_not_when_held(clock: FrozenClock) -> None:
    """A digest's alert is judged when the digest goes out: a silence that ended by then
    mutes nothing (and one that began meanwhile mutes it)."""
    channel = GroupingChannel("ops", 10)
    policy = ChannelPolicy(group_wait=600)
    worker, _ = worker_with(clock, channel, policies={"ops": policy})
    await worker.store.add_silence(silence("channel", "ops", clock.now, clock.now + 300, 1))
    await queue(worker, make_alert(id="held"))
    assert (await worker.deliver_due()).deferred == 1
    clock.now = (await worker.store.pending())[0].due_at
    assert (await worker.deliver_due()).delivered == 1
    assert [ids for _, ids in channel.messages] == [["held"]]


async def test_silences_are_read_once_per_pass_and_not_when_idle(clock: FrozenClock) -> None:
    reads: list[float] = []

    class Counting(MemoryStore):
        async def list_silences(
            self, now: float, *, expired_for: float = 86_400.0
        ) -> list[Silence]:
            reads.append(now)
            return await super().list_silences(now, expired_for=expired_for)

    worker, _ = worker_with(
        clock, ScriptedChannel("ops"), ScriptedChannel("email"), store=Counting()
    )
    await worker.deliver_due()
    assert reads == []
    await queue(worker, make_alert(id="x"), make_alert(id="y", channel="email"))
    await worker.deliver_due()
    assert reads == [clock.now]
