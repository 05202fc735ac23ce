"""``alerts retry``: many dead letters are requeued in one store call, not one call per alert
(5,000 dead letters were 5,000 round trips to Redis), with the same output and history."""

from __future__ import annotations

import io
from collections.abc import Sequence

import pytest

from monitor.cli.alerts import EXIT_NOT_FOUND, EXIT_OK, retry_alerts
from monitor.model import Alert, Attempt, OutboxEntry
from monitor.store.memory import MemoryStore
from tests.conftest import FrozenClock
from tests.factories import make_alert

DAY = 86_400.0
MANY = 500


def alert(n: int) -> Alert:
    return make_alert(id=f"alert-{n:04d}", channel="ops")


class CountingStore(MemoryStore):
    """A memory store that records each outbox call ``alerts retry`` makes."""

    def __init__(self) -> None:
        super().__init__()
        self.calls: list[str] = []
        #: (id, claim) of alerts to dead-letter just before ``requeue_many`` runs.
        self.dying: list[tuple[str, str]] = []

    async def dead_letters(self) -> list[OutboxEntry]:
        self.calls.append("dead_letters")
        return await super().dead_letters()

    async def requeue(self, alert_id: str, now: float) -> bool:
        self.calls.append("requeue")
        return await super().requeue(alert_id, now)

    async def requeue_many(self, alert_ids: Sequence[str], now: float) -> list[str]:
        self.calls.append("requeue_many")
        for alert_id, claim in self.dying:  # they die after the listing
            await self.dead_letter(alert_id, now, "HTTP 410 Gone", claim=claim)
        return await super().requeue_many(alert_ids, now)

    async def requeue_all_dead(self, now: float) -> int:
        self.calls.append("requeue_all_dead")
        return await super().requeue_all_dead(now)


async def counting_dead_store(clock: FrozenClock, count: int) -> CountingStore:
    """``count`` dead letters, each with a history entry."""
    store = CountingStore()
    alerts = [alert(n) for n in range(count)]
    await store.enqueue(alerts, clock.now)
    for entry in await store.claim_due(clock.now, lease=30, limit=count):
        await store.dead_letter(entry.alert.id, clock.now, "HTTP 410 Gone", claim=entry.claim)
    await store.record_history(
        [(a, "dead", Attempt(clock.now, "dead", "410")) for a in alerts], DAY
    )
    store.calls.clear()
    return store


async def test_retry_all_requeues_many_dead_letters_in_one_call(clock: FrozenClock) -> None:
    store = await counting_dead_store(clock, MANY)
    clock.advance(60)
    out = io.StringIO()
    assert await retry_alerts(store, clock.now, [], True, out, history_retention=DAY) == EXIT_OK
    assert out.getvalue() == f"requeued {MANY} dead letter(s)\n"
    assert store.calls == ["dead_letters", "requeue_many", "requeue_all_dead"]
    assert await MemoryStore.dead_letters(store) == []
    for n in (0, MANY - 1):
        entry = await store.history_entry(f"alert-{n:04d}")
        assert entry is not None
        assert (entry.status, entry.events[-1]) == ("pending", Attempt(clock.now, "requeued"))


async def test_retry_all_counts_what_died_after_the_listing(clock: FrozenClock) -> None:
    """A dead letter that died between the listing and the requeue is moved (and counted)
    by ``requeue_all_dead``; the history names only those listed, as before."""
    store = await counting_dead_store(clock, 3)
    late = alert(99)
    await store.enqueue([late], clock.now)
    [claimed] = await store.claim_due(clock.now, 30, 10)
    store.dying = [(late.id, claimed.claim)]
    out = io.StringIO()
    assert await retry_alerts(store, clock.now, [], True, out, history_retention=DAY) == EXIT_OK
    assert out.getvalue() == "requeued 4 dead letter(s)\n"
    assert await MemoryStore.dead_letters(store) == []
    assert await store.history_entry(late.id) is None


@pytest.mark.parametrize("unknown", [False, True])
async def test_retry_of_many_ids_is_one_call(clock: FrozenClock, unknown: bool) -> None:
    store = await counting_dead_store(clock, MANY)
    wanted = [f"alert-{n:04d}" for n in range(MANY - 1, -1, -1)] + (["nope"] if unknown else [])
    out = io.StringIO()
    code = await retry_alerts(store, clock.now, wanted, False, out, history_retention=DAY)
    lines = out.getvalue().splitlines()
    assert lines[:MANY] == [f"requeued {alert_id}" for alert_id in wanted[:MANY]]
    assert lines[MANY:] == (["not in the dead-letter list: nope"] if unknown else [])
    assert code == (EXIT_NOT_FOUND if unknown else EXIT_OK)
    assert store.calls == ["dead_letters", "requeue_many"]
