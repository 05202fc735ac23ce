"""Contract of :class:`~monitor.store.base.Outbox`, run against every backend.

Orderings all backends agree on: the outbox by due time then alert id; dead
letters by the time they died, most recent first; deliveries by the time
they were acked, most recent first (ties by id, descending). A dead letter's
``due_at`` is when it was dead-lettered. A delivered record counts while
``now < until``. ``outbox_summary`` counts what ``pending`` and ``dead_letters`` list
and dates the oldest pending alert by its ``created_at``, an instant whatever its offset.
"""

from __future__ import annotations

import asyncio
from dataclasses import replace
from datetime import UTC, datetime, timedelta, timezone

import pytest

from monitor.model import Alert, DeliveryRecord, OutboxEntry, OutboxLookup, OutboxSummary
from monitor.store import redis_outbox
from monitor.store.base import Outbox
from tests.conftest import FrozenClock
from tests.store.support import DAY, Backend, claim, ids, ids_of, make_alert

# -- enqueue ---------------------------------------------------------------------------


async def test_enqueue_is_idempotent(store: Outbox, clock: FrozenClock) -> None:
    a1, a2, a3 = make_alert(1), make_alert(2), make_alert(3)
    assert await store.enqueue([a1, a2], clock.now) == 2
    assert await store.enqueue([a1, a2, a3], clock.now) == 1
    assert await store.enqueue([make_alert(4), make_alert(4)], clock.now) == 1
    assert await store.enqueue([], clock.now) == 0
    pending = await store.pending()
    assert ids(pending) == ["alert-001", "alert-002", "alert-003", "alert-004"]
    assert pending[0] == OutboxEntry(alert=a1, attempts=0, due_at=clock.now, last_error="")


async def test_enqueue_ignores_delivered_until_the_record_expires(
    store: Outbox, clock: FrozenClock
) -> None:
    alert = make_alert(1)
    await store.enqueue([alert], clock.now)
    assert ids(await store.claim_due(clock.now, lease=60, limit=10)) == ["alert-001"]
    await store.ack(alert.id, clock.now, detail="HTTP 200", retention=DAY)
    clock.advance(DAY - 1)
    assert await store.enqueue([alert], clock.now) == 0
    assert await store.pending() == []
    clock.advance(1)  # the delivered record has expired
    assert not await store.is_delivered(alert.id, clock.now)
    assert await store.enqueue([alert], clock.now) == 1


async def test_enqueue_ignores_dead_letters(store: Outbox, clock: FrozenClock) -> None:
    alert = make_alert(1)
    await store.enqueue([alert], clock.now)
    claims = await claim(store, clock)
    assert await store.dead_letter(alert.id, clock.now, error="HTTP 404", claim=claims[alert.id])
    clock.advance(10 * DAY)
    assert await store.enqueue([alert], clock.now) == 0
    assert await store.pending() == []
    assert ids(await store.dead_letters()) == ["alert-001"]


# -- claim_due -------------------------------------------------------------------------


async def test_claim_due_oldest_first_with_limit(store: Outbox, clock: FrozenClock) -> None:
    start = clock.now
    await store.enqueue([make_alert(3)], clock.now)
    clock.advance(1)
    await store.enqueue([make_alert(5), make_alert(4)], clock.now)  # ties: by id
    clock.advance(1)
    await store.enqueue([make_alert(1)], clock.now)
    assert [e.due_at for e in await store.pending()] == [start, start + 1, start + 1, start + 2]

    first = await store.claim_due(clock.now, lease=30, limit=2)
    assert ids(first) == ["alert-003", "alert-004"]
    assert all(e.due_at == clock.now + 30 for e in first)
    assert first[0].alert == make_alert(3)
    assert ids(await store.claim_due(clock.now, lease=30, limit=10)) == ["alert-005", "alert-001"]
    assert await store.claim_due(clock.now, lease=30, limit=10) == []


async def test_claim_due_limit_zero(store: Outbox, clock: FrozenClock) -> None:
    await store.enqueue([make_alert(1)], clock.now)
    assert await store.claim_due(clock.now, lease=30, limit=0) == []
    assert ids(await store.claim_due(clock.now, lease=30, limit=1)) == ["alert-001"]


async def test_claim_due_skips_alerts_due_later(store: Outbox, clock: FrozenClock) -> None:
    await store.enqueue([make_alert(1), make_alert(2)], clock.now)
    claims = await claim(store, clock, limit=1)
    await store.retry_later("alert-001", clock.now + 60, error="timeout", claim=claims["alert-001"])
    assert ids(await store.claim_due(clock.now, lease=600, limit=10)) == ["alert-002"]
    clock.advance(59)
    assert await store.claim_due(clock.now, lease=5, limit=10) == []
    clock.advance(1)
    [entry] = await store.claim_due(clock.now, lease=5, limit=10)
    assert entry == OutboxEntry(
        make_alert(1), attempts=1, due_at=clock.now + 5, last_error="timeout", claim=entry.claim
    )


async def test_lease_hides_a_claimed_alert_until_it_ends(store: Outbox, clock: FrozenClock) -> None:
    await store.enqueue([make_alert(1)], clock.now)
    claimed_at = clock.now
    assert ids(await store.claim_due(clock.now, lease=30, limit=10)) == ["alert-001"]
    assert await store.claim_due(clock.now, lease=30, limit=10) == []
    [pending] = await store.pending()  # still in the outbox while claimed
    assert pending.due_at == claimed_at + 30
    clock.advance(29.5)
    assert await store.claim_due(clock.now, lease=30, limit=10) == []
    clock.advance(0.5)
    [again] = await store.claim_due(clock.now, lease=30, limit=10)
    assert (again.alert.id, again.attempts, again.due_at) == ("alert-001", 0, clock.now + 30)


async def test_concurrent_claim_due_never_hands_out_an_alert_twice(
    backend: Backend, clock: FrozenClock
) -> None:
    handles = [await backend.open(), await backend.open()]
    expected = [make_alert(n) for n in range(60)]
    assert await handles[0].enqueue(expected, clock.now) == 60
    received: list[str] = []

    async def worker(store: Outbox) -> None:
        while batch := await store.claim_due(clock.now, lease=300, limit=4):
            received.extend(ids(batch))
            await asyncio.sleep(0)

    await asyncio.gather(*(worker(handles[i % 2]) for i in range(12)))
    assert sorted(received) == [a.id for a in expected]


# -- outcomes: retry_later, defer, dead_letter, ack ------------------------------------


async def test_retry_later_counts_attempts(store: Outbox, clock: FrozenClock) -> None:
    await store.enqueue([make_alert(1)], clock.now)
    claims = await claim(store, clock)
    assert await store.retry_later(
        "alert-001", clock.now + 120, "HTTP 503", claim=claims["alert-001"]
    )
    [entry] = await store.pending()
    assert (entry.attempts, entry.due_at, entry.last_error) == (1, clock.now + 120, "HTTP 503")
    clock.advance(120)
    claims = await claim(store, clock)
    assert await store.retry_later(
        "alert-001", clock.now + 240, "HTTP 429", claim=claims["alert-001"]
    )
    [entry] = await store.pending()
    assert (entry.attempts, entry.due_at, entry.last_error) == (2, clock.now + 240, "HTTP 429")
    assert entry.claim == ""  # listings never hand out a claim


async def test_outcomes_of_unknown_alerts_change_nothing(store: Outbox, clock: FrozenClock) -> None:
    await store.enqueue([make_alert(1)], clock.now)
    token = (await claim(store, clock))["alert-001"]
    assert not await store.retry_later("alert-404", clock.now + 60, error="x", claim=token)
    assert not await store.defer("alert-404", clock.now + 60, claim=token)
    assert not await store.dead_letter("alert-404", clock.now, error="x", claim=token)
    assert ids(await store.pending()) == ["alert-001"]
    assert await store.dead_letters() == []
    assert await store.enqueue([make_alert(404)], clock.now) == 1


async def test_outcomes_are_fenced_by_the_claim(store: Outbox, clock: FrozenClock) -> None:
    """A worker whose lease ran out cannot reschedule or kill what another worker now holds."""
    await store.enqueue([make_alert(1)], clock.now)
    stale = (await claim(store, clock, lease=30))["alert-001"]
    clock.advance(31)  # the first worker stalled past its lease; a second one claims the alert
    current = (await claim(store, clock, lease=30))["alert-001"]
    assert current != stale

    assert not await store.retry_later("alert-001", clock.now + 600, "late", claim=stale)
    assert not await store.defer("alert-001", clock.now + 600, claim=stale)
    assert not await store.dead_letter("alert-001", clock.now, "late", claim=stale)
    assert not await store.retry_later("alert-001", clock.now + 600, "no claim", claim="")
    [entry] = await store.pending()
    assert (entry.attempts, entry.due_at, entry.last_error) == (0, clock.now + 30, "")
    assert await store.dead_letters() == []

    # The current claim applies once; the outcome ends the claim.
    assert await store.retry_later("alert-001", clock.now + 5, "HTTP 503", claim=current)
    assert not await store.retry_later("alert-001", clock.now + 5, "HTTP 503", claim=current)
    [entry] = await store.pending()
    assert (entry.attempts, entry.due_at) == (1, clock.now + 5)


async def test_defer_reschedules_without_counting_an_attempt(
    store: Outbox, clock: FrozenClock
) -> None:
    await store.enqueue([make_alert(1)], clock.now)
    claims = await claim(store, clock)
    await store.retry_later("alert-001", clock.now, "HTTP 500", claim=claims["alert-001"])
    claims = await claim(store, clock)
    assert await store.defer("alert-001", clock.now + 90, claim=claims["alert-001"])
    [entry] = await store.pending()
    assert (entry.attempts, entry.due_at, entry.last_error) == (1, clock.now + 90, "HTTP 500")
    assert await store.claim_due(clock.now + 89, lease=30, limit=10) == []
    assert ids(await store.claim_due(clock.now + 90, lease=30, limit=10)) == ["alert-001"]


async def test_dead_letter_leaves_the_outbox(store: Outbox, clock: FrozenClock) -> None:
    await store.enqueue([make_alert(1), make_alert(2), make_alert(3)], clock.now)
    claims = await claim(store, clock)
    await store.retry_later("alert-001", clock.now, error="HTTP 500", claim=claims["alert-001"])
    claims |= await claim(store, clock, limit=1)
    first_death = clock.now
    assert await store.dead_letter(
        "alert-001", clock.now, "HTTP 410 Gone", claim=claims["alert-001"]
    )
    clock.advance(5)
    assert await store.dead_letter("alert-002", clock.now, "bad address", claim=claims["alert-002"])

    assert ids(await store.pending()) == ["alert-003"]
    dead = await store.dead_letters()
    assert dead == [
        OutboxEntry(make_alert(2), attempts=1, due_at=clock.now, last_error="bad address"),
        OutboxEntry(make_alert(1), attempts=2, due_at=first_death, last_error="HTTP 410 Gone"),
    ]
    clock.advance(3600)
    assert ids(await store.claim_due(clock.now, lease=30, limit=10)) == ["alert-003"]


async def test_ack_records_delivery(store: Outbox, clock: FrozenClock) -> None:
    await store.enqueue([make_alert(1), make_alert(2)], clock.now)
    await store.claim_due(clock.now, lease=30, limit=10)
    assert not await store.is_delivered("alert-001", clock.now)
    await store.ack("alert-001", clock.now, detail="HTTP 204", retention=3600)
    assert await store.is_delivered("alert-001", clock.now)
    assert not await store.is_delivered("alert-002", clock.now)
    assert ids(await store.pending()) == ["alert-002"]
    clock.advance(60)  # past the lease: only the unacked alert comes back
    assert ids(await store.claim_due(clock.now, lease=30, limit=10)) == ["alert-002"]
    clock.advance(3540)
    assert not await store.is_delivered("alert-001", clock.now)


async def test_pending_lists_queued_and_claimed(store: Outbox, clock: FrozenClock) -> None:
    assert await store.pending() == []
    await store.enqueue([make_alert(2), make_alert(1), make_alert(3)], clock.now)
    await store.claim_due(clock.now, lease=1000, limit=1)  # alert-001 now due at +1000
    claims = await claim(store, clock)  # alert-002 and alert-003
    await store.retry_later("alert-003", clock.now + 10, error="x", claim=claims["alert-003"])
    await store.defer("alert-002", clock.now, claim=claims["alert-002"])
    pending = await store.pending()
    assert [(e.alert.id, e.due_at - clock.now) for e in pending] == [
        ("alert-002", 0),
        ("alert-003", 10),
        ("alert-001", 1000),
    ]


# -- delivered records -----------------------------------------------------------------


async def test_recent_deliveries_newest_first_with_limit(store: Outbox, clock: FrozenClock) -> None:
    assert await store.recent_deliveries(clock.now, limit=10) == []
    await store.enqueue([make_alert(n) for n in (1, 2, 3, 4)], clock.now)
    claims = await claim(store, clock)
    await store.retry_later("alert-002", clock.now, error="HTTP 503", claim=claims["alert-002"])
    claims = await claim(store, clock)
    await store.retry_later("alert-002", clock.now, error="HTTP 503", claim=claims["alert-002"])
    await claim(store, clock)
    first = clock.now
    await store.ack("alert-002", clock.now, detail="HTTP 200", retention=DAY)
    clock.advance(5)
    await store.ack("alert-003", clock.now, detail="HTTP 204", retention=DAY)
    await store.ack("alert-001", clock.now, detail="250 OK", retention=DAY)  # tie: by id desc

    assert await store.recent_deliveries(clock.now, limit=10) == [
        DeliveryRecord(make_alert(3), delivered_at=clock.now, detail="HTTP 204", attempts=1),
        DeliveryRecord(make_alert(1), delivered_at=clock.now, detail="250 OK", attempts=1),
        DeliveryRecord(make_alert(2), delivered_at=first, detail="HTTP 200", attempts=3),
    ]
    assert ids_of(await store.recent_deliveries(clock.now, limit=2)) == ["alert-003", "alert-001"]
    assert await store.recent_deliveries(clock.now, limit=0) == []
    assert ids(await store.pending()) == ["alert-004"]


async def test_recent_deliveries_drop_expired_records(store: Outbox, clock: FrozenClock) -> None:
    await store.enqueue([make_alert(1), make_alert(2)], clock.now)
    await store.claim_due(clock.now, lease=30, limit=10)
    await store.ack("alert-001", clock.now, detail="ok", retention=100)
    await store.ack("alert-002", clock.now, detail="ok", retention=1000)
    clock.advance(99.5)
    assert ids_of(await store.recent_deliveries(clock.now, 10)) == ["alert-002", "alert-001"]
    clock.advance(0.5)  # alert-001's record ends exactly now
    assert ids_of(await store.recent_deliveries(clock.now, 10)) == ["alert-002"]
    # A later ack (which may purge or trim) changes nothing about what is listed.
    await store.enqueue([make_alert(3)], clock.now)
    await store.claim_due(clock.now, lease=30, limit=10)
    await store.ack("alert-003", clock.now, detail="ok", retention=1000)
    assert ids_of(await store.recent_deliveries(clock.now, 10)) == ["alert-003", "alert-002"]
    # The expired delivered record no longer blocks enqueueing, the live one does.
    assert await store.enqueue([make_alert(1), make_alert(2)], clock.now) == 1


async def test_ack_of_an_id_not_in_the_outbox(store: Outbox, clock: FrozenClock) -> None:
    await store.ack("alert-404", clock.now, detail="ok", retention=DAY)
    assert await store.is_delivered("alert-404", clock.now)  # recorded, so never enqueued again
    assert await store.enqueue([make_alert(404)], clock.now) == 0
    assert await store.recent_deliveries(clock.now, 10) == []  # but there is no alert to list

    # Acked twice (a second worker after a lease ran out): alert and attempts are kept.
    await store.enqueue([make_alert(1)], clock.now)
    claims = await claim(store, clock)
    await store.retry_later("alert-001", clock.now, error="timeout", claim=claims["alert-001"])
    await store.claim_due(clock.now, lease=30, limit=10)
    await store.ack("alert-001", clock.now, detail="HTTP 200", retention=DAY)
    clock.advance(40)
    await store.ack("alert-001", clock.now, detail="HTTP 200 again", retention=DAY)
    assert await store.recent_deliveries(clock.now, 10) == [
        DeliveryRecord(make_alert(1), delivered_at=clock.now, detail="HTTP 200 again", attempts=2)
    ]
    assert await store.pending() == []


# -- dead letters: requeue -------------------------------------------------------------


async def test_requeue_moves_a_dead_letter_back(store: Outbox, clock: FrozenClock) -> None:
    await store.enqueue([make_alert(1), make_alert(2)], clock.now)
    claims = await claim(store, clock)
    await store.retry_later("alert-001", clock.now, error="HTTP 500", claim=claims["alert-001"])
    claims = await claim(store, clock)
    await store.dead_letter("alert-001", clock.now, "HTTP 410 Gone", claim=claims["alert-001"])
    clock.advance(3600)

    assert await store.requeue("alert-001", clock.now)
    assert await store.dead_letters() == []
    assert await store.pending() == [
        OutboxEntry(make_alert(2), attempts=0, due_at=clock.now - 3570),  # its lease end
        OutboxEntry(make_alert(1), attempts=0, due_at=clock.now, last_error="HTTP 410 Gone"),
    ]
    assert ids(await store.claim_due(clock.now - 1, lease=30, limit=10)) == ["alert-002"]
    [again] = await store.claim_due(clock.now, lease=30, limit=10)  # due from the requeue on
    assert (again.alert, again.attempts, again.last_error) == (make_alert(1), 0, "HTTP 410 Gone")

    assert not await store.requeue("alert-001", clock.now)  # in the outbox, not dead
    assert not await store.requeue("alert-404", clock.now)
    assert await store.enqueue([make_alert(1)], clock.now) == 0  # still idempotent


async def test_requeued_alert_is_delivered_or_dies_again(store: Outbox, clock: FrozenClock) -> None:
    await store.enqueue([make_alert(1), make_alert(2)], clock.now)
    claims = await claim(store, clock)
    await store.dead_letter("alert-001", clock.now, error="HTTP 404", claim=claims["alert-001"])
    await store.dead_letter("alert-002", clock.now, error="HTTP 404", claim=claims["alert-002"])
    assert await store.requeue_all_dead(clock.now) == 2
    # The requeue dropped the old claim: it no longer fences anything.
    assert not await store.dead_letter("alert-002", clock.now, "x", claim=claims["alert-002"])
    claims = await claim(store, clock)
    await store.ack("alert-001", clock.now, detail="HTTP 200", retention=DAY)
    await store.dead_letter("alert-002", clock.now, error="HTTP 403", claim=claims["alert-002"])
    assert await store.recent_deliveries(clock.now, 10) == [
        DeliveryRecord(make_alert(1), delivered_at=clock.now, detail="HTTP 200", attempts=1)
    ]
    assert await store.dead_letters() == [
        OutboxEntry(make_alert(2), attempts=1, due_at=clock.now, last_error="HTTP 403")
    ]
    assert not await store.requeue("alert-001", clock.now)  # delivered, not dead


async def test_requeue_all_dead(store: Outbox, clock: FrozenClock) -> None:
    assert await store.requeue_all_dead(clock.now) == 0
    await store.enqueue([make_alert(n) for n in (1, 2, 3, 4)], clock.now)
    claims = await claim(store, clock)
    for n in (3, 1, 2):
        alert_id = f"alert-00{n}"
        await store.dead_letter(alert_id, clock.now, error=f"error {n}", claim=claims[alert_id])
        clock.advance(1)
    assert await store.requeue_all_dead(clock.now) == 3
    assert await store.dead_letters() == []
    pending = await store.pending()
    assert [(e.alert.id, e.attempts, e.due_at, e.last_error) for e in pending] == [
        ("alert-001", 0, clock.now, "error 1"),
        ("alert-002", 0, clock.now, "error 2"),
        ("alert-003", 0, clock.now, "error 3"),
        ("alert-004", 0, clock.now - 3 + 30, ""),  # untouched: still claimed
    ]
    assert await store.requeue_all_dead(clock.now) == 0


async def test_concurrent_requeues_move_each_dead_letter_once(
    backend: Backend, clock: FrozenClock
) -> None:
    handles = [await backend.open(), await backend.open()]
    await handles[0].enqueue([make_alert(n) for n in range(10)], clock.now)
    claims = await claim(handles[0], clock)
    for alert_id, token in claims.items():
        await handles[0].dead_letter(alert_id, clock.now, error="x", claim=token)
    one = await asyncio.gather(*(handles[i % 2].requeue("alert-000", clock.now) for i in range(8)))
    assert sum(one) == 1
    every = await asyncio.gather(*(handles[i % 2].requeue_all_dead(clock.now) for i in range(4)))
    assert sum(every) == 9
    assert len(await handles[1].pending()) == 10
    assert await handles[1].dead_letters() == []


# -- outbox_summary ----------------------------------------------------------------------

#: 08:00 UTC on the day of make_alert's alerts (which are created at 08:00:00.25 UTC).
EIGHT = datetime(2027, 1, 15, 8, 0, tzinfo=UTC)


def born(n: int, created: datetime) -> Alert:
    """make_alert(n), created at ``created``."""
    return replace(make_alert(n), created_at=created)


async def test_outbox_summary_of_an_empty_outbox(store: Outbox) -> None:
    assert await store.outbox_summary() == OutboxSummary(0, 0, None)


async def test_outbox_summary_dates_the_oldest_created_alert_not_the_oldest_due(
    store: Outbox, clock: FrozenClock
) -> None:
    young = born(1, EIGHT + timedelta(minutes=5))
    await store.enqueue([young], clock.now)  # due first
    clock.advance(60)
    # Created earlier but enqueued later (a slow poll): written with another offset, its
    # text ("10:00...+02:00") sorts after the young one's, its instant before.
    old = born(2, datetime(2027, 1, 15, 10, 0, 0, 1, tzinfo=timezone(timedelta(hours=2))))
    assert await store.enqueue([old, make_alert(3)], clock.now) == 2
    assert await store.outbox_summary() == OutboxSummary(3, 0, old.created_at.timestamp())
    # Enqueueing the same alerts again counts nothing twice.
    assert await store.enqueue([young, old, make_alert(3), make_alert(3)], clock.now) == 0
    assert await store.outbox_summary() == OutboxSummary(3, 0, old.created_at.timestamp())


async def test_outbox_summary_reads_times_to_the_microsecond_and_naive_ones_as_utc(
    store: Outbox, clock: FrozenClock
) -> None:
    # A whole second is written without a fraction ("08:00:00+00:00"): it still sorts
    # before 08:00:00.25. A naive time is UTC.
    whole = born(1, EIGHT)
    await store.enqueue([make_alert(2), whole], clock.now)
    assert await store.outbox_summary() == OutboxSummary(2, 0, EIGHT.timestamp())
    naive = born(3, datetime(2027, 1, 15, 7, 59, 59, 999_999))
    await store.enqueue([naive], clock.now)
    oldest = (EIGHT - timedelta(microseconds=1)).timestamp()
    assert await store.outbox_summary() == OutboxSummary(3, 0, oldest)


async def test_outbox_summary_counts_claimed_retried_and_deferred_alerts(
    store: Outbox, clock: FrozenClock
) -> None:
    alerts = [born(n, EIGHT + timedelta(seconds=n)) for n in (1, 2, 3)]
    await store.enqueue(alerts, clock.now)
    claims = await claim(store, clock)
    expected = OutboxSummary(3, 0, alerts[0].created_at.timestamp())
    assert await store.outbox_summary() == expected  # claimed: still in the outbox
    assert await store.retry_later(
        "alert-001", clock.now + 60, "HTTP 503", claim=claims["alert-001"]
    )
    assert await store.defer("alert-002", clock.now + 60, claim=claims["alert-002"])
    assert await store.outbox_summary() == expected


async def test_outbox_summary_after_ack(store: Outbox, clock: FrozenClock) -> None:
    alerts = [born(n, EIGHT + timedelta(seconds=n)) for n in (1, 2)]
    await store.enqueue(alerts, clock.now)
    await claim(store, clock)
    await store.ack("alert-001", clock.now, detail="HTTP 200", retention=DAY)
    assert await store.outbox_summary() == OutboxSummary(1, 0, alerts[1].created_at.timestamp())
    await store.ack("alert-404", clock.now, detail="HTTP 200", retention=DAY)  # not queued
    await store.ack("alert-001", clock.now, detail="HTTP 200", retention=DAY)  # acked twice
    assert await store.outbox_summary() == OutboxSummary(1, 0, alerts[1].created_at.timestamp())
    await store.ack("alert-002", clock.now, detail="HTTP 200", retention=DAY)
    assert await store.outbox_summary() == OutboxSummary(0, 0, None)


async def test_outbox_summary_skips_dead_letters_until_requeued(
    store: Outbox, clock: FrozenClock
) -> None:
    oldest, middle, young = (born(n, EIGHT + timedelta(seconds=n)) for n in (1, 2, 3))
    await store.enqueue([oldest, middle, young], clock.now)
    claims = await claim(store, clock)
    assert await store.dead_letter("alert-001", clock.now, "HTTP 404", claim=claims["alert-001"])
    assert await store.dead_letter("alert-002", clock.now, "HTTP 404", claim=claims["alert-002"])
    # The dead letters are older than the one alert left: they do not date the outbox.
    assert await store.outbox_summary() == OutboxSummary(1, 2, young.created_at.timestamp())
    assert await store.enqueue([oldest], clock.now) == 0  # dead: not queued again
    assert await store.outbox_summary() == OutboxSummary(1, 2, young.created_at.timestamp())

    clock.advance(3600)  # requeued: due now, dated by its own created time again
    assert await store.requeue("alert-002", clock.now)
    assert await store.outbox_summary() == OutboxSummary(2, 1, middle.created_at.timestamp())
    assert await store.requeue_all_dead(clock.now) == 1
    assert await store.outbox_summary() == OutboxSummary(3, 0, oldest.created_at.timestamp())

    # Delivered at last: gone from the summary, and its record keeps it out.
    claims = await claim(store, clock)
    await store.ack("alert-001", clock.now, detail="HTTP 200", retention=DAY)
    assert await store.dead_letter("alert-003", clock.now, "HTTP 400", claim=claims["alert-003"])
    assert await store.outbox_summary() == OutboxSummary(1, 1, middle.created_at.timestamp())


async def test_outbox_summary_finds_a_queued_alert_behind_many_older_dead_letters(
    store: Outbox, clock: FrozenClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Redis walks its index of created times (dead letters included) a budget of members
    per script call, made small here: more dead letters than three calls' budgets lie
    before the queued alert."""
    monkeypatch.setattr(redis_outbox, "SUMMARY_BUDGET", 4)
    monkeypatch.setattr(redis_outbox, "SUMMARY_PAGE", 3)
    dead = [born(n, EIGHT + timedelta(seconds=n)) for n in range(13)]
    await store.enqueue(dead, clock.now)
    for alert_id, token in (await claim(store, clock, limit=len(dead))).items():
        assert await store.dead_letter(alert_id, clock.now, "HTTP 404", claim=token)
    queued = born(99, EIGHT + timedelta(hours=1))
    await store.enqueue([queued], clock.now)
    assert await store.outbox_summary() == OutboxSummary(1, 13, queued.created_at.timestamp())


# -- outbox_entry and requeue_many -------------------------------------------------------


async def test_outbox_entry_finds_one_alert_where_it_is(store: Outbox, clock: FrozenClock) -> None:
    start = clock.now
    await store.enqueue([make_alert(n) for n in (1, 2, 3, 4)], clock.now)
    assert await store.outbox_entry("alert-001") == OutboxLookup(
        OutboxEntry(make_alert(1), attempts=0, due_at=start), dead=False
    )
    claims = await claim(store, clock, lease=30)  # claimed: due at the lease end, no token
    assert await store.outbox_entry("alert-002") == OutboxLookup(
        OutboxEntry(make_alert(2), attempts=0, due_at=start + 30), dead=False
    )
    await store.retry_later("alert-002", start + 300, "HTTP 503", claim=claims["alert-002"])
    assert await store.outbox_entry("alert-002") == OutboxLookup(
        OutboxEntry(make_alert(2), attempts=1, due_at=start + 300, last_error="HTTP 503"),
        dead=False,
    )
    clock.advance(60)
    await store.dead_letter("alert-003", clock.now, "HTTP 410 Gone", claim=claims["alert-003"])
    assert await store.outbox_entry("alert-003") == OutboxLookup(  # due_at: when it died
        OutboxEntry(make_alert(3), attempts=1, due_at=clock.now, last_error="HTTP 410 Gone"),
        dead=True,
    )
    await store.ack("alert-004", clock.now, detail="HTTP 200", retention=DAY)
    assert await store.outbox_entry("alert-004") is None  # delivered
    assert await store.outbox_entry("alert-404") is None  # never queued
    # What the listings show for each, claim token aside.
    for entry in await store.pending():
        assert await store.outbox_entry(entry.alert.id) == OutboxLookup(entry, dead=False)
    for entry in await store.dead_letters():
        assert await store.outbox_entry(entry.alert.id) == OutboxLookup(entry, dead=True)


async def test_requeue_many_moves_only_the_dead_letters(store: Outbox, clock: FrozenClock) -> None:
    assert await store.requeue_many([], clock.now) == []
    await store.enqueue([make_alert(n) for n in (1, 2, 3, 4)], clock.now)
    claims = await claim(store, clock)
    await store.retry_later("alert-001", clock.now, "HTTP 500", claim=claims["alert-001"])
    claims |= await claim(store, clock)
    for n in (1, 2, 3):
        alert_id = f"alert-00{n}"
        await store.dead_letter(alert_id, clock.now, f"error {n}", claim=claims[alert_id])
    assert [e.attempts for e in await store.dead_letters()] == [1, 1, 2]  # 3, 2, 1
    clock.advance(3600)

    wanted = ["alert-003", "alert-404", "alert-004", "alert-001", "alert-003"]
    assert await store.requeue_many(wanted, clock.now) == ["alert-003", "alert-001"]
    assert ids(await store.dead_letters()) == ["alert-002"]
    assert await store.outbox_entry("alert-001") == OutboxLookup(
        OutboxEntry(make_alert(1), attempts=0, due_at=clock.now, last_error="error 1"),
        dead=False,
    )
    assert await store.outbox_entry("alert-004") == OutboxLookup(  # pending: untouched
        OutboxEntry(make_alert(4), attempts=0, due_at=clock.now - 3600 + 30), dead=False
    )
    assert await store.requeue_many(wanted, clock.now) == []  # moved already
    assert await store.requeue_many(["alert-002"], clock.now) == ["alert-002"]
    assert await store.dead_letters() == []
    assert ids(await store.claim_due(clock.now, lease=30, limit=10)) == [
        "alert-004",  # its lease ended long ago
        "alert-001",
        "alert-002",
        "alert-003",
    ]


async def test_requeue_many_moves_a_long_list_in_batches(
    store: Outbox, clock: FrozenClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(redis_outbox, "REQUEUE_BATCH", 3)  # Redis: 4 script calls
    await store.enqueue([make_alert(n) for n in range(10)], clock.now)
    for alert_id, token in (await claim(store, clock, limit=10)).items():
        await store.dead_letter(alert_id, clock.now, "x", claim=token)
    wanted = [f"alert-{n:03d}" for n in (9, 0, 9, 5, 1, 8, 2, 7, 3, 6, 404)]
    assert await store.requeue_many(wanted, clock.now) == [
        f"alert-{n:03d}" for n in (9, 0, 5, 1, 8, 2, 7, 3, 6)
    ]
    assert ids(await store.dead_letters()) == ["alert-004"]
    assert len(await store.pending()) == 9


async def test_concurrent_requeue_many_move_each_dead_letter_once(
    backend: Backend, clock: FrozenClock
) -> None:
    handles = [await backend.open(), await backend.open()]
    await handles[0].enqueue([make_alert(n) for n in range(10)], clock.now)
    for alert_id, token in (await claim(handles[0], clock)).items():
        await handles[0].dead_letter(alert_id, clock.now, error="x", claim=token)
    every = [f"alert-{n:03d}" for n in range(10)]
    moved = await asyncio.gather(
        *(handles[i % 2].requeue_many(every[i:] + every[:i], clock.now) for i in range(6))
    )
    assert sorted(alert_id for one in moved for alert_id in one) == every
    assert await handles[1].dead_letters() == []
