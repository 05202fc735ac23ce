"""Where a poll stores its feed's :class:`~monitor.model.FeedState`: a writer given per poll.

A poll of the embedded store, of ``run --once`` or of the APScheduler ``FeedScheduler``
writes straight to the store (:func:`store_writer`). A poll run under a shared-schedule
lease writes through the schedule, fenced by that lease
(:meth:`~monitor.store.schedule.FeedSchedule.save_feed_state`): a replica that stalled
past its lease, while another one polled the feed, must not overwrite the newer state
with its older one when it wakes up. Such a write can be refused; :func:`write_state`
logs that and goes on, since the poll's work (articles claimed, alerts queued, seen
marks) is done and stays right: only its view of the feed is stale.

The shared scheduler hands the writer to its poll callable (the daemon's
``Monitor.poll_feed``), which passes it on to ``Poller.poll``: a writer per poll, not an
attribute of the poller, since many polls run at once, each with its own lease.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from monitor.log import get_logger
from monitor.model import FeedState
from monitor.store.base import FeedStateStore

__all__ = ["SaveFeedState", "store_writer", "write_state"]

log = get_logger("monitor.poll")

#: Stores a feed's state (feed id, state); False: refused, another replica holds the
#: feed's lease now.
SaveFeedState = Callable[[str, FeedState], Awaitable[bool]]


def store_writer(store: FeedStateStore) -> SaveFeedState:
    """The unfenced writer: ``store.put_feed_state``, which always stores."""

    async def put(feed_id: str, state: FeedState) -> bool:
        await store.put_feed_state(feed_id, state)
        return True

    return put


async def write_state(writer: SaveFeedState, feed_id: str, state: FeedState) -> None:
    """Store a poll's feed state with ``writer``; a refusal is logged, not raised (the
    poll's report still goes to its scheduler, whose fenced finish is refused too)."""
    if not await writer(feed_id, state):
        log.warning(
            "feed_state_fenced",
            feed=feed_id,
            detail="this poll outlasted its lease (MONITOR_FEED_LEASE) and another replica "
            "holds the feed now: the feed's state is left to that one, not overwritten",
        )
