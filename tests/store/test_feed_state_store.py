"""Contract of :class:`~monitor.store.base.FeedStateStore`, run against every backend."""

from __future__ import annotations

from monitor.model import FeedState, FeedValidators
from monitor.store.base import FeedStateStore
from tests.conftest import FrozenClock


async def test_feed_state_round_trip(store: FeedStateStore, clock: FrozenClock) -> None:
    assert await store.get_feed_state("feed-1") is None
    state = FeedState(
        validators=FeedValidators(etag='W/"abc"', last_modified="Wed, 21 Oct 2026 07:28:00 GMT"),
        first_polled_at=clock.now - 3600.25,
        last_success_at=clock.now,
        consecutive_failures=0,
        last_error="",
    )
    await store.put_feed_state("feed-1", state)
    assert await store.get_feed_state("feed-1") == state

    failed = FeedState(
        first_polled_at=state.first_polled_at, consecutive_failures=3, last_error="HTTP 503 — down"
    )
    await store.put_feed_state("feed-1", failed)
    assert await store.get_feed_state("feed-1") == failed
    assert await store.get_feed_state("feed-2") is None
