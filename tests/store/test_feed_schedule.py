"""Contract of :class:`~monitor.store.schedule.FeedSchedule`, run against the memory schedule,
fakeredis and a real Redis (two handles on one server: claims race across clients).

The lease-fenced feed-state write is read back through the store the schedule stands by
(the memory schedule's ``MemoryStore``; for Redis, another ``RedisStore`` handle), so it is
checked to land where ``get_feed_state`` reads, in the format it decodes.

SQLite has no schedule: the embedded store serves one process, which schedules its feeds
itself (``monitor.polling.scheduler``).
"""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path

import pytest

from monitor.model import FeedState, FeedValidators
from monitor.store.base import FeedStateStore
from monitor.store.memory_schedule import MemorySchedule
from monitor.store.redis import RedisStore
from monitor.store.redis_keys import Keys
from monitor.store.redis_schedule import RedisSchedule
from monitor.store.schedule import FeedSchedule
from tests.conftest import FrozenClock
from tests.store.support import Backend, make_backend

SCHEDULES = ["memory", "fakeredis", pytest.param("redis", marks=pytest.mark.redis)]
LEASE = 120.0


class Schedules:
    """Handles on one schedule: ``open()`` gives another client on the same state, and
    ``states()`` a handle on the feed states its ``save_feed_state`` writes."""

    def __init__(
        self,
        open_one: Callable[[], Awaitable[FeedSchedule]],
        states: Callable[[], Awaitable[FeedStateStore]],
    ) -> None:
        self.open = open_one
        self.states = states


@pytest.fixture(params=SCHEDULES)
async def schedules(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Schedules]:
    if request.param == "memory":
        memory = MemorySchedule()

        async def open_memory() -> FeedSchedule:
            return memory

        async def memory_states() -> FeedStateStore:
            return memory.states

        yield Schedules(open_memory, memory_states)
        return
    backend: Backend = make_backend(request, request.param, tmp_path)

    async def open_redis() -> FeedSchedule:
        store = await backend.open()
        assert isinstance(store, RedisStore)
        return store.feed_schedule()

    async def redis_states() -> FeedStateStore:
        return await backend.open()

    try:
        yield Schedules(open_redis, redis_states)
    finally:
        await backend.aclose()


@pytest.fixture
async def schedule(schedules: Schedules) -> FeedSchedule:
    return await schedules.open()


async def test_adding_keeps_the_time_of_a_feed_already_scheduled(
    schedule: FeedSchedule, clock: FrozenClock
) -> None:
    now = clock.now
    assert await schedule.add_feeds({"a": now + 5, "b": now + 1}) == 2
    assert await schedule.add_feeds({"a": now + 100, "c": now + 2}) == 1
    assert await schedule.due_times() == {"a": now + 5, "b": now + 1, "c": now + 2}
    assert await schedule.add_feeds({}) == 0


async def test_a_claim_leases_due_feeds_earliest_first_and_says_what_comes_next(
    schedule: FeedSchedule, clock: FrozenClock
) -> None:
    now = clock.now
    await schedule.add_feeds({"c": now - 1, "b": now - 1, "a": now - 5, "later": now + 30})
    claim = await schedule.claim_feeds(now, LEASE, 2, "t1", "gen-1")
    assert claim.feeds == ("a", "b")  # earliest first, ties by id
    assert claim.next_due == now - 1  # "c" is still due
    assert claim.generation == "gen-1"
    rest = await schedule.claim_feeds(now, LEASE, 10, "t2", "gen-2")
    assert rest.feeds == ("c",)
    assert rest.next_due == now + 30  # "later"; the claimed ones end their lease after it
    assert rest.generation == "gen-1"  # the marker is written once
    times = await schedule.due_times()
    assert times["a"] == times["b"] == times["c"] == now + LEASE
    assert await schedule.leased_feeds(now) == {"a": "t1", "b": "t1", "c": "t2"}


async def test_a_claim_without_room_claims_nothing_but_still_answers(
    schedule: FeedSchedule, clock: FrozenClock
) -> None:
    assert await schedule.claim_feeds(clock.now, LEASE, 5, "t", "g") == (
        await schedule.claim_feeds(clock.now, LEASE, 0, "t", "other")
    )  # empty schedule: nothing, no next due, the first marker
    await schedule.add_feeds({"a": clock.now - 1})
    claim = await schedule.claim_feeds(clock.now, LEASE, 0, "t", "other")
    assert (claim.feeds, claim.next_due, claim.generation) == ((), clock.now - 1, "g")


async def test_racing_claims_lease_each_feed_once(schedules: Schedules, clock: FrozenClock) -> None:
    handles = [await schedules.open() for _ in range(2)]
    feeds = {f"feed-{n:03d}": clock.now - n % 7 for n in range(120)}
    await handles[0].add_feeds(feeds)
    claims = await asyncio.gather(
        *(handles[i % 2].claim_feeds(clock.now, LEASE, 7, f"t{i}", "g") for i in range(24))
    )
    leased = Counter(feed for claim in claims for feed in claim.feeds)
    assert sorted(leased) == sorted(feeds)  # every due feed, each to one caller
    assert set(leased.values()) == {1}
    assert (await handles[1].claim_feeds(clock.now, LEASE, 100, "late", "g")).feeds == ()


async def test_a_lease_ends_and_another_caller_takes_the_feed(
    schedule: FeedSchedule, clock: FrozenClock
) -> None:
    await schedule.add_feeds({"a": clock.now})
    assert (await schedule.claim_feeds(clock.now, 10, 5, "dead", "g")).feeds == ("a",)
    clock.advance(9.9)
    assert (await schedule.claim_feeds(clock.now, 10, 5, "alive", "g")).feeds == ()
    assert await schedule.leased_feeds(clock.now) == {"a": "dead"}
    clock.advance(0.1)  # the lease ends at its end time: due again
    assert await schedule.leased_feeds(clock.now) == {}
    assert (await schedule.claim_feeds(clock.now, 10, 5, "alive", "g")).feeds == ("a",)
    assert await schedule.leased_feeds(clock.now) == {"a": "alive"}


async def test_finishing_is_fenced_by_the_lease(schedule: FeedSchedule, clock: FrozenClock) -> None:
    await schedule.add_feeds({"a": clock.now, "b": clock.now})
    await schedule.claim_feeds(clock.now, 10, 5, "stalled", "g")
    clock.advance(11)  # "stalled" sleeps through its lease; "fresh" takes "a" over
    assert (await schedule.claim_feeds(clock.now, 10, 1, "fresh", "g")).feeds == ("a",)
    assert await schedule.finish_feed("a", "stalled", clock.now + 1) is False
    assert (await schedule.due_times())["a"] == clock.now + 10  # untouched
    assert await schedule.finish_feed("a", "fresh", clock.now + 300) is True
    assert (await schedule.due_times())["a"] == clock.now + 300
    assert await schedule.finish_feed("a", "fresh", clock.now + 5) is False  # lease is gone
    # "b": its lease ended but nobody claimed it since: the late finish still counts.
    assert await schedule.finish_feed("b", "stalled", clock.now + 60) is True
    assert (await schedule.due_times())["b"] == clock.now + 60
    assert await schedule.leased_feeds(clock.now) == {}


async def test_a_removed_feed_is_not_put_back_by_its_poll(
    schedule: FeedSchedule, clock: FrozenClock
) -> None:
    await schedule.add_feeds({"a": clock.now, "b": clock.now})
    await schedule.claim_feeds(clock.now, 10, 5, "t", "g")
    await schedule.remove_feeds(["a", "missing"])
    assert await schedule.finish_feed("a", "t", clock.now + 60) is False
    assert await schedule.due_times() == {"b": clock.now + 10}
    assert await schedule.leased_feeds(clock.now) == {"b": "t"}
    await schedule.remove_feeds([])


async def test_rescheduling_moves_only_feeds_nobody_polls(
    schedule: FeedSchedule, clock: FrozenClock
) -> None:
    now = clock.now
    await schedule.add_feeds({"idle": now + 300, "busy": now, "dead": now})
    await schedule.claim_feeds(now, 10, 5, "t", "g")  # busy and dead
    clock.advance(5)
    moved = await schedule.reschedule_feeds(
        {"idle": clock.now + 1, "busy": clock.now + 1, "gone": clock.now}, clock.now
    )
    assert moved == 1
    times = await schedule.due_times()
    assert times == {"idle": clock.now + 1, "busy": now + 10, "dead": now + 10}
    clock.advance(5)  # both leases have ended: "dead" moves, and its holder is fenced out
    assert await schedule.reschedule_feeds({"dead": clock.now + 2}, clock.now) == 1
    assert await schedule.finish_feed("dead", "t", clock.now + 600) is False
    assert (await schedule.due_times())["dead"] == clock.now + 2
    assert await schedule.reschedule_feeds({}, clock.now) == 0


def polled(clock: FrozenClock, etag: str, failures: int = 0) -> FeedState:
    """A feed state as a poll leaves it (what a late write must not overwrite)."""
    return FeedState(
        validators=FeedValidators(etag=etag),
        first_polled_at=clock.now - 600.5,
        last_success_at=clock.now,
        consecutive_failures=failures,
        url="http://feeds.test/a.xml",
        recent_entries=("0123456789ab", "ba9876543210"),
        body_hash=f"hash of {etag}",
    )


async def test_a_feed_state_is_saved_while_the_token_holds_the_lease(
    schedules: Schedules, clock: FrozenClock
) -> None:
    schedule, states = await schedules.open(), await schedules.states()
    await schedule.add_feeds({"a": clock.now, "b": clock.now})
    await schedule.claim_feeds(clock.now, 10, 5, "t", "g")
    first, second = polled(clock, '"v1"'), polled(clock, '"v2"', failures=2)
    assert await schedule.save_feed_state("a", "t", first) is True
    assert await states.get_feed_state("a") == first  # where and as the store reads it
    assert await schedule.save_feed_state("a", "t", second) is True  # replaced
    assert await states.get_feed_state("a") == second
    assert await states.get_feed_state("b") is None  # only the feed named
    clock.advance(11)  # the lease ended, but nobody claimed the feed since: still counts
    assert await schedule.save_feed_state("b", "t", first) is True
    assert await states.get_feed_state("b") == first
    # The write moves neither the schedule nor the lease.
    assert await schedule.due_times() == {"a": clock.now - 1, "b": clock.now - 1}
    assert await schedule.finish_feed("a", "t", clock.now + 60) is True


async def test_a_feed_state_is_refused_for_another_token(
    schedules: Schedules, clock: FrozenClock
) -> None:
    schedule, states = await schedules.open(), await schedules.states()
    await schedule.add_feeds({"a": clock.now, "b": clock.now + 30})
    await schedule.claim_feeds(clock.now, 10, 5, "holder", "g")  # "a" only
    assert await schedule.save_feed_state("a", "intruder", polled(clock, '"x"')) is False
    assert (
        await schedule.save_feed_state("b", "holder", polled(clock, '"x"')) is False
    )  # not leased
    assert await states.get_feed_state("a") is None
    assert await states.get_feed_state("b") is None


async def test_a_feed_state_is_refused_once_the_lease_is_finished(
    schedules: Schedules, clock: FrozenClock
) -> None:
    schedule, states = await schedules.open(), await schedules.states()
    await schedule.add_feeds({"a": clock.now})
    await schedule.claim_feeds(clock.now, 10, 5, "t", "g")
    kept = polled(clock, '"v1"')
    assert await schedule.save_feed_state("a", "t", kept) is True
    assert await schedule.finish_feed("a", "t", clock.now + 60) is True
    assert await schedule.save_feed_state("a", "t", polled(clock, '"late"')) is False
    assert await states.get_feed_state("a") == kept


async def test_a_stalled_holders_feed_state_is_fenced_out_by_the_next_claim(
    schedules: Schedules, clock: FrozenClock
) -> None:
    stalled, fresh = await schedules.open(), await schedules.open()
    states = await schedules.states()
    await stalled.add_feeds({"a": clock.now})
    assert (await stalled.claim_feeds(clock.now, 10, 5, "stalled", "g")).feeds == ("a",)
    clock.advance(11)  # "stalled" sleeps through its lease; "fresh" takes the feed over
    assert (await fresh.claim_feeds(clock.now, 10, 5, "fresh", "g")).feeds == ("a",)
    newer = polled(clock, '"v2"')
    assert await fresh.save_feed_state("a", "fresh", newer) is True
    # "stalled" wakes up with the state of its older poll: refused, the newer one stays.
    assert await stalled.save_feed_state("a", "stalled", polled(clock, '"v1"', 3)) is False
    assert await states.get_feed_state("a") == newer
    # Likewise once its own lease is over and taken: before the new holder wrote anything.
    assert await fresh.finish_feed("a", "fresh", clock.now) is True
    assert (await fresh.claim_feeds(clock.now, 10, 5, "third", "g")).feeds == ("a",)
    assert await fresh.save_feed_state("a", "fresh", polled(clock, '"v3"')) is False
    assert await states.get_feed_state("a") == newer


async def test_a_feed_state_is_refused_for_a_feed_not_in_the_schedule(
    schedules: Schedules, clock: FrozenClock
) -> None:
    schedule, states = await schedules.open(), await schedules.states()
    assert await schedule.save_feed_state("never", "t", polled(clock, '"x"')) is False
    await schedule.add_feeds({"a": clock.now})
    await schedule.claim_feeds(clock.now, 10, 5, "t", "g")
    await schedule.remove_feeds(["a"])  # removed while polled: its poll writes nothing
    assert await schedule.save_feed_state("a", "t", polled(clock, '"x"')) is False
    assert await states.get_feed_state("never") is None
    assert await states.get_feed_state("a") is None


async def test_the_generation_is_written_once(schedules: Schedules) -> None:
    first, second = await schedules.open(), await schedules.open()
    assert await first.generation("one") == "one"
    assert await second.generation("two") == "one"
    assert (await second.claim_feeds(0.0, LEASE, 1, "t", "three")).generation == "one"


@pytest.mark.parametrize("schedules", ["fakeredis"], indirect=True)
async def test_redis_keys_of_the_schedule(schedules: Schedules, clock: FrozenClock) -> None:
    """The on-server format (``redis_keys``): a sorted set, a hash and a string."""
    schedule = await schedules.open()
    await schedule.add_feeds({"a": clock.now})
    await schedule.claim_feeds(clock.now, LEASE, 1, "tok", "gen")
    assert isinstance(schedule, RedisSchedule)
    client = schedule._client
    keys = Keys("nm")
    assert await client.type(keys.schedule) in (b"zset", "zset")
    assert await client.zscore(keys.schedule, "a") == clock.now + LEASE
    assert await client.hget(keys.schedule_leases, "a") in (b"tok", "tok")
    assert await client.get(keys.generation) in (b"gen", "gen")
    assert (keys.schedule, keys.schedule_leases, keys.generation) == (
        "nm:schedule",
        "nm:schedule_lease",
        "nm:generation",
    )
