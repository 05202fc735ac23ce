"""A feed URL that answers with a web page says which feeds that page names: in
``news-monitor check --online``, in ``news-monitor feeds`` and in the poll's log line.
``check --online`` also proves a feed's request settings work before the daemon runs."""

from __future__ import annotations

import io
from datetime import timedelta
from pathlib import Path

import pytest
from pytest_httpserver import HTTPServer
from structlog.testing import capture_logs
from werkzeug import Request, Response

from monitor.cli.feeds import list_feeds
from monitor.cli.main import main
from monitor.config.models import FeedConfig
from monitor.ingest.fetch import FetchLimits, build_http_client
from monitor.matching import RuleSpec, compile_rules
from monitor.model import FeedState
from monitor.polling.poller import Poller
from monitor.store.memory import MemoryStore
from tests.conftest import FrozenClock
from tests.factories import make_settings

PAGE = (
    b"<!DOCTYPE html><html><head><title>Example News</title>"
    b'<link rel="alternate" type="application/rss+xml" title="Top stories" href="/feed.xml">'
    b'<link rel="alternate" type="application/atom+xml" title="Comments" href="/c.atom">'
    b"</head><body><h1>Example News</h1></body></html>"
)


@pytest.fixture
def feed_body(shared_data: Path) -> bytes:
    return (shared_data / "feeds/feed-rs/rss2/rss_2.0_bbc.xml").read_bytes()


@pytest.fixture
def site(httpserver: HTTPServer, feed_body: bytes) -> HTTPServer:
    httpserver.expect_request("/news/").respond_with_data(PAGE, content_type="text/html")

    def private(request: Request) -> Response:
        if request.headers.get("Authorization") != "Bearer t0ken-for-the-feed":
            return Response("no", status=401)
        return Response(feed_body, content_type="application/rss+xml")

    httpserver.expect_request("/private.xml").respond_with_handler(private)
    return httpserver


def hint(server: HTTPServer) -> str:
    return (
        "this is a web page; its feeds are: "
        f'{server.url_for("/feed.xml")} (RSS "Top stories"), '
        f'{server.url_for("/c.atom")} (Atom "Comments")'
    )


def test_check_online_names_the_feeds_of_a_web_page(
    site: HTTPServer, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "feeds.yaml").write_text(
        "feeds:\n"
        f"  - {{id: page, url: '{site.url_for('/news/')}'}}\n"
        f"  - id: private\n    url: {site.url_for('/private.xml')}\n"
        "    auth: {type: bearer, token: t0ken-for-the-feed}\n"
        f"  - {{id: missing, url: '{site.url_for('/missing.xml')}'}}\n"
    )
    assert main(["check", "--online", "--rules-dir", str(tmp_path)]) == 1
    out, err = capsys.readouterr()
    assert out.splitlines()[-1] == "online: 1 of 3 feed(s) answer with a feed"
    assert (
        f"error: feed page: {site.url_for('/news/')}: not a feed (served as text/html): "
        f"{hint(site)}\n" in err
    )
    assert f"error: feed missing: {site.url_for('/missing.xml')}: HTTP 500" in err
    assert "error: feed private" not in err  # its bearer token was sent: it answered a feed
    assert "t0ken-for-the-feed" not in out + err
    # Offline, check touches no server.
    requests = len(site.log)
    assert main(["check", "--rules-dir", str(tmp_path)]) == 0
    assert len(site.log) == requests


def test_check_online_passes_when_every_feed_is_a_feed(
    site: HTTPServer, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "feeds.yaml").write_text(
        f"feeds:\n  - id: private\n    url: {site.url_for('/private.xml')}\n"
        "    auth: {type: bearer, token: t0ken-for-the-feed}\n"
    )
    assert main(["check", "--online", "--rules-dir", str(tmp_path)]) == 0
    assert capsys.readouterr().out.endswith("online: 1 of 1 feed(s) answer with a feed\n")


async def test_the_poll_log_line_names_the_feeds(site: HTTPServer) -> None:
    poller = Poller(
        store=MemoryStore(),
        http=build_http_client(make_settings()),
        ruleset=compile_rules([RuleSpec("r", "drones")]),
        routes={"r": ("drones", ("ops",))},
        max_age=timedelta(hours=24),
        seen_retention=timedelta(days=30),
        fetch_timeout=5,
        max_feed_bytes=100_000,
        limits=FetchLimits(4, 2),
    )
    try:
        with capture_logs() as logs:
            report = await poller.poll(FeedConfig(id="page", url=site.url_for("/news/")))
    finally:
        await poller.http.aclose()
    assert report.status == "error"
    [line] = [e for e in logs if e["event"] == "poll"]
    assert line["status"] == "error"
    assert line["error"] == f"not a feed (served as text/html): {hint(site)}"
    state = await poller.store.get_feed_state("page")
    assert state is not None and hint(site) in state.last_error


async def test_feeds_shows_the_whole_hint_below_the_table(clock: FrozenClock) -> None:
    feed = FeedConfig(id="page", url="https://news.example/world/")
    links = 'https://news.example/feed/ (RSS "World"), https://news.example/c/ (RSS "Comments")'
    store = MemoryStore()
    await store.put_feed_state(
        "page",
        FeedState(
            url=feed.url,
            first_polled_at=clock.now - 600,
            consecutive_failures=2,
            failing_since=clock.now - 600,
            last_error=f"not a feed (served as text/html): this is a web page; its feeds are: "
            f"{links}",
            next_poll_at=clock.now + 600,
        ),
    )
    out = io.StringIO()
    await list_feeds(store, [feed], clock.now, feed_health=None, out=out)
    lines = out.getvalue().splitlines()
    assert "failing since" in lines[1] and "…" in lines[1]  # the STATE column is cut short
    assert lines[-1] == (
        "page: https://news.example/world/: not a feed (served as text/html): this is a web "
        f"page; its feeds are: {links}; make one of them the feed's url"
    )
