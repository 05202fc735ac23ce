"""A feed's own request settings against real loopback servers: ``headers``, ``user_agent``,
``cookies``, basic and bearer ``auth`` reach the feed's server, on the first request and
on redirects within its origin, and never a redirect to another host; ``proxy`` routes
every request through a real (tiny) forward proxy, whose own address is what the address
policy checks; the daemon's poller sends them too; and no secret shows in an error.
"""

from __future__ import annotations

import base64
import http.client
import ipaddress
import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
from pytest_httpserver import HTTPServer
from werkzeug import Request, Response

from monitor.config.load import load_config
from monitor.config.models import FeedConfig
from monitor.ingest.fetch import FEED_ACCEPT, FeedFetch, FetchLimits, build_http_client, fetch_feed
from monitor.ingest.netpolicy import AddressPolicy
from monitor.matching import RuleSpec, compile_rules
from monitor.model import FeedValidators, FetchStatus
from monitor.polling.poller import Poller
from monitor.settings import Settings
from monitor.store.memory import MemoryStore
from tests.factories import make_settings
from tests.servers import Item, rss

FEED = rss([Item("Iran AND drones", "http://n.test/1", "text", datetime.now(UTC))])
LOOPBACK = ipaddress.ip_address("127.0.0.1")


def feed_at(url: str, **keys: Any) -> FeedConfig:
    return FeedConfig.model_validate({"id": "f", "url": url, **keys})


async def fetch(
    feed: FeedConfig, settings: Settings | None = None, policy: AddressPolicy | None = None
) -> FeedFetch:
    async with build_http_client(settings or make_settings(), policy=policy) as client:
        return await fetch_feed(
            client,
            feed.id,
            feed.url,
            FeedValidators(),
            total_timeout=5,
            max_bytes=1_000_000,
            allow_private=feed.allow_private_addresses,
            request=feed.request,
        )


class Recorder:
    """A handler that records each request's headers and answers with the feed."""

    def __init__(self) -> None:
        self.seen: list[dict[str, str]] = []

    def __call__(self, request: Request) -> Response:
        self.seen.append(dict(request.headers))
        return Response(FEED, content_type="application/rss+xml")


@pytest.fixture
def other_server() -> Iterator[HTTPServer]:
    """A second server: another port is another origin."""
    server = HTTPServer(host="127.0.0.1", port=0)
    server.start()
    try:
        yield server
    finally:
        server.clear()
        server.stop()


SETTINGS = {
    "headers": {"X-Api-Key": "k3y-0f-the-feed", "Accept": "application/atom+xml"},
    "user_agent": "Mozilla/5.0 (news-monitor test)",
    "cookies": {"session": "s3ss10n-cookie", "consent": "yes"},
    "auth": {"type": "bearer", "token": "b3arer-t0ken"},
}


async def test_headers_user_agent_cookies_and_bearer_reach_the_server(
    httpserver: HTTPServer,
) -> None:
    recorder = Recorder()
    httpserver.expect_request("/feed.xml").respond_with_handler(recorder)
    outcome = await fetch(feed_at(httpserver.url_for("/feed.xml"), **SETTINGS))
    assert outcome.status is FetchStatus.OK, outcome.error
    [seen] = recorder.seen
    assert seen["X-Api-Key"] == "k3y-0f-the-feed"
    assert seen["Accept"] == "application/atom+xml"  # a configured header wins over ours
    assert seen["User-Agent"] == "Mozilla/5.0 (news-monitor test)"
    assert seen["Cookie"] == "session=s3ss10n-cookie; consent=yes"
    assert seen["Authorization"] == "Bearer b3arer-t0ken"


async def test_basic_auth_reaches_the_server(httpserver: HTTPServer) -> None:
    def guarded(request: Request) -> Response:
        auth = request.authorization
        if auth is None or (auth.username, auth.password) != ("alice", "pä55 w:rd"):
            return Response("who?", status=401, headers={"WWW-Authenticate": "Basic"})
        return Response(FEED, content_type="application/rss+xml")

    httpserver.expect_request("/private.xml").respond_with_handler(guarded)
    url = httpserver.url_for("/private.xml")
    basic = {"type": "basic", "username": "alice", "password": "pä55 w:rd"}
    assert (await fetch(feed_at(url, auth=basic))).status is FetchStatus.OK
    refused = await fetch(feed_at(url))
    assert refused.status is FetchStatus.ERROR
    assert refused.error.endswith("HTTP 401 UNAUTHORIZED")


async def test_values_from_the_environment_reach_the_server(
    httpserver: HTTPServer, tmp_path: Path
) -> None:
    recorder = Recorder()
    httpserver.expect_request("/feed.xml").respond_with_handler(recorder)
    (tmp_path / "feeds.yaml").write_text(
        "feeds:\n"
        "  - id: f\n"
        f"    url: {httpserver.url_for('/feed.xml')}\n"
        "    headers: {X-Api-Key: '${FEED_KEY}'}\n"
        "    cookies: {sid: '${FEED_SID}'}\n"
        "    auth: {type: basic, username: bob, password: '${FEED_PASSWORD}'}\n"
    )
    env = {"FEED_KEY": "from-env-key", "FEED_SID": "from-env-sid", "FEED_PASSWORD": "pw-env"}
    [feed] = load_config(make_settings(rules_dir=tmp_path), env=env).config.feeds
    assert (await fetch(feed)).status is FetchStatus.OK
    [seen] = recorder.seen
    assert seen["X-Api-Key"] == "from-env-key"
    assert seen["Cookie"] == "sid=from-env-sid"
    assert seen["Authorization"] == "Basic " + base64.b64encode(b"bob:pw-env").decode()


async def test_a_redirect_within_the_origin_keeps_them(httpserver: HTTPServer) -> None:
    recorder = Recorder()
    httpserver.expect_request("/old").respond_with_data(
        "", status=302, headers={"Location": "/new"}
    )
    httpserver.expect_request("/new").respond_with_handler(recorder)
    outcome = await fetch(feed_at(httpserver.url_for("/old"), **SETTINGS))
    assert outcome.status is FetchStatus.OK, outcome.error
    [seen] = recorder.seen
    assert seen["X-Api-Key"] == "k3y-0f-the-feed"
    assert seen["Authorization"] == "Bearer b3arer-t0ken"
    # httpx alone drops a request's cookies on every redirect, even to the same host.
    assert seen["Cookie"] == "session=s3ss10n-cookie; consent=yes"


async def test_a_redirect_to_another_origin_gets_none_of_them(
    httpserver: HTTPServer, other_server: HTTPServer
) -> None:
    recorder = Recorder()
    other_server.expect_request("/elsewhere").respond_with_handler(recorder)
    httpserver.expect_request("/feed").respond_with_data(
        "", status=301, headers={"Location": other_server.url_for("/elsewhere")}
    )
    outcome = await fetch(feed_at(httpserver.url_for("/feed"), **SETTINGS))
    assert outcome.status is FetchStatus.OK, outcome.error
    [seen] = recorder.seen
    assert "X-Api-Key" not in seen
    assert "Cookie" not in seen
    assert "Authorization" not in seen
    assert seen["Accept"] == FEED_ACCEPT  # the configured Accept withheld, ours put back
    assert seen["User-Agent"] == "Mozilla/5.0 (news-monitor test)"  # no secret: sent on


async def test_the_daemons_poller_sends_them(httpserver: HTTPServer) -> None:
    recorder = Recorder()
    httpserver.expect_request("/feed.xml").respond_with_handler(recorder)
    poller = Poller(
        store=MemoryStore(),
        http=build_http_client(make_settings()),
        ruleset=compile_rules([RuleSpec("drones", "Iran AND drones")]),
        routes={"drones": ("Iran AND drones", ("ops",))},
        max_age=timedelta(hours=24),
        seen_retention=timedelta(days=30),
        fetch_timeout=5,
        max_feed_bytes=100_000,
        limits=FetchLimits(4, 2),
    )
    try:
        report = await poller.poll(feed_at(httpserver.url_for("/feed.xml"), **SETTINGS))
    finally:
        await poller.http.aclose()
    assert report.status == "ok" and report.alerts == 1
    [seen] = recorder.seen
    assert seen["X-Api-Key"] == "k3y-0f-the-feed"
    assert seen["Authorization"] == "Bearer b3arer-t0ken"


# --- a per-feed proxy ----------------------------------------------------------------------


class ForwardProxy(ThreadingHTTPServer):
    """A forward proxy for http:// targets: requires basic Proxy-Authorization when
    ``credentials`` are set, forwards the request and relays the answer."""

    daemon_threads = True

    def __init__(self, credentials: tuple[str, str] | None = None) -> None:
        super().__init__(("127.0.0.1", 0), _ProxyHandler)
        self.credentials = credentials
        self.asked: list[tuple[str, str]] = []  # (absolute URL, Proxy-Authorization)

    @property
    def port(self) -> int:
        return int(self.server_address[1])


class _ProxyHandler(BaseHTTPRequestHandler):
    server: ForwardProxy

    def do_GET(self) -> None:
        given = self.headers.get("Proxy-Authorization", "")
        self.server.asked.append((self.path, given))
        if self.server.credentials is not None:
            pair = ":".join(self.server.credentials).encode()
            if given != "Basic " + base64.b64encode(pair).decode():
                self._answer(407, b"", {"Proxy-Authenticate": "Basic"})
                return
        target = urlsplit(self.path)  # absolute-form: the proxy is asked for a whole URL
        connection = http.client.HTTPConnection(target.hostname or "", target.port, timeout=5)
        headers = {k: v for k, v in self.headers.items() if k.lower() != "proxy-authorization"}
        connection.request("GET", target.path or "/", headers=headers)
        response = connection.getresponse()
        self._answer(response.status, response.read(), dict(response.getheaders()))
        connection.close()

    def _answer(self, status: int, body: bytes, headers: dict[str, str]) -> None:
        self.send_response(status)
        for name, value in headers.items():
            if name.lower() not in ("transfer-encoding", "connection", "content-length"):
                self.send_header(name, value)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture
def proxy() -> Iterator[ForwardProxy]:
    server = ForwardProxy(credentials=("proxyuser", "pr0xy-pa55"))
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05})
    thread.daemon = True
    thread.start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()


async def test_every_request_goes_through_the_feeds_proxy(
    httpserver: HTTPServer, proxy: ForwardProxy
) -> None:
    recorder = Recorder()
    httpserver.expect_request("/feed.xml").respond_with_handler(recorder)
    url = httpserver.url_for("/feed.xml")
    through = f"http://proxyuser:pr0xy-pa55@127.0.0.1:{proxy.port}"
    outcome = await fetch(feed_at(url, proxy=through, headers={"X-Api-Key": "k3y"}))
    assert outcome.status is FetchStatus.OK, outcome.error
    [(asked, authorization)] = proxy.asked
    assert asked == url
    assert authorization == "Basic " + base64.b64encode(b"proxyuser:pr0xy-pa55").decode()
    [seen] = recorder.seen
    assert seen["X-Api-Key"] == "k3y"
    assert "Proxy-Authorization" not in seen
    wrong = await fetch(feed_at(url, proxy=f"http://proxyuser:nope@127.0.0.1:{proxy.port}"))
    assert wrong.status is FetchStatus.ERROR
    assert wrong.error.endswith("HTTP 407 Proxy Authentication Required")


async def test_the_address_policy_checks_the_proxy_itself(
    httpserver: HTTPServer, proxy: ForwardProxy
) -> None:
    httpserver.expect_request("/feed.xml").respond_with_data(FEED)
    strict = make_settings(allow_private_addresses=False)
    through = f"http://proxyuser:pr0xy-pa55@127.0.0.1:{proxy.port}"
    feed_port = httpserver.port
    feed = feed_at(f"http://127.0.0.1:{feed_port}/feed.xml", proxy=through)
    # The feed's server is allowed, the proxy (a loopback address) is not: refused.
    only_feed = AddressPolicy(exempt=frozenset({(LOOPBACK, feed_port)}))
    refused = await fetch(feed, strict, only_feed)
    assert refused.status is FetchStatus.ERROR and refused.refused
    assert "refused: 127.0.0.1 is a loopback address" in refused.error
    assert proxy.asked == []
    # The proxy is allowed, but the target is a loopback address literal: refused too.
    only_proxy = AddressPolicy(exempt=frozenset({(LOOPBACK, proxy.port)}))
    refused = await fetch(feed, strict, only_proxy)
    assert refused.refused and proxy.asked == []
    # Both allowed; or the feed's own opt-in: through the proxy.
    both = AddressPolicy(exempt=frozenset({(LOOPBACK, proxy.port), (LOOPBACK, feed_port)}))
    assert (await fetch(feed, strict, both)).status is FetchStatus.OK
    opted_in = feed_at(feed.url, proxy=through, allow_private_addresses=True)
    assert (await fetch(opted_in, strict, AddressPolicy())).status is FetchStatus.OK
    assert len(proxy.asked) == 2


async def test_no_secret_shows_in_an_error_or_a_repr(httpserver: HTTPServer) -> None:
    closed = httpserver.port  # a port nothing listens on once the server is stopped
    httpserver.stop()
    feed = feed_at(
        f"http://127.0.0.1:{closed}/feed.xml",
        proxy=f"http://proxyuser:pr0xy-pa55@127.0.0.1:{closed}",
        **SETTINGS,
    )
    outcome = await fetch(feed)
    assert outcome.status is FetchStatus.ERROR
    secrets = ["pr0xy-pa55", "k3y-0f-the-feed", "s3ss10n-cookie", "b3arer-t0ken"]
    for text in (outcome.error, repr(feed), repr(feed.request), str(feed)):
        for secret in secrets:
            assert secret not in text
    assert feed.request is not None
    assert set(secrets) <= set(feed.request.secrets())
    httpserver.start()  # the fixture stops it again
