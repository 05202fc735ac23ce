"""Full text (a feed's ``fulltext``), polled for real: a teaser feed and its article pages
on a loopback server, the real HTTP client (address policy included), the real poller,
on the memory, SQLite and Redis stores.

Covered: a rule only the page satisfies alerts once, and the alert says the match came
from the full article (console, webhook, Slack); a second poll reads no page again and
alerts nothing again; ``auto`` reads only the pages of short texts; the per-poll cap;
pages that are not HTML, too big, missing or too slow fall back to the feed's text (one
redacted warning each); a page on a private address is refused unless the feed allows
it; the feed's headers go to pages on its own origin only; the archive keeps the text.
"""

from __future__ import annotations

import ipaddress
import time
from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from structlog.testing import capture_logs
from werkzeug import Request, Response

from monitor.config.models import FeedConfig
from monitor.delivery.channels import slack, webhook
from monitor.delivery.channels.console import format_line
from monitor.ingest.fetch import FetchLimits, build_http_client
from monitor.ingest.fulltext import PAGE_ACCEPT
from monitor.ingest.netpolicy import AddressPolicy
from monitor.matching import RuleSpec, compile_rules
from monitor.model import Alert
from monitor.polling.articles import ArchivePolicy
from monitor.polling.poller import Poller
from monitor.store.base import StateStore
from tests.factories import make_settings
from tests.fulltext_support import (
    VIENNA_BODY,
    VIENNA_TEASER,
    WEATHER_BODY,
    Site,
    article_page,
    page,
    serving,
    teaser_feed,
)
from tests.store.support import Backend, make_backend

RULES = [
    RuleSpec("enrichment", "centrifuges AND uranium"),  # only in the Vienna page's body
    RuleSpec("sidebar", "penguins"),  # only in every page's "most read" sidebar
    RuleSpec("vienna", "Vienna"),  # in the Vienna teaser itself
]
VIENNA_PAGE = article_page("Talks resume in Vienna", VIENNA_BODY)
WEATHER_PAGE = article_page("Rain on the way", WEATHER_BODY)


@pytest.fixture(params=["memory", "sqlite", pytest.param("redis", marks=pytest.mark.redis)])
async def backend(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Backend]:
    b = make_backend(request, request.param, tmp_path)
    try:
        yield b
    finally:
        await b.aclose()


def make_poller(store: StateStore, *, policy: AddressPolicy | None = None, **fields: Any) -> Poller:
    settings = make_settings(allow_private_addresses=policy is None)
    options: dict[str, Any] = {
        "store": store,
        "http": build_http_client(settings, policy=policy),
        "ruleset": compile_rules(RULES),
        "routes": {rule.id: (rule.query, ("ops",)) for rule in RULES},
        "max_age": timedelta(hours=24),
        "seen_retention": timedelta(days=30),
        "fetch_timeout": 10,
        "max_feed_bytes": 1_000_000,
        "limits": FetchLimits(total=16, per_host=2),
        "archive": ArchivePolicy(retention=86_400, max_articles=1000),
    }
    options.update(fields)
    return Poller(**options)


def vienna_site(site: Site, items: list[tuple[str, str, str]]) -> None:
    """The feed (``items``, read at each request) and the Vienna and weather pages."""
    site.routes.update(
        {
            "/feed.xml": teaser_feed(items),
            "/news/vienna": page(VIENNA_PAGE),
            "/news/weather": page(WEATHER_PAGE),
        }
    )
    items += [
        ("Talks resume in Vienna", site.url("/news/vienna"), VIENNA_TEASER),
        ("Rain on the way", site.url("/news/weather"), "Take an umbrella tomorrow."),
    ]


def pages_asked(site: Site) -> list[str]:
    return [path for path in site.paths() if path.startswith("/news/")]


async def alerts_of(store: StateStore) -> list[Alert]:
    return [entry.alert for entry in await store.pending()]


# -- the rule only the page satisfies ------------------------------------------------


async def test_a_rule_only_the_full_text_satisfies_alerts_once(backend: Backend) -> None:
    store = await backend.open()
    items: list[tuple[str, str, str]] = []
    with serving() as site:
        vienna_site(site, items)
        feed = FeedConfig(id="wire", url=site.url("/feed.xml"), fulltext=True)
        poller = make_poller(store)
        async with poller.http:
            first = await poller.poll(feed)
            assert (first.status, first.new) == ("ok", 2)
            assert sorted(pages_asked(site)) == ["/news/vienna", "/news/weather"]
            alerts = await alerts_of(store)
            assert sorted(a.rule_id for a in alerts) == ["enrichment", "vienna"]
            assert first.alerts == 2, "one per rule and channel; the sidebar's word is not text"
            # A later body (one more item) is read again: the two articles are seen, so
            # their pages are not asked again and nothing alerts twice.
            items.append(("Markets close higher", site.url("/news/markets"), "Shares rose."))
            second = await poller.poll(feed)
    assert (second.status, second.new, second.alerts) == ("ok", 1, 0)
    assert sorted(pages_asked(site)) == ["/news/markets", "/news/vienna", "/news/weather"]
    assert len(await alerts_of(store)) == 2

    (alert,) = [a for a in alerts if a.rule_id == "enrichment"]
    assert alert.article.fulltext and "centrifuges" in alert.article.text
    assert alert.article.text.startswith(VIENNA_TEASER), "the teaser is not in the page: kept"
    assert {h.field for h in alert.hits} == {"text"}
    assert "fulltext=true" in format_line(alert)
    assert webhook.build_payload(alert)["article"]["fulltext"] is True
    fields = slack.build_payload(alert)["blocks"][2]["fields"]
    assert "*Matched*\ncentrifuges, uranium (in the full article)" in [f["text"] for f in fields]
    (archived,) = [
        e.article for e in await store.archived_articles(0) if e.article.url.endswith("/vienna")
    ]
    assert archived.fulltext and "centrifuges" in archived.text


async def test_pages_are_asked_for_as_html_with_the_feeds_user_agent(backend: Backend) -> None:
    store = await backend.open()
    items: list[tuple[str, str, str]] = []
    with serving() as site:
        vienna_site(site, items)
        feed = FeedConfig(
            id="wire", url=site.url("/feed.xml"), fulltext=True, user_agent="DeskBot/2.0"
        )
        poller = make_poller(store)
        async with poller.http:
            await poller.poll(feed)
    (headers,) = site.headers_of("/news/vienna")
    assert headers["Accept"] == PAGE_ACCEPT
    assert headers["User-Agent"] == "DeskBot/2.0"


# -- which pages are read ------------------------------------------------------------


async def test_auto_reads_only_the_pages_of_short_texts(backend: Backend) -> None:
    store = await backend.open()
    long_text = " ".join(VIENNA_BODY)  # the whole story, over the threshold
    with serving() as site:
        items = [
            ("Talks resume in Vienna", site.url("/news/vienna"), VIENNA_TEASER),
            ("Talks resume, in full", site.url("/news/full"), long_text),
        ]
        site.routes.update(
            {
                "/feed.xml": teaser_feed(items),
                "/news/vienna": page(VIENNA_PAGE),
                "/news/full": page(VIENNA_PAGE),
            }
        )
        feed = FeedConfig(
            id="wire", url=site.url("/feed.xml"), fulltext="auto", fulltext_min_chars=200
        )
        poller = make_poller(store)
        async with poller.http:
            report = await poller.poll(feed)
    assert report.new == 2
    assert pages_asked(site) == ["/news/vienna"], "the long text is read from the feed"
    by_url = {a.article.url.rsplit("/", 1)[1]: a for a in await alerts_of(store)}
    assert by_url["vienna"].article.fulltext
    assert not by_url["full"].article.fulltext


async def test_at_most_fulltext_max_per_poll_pages_are_read(backend: Backend) -> None:
    store = await backend.open()
    with serving() as site:
        items = [(f"Story {i}", site.url(f"/news/{i}"), "A teaser.") for i in range(5)]
        site.routes["/feed.xml"] = teaser_feed(items)
        for i in range(6):
            site.routes[f"/news/{i}"] = page(VIENNA_PAGE)
        feed = FeedConfig(
            id="wire", url=site.url("/feed.xml"), fulltext=True, fulltext_max_per_poll=2
        )
        poller = make_poller(store)
        async with poller.http:
            first = await poller.poll(feed)
            items.append(("Story 5", site.url("/news/5"), "A teaser."))
            second = await poller.poll(feed)
    # The first two in feed order; the three beyond the cap are matched on their teasers
    # (no alert) and never read later either: they are seen.
    assert sorted(pages_asked(site)) == ["/news/0", "/news/1", "/news/5"]
    assert (first.new, second.new) == (5, 1)
    alerts = await alerts_of(store)
    read = {a.article.url.rsplit("/", 1)[1] for a in alerts if a.rule_id == "enrichment"}
    assert read == {"0", "1", "5"}
    assert {a.article.url.rsplit("/", 1)[1] for a in alerts if a.article.fulltext} == read


async def test_a_feed_without_fulltext_reads_no_page(backend: Backend) -> None:
    store = await backend.open()
    items: list[tuple[str, str, str]] = []
    with serving() as site:
        vienna_site(site, items)
        poller = make_poller(store)
        async with poller.http:
            report = await poller.poll(FeedConfig(id="wire", url=site.url("/feed.xml")))
    assert (report.new, pages_asked(site)) == (2, [])
    assert [a.rule_id for a in await alerts_of(store)] == ["vienna"]


# -- pages that cannot be read: the feed's text ----------------------------------------


def slow(seconds: float) -> Any:
    def answer(request: Request) -> Response:
        time.sleep(seconds)
        return Response(VIENNA_PAGE, content_type="text/html")

    return answer


async def test_unreadable_pages_fall_back_to_the_feed_text(backend: Backend) -> None:
    """Not HTML, over MONITOR_FULLTEXT_MAX_BYTES (as declared, or as streamed without a
    length), missing: each article is matched on its teaser (the Vienna rule still alerts),
    each failure logged once, its URL redacted."""
    store = await backend.open()
    huge = article_page("Huge", VIENNA_BODY * 400)  # ~300 KB, over the 100 KB cap below

    def endless(request: Request) -> Response:
        chunks = (VIENNA_PAGE.encode() for _ in range(10_000))  # chunked, no length
        return Response(chunks, content_type="text/html")

    with serving() as site:
        items = [
            (f"Talks, {name}", site.url(f"/news/{name}?token=s3cr3t-{name}"), VIENNA_TEASER)
            for name in ("pdf", "huge", "missing", "json", "endless")
        ]
        site.routes.update(
            {
                "/feed.xml": teaser_feed(items),
                "/news/pdf": page("%PDF-1.7 centrifuges uranium", "application/pdf"),
                "/news/huge": page(huge),
                "/news/json": page('{"text": "centrifuges uranium"}', "application/json"),
                "/news/endless": endless,
            }
        )
        feed = FeedConfig(id="wire", url=site.url("/feed.xml"), fulltext=True)
        poller = make_poller(store, fulltext_max_bytes=100_000)
        async with poller.http:
            with capture_logs() as logs:
                report = await poller.poll(feed)
    assert (report.status, report.new, report.alerts) == ("ok", 5, 5)
    alerts = await alerts_of(store)
    assert {a.rule_id for a in alerts} == {"vienna"}
    assert not any(a.article.fulltext for a in alerts)
    failures = [e for e in logs if e["event"] == "fulltext" and e.get("status") == "error"]
    assert len(failures) == 5
    assert all(e["feed"] == "wire" and e["log_level"] == "warning" for e in failures)
    errors = {e["url"].rsplit("/", 1)[1]: e["error"] for e in failures}
    assert "not an HTML page (served as application/pdf)" in errors["pdf"]
    assert "not an HTML page (served as application/json)" in errors["json"]
    assert "body of 313180 bytes exceeds the cap of 100000" in errors["huge"]
    assert "body exceeds the cap of 100000 bytes" in errors["endless"]
    assert "HTTP 404" in errors["missing"]
    assert "s3cr3t" not in repr(logs)
    (summary,) = [e for e in logs if e["event"] == "fulltext" and "read" in e]
    assert (summary["wanted"], summary["read"], summary["failed"]) == (5, 0, 5)


async def test_a_page_slower_than_the_deadline_falls_back(backend: Backend) -> None:
    store = await backend.open()
    with serving() as site:
        items = [
            ("Talks resume in Vienna", site.url("/news/slow"), VIENNA_TEASER),
            ("Rain on the way", site.url("/news/weather"), "Take an umbrella tomorrow."),
        ]
        site.routes.update(
            {
                "/feed.xml": teaser_feed(items),
                "/news/slow": slow(3.0),
                "/news/weather": page(WEATHER_PAGE),
            }
        )
        feed = FeedConfig(id="wire", url=site.url("/feed.xml"), fulltext=True)
        poller = make_poller(store, fetch_timeout=1.0)
        async with poller.http:
            started = time.monotonic()
            report = await poller.poll(feed)
            took = time.monotonic() - started
    assert (report.status, report.new) == ("ok", 2)
    assert took < 2.5, "the slow page did not hold the poll"
    alerts = await alerts_of(store)
    assert [a.rule_id for a in alerts] == ["vienna"]
    assert not alerts[0].article.fulltext


async def test_pages_still_waiting_for_their_host_at_the_deadline_are_given_up(
    backend: Backend,
) -> None:
    """One fetch at a time to the host, each page 0.4 s: the pages of one poll must all be
    in within the fetch deadline (1 s), so the last ones are given up, not waited for."""
    store = await backend.open()
    with serving() as site:
        items = [(f"Talks {i}", site.url(f"/news/{i}"), VIENNA_TEASER) for i in range(6)]
        site.routes["/feed.xml"] = teaser_feed(items)
        for i in range(6):
            site.routes[f"/news/{i}"] = slow(0.4)
        feed = FeedConfig(id="wire", url=site.url("/feed.xml"), fulltext=True)
        poller = make_poller(store, fetch_timeout=1.0, limits=FetchLimits(total=4, per_host=1))
        async with poller.http:
            with capture_logs() as logs:
                report = await poller.poll(feed)
    assert (report.status, report.new) == ("ok", 6)
    (summary,) = [e for e in logs if e["event"] == "fulltext" and "read" in e]
    assert 1 <= summary["read"] <= 3 and summary["read"] + summary["failed"] == 6
    cut = [e["error"] for e in logs if e.get("status") == "error"]
    assert all("not read within the deadline of 1s" in error for error in cut)
    fulltext = [a.article.fulltext for a in await alerts_of(store) if a.rule_id == "vienna"]
    assert sorted(fulltext) == [False] * (6 - summary["read"]) + [True] * summary["read"]


# -- the network policy and the feed's request settings --------------------------------


async def test_a_page_on_a_private_address_is_refused_unless_the_feed_allows_it(
    backend: Backend,
) -> None:
    """The feeds' server stands for the internet (its port exempt from the policy); the
    article pages are on another loopback server, which the policy refuses."""
    store = await backend.open()
    routes = {"/news/a": page(VIENNA_PAGE), "/news/b": page(VIENNA_PAGE)}
    with serving() as public, serving(routes) as internal:
        public.routes["/wire.xml"] = teaser_feed(
            [("Talks resume in Vienna", internal.url("/news/a"), VIENNA_TEASER)]
        )
        public.routes["/lan.xml"] = teaser_feed(
            [("Talks go on in Vienna", internal.url("/news/b"), VIENNA_TEASER)]
        )
        exempt = frozenset({(ipaddress.ip_address("127.0.0.1"), public.port)})
        poller = make_poller(store, policy=AddressPolicy(exempt=exempt))
        wire = FeedConfig(id="wire", url=public.url("/wire.xml"), fulltext=True)
        lan = FeedConfig(
            id="lan", url=public.url("/lan.xml"), fulltext=True, allow_private_addresses=True
        )
        async with poller.http:
            with capture_logs() as logs:
                refused = await poller.poll(wire)
            assert internal.paths() == [], "the internal server was never reached"
            allowed = await poller.poll(lan)
    assert (refused.status, refused.new, allowed.status, allowed.new) == ("ok", 1, "ok", 1)
    (failure,) = [e for e in logs if e.get("status") == "error"]
    assert "refused: 127.0.0.1 is a loopback address" in failure["error"]
    assert internal.paths() == ["/news/b"]
    rules = {(a.article.url.rsplit("/", 1)[1], a.rule_id) for a in await alerts_of(store)}
    assert rules == {("a", "vienna"), ("b", "vienna"), ("b", "enrichment")}


async def test_the_feeds_headers_go_to_pages_on_its_origin_only(backend: Backend) -> None:
    store = await backend.open()
    with serving() as site:
        # One server, two origins: 127.0.0.1 (the feed's) and localhost.
        items = [
            ("Talks resume in Vienna", site.url("/news/vienna"), VIENNA_TEASER),
            ("Rain on the way", site.url("/news/weather", "localhost"), "Take an umbrella."),
        ]
        site.routes.update(
            {
                "/feed.xml": teaser_feed(items),
                "/news/vienna": page(VIENNA_PAGE),
                "/news/weather": page(WEATHER_PAGE),
            }
        )
        feed = FeedConfig.model_validate(
            {
                "id": "wire",
                "url": site.url("/feed.xml"),
                "fulltext": True,
                "headers": {"X-Api-Key": "k-0123456789"},
                "cookies": {"session": "c-0123456789"},
            }
        )
        poller = make_poller(store)
        async with poller.http:
            await poller.poll(feed)
    (same,) = site.headers_of("/news/vienna")
    (other,) = site.headers_of("/news/weather")
    assert same["X-Api-Key"] == "k-0123456789"
    assert "session=c-0123456789" in same["Cookie"]
    assert "X-Api-Key" not in other
    assert "c-0123456789" not in other.get("Cookie", "")
