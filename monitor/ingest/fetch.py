"""Fetch one feed over HTTP: conditional GET, size caps, a total deadline, and a verdict.

Owns everything between "poll this URL" and "here are the bytes": the
shared ``httpx.AsyncClient`` configuration (per-phase timeouts, redirects,
headers), the conditional GET with stored validators, the caps on raw and
decompressed size, and the classification of failures into retryable or
permanent. Failures are :class:`~monitor.types.FetchOutcome` values, never
exceptions, and their messages name the feed and a redacted URL
(``scheme://host/path``) so no credential or token ever reaches a log.
"""

from __future__ import annotations

import asyncio
import dataclasses
import re
import time
import zlib
from typing import Any
from urllib.parse import urljoin, urlsplit

import httpx

from monitor.http_headers import parse_retry_after
from monitor.settings import Settings
from monitor.types import FeedValidators, FetchOutcome, FetchStatus

FEED_ACCEPT = (
    "application/rss+xml, application/atom+xml, application/feed+json, application/json, "
    "application/xml, text/xml;q=0.9, */*;q=0.1"
)
MAX_REDIRECTS = 5
#: Response headers kept in FetchOutcome.headers (the parser and the validators use them).
KEPT_HEADERS = ("content-type", "content-location", "content-language", "etag", "last-modified")
# A handshake or an upload that takes longer than this is a dead server, whatever the deadline.
_MAX_CONNECT_SECONDS = 10.0
_URL_IN_TEXT = re.compile(r"[a-zA-Z][a-zA-Z0-9+.-]*://[^\s'\"<>]+")


def build_http_client(
    settings: Settings, transport: httpx.AsyncBaseTransport | None = None
) -> httpx.AsyncClient:
    """The one client all feed fetches share (the caller owns its lifetime).

    Per-phase timeouts catch a dead server early with a precise message; the
    total deadline is enforced per fetch by :func:`fetch_feed`. Reads may take
    up to the whole deadline because a big feed on a slow link is legitimate.
    """
    total = settings.fetch_timeout.total_seconds()
    short = min(_MAX_CONNECT_SECONDS, total)
    return httpx.AsyncClient(
        transport=transport,
        timeout=httpx.Timeout(connect=short, read=total, write=short, pool=total),
        # Fetch concurrency is capped by the caller; the pool never needs more.
        limits=httpx.Limits(max_connections=settings.max_concurrent_fetches),
        follow_redirects=True,
        max_redirects=MAX_REDIRECTS,
        # We decode the body ourselves (see _Inflater), so only offer what it knows.
        headers={
            "User-Agent": settings.user_agent,
            "Accept": FEED_ACCEPT,
            "Accept-Encoding": "gzip, deflate",
        },
    )


def redact_url(url: str | httpx.URL) -> str:
    """``scheme://host[:port]/path`` of a URL: no user info, query or fragment."""
    try:
        parts = urlsplit(str(url))
        host = parts.hostname or ""
        port = parts.port
    except ValueError:
        return "<invalid url>"
    if ":" in host:
        host = f"[{host}]"
    netloc = f"{host}:{port}" if port is not None else host
    return f"{parts.scheme}://{netloc}{parts.path}" if parts.scheme else "<invalid url>"


def is_retryable_status(status: int) -> bool:
    """Whether an HTTP error status may go away by itself (5xx, 408, 425, 429)."""
    return status >= 500 or status in (408, 425, 429)


async def fetch_feed(
    client: httpx.AsyncClient,
    feed_id: str,
    url: str,
    validators: FeedValidators,
    *,
    total_timeout: float,
    max_bytes: int,
) -> FetchOutcome:
    """GET a feed with the stored validators; never raises for network or HTTP problems.

    200 gives OK with the decompressed body and the new validators; 304 gives
    NOT_MODIFIED, keeping the old validators unless the server sent new ones.
    Anything else is ERROR, with the old validators so the caller can keep them.
    """
    started = time.monotonic()
    fetch = _Fetch(feed_id, url, validators, max_bytes)
    if problem := _url_problem(url):
        return fetch.error(f"invalid URL: {problem}", retryable=False)
    try:
        async with asyncio.timeout(total_timeout):
            outcome = await fetch.run(client)
    except TimeoutError:
        outcome = fetch.error(f"exceeded the total deadline of {total_timeout:g}s", retryable=True)
    except httpx.TimeoutException as exc:
        outcome = fetch.error(f"{_timeout_phase(exc)} timed out", retryable=True)
    except httpx.TooManyRedirects:
        outcome = fetch.error(f"more than {MAX_REDIRECTS} redirects", retryable=False)
    except (httpx.InvalidURL, httpx.UnsupportedProtocol) as exc:
        outcome = fetch.error(f"invalid URL: {fetch.scrub(str(exc))}", retryable=False)
    except httpx.HTTPError as exc:  # connection refused, reset, TLS, bad gzip, protocol errors
        outcome = fetch.error(f"{type(exc).__name__}: {fetch.scrub(str(exc))}", retryable=True)
    return dataclasses.replace(outcome, elapsed=time.monotonic() - started)


class _Fetch:
    """The state of one fetch, so the outcome builders need not pass it around."""

    def __init__(self, feed_id: str, url: str, validators: FeedValidators, max_bytes: int) -> None:
        self.feed_id = feed_id
        self.url = url
        self.validators = validators
        self.max_bytes = max_bytes
        self.http_status: int | None = None
        self.headers: dict[str, str] = {}
        self.final_url: str = url

    async def run(self, client: httpx.AsyncClient) -> FetchOutcome:
        async with client.stream("GET", self.url, headers=self._conditional_headers()) as resp:
            self.http_status = resp.status_code
            self.final_url = str(resp.url)
            self.headers = _kept_headers(resp)
            if resp.status_code == 304:
                return self._not_modified(resp)
            if resp.is_success:
                return await self._read_body(resp)
            return self._http_error(resp)

    def _conditional_headers(self) -> dict[str, str]:
        headers: dict[str, str] = {}
        # A validator is echoed verbatim; one that is not a clean ASCII token would
        # make httpx raise while encoding the request, so it is simply not sent.
        if _sendable(self.validators.etag):
            headers["If-None-Match"] = str(self.validators.etag)
        if _sendable(self.validators.last_modified):
            headers["If-Modified-Since"] = str(self.validators.last_modified)
        return headers

    def _not_modified(self, resp: httpx.Response) -> FetchOutcome:
        validators = FeedValidators(
            etag=resp.headers.get("etag") or self.validators.etag,
            last_modified=resp.headers.get("last-modified") or self.validators.last_modified,
        )
        return self._outcome(FetchStatus.NOT_MODIFIED, validators=validators)

    async def _read_body(self, resp: httpx.Response) -> FetchOutcome:
        declared = resp.headers.get("content-length", "")
        if declared.isdigit() and int(declared) > self.max_bytes:
            return self.error(
                f"body of {declared} bytes exceeds the cap of {self.max_bytes}", retryable=False
            )
        validators = FeedValidators(
            etag=resp.headers.get("etag"), last_modified=resp.headers.get("last-modified")
        )
        if resp.is_stream_consumed:
            # Only a test transport hands over a body it has already read (and decoded).
            if len(resp.content) > self.max_bytes:
                return self.error(
                    f"body exceeds the cap of {self.max_bytes} bytes", retryable=False
                )
            return self._outcome(FetchStatus.OK, body=resp.content, validators=validators)
        try:
            inflater = _Inflater(resp.headers.get("content-encoding", ""))
        except ValueError as exc:
            return self.error(str(exc), retryable=False)
        chunks: list[bytes] = []
        size = 0
        # Raw chunks are decompressed here rather than by httpx (aiter_bytes): httpx
        # inflates a whole 64 KiB chunk at once (a bomb yields ~64 MiB before we could
        # look), hides chunks that inflate to nothing, and keeps whatever follows the
        # end of a gzip stream in memory. Both counts are checked on every raw chunk.
        async for raw in resp.aiter_raw():
            if resp.num_bytes_downloaded > self.max_bytes:
                return self.error(
                    f"body exceeds the cap of {self.max_bytes} bytes", retryable=False
                )
            chunk = inflater.feed(raw, self.max_bytes - size)
            size += len(chunk)
            if size > self.max_bytes:
                return self.error(
                    f"decompressed body exceeds the cap of {self.max_bytes} bytes", retryable=False
                )
            chunks.append(chunk)
        return self._outcome(FetchStatus.OK, body=b"".join(chunks), validators=validators)

    def _http_error(self, resp: httpx.Response) -> FetchOutcome:
        status = resp.status_code
        retryable = is_retryable_status(status)
        retry_after = parse_retry_after(resp.headers.get("retry-after"), time.time())
        reason = (resp.reason_phrase or "error")[:80]
        return self.error(
            f"HTTP {status} {reason}",
            retryable=retryable,
            retry_after=retry_after if retryable else None,
        )

    def _outcome(
        self,
        status: FetchStatus,
        *,
        body: bytes = b"",
        validators: FeedValidators,
        error: str = "",
        retryable: bool = True,
        retry_after: float | None = None,
    ) -> FetchOutcome:
        headers = dict(self.headers)
        if status is FetchStatus.OK:
            # feedparser resolves relative links against Content-Location; without one it
            # would leave them relative. The redacted final URL is the right base, and
            # keeps any token in the query out of what is stored and logged.
            base = redact_url(self.final_url)
            given = headers.get("content-location")
            headers["content-location"] = urljoin(base, given) if given else base
        return FetchOutcome(
            feed_id=self.feed_id,
            status=status,
            body=body,
            validators=validators,
            http_status=self.http_status,
            headers=headers,
            error=error,
            retryable=retryable,
            retry_after=retry_after,
        )

    def error(
        self, reason: str, *, retryable: bool, retry_after: float | None = None
    ) -> FetchOutcome:
        message = f"feed {self.feed_id}: {redact_url(self.url)}: {reason}"
        return self._outcome(
            FetchStatus.ERROR,
            validators=self.validators,
            error=message,
            retryable=retryable,
            retry_after=retry_after,
        )

    def scrub(self, text: str) -> str:
        """An exception message with every URL in it cut down to its redacted form."""
        for url in {self.url, self.final_url}:
            text = text.replace(url, redact_url(url))
            try:
                parts = urlsplit(url)
                secrets = (parts.password, parts.query, parts.fragment)
            except ValueError:
                continue
            for secret in secrets:
                if secret:
                    text = text.replace(secret, "***")
        return _URL_IN_TEXT.sub(lambda m: redact_url(m.group(0)), text)


class _Inflater:
    """Incremental gzip/deflate decoding that never produces more than it is allowed to."""

    def __init__(self, content_encoding: str) -> None:
        encoding = content_encoding.strip().lower()
        if encoding in ("", "identity"):
            self._kind = "identity"
        elif encoding in ("gzip", "x-gzip"):
            self._kind = "gzip"
        elif encoding == "deflate":
            self._kind = "deflate"
        else:  # we only ever advertise gzip and deflate
            raise ValueError(f"unsupported content-encoding {content_encoding!r}")
        self._zlib = self._new()
        self._started = False
        self._done = False

    def _new(self, raw_deflate: bool = False) -> Any:
        if self._kind == "gzip":
            return zlib.decompressobj(zlib.MAX_WBITS | 16)
        return zlib.decompressobj(-zlib.MAX_WBITS if raw_deflate else zlib.MAX_WBITS)

    def feed(self, data: bytes, room: int) -> bytes:
        """Decode ``data``; output longer than ``room`` means the cap is exceeded (then stop)."""
        if self._kind == "identity":
            return data
        out = b""
        while data and not self._done:
            try:
                out += self._zlib.decompress(data, max(room - len(out), 0) + 1)
            except zlib.error:
                if self._kind == "deflate" and not self._started:
                    # "deflate" should be zlib-wrapped, but some servers send raw deflate.
                    self._zlib, self._started = self._new(raw_deflate=True), True
                    continue
                raise httpx.DecodingError(f"corrupt {self._kind} body") from None
            self._started = True
            if len(out) > room or not self._zlib.eof:
                break  # over the cap, or all of data consumed
            # Another gzip member may follow; anything else after the end is ignored
            # (never buffered: that is how an endless trailer would eat memory).
            data = self._zlib.unused_data
            if self._kind == "gzip" and data[:2] == b"\x1f\x8b":
                self._zlib = self._new()
            else:
                self._done = True
        return out


def _url_problem(url: str) -> str:
    """Why a feed URL cannot be fetched, or "" (checked up front, whatever the transport)."""
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 - raises ValueError for a port that is not a number in range
    except ValueError as exc:
        return str(exc)
    if parts.scheme.lower() not in ("http", "https"):
        return "the scheme must be http or https"
    if not parts.hostname:
        return "no host"
    return ""


def _sendable(value: str | None) -> bool:
    return value is not None and value != "" and value.isascii() and value.isprintable()


def _kept_headers(resp: httpx.Response) -> dict[str, str]:
    return {name: resp.headers[name] for name in KEPT_HEADERS if name in resp.headers}


def _timeout_phase(exc: httpx.TimeoutException) -> str:
    return {
        httpx.ConnectTimeout: "connect",
        httpx.ReadTimeout: "read",
        httpx.WriteTimeout: "write",
        httpx.PoolTimeout: "waiting for a connection",
    }.get(type(exc), "request")
