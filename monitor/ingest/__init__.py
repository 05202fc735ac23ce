"""Ingest: fetch a feed over HTTP, parse its bytes, normalize its entries into Articles.

The stage is three steps, I/O only at the first::

    fetch.py      httpx: conditional GET, per-phase timeouts, total deadline, size caps
    netpolicy.py  the transport under it: connections only to public addresses (no SSRF),
                  for the first request and every redirect; use it for any fetch of a URL
                  that comes from outside (``guarded_transport``)
    parse.py      bytes -> entries (RSS/Atom/RDF through feedparser.parse, JSON Feed
                  here; hostile and non-feed bodies refused first), pure
    normalize.py  entry -> Article: plain text, canonical URL, UTC date, stable id, pure
    fulltext.py   an article's web page -> its main text (a feed's ``fulltext``): fetched
                  like a feed, extracted by trafilatura in a worker thread

Typical use::

    client = build_http_client(settings)
    fetched = await fetch_feed(client, feed.id, feed.url, validators,
                               total_timeout=..., max_bytes=settings.max_feed_bytes)
    if fetched.status is FetchStatus.OK:
        parsed = await asyncio.to_thread(parse_feed, feed.id, fetched.body,
                                         fetched.headers, fetched_at=now)
"""

from monitor.ingest.fetch import build_http_client, fetch_feed, redact_url
from monitor.ingest.netpolicy import AddressPolicy, AddressRefused, guarded_transport
from monitor.ingest.normalize import article_from_entry, canonical_url, html_to_text
from monitor.ingest.parse import ENTITY_REFUSAL, parse_feed

__all__ = [
    "ENTITY_REFUSAL",
    "AddressPolicy",
    "AddressRefused",
    "article_from_entry",
    "build_http_client",
    "canonical_url",
    "fetch_feed",
    "guarded_transport",
    "html_to_text",
    "parse_feed",
    "redact_url",
]
