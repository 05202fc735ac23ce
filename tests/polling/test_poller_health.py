"""Feed health alerts from polls and the minute check: one down and one recovered alert per
incident, never doubled, on memory and SQLite."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest

from monitor.config.models import FeedConfig, FeedHealthConfig
from monitor.model import FeedState
from monitor.polling.health import HEALTH_RULE_ID
from monitor.store.base import StateStore
from monitor.store.memory import MemoryStore
from monitor.store.sqlite import FILE_NAME, SqliteStore
from tests.conftest import FrozenClock
from tests.polling.test_poller import FEED, OTHER, make_poller, serve, when
from tests.servers import Item, rss

# -- feed health alerts ---------------------------------------------------------------


@pytest.fixture(params=["memory", "sqlite"])
async def health_store(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[StateStore]:
    if request.param == "memory":
        yield MemoryStore()
        return
    store = await SqliteStore.open(tmp_path / FILE_NAME)
    try:
        yield store
    finally:
        await store.close()


HEALTH = FeedHealthConfig(notify=["ops", "pager"], failing_after="1h", silent_after="3d")


class Switch:
    """A feed server whose answer the test flips."""

    def __init__(self, clock: FrozenClock) -> None:
        self.status = 200
        self.items: list[Item] = []
        self.clock = clock

    def __call__(self, request: httpx.Request) -> httpx.Response:
        if self.status != 200:
            return httpx.Response(self.status)
        return httpx.Response(200, text=rss(self.items))

    def publish(self, n: int) -> None:
        at = when(self.clock, minutes=1)
        self.items.insert(0, Item(f"S{n}", f"http://n.test/{n}", "x", at, guid=f"tag:{n}"))


async def health_alerts(store: StateStore) -> list[tuple[str, str, str]]:
    return sorted(
        (e.alert.channel, e.alert.article.title, e.alert.id)
        for e in await store.pending()
        if e.alert.rule_id == HEALTH_RULE_ID
    )


async def test_one_down_and_one_recovered_alert_per_incident(
    clock: FrozenClock, health_store: StateStore
) -> None:
    server = Switch(clock)
    server.publish(1)
    poller = make_poller(server, clock, store=health_store, feed_health=HEALTH)
    await poller.poll(FEED)
    server.status = 503
    started = clock.now + 60
    for _ in range(5):  # failing for 59 minutes: below the threshold
        clock.advance(60 if clock.now < started else 14 * 60 + 45)
        await poller.poll(FEED)
    assert clock.now - started == 59 * 60
    assert await health_alerts(health_store) == []
    clock.advance(60)
    report = await poller.poll(FEED)
    assert report.health_alerts == 2
    alerts = await health_alerts(health_store)
    assert [(c, t) for c, t, _ in alerts] == [
        ("ops", "Feed wire failing since 2027-01-15 08:01 UTC"),
        ("pager", "Feed wire failing since 2027-01-15 08:01 UTC"),
    ]
    # More failures, and a restart (a fresh poller on the same store): nothing new.
    for _ in range(3):
        clock.advance(3600)
        await make_poller(server, clock, store=health_store, feed_health=HEALTH).poll(FEED)
    assert len(await health_alerts(health_store)) == 2
    state = await health_store.get_feed_state("wire")
    assert state is not None and (state.incident, state.incident_since) == ("failing", started)

    server.status = 200
    server.publish(2)
    clock.advance(600)
    assert (await poller.poll(FEED)).health_alerts == 2
    titles = [t for c, t, _ in await health_alerts(health_store) if c == "ops"]
    assert titles == ["Feed wire failing since 2027-01-15 08:01 UTC", "Feed wire recovered"]
    clock.advance(600)
    await poller.poll(FEED)
    assert len(await health_alerts(health_store)) == 4, "recovered once"


async def test_a_crash_before_the_state_write_does_not_double_the_alert(
    clock: FrozenClock, health_store: StateStore
) -> None:
    server = Switch(clock)
    poller = make_poller(server, clock, store=health_store, feed_health=HEALTH)
    await poller.poll(FEED)
    server.status = 500
    await poller.poll(FEED)
    before = await health_store.get_feed_state("wire")
    clock.advance(3600)
    await poller.poll(FEED)
    assert len(await health_alerts(health_store)) == 2
    # Undo the state write, as if the process died right after enqueueing.
    assert before is not None
    await health_store.put_feed_state("wire", before)
    report = await poller.poll(FEED)
    assert report.health_alerts == 0, "same deterministic ids: the outbox keeps one"
    assert len(await health_alerts(health_store)) == 2


async def test_a_silent_feed_alerts_and_recovers_with_a_new_entry(
    clock: FrozenClock, health_store: StateStore
) -> None:
    server = Switch(clock)
    server.publish(1)
    poller = make_poller(server, clock, store=health_store, feed_health=HEALTH)
    await poller.poll(FEED)
    last_new = clock.now
    clock.advance(3 * 86400 - 1)
    await poller.poll(FEED)
    assert await health_alerts(health_store) == []
    clock.advance(1)
    await poller.poll(FEED)
    assert {t for _, t, _ in await health_alerts(health_store)} == {
        "Feed wire silent since 2027-01-15 08:00 UTC"
    }
    state = await health_store.get_feed_state("wire")
    assert state is not None and state.incident_since == last_new
    server.publish(2)
    clock.advance(60)
    await poller.poll(FEED)
    assert {t for _, t, _ in await health_alerts(health_store)} == {
        "Feed wire silent since 2027-01-15 08:00 UTC",
        "Feed wire recovered",
    }


async def test_a_gone_feed_alerts_at_once_and_a_feed_can_opt_out_of_silence(
    clock: FrozenClock,
) -> None:
    server = Switch(clock)
    poller = make_poller(server, clock, feed_health=HEALTH)
    quiet = FeedConfig(id="quiet", url="http://feeds.test/quiet.xml", silent_after="0")
    await poller.poll(quiet)
    clock.advance(30 * 86400)
    await poller.poll(quiet)
    assert await health_alerts(poller.store) == []
    server.status = 410
    await poller.poll(FEED)
    titles = {t for _, t, _ in await health_alerts(poller.store)}
    assert titles == {"Feed wire disabled: HTTP 410 Gone"}
    clock.advance(3600)
    assert (await poller.poll(FEED)).health_alerts == 0


async def test_only_failing_feeds_wait_after_a_restart(clock: FrozenClock) -> None:
    store = MemoryStore()
    later = clock.now + 3600
    await store.put_feed_state(
        "wire", FeedState(url=FEED.url, consecutive_failures=2, next_poll_at=later)
    )
    await store.put_feed_state("mirror", FeedState(url=OTHER.url, next_poll_at=later))
    edited = FeedConfig(id="edited", url="http://feeds.test/edited.xml")
    await store.put_feed_state(
        "edited",
        FeedState(url="http://feeds.test/old.xml", consecutive_failures=5, next_poll_at=later),
    )
    poller = make_poller(serve(rss([])), clock, store=store)
    assert await poller.first_polls([FEED, OTHER, edited]) == {"wire": later}
    clock.advance(3601)
    assert await poller.first_polls([FEED, OTHER, edited]) == {}


async def test_the_health_check_alerts_between_polls(
    clock: FrozenClock, health_store: StateStore
) -> None:
    """A failing feed's next poll is an hour of backoff away: the minute check alerts on time."""
    server = Switch(clock)
    server.publish(1)
    poller = make_poller(server, clock, store=health_store, feed_health=HEALTH)
    await poller.poll(FEED)
    server.status = 503
    clock.advance(60)
    await poller.poll(FEED)  # failing since now; no poll again for a while
    clock.advance(3599)
    assert await poller.check_health([FEED]) == 0
    clock.advance(1)
    assert await poller.check_health([FEED], busy={"wire"}) == 0, "left to its poll"
    assert await poller.check_health([FEED]) == 2
    assert await poller.check_health([FEED]) == 0, "one incident, one alert"
    state = await health_store.get_feed_state("wire")
    assert state is not None and state.incident == "failing"
    assert state.consecutive_failures == 1  # nothing but the incident was written
    # The next poll sees the incident is open and adds nothing; recovery still comes from a poll.
    clock.advance(600)
    assert (await poller.poll(FEED)).health_alerts == 0
    server.status = 200
    server.publish(2)
    clock.advance(600)
    assert (await poller.poll(FEED)).health_alerts == 2
    titles = [t for c, t, _ in await health_alerts(health_store) if c == "ops"]
    assert titles == ["Feed wire failing since 2027-01-15 08:01 UTC", "Feed wire recovered"]


async def test_the_health_check_does_nothing_without_a_feed_health_section(
    clock: FrozenClock,
) -> None:
    server = Switch(clock)
    poller = make_poller(server, clock)
    server.status = 503
    await poller.poll(FEED)
    clock.advance(86_400)
    assert await poller.check_health([FEED]) == 0
