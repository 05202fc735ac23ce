"""The shared polling schedule: replicas on one schedule split the feeds, poll each once
per interval, take over a stalled replica's feeds after its lease (and its late finish and
late feed-state write are fenced out), follow reloads, ride out a store outage, and notice
a store reset.

The replicas are ``SharedScheduler``s in one event loop on one ``MemorySchedule`` (the
schedule contract itself is ``tests/store/test_feed_schedule.py``, Redis included), with
scripted polls and short real intervals; waits poll a condition with a deadline.
"""

from __future__ import annotations

import asyncio
import itertools
import random
import time
from collections import Counter
from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import timedelta

import pytest

from monitor.config.models import FeedConfig
from monitor.errors import StoreError
from monitor.model import FeedState, FeedValidators
from monitor.polling.poller import PollReport
from monitor.polling.shared_scheduler import SharedPollFeed, SharedScheduler
from monitor.polling.state_writer import SaveFeedState
from monitor.polling.store_reset import StoreReset
from monitor.store.memory import MemoryStore
from monitor.store.memory_schedule import MemorySchedule
from monitor.store.schedule import FeedClaim, FeedSchedule

INTERVAL = 0.4


def feeds(count: int, interval: float = INTERVAL) -> list[FeedConfig]:
    return [
        FeedConfig(
            id=f"f{n:02d}", url=f"http://127.0.0.1/{n}", interval=timedelta(seconds=interval)
        )
        for n in range(count)
    ]


@dataclass
class Polls:
    """Scripted polls: each takes ``duration``, stores a feed state naming its replica with
    the writer it is given (as the poller does, at its end) and asks for the next in
    ``next_in`` (plus a random share of it up to ``jitter``, as the poller adds); records
    (feed, replica, start, end), whether each write was stored, and how many polls of each
    replica overlap."""

    duration: float = 0.01
    next_in: float = INTERVAL
    jitter: float = 0.0
    #: Feeds whose poll hangs until released (a stalled replica).
    hang: dict[str, asyncio.Event] = field(default_factory=dict)
    log: list[tuple[str, str, float, float]] = field(default_factory=list)
    #: (feed, replica, the etag it wrote, whether the write was stored), in write order.
    saves: list[tuple[str, str, str, bool]] = field(default_factory=list)
    active: Counter[str] = field(default_factory=Counter)
    most_active: Counter[str] = field(default_factory=Counter)
    #: Per feed, how many polls ran at once at most (across replicas).
    overlapping: Counter[str] = field(default_factory=Counter)
    _running: Counter[str] = field(default_factory=Counter)

    def for_replica(self, name: str) -> SharedPollFeed:
        async def poll(feed: FeedConfig, save_state: SaveFeedState) -> PollReport:
            start = time.monotonic()
            self.active[name] += 1
            self._running[feed.id] += 1
            self.most_active[name] = max(self.most_active[name], self.active[name])
            self.overlapping[feed.id] = max(self.overlapping[feed.id], self._running[feed.id])
            try:
                if feed.id in self.hang:
                    await self.hang[feed.id].wait()
                await asyncio.sleep(self.duration)
            finally:
                self.active[name] -= 1
                self._running[feed.id] -= 1
            self.log.append((feed.id, name, start, time.monotonic()))
            etag = f'"{name}-{len(self.log)}"'
            state = FeedState(validators=FeedValidators(etag=etag), last_success_at=time.time())
            self.saves.append((feed.id, name, etag, await save_state(feed.id, state)))
            next_in = self.next_in * (1 + random.uniform(0, self.jitter))
            return PollReport(feed.id, "ok", next_poll_in=next_in)

        return poll

    def count(self, feed_id: str | None = None, replica: str | None = None) -> int:
        return sum(
            1
            for f, r, _, _ in self.log
            if (feed_id is None or f == feed_id) and (replica is None or r == replica)
        )

    def starts(self, feed_id: str) -> list[float]:
        return sorted(start for f, _, start, _ in self.log if f == feed_id)


def replica(
    name: str,
    schedule: FeedSchedule,
    polls: Polls,
    feed_list: Sequence[FeedConfig],
    *,
    lease: float = 2.0,
    capacity: int = 8,
    **kwargs: object,
) -> SharedScheduler:
    return SharedScheduler(
        feed_list,
        poll=polls.for_replica(name),
        schedule=schedule,
        default_interval=timedelta(seconds=INTERVAL),
        lease=lease,
        capacity=capacity,
        owner=name,
        tick=0.05,
        spread=0.05,
        **kwargs,  # type: ignore[arg-type]
    )


async def wait_until(condition: Callable[[], bool], within: float = 10.0) -> None:
    deadline = time.monotonic() + within
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError("condition not met in time")
        await asyncio.sleep(0.02)


async def stop(*schedulers: SharedScheduler) -> None:
    await asyncio.gather(*(s.shutdown(1.0) for s in schedulers))


async def test_replicas_split_the_feeds_and_poll_each_once_per_interval() -> None:
    # The poller's jitter (up to 10% of the interval) keeps feeds from coming due in
    # clumps; without it, feeds claimed in one round stay due together for good, and each
    # clump goes whole to whichever replica wakes first, so the split is a few coin tosses.
    schedule, polls = MemorySchedule(), Polls(jitter=0.1)
    feed_list = feeds(30)
    replicas = [replica(n, schedule, polls, feed_list) for n in ("a", "b", "c")]
    for r in replicas:
        r.start()
    await wait_until(lambda: all(polls.count(f.id) >= 6 for f in feed_list))
    await stop(*replicas)
    for f in feed_list:
        starts = polls.starts(f.id)
        gaps = [b - a for a, b in itertools.pairwise(starts)]
        # Once per interval: never sooner (jitter is the poller's, so none here).
        assert min(gaps) >= INTERVAL - 0.02, (f.id, gaps)
        assert polls.overlapping[f.id] == 1
    shares = [polls.count(replica=n) for n in ("a", "b", "c")]
    assert all(share > 0.15 * sum(shares) for share in shares), shares


async def test_a_replica_claims_no_more_than_its_capacity() -> None:
    schedule, polls = MemorySchedule(), Polls(duration=0.2)
    feed_list = feeds(12)
    small = replica("small", schedule, polls, feed_list, capacity=2)
    small.start()
    await asyncio.sleep(0.1)
    big = replica("big", schedule, polls, feed_list, capacity=10)
    big.start()
    await wait_until(lambda: all(polls.count(f.id) >= 1 for f in feed_list))
    await stop(small, big)
    assert polls.most_active["small"] == 2
    assert polls.count(replica="big") > polls.count(replica="small")


async def test_a_stalled_replicas_feed_is_taken_over_after_its_lease_and_fenced_out(
    caplog: pytest.LogCaptureFixture,
) -> None:
    schedule, polls = MemorySchedule(), Polls()
    feed_list = feeds(1)
    release = asyncio.Event()
    polls.hang["f00"] = release
    stalled = replica("stalled", schedule, polls, feed_list, lease=0.6)
    stalled.start()
    await wait_until(lambda: polls.active["stalled"] == 1)
    taken_at = time.monotonic()
    del polls.hang["f00"]  # the next poll of it, by anyone, goes through
    other = replica("other", schedule, polls, feed_list, lease=0.6)
    other.start()
    await wait_until(lambda: polls.count("f00", "other") >= 1)
    first = polls.starts("f00")[0]
    assert 0.4 < first - taken_at < 1.5  # once the lease ran out, not before
    polls.next_in = 30.0  # the other replica schedules it far away
    await wait_until(lambda: polls.count("f00", "other") >= 2)
    due = (await schedule.due_times())["f00"]
    release.set()  # the stalled poll ends now: its finish must not move the schedule
    await wait_until(lambda: polls.count("f00", "stalled") == 1)
    await asyncio.sleep(0.1)
    assert (await schedule.due_times())["f00"] == due
    await stop(stalled, other)


async def test_a_stalled_replicas_late_feed_state_is_fenced_out() -> None:
    states = MemoryStore()
    schedule, polls = MemorySchedule(states), Polls(next_in=30.0)
    feed_list = feeds(1)
    release = asyncio.Event()
    polls.hang["f00"] = release
    stalled = replica("stalled", schedule, polls, feed_list, lease=0.6)
    stalled.start()
    await wait_until(lambda: polls.active["stalled"] == 1)
    del polls.hang["f00"]  # the next poll of it, by anyone, goes through
    other = replica("other", schedule, polls, feed_list, lease=0.6)
    other.start()
    # Past the lease, the other replica polls the feed and stores its state.
    await wait_until(lambda: polls.count("f00", "other") >= 1)
    assert [(r, stored) for _, r, _, stored in polls.saves] == [("other", True)]
    newer = await states.get_feed_state("f00")
    assert newer is not None and newer.validators.etag == polls.saves[0][2]
    release.set()  # the stalled poll resumes with its older state: the write is refused
    await wait_until(lambda: len(polls.saves) == 2)
    assert [(r, stored) for _, r, _, stored in polls.saves] == [
        ("other", True),
        ("stalled", False),
    ]
    assert await states.get_feed_state("f00") == newer  # the newer state stays
    await stop(stalled, other)


async def test_reloads_add_remove_and_reschedule_feeds() -> None:
    schedule, polls = MemorySchedule(), Polls(next_in=30.0)
    first = feeds(3)
    r = replica("a", schedule, polls, first)
    r.start()
    await wait_until(lambda: all(polls.count(f.id) == 1 for f in first))
    moved = first[1].model_copy(update={"url": "http://127.0.0.1/moved"})
    added = FeedConfig(id="new", url="http://127.0.0.1/new")
    assert r.update([first[0], moved, added]) == (["new"], ["f02"], ["f01"])
    await wait_until(lambda: polls.count("new") == 1 and polls.count("f01") == 2)
    await wait_until(lambda: "f02" not in schedule.times)
    assert polls.count("f00") == 1  # unchanged: keeps its time
    await stop(r)


async def test_a_feed_missing_from_a_replicas_config_is_left_to_the_others() -> None:
    schedule, polls = MemorySchedule(), Polls()
    everything = feeds(4)
    knows_all = replica("all", schedule, polls, everything)
    knows_some = replica("some", schedule, polls, everything[:2])
    knows_some.start()
    knows_all.start()
    await wait_until(lambda: all(polls.count(f.id) >= 3 for f in everything))
    await stop(knows_all, knows_some)
    assert polls.count("f02", "some") == polls.count("f03", "some") == 0


class FlakySchedule(MemorySchedule):
    """A memory schedule whose every call fails while ``down``."""

    def __init__(self) -> None:
        super().__init__()
        self.down = False

    def _check(self) -> None:
        if self.down:
            raise StoreError("redis claim_feeds failed: ConnectionError")

    async def claim_feeds(
        self, now: float, lease: float, limit: int, token: str, generation: str
    ) -> FeedClaim:
        self._check()
        return await super().claim_feeds(now, lease, limit, token, generation)

    async def finish_feed(self, feed_id: str, token: str, due: float) -> bool:
        self._check()
        return await super().finish_feed(feed_id, token, due)

    async def save_feed_state(self, feed_id: str, token: str, state: FeedState) -> bool:
        self._check()
        return await super().save_feed_state(feed_id, token, state)

    async def add_feeds(self, due: Mapping[str, float]) -> int:
        self._check()
        return await super().add_feeds(due)


async def test_a_store_outage_delays_polls_without_losing_feeds() -> None:
    schedule, polls = FlakySchedule(), Polls(duration=0.2, next_in=0.3)
    feed_list = feeds(3)
    schedule.down = True  # down from the start: the feeds cannot even be added
    r = replica("a", schedule, polls, feed_list)
    r.start()
    await asyncio.sleep(0.3)
    assert polls.count() == 0 and r.outage.down
    schedule.down = False
    await wait_until(lambda: all(polls.count(f.id) >= 1 for f in feed_list))
    assert not r.outage.down
    # Down while polls are in flight: their finishes are kept and written once it is back.
    await wait_until(lambda: polls.active["a"] > 0)
    schedule.down = True
    before = polls.count()
    await asyncio.sleep(0.5)
    schedule.down = False
    await wait_until(lambda: all(polls.count(f.id) >= 3 for f in feed_list))
    assert polls.count() > before
    await stop(r)


async def test_a_store_reset_is_noticed_once_and_feeds_go_back_into_the_schedule() -> None:
    schedule, polls = MemorySchedule(), Polls()
    heard: list[StoreReset] = []

    async def on_reset(reset: StoreReset) -> None:
        heard.append(reset)

    feed_list = feeds(5)
    replicas = [
        replica(n, schedule, polls, feed_list, on_reset=on_reset, rebaseline=60.0)
        for n in ("a", "b")
    ]
    for r in replicas:
        r.start()
    await wait_until(lambda: all(polls.count(f.id) >= 1 for f in feed_list))
    assert await replicas[0].baseline() is None  # no reset: a first poll alerts as usual
    before = time.time()
    schedule.lose_everything()
    await wait_until(lambda: len(heard) == 2)  # each replica, once
    assert heard[0].generation == heard[1].generation != heard[0].previous
    assert all(before - 1.0 < reset.cutoff <= before for reset in heard)
    counted = {f.id: polls.count(f.id) for f in feed_list}
    await wait_until(lambda: all(polls.count(f.id) > counted[f.id] for f in feed_list))
    cutoffs = {await r.baseline() for r in replicas}
    assert cutoffs == {reset.cutoff for reset in heard}
    await asyncio.sleep(0.3)
    assert len(heard) == 2
    await stop(*replicas)


async def test_a_first_poll_that_beats_the_claim_loop_to_a_reset_still_rebaselines() -> None:
    schedule, polls = MemorySchedule(), Polls()
    heard: list[StoreReset] = []

    async def on_reset(reset: StoreReset) -> None:
        heard.append(reset)

    r = replica("a", schedule, polls, feeds(1), on_reset=on_reset)
    r.tick = 60.0  # the claim loop will not look again on its own
    r.start()
    await wait_until(lambda: polls.count() == 1)
    schedule.lose_everything()
    cutoff = await r.baseline()  # a poll found no feed state: it asks
    assert cutoff is not None and r.last_reset is not None and r.last_reset.cutoff == cutoff
    await wait_until(lambda: len(heard) == 1)
    await stop(r)


async def test_shutdown_hands_back_the_feeds_it_cut_off() -> None:
    schedule, polls = MemorySchedule(), Polls()
    polls.hang["f00"] = asyncio.Event()  # never released
    r = replica("a", schedule, polls, feeds(1), lease=300.0)
    r.start()
    await wait_until(lambda: polls.active["a"] == 1)
    await r.shutdown(0.1)
    assert not r.running
    assert schedule.leases == {}
    assert schedule.times["f00"] <= time.time()  # due at once, for another replica


async def test_the_health_check_leaves_feeds_being_polled_anywhere_alone() -> None:
    schedule, polls = MemorySchedule(), Polls()
    polls.hang["f00"] = asyncio.Event()
    busy_sets: list[Collection[str]] = []

    async def check_health(busy: Collection[str]) -> int:
        busy_sets.append(busy)
        return 0

    feed_list = feeds(2)
    polling = replica("a", schedule, polls, feed_list[:1], lease=300.0)
    polling.start()
    await wait_until(lambda: polls.active["a"] == 1)
    checking = replica("b", schedule, polls, feed_list, check_health=check_health)
    await checking._check_health()
    assert busy_sets == [frozenset({"f00"})]
    polls.hang["f00"].set()
    await stop(polling)
