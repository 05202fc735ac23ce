"""Find the feeds of a site or article address: what ``news-monitor feeds add URL`` offers.

The address is fetched like a feed (:func:`~monitor.ingest.fetch.fetch_feed`: the same
address policy, size caps and deadline). Then, in order:

1. a body that is a feed is offered as it is;
2. a web page offers the feeds its ``<link rel="alternate">`` elements name
   (:func:`~monitor.ingest.html_links.find_feed_links`), unverified: the caller checks
   the one chosen with :func:`inspect_feed`;
3. a page that names none: the usual feed paths of its site (:data:`COMMON_PATHS`, on
   the origin the page was finally served from) are fetched, at most two at a time,
   and each that answers with a feed is offered (one per final URL and per body: ``/rss``
   and ``/feed`` are often the same feed).

Anything else (an error, a body that is neither) is a :class:`Discovery` with an
``error``. Never raises for network or content problems.
"""

from __future__ import annotations

import asyncio
import hashlib
import io
import json
from dataclasses import dataclass
from urllib.parse import urlsplit, urlunsplit

import feedparser
import httpx

from monitor.ingest.fetch import FeedFetch, fetch_feed
from monitor.ingest.html_links import clean_title, find_feed_links
from monitor.ingest.parse import WEB_PAGE, parse_feed, trim_prolog
from monitor.model import FeedValidators, FetchStatus

#: Paths tried on a site whose page names no feed (WordPress, Blogger, Ghost, Hugo,
#: Jekyll and Drupal defaults, and the plain names people pick).
COMMON_PATHS = (
    "/feed",
    "/rss",
    "/rss.xml",
    "/feed.xml",
    "/atom.xml",
    "/index.xml",
    "/feed.json",
    "/feeds/posts/default",
    "/?feed=rss2",
)
#: Common-path fetches in flight at once (MONITOR_MAX_FETCHES_PER_HOST's default).
PROBES_AT_ONCE = 2
#: The feed id fetches made here are logged under.
_FETCH_ID = "discover"


@dataclass(frozen=True, slots=True)
class FoundFeed:
    """A feed found for an address."""

    #: Its URL, as found (a link's target, the address itself, or a common path).
    url: str
    #: "RSS", "Atom", "JSON Feed", "RDF", ... (as the link says, or as read).
    kind: str
    #: Its title: the feed's own once read, else the link's; "" if neither has one.
    title: str = ""
    #: The feed was fetched and read (a link found on a page is not, until inspected).
    verified: bool = False


@dataclass(frozen=True, slots=True)
class Discovery:
    """What an address turned out to hold."""

    #: The address asked.
    url: str
    #: Where it was finally served from (redirects followed; no query), or "".
    final_url: str = ""
    #: The feeds found, best first; empty with an ``error``.
    feeds: tuple[FoundFeed, ...] = ()
    #: The address is itself a feed (``feeds`` holds just it).
    is_feed: bool = False
    #: How the feeds were found: "feed", "links" (a page's <link>s) or "paths".
    via: str = ""
    #: Why nothing was found ("" when something was).
    error: str = ""


async def discover(
    client: httpx.AsyncClient,
    url: str,
    *,
    total_timeout: float,
    max_bytes: int,
    allow_private: bool = False,
) -> Discovery:
    """The feeds of ``url`` (see the module); ``client`` from ``build_http_client``."""
    fetched = await _fetch(client, url, total_timeout, max_bytes, allow_private)
    if fetched.status is not FetchStatus.OK:
        return Discovery(url, error=_reason(fetched.error))
    final = fetched.headers.get("content-location", url)
    parsed = await asyncio.to_thread(_read, url, fetched)
    if isinstance(parsed, FoundFeed):
        return Discovery(url, final, (parsed,), is_feed=True, via="feed")
    if not parsed.startswith("not a feed") or WEB_PAGE not in parsed:
        return Discovery(url, final, error=f"neither a feed nor a web page: {parsed}")
    content_type = fetched.headers.get("content-type", "")
    links = find_feed_links(fetched.body, final, content_type)
    if links:
        found = tuple(FoundFeed(link.url, link.kind, link.title) for link in links)
        return Discovery(url, final, found, via="links")
    probed = await _probe_common_paths(client, final, total_timeout, max_bytes, allow_private)
    if probed:
        return Discovery(url, final, probed, via="paths")
    paths = ", ".join(COMMON_PATHS)
    return Discovery(
        url,
        final,
        error=f'a web page that names no feed (no <link rel="alternate">), and none of '
        f"{paths} on {_origin(final)} answers with one",
    )


async def inspect_feed(
    client: httpx.AsyncClient,
    url: str,
    *,
    total_timeout: float,
    max_bytes: int,
    allow_private: bool = False,
) -> FoundFeed | str:
    """Fetch ``url`` and read it: the feed, or why it is not one (a message)."""
    fetched = await _fetch(client, url, total_timeout, max_bytes, allow_private)
    if fetched.status is not FetchStatus.OK:
        return _reason(fetched.error)
    return await asyncio.to_thread(_read, url, fetched)


def feed_kind_and_title(body: bytes) -> tuple[str, str]:
    """``(kind, title)`` of a body :func:`~monitor.ingest.parse.parse_feed` read as a feed
    (it refused entity declarations already, so feedparser may read it)."""
    if body.lstrip()[:1] in (b"{", b"["):
        try:
            doc = json.loads(body)
        except ValueError:
            doc = None
        title = doc.get("title") if isinstance(doc, dict) else None
        return "JSON Feed", clean_title(title) if isinstance(title, str) else ""
    result = feedparser.parse(io.BytesIO(trim_prolog(body)), sanitize_html=False)
    version = str(result.get("version") or "")
    if version in ("rss090", "rss10"):
        kind = "RDF"
    elif version.startswith(("rss", "atom", "cdf")):
        kind = {"r": "RSS", "a": "Atom", "c": "CDF"}[version[0]]
    else:
        kind = "feed"
    title = result.get("feed", {}).get("title", "")
    return kind, clean_title(title) if isinstance(title, str) else ""


async def _fetch(
    client: httpx.AsyncClient, url: str, total_timeout: float, max_bytes: int, allow_private: bool
) -> FeedFetch:
    return await fetch_feed(
        client,
        _FETCH_ID,
        url,
        FeedValidators(),
        total_timeout=total_timeout,
        max_bytes=max_bytes,
        allow_private=allow_private,
    )


def _read(url: str, fetched: FeedFetch) -> FoundFeed | str:
    """The feed a fetched body is, or the parser's reason it is not one (for a web page,
    with the feeds it names)."""
    error = parse_feed(_FETCH_ID, fetched.body, fetched.headers, fetched_at=0.0).error
    if error:
        return error
    kind, title = feed_kind_and_title(fetched.body)
    return FoundFeed(url, kind, title, verified=True)


async def _probe_common_paths(
    client: httpx.AsyncClient, page: str, total_timeout: float, max_bytes: int, allow_private: bool
) -> tuple[FoundFeed, ...]:
    origin = _origin(page)
    gate = asyncio.Semaphore(PROBES_AT_ONCE)

    async def probe(path: str) -> tuple[FeedFetch, FoundFeed | str]:
        async with gate:
            fetched = await _fetch(client, origin + path, total_timeout, max_bytes, allow_private)
        if fetched.status is not FetchStatus.OK:
            return fetched, fetched.error
        return fetched, await asyncio.to_thread(_read, origin + path, fetched)

    results = await asyncio.gather(*(probe(path) for path in COMMON_PATHS))
    found: list[FoundFeed] = []
    seen: set[str] = set()
    for fetched, feed in results:
        if not isinstance(feed, FoundFeed):
            continue
        # /rss redirecting to /feed/, or two paths serving one body: one feed.
        keys = {fetched.headers.get("content-location", feed.url), _digest(fetched.body)}
        if keys & seen:
            continue
        seen |= keys
        found.append(feed)
    return tuple(found)


def _origin(url: str) -> str:
    parts = urlsplit(url)
    return urlunsplit((parts.scheme, parts.netloc, "", "", ""))


def _digest(body: bytes) -> str:
    return "sha256:" + hashlib.sha256(body).hexdigest()


def _reason(error: str) -> str:
    """A fetch error without the ``feed discover: URL: `` prefix the fetcher puts on it
    (the caller names the URL its own way)."""
    reason = error.removeprefix(f"feed {_FETCH_ID}: ")
    head, sep, rest = reason.partition(": ")
    return rest if sep and "://" in head and " " not in head else reason
