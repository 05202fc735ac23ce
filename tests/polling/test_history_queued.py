"""Polls record every alert they hand to the outbox as "queued" in the alert history: the
alerts of new articles, of a rule's backfill, and feed health alerts."""

from __future__ import annotations

import httpx

from monitor.config.models import FeedHealthConfig
from monitor.ingest import parse_feed
from monitor.model import ArchivedArticle, Attempt, HistoryQuery
from monitor.polling.health import HEALTH_RULE_ID
from monitor.store.memory import MemoryStore
from tests.conftest import FrozenClock
from tests.polling.test_poller import FEED, make_poller, serve, when
from tests.servers import Item, rss


async def history(store: MemoryStore, **query: object) -> list[tuple[str, str, str, float]]:
    page = await store.search_history(HistoryQuery(limit=100, **query))  # type: ignore[arg-type]
    return sorted((e.alert.rule_id, e.alert.channel, e.status, e.created_at) for e in page.entries)


async def test_a_poll_records_its_alerts_as_queued(clock: FrozenClock) -> None:
    items = [
        Item("Iran drones", "http://n.test/1", "Iran sends drones", when(clock, hours=1)),
        Item("Weather", "http://n.test/2", "Sunny", when(clock, hours=1)),
    ]
    store = MemoryStore()
    poller = make_poller(serve(rss(items)), clock, store=store)
    assert poller.history_retention == poller.articles.history_retention > 0
    report = await poller.poll(FEED)
    assert report.alerts == 2
    assert await history(store) == [
        ("drones", "log", "pending", clock.now),
        ("drones", "ops", "pending", clock.now),
    ]
    page = await store.search_history(HistoryQuery())
    assert {e.events for e in page.entries} == {(Attempt(clock.now, "queued"),)}


async def test_queued_again_changes_nothing(clock: FrozenClock) -> None:
    """A copy under a new guid makes the same alert ids: the outbox and the history keep
    what they had (here: delivered)."""
    first = [Item("Iran drones", "http://n.test/1", "Iran sends drones", when(clock, hours=1))]
    store = MemoryStore()
    poller = make_poller(serve(rss(first)), clock, store=store)
    await poller.poll(FEED)
    [entry, _] = (await store.search_history(HistoryQuery())).entries
    await store.record_history(
        [(entry.alert, "delivered", Attempt(clock.now + 1, "delivered"))], 3600
    )
    clock.advance(60)
    await poller.articles.process([entry.alert.article])  # processed again (a redo)
    again = await store.history_entry(entry.alert.id)
    assert again is not None and again.status == "delivered" and len(again.events) == 2


async def test_history_off_records_nothing(clock: FrozenClock) -> None:
    items = [Item("Iran drones", "http://n.test/1", "Iran sends drones", when(clock, hours=1))]
    store = MemoryStore()
    poller = make_poller(serve(rss(items)), clock, store=store)
    poller.articles.history_retention = 0.0
    assert (await poller.poll(FEED)).alerts == 2
    assert await history(store) == []


async def test_a_backfill_records_its_alerts(clock: FrozenClock) -> None:
    store = MemoryStore()
    poller = make_poller(serve(rss([])), clock, store=store)
    items = [Item("Iran drones", "http://n.test/1", "Iran sends drones", when(clock, hours=2))]
    parsed = parse_feed("wire", rss(items).encode(), {}, fetched_at=clock.now)
    entries = [ArchivedArticle(a, clock.now - 3600) for a in parsed.articles]
    assert await poller.articles.backfill(entries, {"drones": clock.now - 7200}, {}) == 2
    assert await history(store) == [
        ("drones", "log", "pending", clock.now),
        ("drones", "ops", "pending", clock.now),
    ]


async def test_feed_health_alerts_are_recorded(clock: FrozenClock) -> None:
    health = FeedHealthConfig(notify=["ops"], failing_after="1h")
    store = MemoryStore()

    def down(request: httpx.Request) -> httpx.Response:
        return httpx.Response(503)

    poller = make_poller(down, clock, store=store, feed_health=health)
    await poller.poll(FEED)
    clock.advance(3600)
    assert (await poller.poll(FEED)).health_alerts == 1
    assert await history(store, rule=HEALTH_RULE_ID) == [
        (HEALTH_RULE_ID, "ops", "pending", clock.now)
    ]
