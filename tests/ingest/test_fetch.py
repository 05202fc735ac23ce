"""Tests of monitor.ingest.fetch: classification on a mock transport, then a real local server."""

from __future__ import annotations

import asyncio
import gzip
import time
import zlib
from collections.abc import AsyncIterator, Callable
from email.utils import formatdate
from typing import Any

import httpx
import pytest

from monitor.ingest.fetch import (
    FeedFetch,
    FetchLimits,
    build_http_client,
    fetch_feed,
    host_key,
    permanent_move,
    redact_url,
)
from monitor.model import FeedValidators, FetchStatus
from monitor.settings import Settings
from tests.conftest import free_port

URL = "https://example.com/feed.xml"
FEED = b'<?xml version="1.0"?><rss version="2.0"><channel><title>t</title></channel></rss>'
#: What httpx.MockTransport calls: sync or async, returning a response.
Handler = Callable[[httpx.Request], Any]


def settings(**overrides: Any) -> Settings:
    return Settings(_env_file=None, **overrides)


async def fetch(
    handler: Handler,
    validators: FeedValidators | None = None,
    *,
    url: str = URL,
    total_timeout: float = 5.0,
    max_bytes: int = 1_000_000,
) -> FeedFetch:
    async with build_http_client(settings(), transport=httpx.MockTransport(handler)) as client:
        return await fetch_feed(
            client,
            "feed-1",
            url,
            validators or FeedValidators(),
            total_timeout=total_timeout,
            max_bytes=max_bytes,
        )


def streamed(*chunks: bytes, counter: list[int] | None = None) -> httpx.AsyncByteStream:
    """A response body that arrives chunk by chunk (no Content-Length), counting what was sent."""

    class Stream(httpx.AsyncByteStream):
        async def __aiter__(self) -> AsyncIterator[bytes]:
            for chunk in chunks:
                if counter is not None:
                    counter.append(len(chunk))
                yield chunk

    return Stream()


# --- the client ----------------------------------------------------------------------------


def test_client_configuration() -> None:
    client = build_http_client(settings(fetch_timeout="30s", user_agent="test-agent/1"))
    assert client.timeout == httpx.Timeout(connect=10.0, read=30.0, write=10.0, pool=30.0)
    assert client.follow_redirects is True
    assert client.max_redirects == 5
    assert client.headers["User-Agent"] == "test-agent/1"
    accept = client.headers["Accept"]
    for media_type in ("application/rss+xml", "application/atom+xml", "application/feed+json"):
        assert media_type in accept
    assert "*/*;q=0.1" in accept
    assert client.headers["Accept-Encoding"] == "gzip, deflate"
    short = build_http_client(settings(fetch_timeout="4s"))
    assert short.timeout == httpx.Timeout(4.0)


async def test_request_carries_the_client_headers() -> None:
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(200, content=FEED)

    await fetch(handler)
    [request] = seen
    assert request.headers["User-Agent"].startswith("news-monitor/")
    assert "application/rss+xml" in request.headers["Accept"]
    assert "If-None-Match" not in request.headers
    assert "If-Modified-Since" not in request.headers


# --- success and conditional GET -----------------------------------------------------------


async def test_200_returns_body_validators_and_headers() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(
            200,
            headers={
                "Content-Type": "application/rss+xml; charset=utf-8",
                "ETag": '"abc"',
                "Last-Modified": "Wed, 14 Jan 2026 10:00:00 GMT",
                "Content-Language": "en",
                "X-Unrelated": "dropped",
            },
            stream=streamed(FEED[:20], FEED[20:]),
        )

    outcome = await fetch(handler)
    assert outcome.status is FetchStatus.OK
    assert outcome.body == FEED
    assert outcome.http_status == 200
    assert outcome.error == ""
    assert outcome.validators == FeedValidators('"abc"', "Wed, 14 Jan 2026 10:00:00 GMT")
    assert outcome.headers == {
        "content-type": "application/rss+xml; charset=utf-8",
        "etag": '"abc"',
        "last-modified": "Wed, 14 Jan 2026 10:00:00 GMT",
        "content-language": "en",
        # The base for relative links, which the server did not send.
        "content-location": URL,
    }
    assert outcome.elapsed > 0


async def test_a_200_without_validators_forgets_the_old_ones() -> None:
    outcome = await fetch(lambda r: httpx.Response(200, content=FEED), FeedValidators('"old"', "x"))
    assert outcome.status is FetchStatus.OK
    assert outcome.validators == FeedValidators()


async def test_304_sends_validators_and_keeps_them() -> None:
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(304)

    old = FeedValidators(etag='W/"v1"', last_modified="Wed, 14 Jan 2026 10:00:00 GMT")
    outcome = await fetch(handler, old)
    assert seen[0].headers["If-None-Match"] == 'W/"v1"'
    assert seen[0].headers["If-Modified-Since"] == "Wed, 14 Jan 2026 10:00:00 GMT"
    assert outcome.status is FetchStatus.NOT_MODIFIED
    assert outcome.body == b""
    assert outcome.http_status == 304
    assert outcome.validators == old


async def test_304_with_a_new_etag_updates_only_that() -> None:
    old = FeedValidators(etag='"v1"', last_modified="Wed, 14 Jan 2026 10:00:00 GMT")
    outcome = await fetch(lambda r: httpx.Response(304, headers={"ETag": '"v2"'}), old)
    assert outcome.validators == FeedValidators('"v2"', "Wed, 14 Jan 2026 10:00:00 GMT")


async def test_a_validator_that_cannot_be_sent_is_left_out() -> None:
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(200, content=FEED)

    outcome = await fetch(handler, FeedValidators(etag='"caf\u00e9"', last_modified="bad\r\nX: y"))
    assert outcome.status is FetchStatus.OK
    assert "If-None-Match" not in seen[0].headers
    assert "If-Modified-Since" not in seen[0].headers


async def test_redirects_are_followed_and_the_final_url_is_the_base() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        if request.url.path == "/old":
            return httpx.Response(301, headers={"Location": "https://new.example.com/rss?k=secret"})
        return httpx.Response(200, content=FEED)

    outcome = await fetch(handler, url="https://example.com/old")
    assert outcome.status is FetchStatus.OK
    assert outcome.body == FEED
    assert outcome.headers["content-location"] == "https://new.example.com/rss"


async def test_a_redirect_loop_is_a_permanent_error() -> None:
    outcome = await fetch(lambda r: httpx.Response(302, headers={"Location": URL}))
    assert outcome.status is FetchStatus.ERROR
    assert outcome.retryable is False
    assert "more than 5 redirects" in outcome.error


def hops(*steps: tuple[int, str]) -> Handler:
    """A server answering each path in ``steps`` with a redirect (status, location), then 200."""
    redirects = {f"/{i}": step for i, step in enumerate(steps)}

    def handler(request: httpx.Request) -> httpx.Response:
        if request.url.path in redirects:
            status, location = redirects[request.url.path]
            return httpx.Response(status, headers={"Location": location})
        return httpx.Response(200, content=FEED)

    return handler


@pytest.mark.parametrize(
    ("steps", "moved_to"),
    [
        ([(301, "https://example.com/end")], "https://example.com/end"),
        ([(308, "https://example.com/end")], "https://example.com/end"),
        ([(302, "https://example.com/end")], ""),
        ([(307, "https://example.com/end")], ""),
        ([(303, "https://example.com/end")], ""),
        # Permanent to /1, which only temporarily sends on: the move is to /1.
        (
            [(301, "https://example.com/1"), (302, "https://example.com/end")],
            "https://example.com/1",
        ),
        (
            [(301, "https://example.com/1"), (308, "https://example.com/end")],
            "https://example.com/end",
        ),
        # Borrowed first: nothing is permanent about the requested URL.
        ([(302, "https://example.com/1"), (301, "https://example.com/end")], ""),
        # Relative locations resolve.
        ([(301, "/v2/feed.xml?x=1")], "https://example.com/v2/feed.xml?x=1"),
        # A move to plain http is followed but never stored.
        ([(301, "http://example.com/end")], ""),
    ],
)
async def test_permanent_moves_are_told_from_temporary_ones(
    steps: list[tuple[int, str]], moved_to: str
) -> None:
    outcome = await fetch(hops(*steps), url="https://example.com/0")
    assert outcome.status is FetchStatus.OK
    assert outcome.moved_to == moved_to


async def test_a_move_is_reported_even_when_the_new_url_fails() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        if request.url.path == "/old":
            return httpx.Response(301, headers={"Location": "https://example.com/gone"})
        return httpx.Response(410)

    outcome = await fetch(handler, url="https://example.com/old")
    assert outcome.status is FetchStatus.ERROR and outcome.http_status == 410
    assert outcome.moved_to == "https://example.com/gone"


def test_permanent_move_needs_an_unbroken_chain() -> None:
    assert permanent_move("https://a/0", [], []) == ""
    assert permanent_move("http://a/0", ["https://a/1"], [301]) == "https://a/1"
    assert permanent_move("https://a/0", ["https://a/1", "http://a/2"], [301, 301]) == "https://a/1"


async def test_cache_headers_are_kept_for_the_schedule() -> None:
    headers = {"Cache-Control": "max-age=900", "Age": "12", "X-Other": "dropped"}
    ok = await fetch(lambda r: httpx.Response(200, content=FEED, headers=headers))
    assert (ok.headers["cache-control"], ok.headers["age"]) == ("max-age=900", "12")
    assert "x-other" not in ok.headers
    not_modified = await fetch(lambda r: httpx.Response(304, headers=headers))
    assert not_modified.headers["cache-control"] == "max-age=900"


def test_host_key() -> None:
    assert host_key("https://Feeds.Example.com:8443/a?b") == "feeds.example.com"
    assert host_key("http://[::1]:8080/") == "::1"
    assert host_key("not a url") == ""


async def test_fetch_limits_hold_per_host_and_in_all() -> None:
    limits = FetchLimits(total=3, per_host=2)
    running: dict[str, int] = {}
    peak: dict[str, int] = {}
    peak_all = 0
    release = asyncio.Event()

    async def one(url: str) -> None:
        nonlocal peak_all
        async with limits.slot(url):
            host = host_key(url)
            running[host] = running.get(host, 0) + 1
            peak[host] = max(peak.get(host, 0), running[host])
            peak_all = max(peak_all, sum(running.values()))
            await release.wait()
            running[host] -= 1

    urls = [f"https://a.test/{i}" for i in range(5)] + [f"https://B.test/{i}" for i in range(5)]
    tasks = [asyncio.create_task(one(u)) for u in urls]
    await asyncio.sleep(0.05)
    # Three a.test fetches wait for their host without holding a slot of the total,
    # so b.test gets the third one.
    assert running == {"a.test": 2, "b.test": 1}
    release.set()
    await asyncio.gather(*tasks)
    assert max(peak.values()) == 2
    assert peak_all == 3
    assert limits._hosts == {}, "idle hosts are forgotten"
    with pytest.raises(ValueError, match="at least 1"):
        FetchLimits(total=0, per_host=1)


# --- HTTP errors ---------------------------------------------------------------------------


@pytest.mark.parametrize("status", [400, 401, 403, 404, 410])
async def test_client_errors_are_permanent(status: int) -> None:
    old = FeedValidators(etag='"keep"')
    outcome = await fetch(lambda r: httpx.Response(status, headers={"Retry-After": "5"}), old)
    assert outcome.status is FetchStatus.ERROR
    assert outcome.retryable is False
    assert outcome.retry_after is None
    assert outcome.http_status == status
    assert outcome.error.startswith(f"feed feed-1: {URL}: HTTP {status}")
    assert outcome.validators == old  # an error never loses what the caller had


@pytest.mark.parametrize(
    ("status", "retry_after_header", "retry_after"),
    [(500, None, None), (502, None, None), (503, "120", 120.0), (429, "7", 7.0), (408, None, None)],
)
async def test_server_errors_and_throttling_are_retryable(
    status: int, retry_after_header: str | None, retry_after: float | None
) -> None:
    headers = {"Retry-After": retry_after_header} if retry_after_header else {}
    outcome = await fetch(lambda r: httpx.Response(status, headers=headers))
    assert outcome.status is FetchStatus.ERROR
    assert outcome.retryable is True
    assert outcome.http_status == status
    assert outcome.retry_after == retry_after


async def test_retry_after_as_an_http_date() -> None:
    in_an_hour = formatdate(time.time() + 3600, usegmt=True)
    outcome = await fetch(lambda r: httpx.Response(429, headers={"Retry-After": in_an_hour}))
    assert outcome.retry_after is not None
    assert 3500 < outcome.retry_after <= 3600


# --- network failures ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("exc", "message"),
    [
        (httpx.ConnectError("[Errno 111] Connection refused"), "ConnectError: [Errno 111]"),
        (httpx.ConnectTimeout("timed out"), "connect timed out"),
        (httpx.ReadTimeout("timed out"), "read timed out"),
        (httpx.RemoteProtocolError("peer closed connection"), "RemoteProtocolError: peer closed"),
        (httpx.ReadError("connection reset"), "ReadError: connection reset"),
    ],
)
async def test_network_errors_are_retryable(exc: Exception, message: str) -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        raise exc

    outcome = await fetch(handler, FeedValidators(etag='"keep"'))
    assert outcome.status is FetchStatus.ERROR
    assert outcome.retryable is True
    assert outcome.http_status is None
    assert outcome.error.startswith(f"feed feed-1: {URL}: {message}")
    assert outcome.validators == FeedValidators(etag='"keep"')


async def test_connection_refused_by_a_real_socket() -> None:
    url = f"http://127.0.0.1:{free_port()}/feed.xml"  # nothing listens there
    async with build_http_client(settings()) as client:
        outcome = await fetch_feed(
            client, "feed-1", url, FeedValidators(), total_timeout=5, max_bytes=1000
        )
    assert outcome.status is FetchStatus.ERROR
    assert outcome.retryable is True
    assert outcome.http_status is None
    assert "ConnectError" in outcome.error


async def test_the_total_deadline_cuts_a_hanging_server() -> None:
    async def handler(request: httpx.Request) -> httpx.Response:
        await _forever()
        raise AssertionError("unreachable")

    outcome = await fetch(handler, total_timeout=0.2)
    assert outcome.status is FetchStatus.ERROR
    assert outcome.retryable is True
    assert "exceeded the total deadline of 0.2s" in outcome.error
    assert outcome.elapsed >= 0.19  # asyncio may fire a timer a clock tick early


async def _forever() -> None:
    await asyncio.Event().wait()


@pytest.mark.parametrize(
    "url", ["not a url", "ftp://example.com/feed.xml", "https://example.com:99999/feed"]
)
async def test_invalid_urls_are_permanent(url: str) -> None:
    outcome = await fetch(lambda r: httpx.Response(200, content=FEED), url=url)
    assert outcome.status is FetchStatus.ERROR
    assert outcome.retryable is False
    assert "feed feed-1:" in outcome.error


# --- size caps -----------------------------------------------------------------------------


async def test_oversize_by_content_length_is_refused_before_reading() -> None:
    sent: list[int] = []
    outcome = await fetch(
        lambda r: httpx.Response(
            200, headers={"Content-Length": "5000"}, stream=streamed(b"x" * 5000, counter=sent)
        ),
        max_bytes=1000,
    )
    assert outcome.status is FetchStatus.ERROR
    assert outcome.retryable is False
    assert "body of 5000 bytes exceeds the cap of 1000" in outcome.error
    assert sent == []  # not a byte of the body was read


async def test_oversize_while_streaming_stops_early() -> None:
    sent: list[int] = []
    chunks = [b"x" * 100] * 1000  # 100 KB, no Content-Length
    outcome = await fetch(
        lambda r: httpx.Response(200, stream=streamed(*chunks, counter=sent)), max_bytes=1000
    )
    assert outcome.status is FetchStatus.ERROR
    assert outcome.retryable is False
    assert "exceeds the cap of 1000 bytes" in outcome.error
    assert outcome.body == b""
    assert sum(sent) <= 1100  # stopped at the first chunk past the cap


async def test_a_body_exactly_at_the_cap_is_accepted() -> None:
    outcome = await fetch(
        lambda r: httpx.Response(200, stream=streamed(b"x" * 1000)), max_bytes=1000
    )
    assert outcome.status is FetchStatus.OK
    assert len(outcome.body) == 1000


async def test_gzip_bomb_is_cut_off_at_the_decompressed_cap() -> None:
    bomb = gzip.compress(b"\0" * 20_000_000)  # ~20 KB on the wire, 20 MB inflated
    assert len(bomb) < 100_000
    outcome = await fetch(
        lambda r: httpx.Response(
            200, headers={"Content-Encoding": "gzip"}, stream=streamed(bomb[:10_000], bomb[10_000:])
        ),
        max_bytes=100_000,
    )
    assert outcome.status is FetchStatus.ERROR
    assert "decompressed body exceeds the cap of 100000 bytes" in outcome.error


async def test_raw_bytes_count_even_when_they_inflate_to_nothing() -> None:
    # A complete gzip stream followed by an endless trailer: nothing more to decode,
    # but the download itself must still stop at the cap.
    sent: list[int] = []
    chunks = [gzip.compress(FEED)] + [b"\0" * 100] * 1000
    outcome = await fetch(
        lambda r: httpx.Response(
            200, headers={"Content-Encoding": "gzip"}, stream=streamed(*chunks, counter=sent)
        ),
        max_bytes=2000,
    )
    assert outcome.status is FetchStatus.ERROR
    assert "body exceeds the cap of 2000 bytes" in outcome.error
    assert sum(sent) <= 2200


@pytest.mark.parametrize(
    ("encoding", "body"),
    [
        ("gzip", gzip.compress(FEED)),
        ("x-gzip", gzip.compress(FEED)),
        ("gzip", gzip.compress(FEED[:30]) + gzip.compress(FEED[30:])),  # two members
        ("deflate", zlib.compress(FEED)),
        ("deflate", zlib.compress(FEED)[2:-4]),  # raw deflate, as some servers send it
        ("identity", FEED),
    ],
)
async def test_compressed_bodies_are_decoded(encoding: str, body: bytes) -> None:
    outcome = await fetch(
        lambda r: httpx.Response(
            200, headers={"Content-Encoding": encoding}, stream=streamed(body[:7], body[7:])
        )
    )
    assert outcome.status is FetchStatus.OK
    assert outcome.body == FEED


async def test_corrupt_gzip_is_a_retryable_error() -> None:
    outcome = await fetch(
        lambda r: httpx.Response(
            200, headers={"Content-Encoding": "gzip"}, stream=streamed(b"\x1f\x8b" + b"junk" * 50)
        )
    )
    assert outcome.status is FetchStatus.ERROR
    assert outcome.retryable is True
    assert "corrupt gzip body" in outcome.error


async def test_an_encoding_we_never_offered_is_an_error() -> None:
    outcome = await fetch(
        lambda r: httpx.Response(200, headers={"Content-Encoding": "br"}, stream=streamed(b"x"))
    )
    assert outcome.status is FetchStatus.ERROR
    assert "unsupported content-encoding 'br'" in outcome.error


async def test_a_mock_response_given_as_bytes_also_works() -> None:
    # httpx reads (and decodes) a bytes body up front; the cap still applies.
    ok = await fetch(lambda r: httpx.Response(200, content=FEED))
    assert ok.body == FEED
    big = await fetch(lambda r: httpx.Response(200, content=b"x" * 2000), max_bytes=1000)
    assert big.status is FetchStatus.ERROR


# --- secrets -------------------------------------------------------------------------------


SECRET_URL = "https://reader:hunter22@feeds.example.com/private/rss?token=t0k3n-s3cret#frag"


@pytest.mark.parametrize(
    "handler",
    [
        lambda r: (_ for _ in ()).throw(httpx.ConnectError(f"cannot reach {r.url}")),
        lambda r: httpx.Response(404),
        lambda r: httpx.Response(503, headers={"Retry-After": "1"}),
    ],
    ids=["exception", "404", "503"],
)
async def test_errors_never_contain_url_secrets(handler: Handler) -> None:
    outcome = await fetch(handler, url=SECRET_URL)
    assert outcome.status is FetchStatus.ERROR
    assert "feed-1" in outcome.error
    assert "https://feeds.example.com/private/rss" in outcome.error
    for secret in ("hunter22", "t0k3n-s3cret", "token=", "reader:", "frag"):
        assert secret not in outcome.error


async def test_the_stored_base_url_has_no_secrets() -> None:
    outcome = await fetch(lambda r: httpx.Response(200, content=FEED), url=SECRET_URL)
    assert outcome.headers["content-location"] == "https://feeds.example.com/private/rss"


@pytest.mark.parametrize(
    ("url", "redacted"),
    [
        (SECRET_URL, "https://feeds.example.com/private/rss"),
        ("http://example.com:8080/a?b=c", "http://example.com:8080/a"),
        ("http://[::1]:8080/a", "http://[::1]:8080/a"),
        ("no scheme", "<invalid url>"),
        ("http://example.com:port/", "<invalid url>"),
    ],
)
def test_redact_url(url: str, redacted: str) -> None:
    assert redact_url(url) == redacted
