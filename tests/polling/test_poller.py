"""The poll stage on fakes: httpx.MockTransport, MemoryStore (and SQLite), a frozen clock.

Besides processing articles: the feed state each poll records (next poll,
failures, moves, 410, entries new to the feed) and the feed health alerts.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta

import httpx
import pytest
from structlog.testing import capture_logs

from monitor.config.models import FeedConfig, FeedHealthConfig
from monitor.ingest import parse_feed
from monitor.matching import RuleSpec, compile_rules
from monitor.model import Article, ClaimResult, FeedState, FeedValidators, Match
from monitor.polling.poller import Poller
from monitor.store.base import StateStore
from monitor.store.codec import decode_feed_state, encode_feed_state
from monitor.store.memory import MemoryStore
from tests.conftest import FrozenClock
from tests.servers import Item, rss

FEED = FeedConfig(id="wire", url="http://feeds.test/wire.xml")
OTHER = FeedConfig(id="mirror", url="http://feeds.test/mirror.xml")


def make_poller(
    handler: Callable[[httpx.Request], httpx.Response],
    clock: FrozenClock,
    store: StateStore | None = None,
    feed_health: FeedHealthConfig | None = None,
) -> Poller:
    return Poller(
        store=store or MemoryStore(),
        http=httpx.AsyncClient(transport=httpx.MockTransport(handler), follow_redirects=True),
        ruleset=compile_rules([RuleSpec("drones", "Iran AND drones")]),
        routes={"drones": ("Iran AND drones", ("ops", "log"))},
        max_age=timedelta(hours=24),
        seen_retention=timedelta(days=30),
        fetch_timeout=5,
        max_feed_bytes=1_000_000,
        clock=clock,
        default_interval=timedelta(minutes=5),
        feed_health=feed_health,
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


class CountingStore(MemoryStore):
    """A memory store that records each claim round trip a poll makes (articles claimed)."""

    def __init__(self) -> None:
        super().__init__()
        self.claimed: list[int] = []

    @property
    def claims(self) -> int:
        """Claim round trips so far."""
        return len(self.claimed)

    async def claim_articles(
        self, articles: Sequence[Sequence[str]], now: float, lease: float
    ) -> list[ClaimResult]:
        self.claimed.append(len(articles))
        return await super().claim_articles(articles, now, lease)


async def test_an_identical_body_is_not_parsed_or_claimed_again(clock: FrozenClock) -> None:
    """A server without validators answering the same bytes: handled like a 304."""
    items = [Item("Iran drones", "http://n.test/1", "Iran drones", when(clock, hours=1))]
    bodies = [
        rss(items),
        rss(items),
        rss(
            [*items, Item("Iran drones 2", "http://n.test/2", "Iran drones", when(clock, hours=0))]
        ),
    ]

    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, text=bodies[0], headers={"content-type": "application/rss+xml"})

    store = CountingStore()
    poller = make_poller(handler, clock, store=store)
    first = await poller.poll(FEED)
    assert (first.status, first.alerts, store.claims) == ("ok", 2, 1)
    clock.advance(300)
    bodies.pop(0)
    again = await poller.poll(FEED)
    assert (again.status, again.entries, store.claims) == ("unchanged", 0, 1), "no parse, no claim"
    state = await store.get_feed_state("wire")
    assert state is not None and state.last_success_at == clock.now
    assert state.next_poll_at == clock.now + (again.next_poll_in or 0)
    clock.advance(300)
    bodies.pop(0)
    changed = await poller.poll(FEED)
    assert (changed.status, changed.new, changed.alerts, store.claims) == ("ok", 1, 2, 2)


async def test_a_body_with_deferred_articles_is_read_again(clock: FrozenClock) -> None:
    """An article another process holds must be redone, even if the bytes do not change."""
    body = rss([Item("Iran drones", "http://n.test/1", "Iran drones", when(clock, hours=1))])
    store = CountingStore()
    article_keys = ["url:http://n.test/1"]
    await store.claim_articles([article_keys], clock.now, 60)  # another process holds it

    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, text=body, headers={"content-type": "application/rss+xml"})

    poller = make_poller(handler, clock, store=store)
    first = await poller.poll(FEED)
    assert (first.status, first.deferred) == ("ok", 1)
    clock.advance(120)  # the other process's lease ended
    again = await poller.poll(FEED)
    assert (again.status, again.new, again.alerts) == ("ok", 1, 2)


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
    real = poller.rules

    class Exploding:
        def match(self, article: Article) -> list[Match]:
            raise RuntimeError("boom")

    poller.use_rules(Exploding(), real.routes)  # type: ignore[arg-type]
    with pytest.raises(RuntimeError):
        await poller.poll(FEED)
    poller.use_rules(real.ruleset, real.routes)
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


# -- feed state: schedule, failures, moves, 410, new entries --------------------------


async def state_of(poller: Poller, feed_id: str = "wire") -> FeedState:
    state = await poller.store.get_feed_state(feed_id)
    assert state is not None
    return state


async def test_every_poll_records_when_the_next_one_is_due(clock: FrozenClock) -> None:
    poller = make_poller(serve(rss([])), clock)
    report = await poller.poll(FEED)
    assert report.next_poll_in is not None and 300 <= report.next_poll_in <= 330
    state = await state_of(poller)
    assert state.next_poll_at == clock.now + report.next_poll_in
    assert state.url == FEED.url
    clock.advance(300)
    again = await poller.poll(FEED)
    assert again.status == "not_modified"
    assert (await state_of(poller)).next_poll_at == clock.now + (again.next_poll_in or 0)


async def test_failures_record_since_when_and_back_off(clock: FrozenClock) -> None:
    status = {"code": 503}

    def handler(request: httpx.Request) -> httpx.Response:
        if status["code"] == 429:
            return httpx.Response(429, headers={"retry-after": "3600"})
        if status["code"] != 200:
            return httpx.Response(status["code"])
        return httpx.Response(200, text=rss([]))

    poller = make_poller(handler, clock)
    started = clock.now
    first = await poller.poll(FEED)
    assert first.next_poll_in is not None and 540 <= first.next_poll_in <= 660  # 2 x 5m +-10%
    clock.advance(600)
    status["code"] = 429
    second = await poller.poll(FEED)
    assert second.next_poll_in == 3600, "Retry-After beats the backoff"
    state = await state_of(poller)
    assert (state.consecutive_failures, state.failing_since) == (2, started)
    assert state.next_poll_at == clock.now + 3600
    assert "HTTP 429" in state.last_error
    status["code"] = 200
    await poller.poll(FEED)
    state = await state_of(poller)
    assert (state.consecutive_failures, state.failing_since, state.last_error) == (0, None, "")


async def test_server_hints_stretch_the_next_poll(clock: FrozenClock) -> None:
    body = rss([]).replace("<description>", "<ttl>20</ttl><description>", 1)
    headers = {"etag": '"t"', "cache-control": "public, max-age=600"}

    def handler(request: httpx.Request) -> httpx.Response:
        if request.headers.get("if-none-match") == '"t"':
            return httpx.Response(304, headers={"cache-control": "max-age=60"})
        return httpx.Response(200, text=body, headers=headers)

    poller = make_poller(handler, clock)
    report = await poller.poll(FEED)
    assert report.next_poll_in is not None and 1200 <= report.next_poll_in <= 1260  # ttl 20 min
    assert (await state_of(poller)).ttl == 1200
    # A 304 has no body: the ttl read from the last one still holds.
    again = await poller.poll(FEED)
    assert again.status == "not_modified"
    assert again.next_poll_in is not None and 1200 <= again.next_poll_in <= 1260
    poller.max_server_interval = timedelta(minutes=10)
    capped = await poller.poll(FEED)
    assert capped.next_poll_in is not None and 600 <= capped.next_poll_in <= 660


async def test_a_permanent_redirect_moves_the_feed(
    clock: FrozenClock, caplog: pytest.LogCaptureFixture
) -> None:
    asked: list[str] = []

    def handler(request: httpx.Request) -> httpx.Response:
        asked.append(request.url.path)
        if request.url.path == "/wire.xml":
            return httpx.Response(301, headers={"location": "http://feeds.test/v2/wire.xml"})
        return httpx.Response(200, text=rss([]))

    poller = make_poller(handler, clock)
    assert (await poller.poll(FEED)).status == "ok"
    assert (await state_of(poller)).moved_to == "http://feeds.test/v2/wire.xml"
    await poller.poll(FEED)
    await poller.poll(FEED)
    assert asked == ["/wire.xml", "/v2/wire.xml", "/v2/wire.xml", "/v2/wire.xml"]
    # Editing the URL in the config drops the move: the new URL is asked.
    edited = FeedConfig(id="wire", url="http://feeds.test/edited.xml")
    await poller.poll(edited)
    assert asked[-1] == "/edited.xml"
    assert (await state_of(poller)).moved_to == ""


async def test_a_temporary_redirect_is_not_remembered(clock: FrozenClock) -> None:
    asked: list[str] = []

    def handler(request: httpx.Request) -> httpx.Response:
        asked.append(request.url.path)
        if request.url.path == "/wire.xml":
            return httpx.Response(302, headers={"location": "/tmp.xml"})
        return httpx.Response(200, text=rss([]))

    poller = make_poller(handler, clock)
    await poller.poll(FEED)
    await poller.poll(FEED)
    assert asked == ["/wire.xml", "/tmp.xml", "/wire.xml", "/tmp.xml"]
    assert (await state_of(poller)).moved_to == ""


async def test_410_disables_until_the_url_changes(clock: FrozenClock) -> None:
    asked: list[str] = []

    def handler(request: httpx.Request) -> httpx.Response:
        asked.append(request.url.path)
        if request.url.path == "/wire.xml":
            return httpx.Response(410)
        return httpx.Response(200, text=rss([]))

    poller = make_poller(handler, clock)
    report = await poller.poll(FEED)
    assert report.status == "disabled" and "HTTP 410" in report.error
    state = await state_of(poller)
    assert state.disabled and state.disabled_reason == "HTTP 410 Gone"
    assert (state.disabled_at, state.next_poll_at) == (clock.now, None)
    for _ in range(3):
        clock.advance(3600)
        assert (await poller.poll(FEED)).status == "disabled"
    assert asked == ["/wire.xml"], "a disabled feed is never fetched"
    fixed = FeedConfig(id="wire", url="http://feeds.test/new.xml")
    assert (await poller.poll(fixed)).status == "ok"
    assert asked == ["/wire.xml", "/new.xml"]
    assert not (await state_of(poller)).disabled


async def test_items_seen_counts_entries_new_to_this_feed(clock: FrozenClock) -> None:
    items = [Item("A", "http://n.test/a", "x", when(clock, hours=1), guid="http://n.test/a")]
    bodies = {"/wire.xml": rss(items), "/mirror.xml": rss(items)}
    poller = make_poller(lambda r: httpx.Response(200, text=bodies[r.url.path]), clock)
    await poller.poll(FEED)
    first = clock.now
    clock.advance(60)
    # The mirror carries the same story: not new to the pipeline, but new to that feed.
    mirror = await poller.poll(OTHER)
    assert mirror.new == 0
    state = await state_of(poller, "mirror")
    assert (state.items_seen, state.last_new_item_at) == (1, clock.now)
    clock.advance(60)
    await poller.poll(FEED)  # same body: nothing new
    assert (await state_of(poller)).last_new_item_at == first
    items.append(Item("B", "http://n.test/b", "x", when(clock, hours=1), guid="http://n.test/b"))
    bodies["/wire.xml"] = rss(items)
    clock.advance(60)
    await poller.poll(FEED)
    state = await state_of(poller)
    assert (state.items_seen, state.last_new_item_at) == (2, clock.now)


def test_state_stored_by_an_older_version_still_decodes() -> None:
    old = json.dumps(
        {
            "etag": '"v1"',
            "last_modified": None,
            "first_polled_at": 1.5,
            "last_success_at": 2.5,
            "consecutive_failures": 3,
            "last_error": "boom",
        }
    )
    state = decode_feed_state(old)
    assert state == FeedState(
        validators=FeedValidators(etag='"v1"'),
        first_polled_at=1.5,
        last_success_at=2.5,
        consecutive_failures=3,
        last_error="boom",
    )
    assert (state.url, state.moved_to, state.disabled, state.items_seen) == ("", "", False, 0)
    full = FeedState(
        url="https://a.example/rss",
        moved_to="https://b.example/rss",
        failing_since=1.0,
        disabled_reason="HTTP 410 Gone",
        disabled_at=2.0,
        next_poll_at=3.0,
        last_new_item_at=4.0,
        items_seen=5,
        recent_entries=("abc", "def"),
        ttl=600.0,
        incident="disabled",
        incident_since=2.0,
    )
    assert decode_feed_state(encode_feed_state(full)) == full


async def test_legacy_state_is_adopted_with_one_full_fetch(clock: FrozenClock) -> None:
    store = MemoryStore()
    await store.put_feed_state(
        "wire", FeedState(validators=FeedValidators(etag='"v1"'), first_polled_at=clock.now - 1e6)
    )
    body = rss([Item("A", "http://n.test/a", "x", when(clock, days=9))])
    poller = make_poller(serve(body), clock, store=store)
    assert (await poller.poll(FEED)).status == "ok", "no 304: the entries are learnt"
    state = await state_of(poller)
    assert (state.url, state.items_seen, state.last_new_item_at) == (FEED.url, 1, clock.now)


def answering(code: int) -> Callable[[httpx.Request], httpx.Response]:
    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(code)

    return handler


@pytest.mark.parametrize(
    ("answer", "status"),
    [("body", "ok"), ("unchanged", "not_modified"), (503, "error"), (410, "disabled")],
)
async def test_a_refused_state_write_is_logged_once_and_the_poll_still_reports(
    clock: FrozenClock, answer: str | int, status: str
) -> None:
    """Another replica holds the feed's lease now (the writer is the lease-fenced one): the
    poll's work stands, its state is not stored, and it says so once."""
    body = rss([Item("Iran drones", "http://n.test/1", "Iran drones", when(clock, hours=1))])
    handler = serve(body) if isinstance(answer, str) else answering(answer)
    store = MemoryStore()
    poller = make_poller(handler, clock, store=store)
    if answer == "unchanged":
        await poller.poll(FEED)  # stored: the next poll is a conditional GET, answered 304
    stored_before = await store.get_feed_state(FEED.id)
    offered: list[tuple[str, FeedState]] = []

    async def refuse(feed_id: str, state: FeedState) -> bool:
        offered.append((feed_id, state))
        return False

    with capture_logs() as logs:
        report = await poller.poll(FEED, save_state=refuse)
    assert (report.feed_id, report.status) == ("wire", status)
    assert [feed_id for feed_id, _ in offered] == ["wire"]  # the poll's one write, offered
    assert await store.get_feed_state(FEED.id) == stored_before  # and not stored around it
    fenced = [e for e in logs if e["event"] == "feed_state_fenced"]
    assert len(fenced) == 1
    assert fenced[0]["feed"] == "wire" and fenced[0]["log_level"] == "warning"
    assert "another replica" in fenced[0]["detail"]
    if status == "ok":
        assert report.alerts == 2  # the articles were processed all the same
    # The same poll given no writer stores its state in the store, as it always did.
    clock.advance(60)
    with capture_logs() as logs:
        await poller.poll(FEED)
    assert await store.get_feed_state(FEED.id) not in (None, stored_before)
    assert not [e for e in logs if e["event"] == "feed_state_fenced"]
