"""The poll stage on fakes: httpx.MockTransport, MemoryStore, a frozen clock."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import httpx
import pytest

from monitor.config_models import FeedConfig
from monitor.ingest import parse_feed
from monitor.matching import RuleSpec, compile_rules
from monitor.poller import Poller
from monitor.store.memory import MemoryStore
from monitor.types import Article, Match
from tests.conftest import FrozenClock
from tests.servers import Item, rss

FEED = FeedConfig(id="wire", url="http://feeds.test/wire.xml")
OTHER = FeedConfig(id="mirror", url="http://feeds.test/mirror.xml")


def make_poller(
    handler: Callable[[httpx.Request], httpx.Response],
    clock: FrozenClock,
    store: MemoryStore | None = None,
) -> Poller:
    return Poller(
        store=store or MemoryStore(),
        http=httpx.AsyncClient(transport=httpx.MockTransport(handler)),
        ruleset=compile_rules([RuleSpec("drones", "Iran AND drones")]),
        routes={"drones": ("Iran AND drones", ("ops", "log"))},
        max_age=timedelta(hours=24),
        seen_retention=timedelta(days=30),
        fetch_timeout=5,
        max_feed_bytes=1_000_000,
        clock=clock,
    )


def when(clock: FrozenClock, **ago: float) -> datetime:
    return datetime.fromtimestamp(clock.now, UTC) - timedelta(**ago)


def serve(body: str, etag: str = '"v1"') -> Callable[[httpx.Request], httpx.Response]:
    def handler(request: httpx.Request) -> httpx.Response:
        if request.headers.get("if-none-match") == etag:
            return httpx.Response(304, headers={"etag": etag})
        return httpx.Response(
            200, text=body, headers={"etag": etag, "content-type": "application/rss+xml"}
        )

    return handler


async def test_first_poll_records_old_items_without_alerting(clock: FrozenClock) -> None:
    body = rss(
        [
            Item(
                "Iran drones, fresh", "http://n.test/1", "Iran sends drones", when(clock, hours=1)
            ),
            Item("Iran drones, stale", "http://n.test/2", "Iran sends drones", when(clock, days=2)),
            Item("Weather", "http://n.test/3", "Sunny", when(clock, minutes=5)),
        ]
    )
    poller = make_poller(serve(body), clock)
    report = await poller.poll(FEED)
    assert (report.status, report.entries, report.new, report.too_old) == ("ok", 3, 3, 1)
    assert report.alerts == 2  # one match, two channels
    pending = await poller.store.pending()
    assert {e.alert.article.title for e in pending} == {"Iran drones, fresh"}
    assert {e.alert.channel for e in pending} == {"ops", "log"}
    state = await poller.store.get_feed_state("wire")
    assert state is not None and state.first_polled_at == clock.now
    assert state.validators.etag == '"v1"'


async def test_second_poll_is_conditional_and_alerts_nothing(clock: FrozenClock) -> None:
    body = rss([Item("Iran drones", "http://n.test/1", "Iran drones", when(clock, hours=1))])
    poller = make_poller(serve(body), clock)
    assert (await poller.poll(FEED)).alerts == 2
    clock.advance(300)
    again = await poller.poll(FEED)
    assert again.status == "not_modified"
    assert len(await poller.store.pending()) == 2


async def test_same_article_in_two_feeds_is_processed_once(clock: FrozenClock) -> None:
    url = "http://n.test/story?utm_source=rss&id=7"
    wire = rss([Item("Iran drones", url, "Iran drones", when(clock, hours=1), guid="wire-7")])
    mirror = rss(
        [
            Item(
                "Iran drones (mirror)",
                "http://N.TEST/story?id=7#top",
                "Iran drones",
                when(clock, hours=1),
                guid="mirror-99",
            )
        ]
    )
    bodies = {"/wire.xml": wire, "/mirror.xml": mirror}

    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, text=bodies[request.url.path])

    poller = make_poller(handler, clock)
    assert (await poller.poll(FEED)).new == 1
    report = await poller.poll(OTHER)
    assert report.new == 0 and report.alerts == 0
    assert len(await poller.store.pending()) == 2


async def test_failing_feed_counts_failures_and_recovers(clock: FrozenClock) -> None:
    status = {"code": 503}

    def handler(request: httpx.Request) -> httpx.Response:
        if status["code"] != 200:
            return httpx.Response(status["code"], headers={"retry-after": "120"})
        return httpx.Response(200, text=rss([]))

    poller = make_poller(handler, clock)
    first = await poller.poll(FEED)
    second = await poller.poll(FEED)
    assert (first.status, first.consecutive_failures) == ("error", 1)
    assert second.consecutive_failures == 2 and second.retry_after == 120
    assert "503" in second.error
    status["code"] = 200
    assert (await poller.poll(FEED)).status == "ok"
    state = await poller.store.get_feed_state("wire")
    assert state is not None and state.consecutive_failures == 0 and state.last_error == ""


async def test_not_a_feed_is_an_error_not_an_exception(clock: FrozenClock) -> None:
    poller = make_poller(
        lambda r: httpx.Response(
            200, text="<html><body>hi</body></html>", headers={"content-type": "text/html"}
        ),
        clock,
    )
    report = await poller.poll(FEED)
    assert report.status == "error" and "not a feed" in report.error


async def test_crash_while_matching_releases_the_article(clock: FrozenClock) -> None:
    body = rss([Item("Iran drones", "http://n.test/1", "Iran drones", when(clock, hours=1))])
    poller = make_poller(serve(body, etag='"x"'), clock)
    real = poller.ruleset

    class Exploding:
        def match(self, article: Article) -> list[Match]:
            raise RuntimeError("boom")

    poller.ruleset = Exploding()  # type: ignore[assignment]
    with pytest.raises(RuntimeError):
        await poller.poll(FEED)
    poller.ruleset = real
    # The feed state was not advanced, so the next poll refetches and redoes the article.
    report = await poller.poll(FEED)
    assert report.new == 1 and report.alerts == 2


async def test_bare_guids_are_only_unique_within_their_feed(clock: FrozenClock) -> None:
    """Two feeds numbering their items "1" are two different articles; URI guids are global."""
    wire = rss(
        [Item("Iran drones A", "http://a.test/x", "Iran drones", when(clock, hours=1), guid="1")]
    )
    mirror = rss(
        [Item("Iran drones B", "http://b.test/y", "Iran drones", when(clock, hours=1), guid="1")]
    )
    bodies = {"/wire.xml": wire, "/mirror.xml": mirror}
    poller = make_poller(lambda r: httpx.Response(200, text=bodies[r.url.path]), clock)
    assert (await poller.poll(FEED)).new == 1
    assert (await poller.poll(OTHER)).new == 1

    uri = "tag:news.test,2026:story-1"
    bodies["/wire.xml"] = rss([Item("C", "http://a.test/c", "x", when(clock, hours=1), guid=uri)])
    bodies["/mirror.xml"] = rss([Item("D", "http://b.test/d", "x", when(clock, hours=1), guid=uri)])
    assert (await poller.poll(FEED)).new == 1
    assert (await poller.poll(OTHER)).new == 0


async def test_article_held_by_a_dead_process_is_redone_later(clock: FrozenClock) -> None:
    """A crash between claim and mark-seen must not lose the article, even behind a 304."""
    body = rss(
        [
            Item(
                "Iran drones",
                "http://n.test/1",
                "Iran drones",
                when(clock, hours=1),
                guid="http://n.test/1",
            )
        ]
    )
    store = MemoryStore()
    poller = make_poller(serve(body), clock, store=store)
    poller.article_lease = 60
    # Another process claimed the article, then died before enqueueing its alerts.
    (article,) = parse_feed("wire", body.encode(), {}, fetched_at=clock.now).articles
    assert await store.claim_article(article.dedup_keys(), clock.now, 60)

    report = await poller.poll(FEED)
    assert (report.new, report.deferred, report.alerts) == (0, 1, 0)
    state = await store.get_feed_state("wire")
    assert state is not None and state.validators.etag is None, "validators not advanced"

    clock.advance(61)  # the dead process's lease ends
    again = await poller.poll(FEED)
    assert again.status == "ok", "refetched in full, not a 304"
    assert (again.new, again.deferred, again.alerts) == (1, 0, 2)
    state = await store.get_feed_state("wire")
    assert state is not None and state.validators.etag == '"v1"'
