"""The polling schedule replicas share on Redis: each feed is polled by one replica at a
time, about once per interval, and a replica that dies or stalls has its feeds taken
over within one lease.

:class:`SharedScheduler` is :class:`~monitor.polling.scheduler.FeedScheduler`'s
counterpart for a store shared by replicas (same ``start``, ``update``, ``running`` and
``shutdown``; the embedded store keeps the APScheduler one). The next due time of every
feed lives in the store (:class:`~monitor.store.schedule.FeedSchedule`), not in the process.
One asyncio task claims, in a loop, as many due feeds as this replica has free poll
capacity (``capacity`` polls in flight; claiming more would only make feeds wait here
while other replicas idle), polls each, and finishes it: the next due time is the one the
poll decided (``PollReport.next_poll_in``: interval with jitter, backoff, Retry-After,
server hints), written only if this replica still holds the lease (fencing). The poll's
feed state is fenced the same way: the poll callable is handed a writer bound to the
lease token (:meth:`~monitor.store.schedule.FeedSchedule.save_feed_state`), so a replica
that stalled past its lease cannot overwrite, when it wakes up, the newer state
(validators, body hash, entries, failures) of the replica that polled the feed since.
Back-off and feed health therefore hold across replicas: the due time and the feed's
state are both in the store. Between rounds it sleeps until the next feed falls due, at
most :data:`CLAIM_TICK`, or until a poll ends and frees capacity.

A feed's lease (``lease``, MONITOR_FEED_LEASE) is the longest a replica may take to poll
it: past it, another replica claims the feed. A feed claimed but absent from this
replica's config (another replica's newer config has it) is handed back due one default
interval later, so the replicas that know it poll it; replicas are expected to share one
rules directory, so this lasts only as long as a rolling reload.

Each claim round also reads the store's generation marker. A marker gone or changed
means the store lost its data (a Redis restarted empty, a FLUSHALL): seen marks, feed
states and the schedule are gone, so every item still in the feeds would alert again.
Then the replica logs one ``store_reset`` warning, puts its feeds back into the schedule,
calls ``on_reset`` (a metric, an alert on the feed-health channel) and *re-baselines*:
the first poll of a feed with no state in the store asks :meth:`SharedScheduler.baseline`,
which answers the last time the old marker was seen, and items published before it are
recorded as seen without alerting. That question re-reads the marker, so a poll that
raced ahead of the claim loop's next round cannot alert on a wiped store.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import random
import socket
import time
import uuid
from collections.abc import Awaitable, Callable, Collection, Mapping, Sequence
from datetime import timedelta
from itertools import count

from monitor.config.models import FeedConfig
from monitor.errors import StoreError
from monitor.log import get_logger
from monitor.model import Clock, FeedState
from monitor.polling.poller import PollReport
from monitor.polling.schedule import interval_for
from monitor.polling.scheduler import (
    HEALTH_CHECK_INTERVAL,
    START_SPREAD,
    STORE_RETRY,
    CheckHealth,
)
from monitor.polling.state_writer import SaveFeedState
from monitor.polling.store_reset import StoreReset
from monitor.store.outage import OutageLog
from monitor.store.schedule import FeedSchedule

log = get_logger("monitor.scheduler")

#: Longest pause between two claim rounds (seconds): how late a feed another replica's
#: reload added, or a store reset, is noticed at worst.
CLAIM_TICK = 1.0
#: Shortest pause between two claim rounds (no busy loop on a feed due "now").
MIN_PAUSE = 0.01
#: Most a replica waits past a feed's due time before claiming it (seconds): a random
#: share of it spreads the claims of replicas that all wake for that feed.
DUE_JITTER = 0.05


#: Told of a store reset (after the warning is logged); StoreError: it is retried.
OnReset = Callable[[StoreReset], Awaitable[None]]
#: Polls one feed, storing its feed state with the writer given (fenced by the poll's
#: lease), and wakes delivery if it queued alerts; raises only if the store failed.
SharedPollFeed = Callable[[FeedConfig, SaveFeedState], Awaitable[PollReport]]


def replica_id() -> str:
    """This process among the replicas: ``host:pid:random`` (the start of its lease tokens)."""
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:6]}"


def _moved(before: FeedConfig, after: FeedConfig, default: timedelta) -> bool:
    """Whether a reload changed what decides a feed's schedule (its URL or interval)."""
    return before.url != after.url or interval_for(before, default) != interval_for(after, default)


class SharedScheduler:
    """Claims due feeds from a :class:`FeedSchedule` shared with other replicas, polls them.

    Handed what it runs, like ``FeedScheduler``: ``poll`` polls one feed (raises only on
    a store failure) and stores its state with the lease-fenced writer it is given,
    ``check_health`` (None: no ``feed_health``) checks feeds between polls, ``wake``
    tells delivery that alerts were queued, ``on_reset`` hears of a store reset.
    ``rebaseline`` is how long after a reset first polls are re-baselined (the article max
    age: beyond it the cutoff excludes nothing MONITOR_MAX_AGE does not).
    """

    def __init__(
        self,
        feeds: Sequence[FeedConfig],
        *,
        poll: SharedPollFeed,
        schedule: FeedSchedule,
        default_interval: timedelta,
        lease: float,
        capacity: int,
        check_health: CheckHealth | None = None,
        wake: Callable[[], None] = lambda: None,
        outage: OutageLog | None = None,
        on_reset: OnReset | None = None,
        rebaseline: float = 86_400.0,
        clock: Clock = time.time,
        owner: str | None = None,
        tick: float = CLAIM_TICK,
        spread: float = START_SPREAD,
    ) -> None:
        if capacity < 1:
            raise ValueError(f"capacity must be at least 1, not {capacity}")
        self.feeds = tuple(feeds)
        self.poll = poll
        self.schedule = schedule
        self.default_interval = default_interval
        self.lease = lease
        self.capacity = capacity
        self.check_health = check_health
        self.wake = wake
        self.outage = outage or OutageLog()
        self.on_reset = on_reset
        self.rebaseline = rebaseline
        self.clock = clock
        #: This replica's name in the store: every lease token starts with it.
        self.owner = owner or replica_id()
        self.tick = tick
        #: Feeds entering the schedule are due over this many seconds.
        self.spread = spread
        self._by_id = {f.id: f for f in self.feeds}
        self._tokens = count(1)
        #: Polls in flight: feed id -> its task, and the token of the lease it polls under.
        self._inflight: dict[str, asyncio.Task[None]] = {}
        self._leases: dict[str, str] = {}
        #: Schedule changes not written yet (a reload's, or the store was down).
        self._to_add: dict[str, float] = {}
        self._to_remove: set[str] = set()
        self._to_reschedule: dict[str, float] = {}
        #: Finishes the store refused (it was down): feed id -> (token, due).
        self._unfinished: dict[str, tuple[str, float]] = {}
        #: Claimed feeds this replica's config lacks, logged once each.
        self._unknown: set[str] = set()
        #: The generation marker seen last, and when it was last seen (before the call).
        self._generation: str | None = None
        self._confirmed_at = 0.0
        #: The last reset seen, and whether ``on_reset`` still has to hear of it.
        self.last_reset: StoreReset | None = None
        self._reset_pending = False
        #: The earliest time in the schedule at the last claim round (None: unknown).
        self._next_due: float | None = None
        self._wakeup = asyncio.Event()
        self._stopping = False
        self._tasks: list[asyncio.Task[None]] = []

    # -- the FeedScheduler interface -------------------------------------------------------

    def start(self, not_before: Mapping[str, float] | None = None) -> None:
        """Put every feed into the shared schedule (one already there keeps its time) and
        start claiming. First polls are spread over a few seconds; a feed named in
        ``not_before`` (feed id -> epoch seconds, a failing feed's backoff) waits until then.
        """
        self._to_add.update(self._first_dues(self.feeds, not_before or {}))
        self._tasks.append(asyncio.create_task(self._claim_loop(), name="feed-claims"))
        if self.check_health is not None:
            self._tasks.append(asyncio.create_task(self._health_loop(), name="feed-health"))

    def update(
        self, feeds: Sequence[FeedConfig], not_before: Mapping[str, float] | None = None
    ) -> tuple[list[str], list[str], list[str]]:
        """Take a new feed list (a reload); returns the ids (added, removed, changed).

        Synchronous, like ``FeedScheduler.update``: the store is told by the claim loop.
        Added feeds go into the schedule due within seconds (one already there, from a
        replica that reloaded first, keeps its time); removed ones leave it; one whose URL
        or interval changed is due within seconds unless a replica is polling it.
        """
        old, new = self._by_id, {f.id: f for f in feeds}
        added = [i for i in new if i not in old]
        removed = [i for i in old if i not in new]
        changed = [i for i in new if i in old and new[i] != old[i]]
        moved = [i for i in changed if _moved(old[i], new[i], self.default_interval)]
        dues = self._first_dues([new[i] for i in added + moved], not_before or {})
        for feed_id in removed:
            self._to_add.pop(feed_id, None)
            self._to_reschedule.pop(feed_id, None)
            self._to_remove.add(feed_id)
        for feed_id in added:
            self._to_remove.discard(feed_id)
            self._to_add[feed_id] = dues[feed_id]
        for feed_id in moved:
            self._to_reschedule[feed_id] = dues[feed_id]
        self.feeds = tuple(feeds)
        self._by_id = new
        self._wakeup.set()
        return added, removed, changed

    @property
    def running(self) -> bool:
        """Whether the claim loop runs (for /healthz)."""
        return bool(self._tasks) and not self._stopping and not self._tasks[0].done()

    async def shutdown(self, grace: float) -> None:
        """Stop claiming; let polls in flight finish within ``grace`` seconds, then give
        the leases of those cut off back to the schedule, due at once (another replica
        takes them over without waiting for the lease to end)."""
        self._stopping = True
        self._wakeup.set()
        for task in self._tasks[1:]:
            task.cancel()  # the health check
        if self._tasks:  # the claim loop ends at its next turn (a claim in flight completes)
            await asyncio.wait(self._tasks, timeout=grace)
        inflight = dict(self._inflight)
        if inflight:
            _, pending = await asyncio.wait(set(inflight.values()), timeout=grace)
            for task in pending:
                task.cancel()  # the poller releases the articles it had claimed
            if pending:
                await asyncio.wait(pending)
            now = self.clock()
            for feed_id, task in inflight.items():
                if task in pending and feed_id in self._leases:
                    await self._finish(feed_id, self._leases.pop(feed_id), now)
        for task in self._tasks:
            if not task.done():
                task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)

    # -- re-baselining ------------------------------------------------------------------

    async def baseline(self) -> float | None:
        """For the first poll of a feed with no state in the store: the time before which
        its items are recorded without alerting (a reset wiped what was seen), or None.

        No state also means a new feed: the marker is read again to tell (one read per
        such poll), so a poll that began before the claim loop saw a reset still
        re-baselines.
        """
        if self._generation is not None:
            checked = self.clock()
            self._observe(await self.schedule.generation(uuid.uuid4().hex), checked)
        reset = self.last_reset
        if reset is not None and self.clock() < reset.detected_at + self.rebaseline:
            return reset.cutoff
        return None

    def _observe(self, generation: str, checked_at: float) -> None:
        """Compare the store's marker, read at ``checked_at`` or later, with the one known."""
        if self._generation is None or generation == self._generation:
            self._generation = generation
            self._confirmed_at = max(self._confirmed_at, checked_at)
            return
        now = self.clock()
        reset = StoreReset(self._generation, generation, self._confirmed_at, now)
        self._generation, self._confirmed_at = generation, checked_at
        self.last_reset, self._reset_pending = reset, True
        # Every feed back into the (empty) schedule; NX keeps what a replica put back first.
        self._to_add.update(self._first_dues(self.feeds, {}))
        self._unfinished.clear()  # their leases went with the store
        log.warning(
            "store_reset",
            generation=generation,
            previous=reset.previous,
            cutoff=reset.cutoff,
            detail="the store lost its data (restarted empty or flushed): feeds go back into "
            "the schedule, and items published before the cutoff are recorded as seen "
            "without alerting",
        )
        self._wakeup.set()

    # -- the claim loop -----------------------------------------------------------------

    async def _claim_loop(self) -> None:
        last_round = -float("inf")
        while not self._stopping:
            now = self.clock()
            free = len(self._inflight) < self.capacity
            due = self._next_due is not None and self._next_due <= now
            if self._changes_pending() or now - last_round >= self.tick or (free and due):
                last_round = now
                try:
                    await self._write_changes()
                    await self._claim_round()
                except StoreError as e:
                    self.outage.failed(e, "schedule")  # the next round retries
                    self._next_due = None
                except Exception:
                    log.exception("schedule", status="crashed")
                    self._next_due = None
            # Until the next round is owed: a tick after this one, or the next due feed if
            # there is room for it; a poll ending or a reload wakes the loop sooner.
            wait = last_round + self.tick - self.clock()
            if self._next_due is not None and len(self._inflight) < self.capacity:
                # Replicas wake for the same due feed: a random head start, not the same
                # replica's timer firing first every time, decides which one claims it.
                head_start = random.uniform(0, DUE_JITTER)
                wait = min(wait, self._next_due - self.clock() + head_start)
            await self._pause(wait)

    def _changes_pending(self) -> bool:
        return bool(
            self._reset_pending
            or self._to_add
            or self._to_remove
            or self._to_reschedule
            or self._unfinished
        )

    async def _pause(self, seconds: float) -> None:
        self._wakeup.clear()
        if self._stopping:
            return
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._wakeup.wait(), timeout=max(seconds, MIN_PAUSE))

    async def _write_changes(self) -> None:
        """Tell the store what reloads, a reset or an outage left pending, and whoever has to
        hear of a reset; each change is dropped once written (a failure keeps the rest)."""
        if self._reset_pending and self.last_reset is not None:
            if self.on_reset is not None:
                try:
                    await self.on_reset(self.last_reset)
                except StoreError:
                    raise  # told again once the store answers
                except Exception:
                    log.exception("store_reset", status="crashed")
            self._reset_pending = False
        if self._to_remove:
            gone = set(self._to_remove)
            await self.schedule.remove_feeds(sorted(gone))
            self._to_remove -= gone
        for pending, write in (
            (self._to_add, self.schedule.add_feeds),
            (self._to_reschedule, lambda due: self.schedule.reschedule_feeds(due, self.clock())),
        ):
            if pending:
                batch = dict(pending)
                await write(batch)
                for feed_id, due in batch.items():
                    if pending.get(feed_id) == due:
                        del pending[feed_id]
        for feed_id, (token, due) in list(self._unfinished.items()):
            await self._finish(feed_id, token, due)

    async def _claim_round(self) -> None:
        """Claim what is due and fits (nothing if there is no room: the round still reads
        the generation and the next due time)."""
        free = self.capacity - len(self._inflight)
        checked = self.clock()
        token = f"{self.owner}:{next(self._tokens)}"
        claim = await self.schedule.claim_feeds(checked, self.lease, free, token, uuid.uuid4().hex)
        self.outage.succeeded()
        self._observe(claim.generation, checked)
        for feed_id in claim.feeds:
            self._unfinished.pop(feed_id, None)  # a newer lease supersedes an old finish
            feed = self._by_id.get(feed_id)
            if feed is None:
                await self._hand_back(feed_id, token)
            elif feed_id in self._inflight:
                # Its poll here overran the lease: handed straight back for another replica
                # to poll (a hung poll must not hold the feed for good); this poll's state
                # write and finish are then fenced out.
                await self.schedule.finish_feed(feed_id, token, checked)
            else:
                self._leases[feed_id] = token
                task = asyncio.create_task(self._poll(feed, token), name=f"poll {feed_id}")
                self._inflight[feed_id] = task
        self._next_due = claim.next_due

    async def _hand_back(self, feed_id: str, token: str) -> None:
        """A feed other replicas' config has: back to them, due a default interval later."""
        if feed_id not in self._unknown:
            self._unknown.add(feed_id)
            log.info(
                "feed_not_configured",
                feed=feed_id,
                detail="in the shared schedule but not in this replica's config: left to the "
                "replicas whose config has it (replicas should share one rules directory)",
            )
        due = self.clock() + self.default_interval.total_seconds()
        await self.schedule.finish_feed(feed_id, token, due)

    async def _poll(self, feed: FeedConfig, token: str) -> None:
        interval = interval_for(feed, self.default_interval).total_seconds()

        async def save_state(feed_id: str, state: FeedState) -> bool:
            # Fenced by this poll's lease: refused once another replica claimed the feed.
            return await self.schedule.save_feed_state(feed_id, token, state)

        try:
            report = await self.poll(feed, save_state)
        except StoreError as e:
            # The store is down: nothing was fetched. Retry within a minute, at a random
            # point of it, so that polls resume spread out rather than all at once.
            self.outage.failed(e, "poll")
            wait = min(interval, STORE_RETRY)
            due = self.clock() + random.uniform(wait / 2, wait)
        except Exception:
            log.exception("poll", feed=feed.id, status="crashed")  # a bug: retry an interval on
            due = self.clock() + interval
        else:
            self.outage.succeeded()
            delay = report.next_poll_in if report.next_poll_in is not None else interval
            due = self.clock() + delay
            if report.status == "error":
                log.info("poll_backoff", feed=feed.id, retry_in=round(delay, 1))
        current = self._by_id.get(feed.id)
        if current is not None and _moved(feed, current, self.default_interval):
            due = self.clock() + random.uniform(0, self.spread)  # reloaded meanwhile
        held = self._leases.pop(feed.id, None)
        was_full = len(self._inflight) >= self.capacity
        del self._inflight[feed.id]
        if held is not None:
            await self._finish(feed.id, held, due)
        if was_full:  # room again: claim now (otherwise the next due time is the cue)
            self._wakeup.set()

    async def _finish(self, feed_id: str, token: str, due: float) -> None:
        """Set the feed's next due time under ``token``; remembered if the store is down."""
        try:
            applied = await self.schedule.finish_feed(feed_id, token, due)
        except StoreError as e:
            self.outage.failed(e, "poll")
            self._unfinished[feed_id] = (token, due)
            return
        if not applied and feed_id in self._by_id:
            log.warning(
                "feed_lease_lost",
                feed=feed_id,
                detail="this replica held the feed past its lease (MONITOR_FEED_LEASE) and "
                "another replica has it now; its schedule is left to that one",
            )

    # -- feed health --------------------------------------------------------------------

    async def _health_loop(self) -> None:
        while not self._stopping:
            await asyncio.sleep(HEALTH_CHECK_INTERVAL)
            await self._check_health()

    async def _check_health(self) -> None:
        """Check every feed nobody is polling right now (here or on another replica)."""
        if self.check_health is None:
            return
        try:
            leased = await self.schedule.leased_feeds(self.clock())
            queued = await self.check_health(frozenset(leased) | frozenset(self._inflight))
        except StoreError as e:
            self.outage.failed(e, "feed_health")  # next minute
            return
        except Exception:
            log.exception("feed_health", status="crashed")
            return
        if queued:
            self.wake()

    def _first_dues(
        self, feeds: Collection[FeedConfig], not_before: Mapping[str, float]
    ) -> dict[str, float]:
        """Due times of feeds entering the schedule: spread over the next seconds, a
        failing feed's backoff kept."""
        now = self.clock()
        return {
            f.id: max(now + random.uniform(0, self.spread), not_before.get(f.id, 0.0))
            for f in feeds
        }
