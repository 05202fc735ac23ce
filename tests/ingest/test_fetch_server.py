"""monitor.ingest.fetch against real local HTTP servers: conditional GET round trips,
redirects with relative links, and a dribbling server cut off by the total deadline."""

from __future__ import annotations

import gzip
import socket
import threading
import time
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from pytest_httpserver import HTTPServer
from werkzeug import Request, Response

from monitor.ingest.fetch import (
    build_http_client,
    fetch_feed,
)
from monitor.ingest.parse import parse_feed
from monitor.model import FeedValidators, FetchStatus
from tests.ingest.test_fetch import settings

# --- against a real HTTP server ------------------------------------------------------------


@pytest.fixture
def bbc_feed(shared_data: Path) -> bytes:
    return (shared_data / "feeds/feed-rs/rss2/rss_2.0_bbc.xml").read_bytes()


async def test_conditional_get_round_trip_against_a_real_server(
    httpserver: HTTPServer, bbc_feed: bytes
) -> None:
    etag, modified = '"rev-7"', "Thu, 25 Feb 2021 10:15:00 GMT"
    requests: list[dict[str, str]] = []

    def handler(request: Request) -> Response:
        requests.append(dict(request.headers))
        if request.headers.get("If-None-Match") == etag:
            return Response(status=304, headers={"ETag": etag})
        body, headers = bbc_feed, {"ETag": etag, "Last-Modified": modified}
        if "gzip" in request.headers.get("Accept-Encoding", ""):
            body, headers = gzip.compress(body), {**headers, "Content-Encoding": "gzip"}
        return Response(body, status=200, headers=headers, content_type="application/rss+xml")

    httpserver.expect_request("/feed.xml").respond_with_handler(handler)
    url = httpserver.url_for("/feed.xml")
    async with build_http_client(settings()) as client:
        first = await fetch_feed(
            client, "bbc", url, FeedValidators(), total_timeout=5, max_bytes=1_000_000
        )
        assert first.status is FetchStatus.OK
        assert first.body == bbc_feed  # gzip on the wire, decoded here
        assert first.validators == FeedValidators(etag, modified)
        second = await fetch_feed(
            client, "bbc", url, first.validators, total_timeout=5, max_bytes=1_000_000
        )
    assert second.status is FetchStatus.NOT_MODIFIED
    assert second.validators == first.validators
    assert "If-None-Match" not in requests[0]
    assert requests[1]["If-None-Match"] == etag
    assert requests[1]["If-Modified-Since"] == modified

    parsed = parse_feed("bbc", first.body, first.headers, fetched_at=time.time())
    assert [a.title for a in parsed.articles] == ["Marcus Aurelius"]


async def test_a_real_redirect_is_followed_and_relative_links_resolve(
    httpserver: HTTPServer,
) -> None:
    feed = (
        b'<?xml version="1.0"?><rss version="2.0"><channel><title>t</title>'
        b"<item><title>a</title><link>story/1?utm_source=rss</link></item></channel></rss>"
    )
    httpserver.expect_request("/old").respond_with_data(
        "", status=301, headers={"Location": httpserver.url_for("/news/feed.xml")}
    )
    httpserver.expect_request("/news/feed.xml").respond_with_data(
        feed, content_type="application/rss+xml"
    )
    async with build_http_client(settings()) as client:
        outcome = await fetch_feed(
            client,
            "f",
            httpserver.url_for("/old"),
            FeedValidators(),
            total_timeout=5,
            max_bytes=10**6,
        )
    assert outcome.status is FetchStatus.OK
    assert outcome.http_status == 200
    [article] = parse_feed("f", outcome.body, outcome.headers, fetched_at=time.time()).articles
    assert article.url == httpserver.url_for("/news/story/1")


class DribblingServer:
    """Sends headers promptly, then one body byte every ``interval`` seconds."""

    def __init__(self, interval: float = 0.2) -> None:
        self.interval = interval
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.listener.settimeout(0.05)
        self.port = self.listener.getsockname()[1]
        self.stopping = threading.Event()
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self) -> None:
        while not self.stopping.is_set():
            try:
                conn, _ = self.listener.accept()
            except TimeoutError:
                continue
            with conn:
                conn.settimeout(5)
                try:
                    conn.recv(65536)  # the request; its content does not matter
                    conn.sendall(
                        b"HTTP/1.1 200 OK\r\nContent-Type: application/rss+xml\r\n"
                        b"Content-Length: 100000\r\n\r\n"
                    )
                    while not self.stopping.wait(self.interval):
                        conn.sendall(b"<")
                except OSError:  # the client gave up and closed the connection
                    pass

    def close(self) -> None:
        self.stopping.set()
        self.thread.join(timeout=5)
        self.listener.close()


@pytest.fixture
def dribbling_server() -> Iterator[DribblingServer]:
    server = DribblingServer()
    yield server
    server.close()


async def test_a_dribbling_server_is_cut_off_by_the_total_deadline(
    dribbling_server: DribblingServer,
) -> None:
    # Every read succeeds within the per-read timeout; only the total deadline can
    # stop this (the server would take 100000 * 0.2 s to finish).
    url = f"http://127.0.0.1:{dribbling_server.port}/feed.xml"
    started = time.monotonic()
    async with build_http_client(settings(fetch_timeout=timedelta(seconds=30))) as client:
        outcome = await fetch_feed(
            client, "slow", url, FeedValidators(), total_timeout=1.0, max_bytes=1_000_000
        )
    took = time.monotonic() - started
    assert outcome.status is FetchStatus.ERROR
    assert outcome.retryable is True
    assert outcome.http_status == 200  # the headers had arrived
    assert "exceeded the total deadline of 1s" in outcome.error
    assert 0.99 <= outcome.elapsed < 3.0
    assert took < 3.0
