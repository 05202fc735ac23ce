"""Fetch one feed over HTTP: conditional GET, size caps, a total deadline, and a verdict.

Owns everything between "poll this URL" and "here are the bytes": the
shared ``httpx.AsyncClient`` configuration (per-phase timeouts, redirects,
headers), the conditional GET with stored validators, the caps on raw and
decompressed size, and the classification of failures into retryable or
permanent. Failures are :class:`~monitor.model.FetchOutcome` values, never
exceptions, and their messages name the feed and a redacted URL
(``scheme://host/path``) so no credential or token ever reaches a log.

Politeness lives here too: :class:`FetchLimits` caps fetches in flight, in
all and per host name, and :func:`fetch_feed` tells a permanent move (an
unbroken chain of 301/308 from the requested URL) from a temporary one
(302/303/307), so the poller can ask the new URL directly next time.

Every connection goes through :mod:`monitor.ingest.netpolicy`'s transport: the
first request and every redirect hop connect only to public addresses unless
``MONITOR_ALLOW_PRIVATE_ADDRESSES`` or the feed (``allow_private``) allows more;
a refused hop is an error (``refused: ...``), never a body, never a move.

A feed's own request settings (:class:`~monitor.ingest.request.FeedRequest`: headers,
User-Agent, cookies, auth, proxy) ride on the request as extensions: the client's
request hook applies them to each hop, the transport routes every hop through the
feed's proxy; their secrets are cut out of every error message.
"""

from __future__ import annotations

import asyncio
import dataclasses
import re
import time
import zlib
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager, nullcontext
from typing import Any
from urllib.parse import urljoin, urlsplit

import httpx

from monitor.http_headers import parse_retry_after
from monitor.ingest.host_slots import SharedHostLimit
from monitor.ingest.netpolicy import (
    ALLOW_PRIVATE,
    PROXY,
    AddressPolicy,
    AddressRefused,
    guarded_transport,
    refused_hop,
)
from monitor.ingest.request import FEED_REQUEST, FeedRequest, request_hook
from monitor.model import FeedValidators, FetchOutcome, FetchStatus
from monitor.settings import Settings

FEED_ACCEPT = (
    "application/rss+xml, application/atom+xml, application/feed+json, application/json, "
    "application/xml, text/xml;q=0.9, */*;q=0.1"
)
MAX_REDIRECTS = 5
#: Response headers kept in FetchOutcome.headers (the parser, the validators and the
#: schedule use them).
KEPT_HEADERS = (
    "content-type",
    "content-location",
    "content-language",
    "etag",
    "last-modified",
    "cache-control",
    "age",
    "link",  # WebSub: a feed may name its hub in a Link header
)
#: Redirect statuses that say the resource moved for good (RFC 9110 15.4).
PERMANENT_REDIRECTS = (301, 308)
# A handshake or an upload that takes longer than this is a dead server, whatever the deadline.
_MAX_CONNECT_SECONDS = 10.0
_URL_IN_TEXT = re.compile(r"[a-zA-Z][a-zA-Z0-9+.-]*://[^\s'\"<>]+")


@dataclasses.dataclass(frozen=True, slots=True)
class FeedFetch(FetchOutcome):
    """A :class:`FetchOutcome`, plus where the requested URL moved for good."""

    #: The URL a chain of permanent redirects (301/308) from the requested URL leads to,
    #: "" if the first hop was not one (or there was none). Kept even when the new URL fails.
    moved_to: str = ""
    #: The address policy refused a connection (the first request's or a redirect's).
    refused: bool = False


class FetchLimits:
    """At most ``total`` fetches in flight, and at most ``per_host`` to one host name.

    A fetch waits for its host's slot before it takes one of the total, so
    feeds queued behind a busy host never hold slots other hosts could use.
    Hosts are compared by name (lower case, port ignored: one machine is one
    server to be polite to), the host asked rather than one a redirect leads
    to. The limits hold within one process; ``shared`` (a
    :class:`~monitor.ingest.host_slots.SharedHostLimit`) adds a per-host limit and
    politeness delay across every replica, waited for after the process's own host slot
    and before a slot of the total.
    """

    def __init__(self, total: int, per_host: int, shared: SharedHostLimit | None = None) -> None:
        if total < 1 or per_host < 1:
            raise ValueError(f"fetch limits must be at least 1, not {total} and {per_host}")
        self.total = total
        self.per_host = per_host
        self.shared = shared
        self._all = asyncio.Semaphore(total)
        self._hosts: dict[str, asyncio.Semaphore] = {}
        # Fetches holding or awaiting each host's semaphore, so an idle one can be dropped.
        self._users: dict[str, int] = {}

    @asynccontextmanager
    async def slot(self, url: str) -> AsyncIterator[None]:
        """Hold a fetch slot for ``url`` for the duration of the block."""
        host = host_key(url)
        semaphore = self._hosts.setdefault(host, asyncio.Semaphore(self.per_host))
        self._users[host] = self._users.get(host, 0) + 1
        try:
            async with semaphore:
                shared = self.shared.hold(host) if self.shared and host else nullcontext()
                async with shared, self._all:
                    yield
        finally:
            self._users[host] -= 1
            if not self._users[host]:
                del self._users[host], self._hosts[host]


def host_key(url: str) -> str:
    """The host name a URL's fetches are limited under ("" if it has none)."""
    try:
        return (urlsplit(url).hostname or "").lower()
    except ValueError:
        return ""


def permanent_move(requested: str, hops: Sequence[str], statuses: Sequence[int]) -> str:
    """Where ``requested`` moved for good, given the redirect chain; "" if it did not.

    ``hops`` are the URLs reached by each redirect in turn, ``statuses`` the
    status of each redirect response. Only an unbroken run of 301/308 from
    the start counts: after a 302 the URL it left was only borrowed. A move
    from https to http is not kept either (followed, but never stored as the
    URL to ask first).
    """
    moved = ""
    current = requested
    for target, status in zip(hops, statuses, strict=True):
        if status not in PERMANENT_REDIRECTS:
            break
        if urlsplit(current).scheme == "https" and urlsplit(target).scheme != "https":
            break
        moved = current = target
    return moved


def build_http_client(
    settings: Settings,
    transport: httpx.AsyncBaseTransport | None = None,
    *,
    policy: AddressPolicy | None = None,
) -> httpx.AsyncClient:
    """The one client all feed fetches share (the caller owns its lifetime).

    Per-phase timeouts catch a dead server early with a precise message; the
    total deadline is enforced per fetch by :func:`fetch_feed`. Reads may take
    up to the whole deadline because a big feed on a slow link is legitimate.
    Connections go through :func:`~monitor.ingest.netpolicy.guarded_transport`
    (the address policy of ``settings``, or ``policy``) unless a test hands in its
    own ``transport``; fetches in flight are capped by FetchLimits, so each of its
    pools holds at most ``MONITOR_MAX_CONCURRENT_FETCHES`` connections.
    """
    total = settings.fetch_timeout.total_seconds()
    short = min(_MAX_CONNECT_SECONDS, total)
    # We decode the body ourselves (see _Inflater), so only offer what it knows.
    headers = httpx.Headers(
        {
            "User-Agent": settings.user_agent,
            "Accept": FEED_ACCEPT,
            "Accept-Encoding": "gzip, deflate",
        }
    )
    return httpx.AsyncClient(
        transport=transport or guarded_transport(settings, policy=policy),
        timeout=httpx.Timeout(connect=short, read=total, write=short, pool=total),
        follow_redirects=True,
        max_redirects=MAX_REDIRECTS,
        headers=headers,
        # A feed's own headers, cookies and auth (FeedRequest), applied hop by hop.
        event_hooks={"request": [request_hook(headers)]},
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
    allow_private: bool = False,
    request: FeedRequest | None = None,
    accept: str = "",
) -> FeedFetch:
    """GET a feed with the stored validators; never raises for network or HTTP problems.

    200 gives OK with the decompressed body and the new validators; 304 gives
    NOT_MODIFIED, keeping the old validators unless the server sent new ones.
    Anything else is ERROR, with the old validators so the caller can keep them.
    Redirects are followed; ``moved_to`` says where a permanent one led. A
    connection the address policy refuses is an ERROR with ``refused`` set;
    ``allow_private`` (the feed's opt-in) lets this fetch reach any address.
    ``request`` carries the feed's own headers, cookies, auth and proxy (applied by
    the hook of a :func:`build_http_client` client, the proxy by its transport);
    none of its secrets appears in an error. ``accept`` replaces the client's Accept header
    (an article page is asked for as HTML, not as a feed).
    """
    started = time.monotonic()
    fetch = _Fetch(feed_id, url, validators, max_bytes, allow_private, request, accept)
    if problem := _url_problem(url):
        return fetch.error(f"invalid URL: {problem}", retryable=False)
    try:
        async with asyncio.timeout(total_timeout):
            outcome = await fetch.run(client)
    except TimeoutError:
        outcome = fetch.error(f"exceeded the total deadline of {total_timeout:g}s", retryable=True)
    except httpx.TimeoutException as exc:
        outcome = fetch.error(f"{_timeout_phase(exc)} timed out", retryable=True)
    except AddressRefused as exc:
        outcome = fetch.refused(exc)
    except httpx.TooManyRedirects:
        outcome = fetch.error(f"more than {MAX_REDIRECTS} redirects", retryable=False)
    except (httpx.InvalidURL, httpx.UnsupportedProtocol) as exc:
        outcome = fetch.error(f"invalid URL: {fetch.scrub(str(exc))}", retryable=False)
    except httpx.HTTPError as exc:  # connection refused, reset, TLS, bad gzip, protocol errors
        outcome = fetch.error(f"{type(exc).__name__}: {fetch.scrub(str(exc))}", retryable=True)
    return dataclasses.replace(outcome, elapsed=time.monotonic() - started)


class _Fetch:
    """The state of one fetch, so the outcome builders need not pass it around."""

    def __init__(
        self,
        feed_id: str,
        url: str,
        validators: FeedValidators,
        max_bytes: int,
        allow_private: bool = False,
        request: FeedRequest | None = None,
        accept: str = "",
    ) -> None:
        self.feed_id = feed_id
        self.accept = accept
        self.url = url
        self.validators = validators
        self.max_bytes = max_bytes
        # Carried by every redirect too (httpx copies a request's extensions).
        extensions: dict[str, Any] = {ALLOW_PRIVATE: True} if allow_private else {}
        if request is not None:
            extensions[FEED_REQUEST] = request
            if request.proxy:
                extensions[PROXY] = request.proxy
        self.extensions = extensions or None
        # As the log redaction does, shorter strings are left alone ("yes" is no secret
        # worth mangling every message that contains the word).
        self.secrets = [s for s in (request.secrets() if request else ()) if len(s) >= 4]
        self.http_status: int | None = None
        self.headers: dict[str, str] = {}
        self.final_url: str = url
        self.moved_to: str = ""

    async def run(self, client: httpx.AsyncClient) -> FeedFetch:
        async with client.stream(
            "GET", self.url, headers=self._request_headers(), extensions=self.extensions
        ) as resp:
            self.http_status = resp.status_code
            self.final_url = str(resp.url)
            self.headers = _kept_headers(resp)
            # Each hop's target is the URL of the response that follows it.
            hops = [str(r.url) for r in resp.history[1:]] + [self.final_url]
            self.moved_to = permanent_move(
                self.url, hops if resp.history else [], [r.status_code for r in resp.history]
            )
            if resp.status_code == 304:
                return self._not_modified(resp)
            if resp.is_success:
                return await self._read_body(resp)
            return self._http_error(resp)

    def _request_headers(self) -> dict[str, str]:
        headers: dict[str, str] = {"Accept": self.accept} if self.accept else {}
        # A validator is echoed verbatim; one that is not a clean ASCII token would
        # make httpx raise while encoding the request, so it is simply not sent.
        if _sendable(self.validators.etag):
            headers["If-None-Match"] = str(self.validators.etag)
        if _sendable(self.validators.last_modified):
            headers["If-Modified-Since"] = str(self.validators.last_modified)
        return headers

    def _not_modified(self, resp: httpx.Response) -> FeedFetch:
        validators = FeedValidators(
            etag=resp.headers.get("etag") or self.validators.etag,
            last_modified=resp.headers.get("last-modified") or self.validators.last_modified,
        )
        return self._outcome(FetchStatus.NOT_MODIFIED, validators=validators)

    async def _read_body(self, resp: httpx.Response) -> FeedFetch:
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

    def _http_error(self, resp: httpx.Response) -> FeedFetch:
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
    ) -> FeedFetch:
        headers = dict(self.headers)
        if status is FetchStatus.OK:
            # feedparser resolves relative links against Content-Location; without one it
            # would leave them relative. The redacted final URL is the right base, and
            # keeps any token in the query out of what is stored and logged.
            base = redact_url(self.final_url)
            given = headers.get("content-location")
            headers["content-location"] = urljoin(base, given) if given else base
        return FeedFetch(
            feed_id=self.feed_id,
            status=status,
            body=body,
            validators=validators,
            http_status=self.http_status,
            headers=headers,
            error=error,
            retryable=retryable,
            retry_after=retry_after,
            moved_to=self.moved_to,
        )

    def error(self, reason: str, *, retryable: bool, retry_after: float | None = None) -> FeedFetch:
        message = f"feed {self.feed_id}: {redact_url(self.url)}: {reason}"
        return self._outcome(
            FetchStatus.ERROR,
            validators=self.validators,
            error=message,
            retryable=retryable,
            retry_after=retry_after,
        )

    def refused(self, exc: AddressRefused) -> FeedFetch:
        """A connection the address policy refused: the reason, and the hop it was."""
        hop = refused_hop(exc)
        via = f"; redirected to {redact_url(hop)}" if hop and not _same_url(hop, self.url) else ""
        outcome = self.error(f"{exc}{via}", retryable=False)
        # No body, and no move: a redirect to a refused address is never stored.
        return dataclasses.replace(outcome, refused=True, moved_to="")

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
        # Longest first, so a secret containing a shorter one is replaced whole.
        for secret in sorted(self.secrets, key=len, reverse=True):
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


def _same_url(a: str, b: str) -> bool:
    try:
        return httpx.URL(a) == httpx.URL(b)
    except httpx.InvalidURL:
        return a == b


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
