"""The feeds a web page names: ``<link rel="alternate" type="application/rss+xml">`` and kin.

A site announces its feeds in the ``<head>`` of its pages (RSS Autodiscovery, the
Atom and JSON Feed specs, HTML's ``rel="alternate"``), each with a type, a URL
(relative to the page, or to its ``<base href>``) and often a title.
:func:`find_feed_links` reads them with the standard library's forgiving HTML
parser: tag soup, unquoted attributes, upper-case names and entities in URLs are
all read as a browser reads them. Pure and synchronous; the fetch parser uses it to
say which feeds a page that is not a feed offers, ``news-monitor feeds add`` to
offer them.

Accepted: ``rel`` containing ``alternate`` (or ``feed``) with type
``application/rss+xml``, ``application/atom+xml`` or ``application/feed+json``;
``application/rdf+xml``, ``application/json``, ``application/xml`` and ``text/xml``
only when the title or URL says "feed", "rss" or "atom" (WordPress marks its REST
API ``application/json`` and many sites their FOAF ``application/rdf+xml`` with
``rel="alternate"``, and neither is a feed). Only the head is read: the parse
stops at ``<body>`` (where these links may not stand), and after
:data:`MAX_SCANNED_BYTES` in any case.
"""

from __future__ import annotations

import codecs
import re
from dataclasses import dataclass
from html.parser import HTMLParser
from urllib.parse import urljoin, urlsplit

#: Most bytes of a page read for its links (a head with inlined styles and scripts fits).
MAX_SCANNED_BYTES = 1024 * 1024
#: Longest title kept (they end up in messages and YAML comments).
MAX_TITLE = 120
_CHUNK = 64 * 1024
_KINDS = {
    "application/rss+xml": "RSS",
    "application/atom+xml": "Atom",
    "application/feed+json": "JSON Feed",
}
#: Types that are a feed only when the title or URL says so.
_MAYBE = {
    "application/rdf+xml": "RDF",
    "application/json": "JSON Feed",
    "application/xml": "XML",
    "text/xml": "XML",
}
_FEEDISH = re.compile(r"feed|rss|atom", re.IGNORECASE)
_META_CHARSET = re.compile(rb"""<meta[^>]+charset\s*=\s*["']?\s*([A-Za-z0-9_.:-]{1,40})""", re.I)
_HTTP_CHARSET = re.compile(r"""charset\s*=\s*["']?([^"';\s]{1,40})""", re.IGNORECASE)
_FEED_SCHEME = re.compile(r"^feed:(?://)?", re.IGNORECASE)


@dataclass(frozen=True, slots=True)
class FeedLink:
    """One feed a page names."""

    #: Absolute http(s) URL of the feed.
    url: str
    #: "RSS", "Atom", "JSON Feed", "RDF" or "XML".
    kind: str
    #: The link's title (whitespace collapsed), or "".
    title: str = ""

    def describe(self) -> str:
        """``https://site/feed (RSS "Site news")`` for messages."""
        title = f' "{self.title}"' if self.title else ""
        return f"{self.url} ({self.kind}{title})"


def find_feed_links(body: bytes, base_url: str, content_type: str = "") -> list[FeedLink]:
    """The feeds the HTML page ``body`` (fetched from ``base_url``) names, in page order,
    each URL once. ``content_type`` is the response's, for its charset."""
    text = _decode(body[:MAX_SCANNED_BYTES], content_type)
    parser = _LinkParser(base_url)
    for start in range(0, len(text), _CHUNK):
        parser.feed(text[start : start + _CHUNK])
        if parser.in_body:
            break
    parser.close()
    seen: set[str] = set()
    links: list[FeedLink] = []
    for link in parser.links:
        if link.url not in seen:
            seen.add(link.url)
            links.append(link)
    return links


def clean_title(text: str) -> str:
    """``text`` on one line, without control characters, cut to :data:`MAX_TITLE`."""
    flat = "".join(c for c in " ".join(text.split()) if c.isprintable())
    return flat if len(flat) <= MAX_TITLE else flat[: MAX_TITLE - 1].rstrip() + "…"


class _LinkParser(HTMLParser):
    """Collects feed links (and the page's ``<base href>``) until ``<body>``."""

    def __init__(self, page_url: str) -> None:
        super().__init__(convert_charrefs=True)
        self.base = page_url
        self.based = False
        self.links: list[FeedLink] = []
        self.in_body = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if self.in_body:
            return
        if tag == "body":
            self.in_body = True
            return
        values = {name: value or "" for name, value in attrs}
        if tag == "base" and not self.based and values.get("href"):
            # Only the first <base href> counts (HTML: "the first base element with href").
            self.base = urljoin(self.base, values["href"].strip())
            self.based = True
        elif tag == "link" and values.get("href"):
            link = _feed_link(values, self.base)
            if link is not None:
                self.links.append(link)

    handle_startendtag = handle_starttag


def _feed_link(values: dict[str, str], base: str) -> FeedLink | None:
    """The feed an element with these attributes names, or None."""
    rels = set(values.get("rel", "").lower().split())
    if not rels & {"alternate", "feed"}:
        return None
    kind_type = values.get("type", "").split(";")[0].strip().lower()
    title = clean_title(values.get("title", ""))
    href = values["href"].strip()
    if kind_type in _KINDS:
        kind = _KINDS[kind_type]
    elif kind_type in _MAYBE and (_FEEDISH.search(title) or _FEEDISH.search(href)):
        kind = _MAYBE[kind_type]
    elif not kind_type and "feed" in rels:
        kind = "feed"  # rel="feed" says it is one; its format shows when fetched
    else:
        return None
    url = _absolute(href, base)
    return FeedLink(url, kind, title) if url else None


def _absolute(href: str, base: str) -> str:
    """``href`` resolved against ``base``, if it is an http(s) URL then ("" if not)."""
    if _FEED_SCHEME.match(href):  # feed://host/rss, feed:https://host/rss
        rest = _FEED_SCHEME.sub("", href)
        href = rest if re.match(r"https?://", rest, re.IGNORECASE) else f"http://{rest}"
    try:
        url = urljoin(base, href)
        parts = urlsplit(url)
    except ValueError:
        return ""
    if parts.scheme.lower() not in ("http", "https") or not parts.hostname:
        return ""
    if any(c.isspace() or not c.isprintable() for c in url):
        return ""
    return parts._replace(fragment="").geturl()


def _decode(body: bytes, content_type: str) -> str:
    """The page as text: BOM, else HTTP charset, else ``<meta charset>``, else UTF-8."""
    for bom, encoding in ((codecs.BOM_UTF8, "utf-8"), (b"\xff\xfe", "utf-16-le")):
        if body.startswith(bom):
            return body[len(bom) :].decode(encoding, "replace")
    if body.startswith(b"\xfe\xff"):
        return body[2:].decode("utf-16-be", "replace")
    candidates = []
    if http := _HTTP_CHARSET.search(content_type):
        candidates.append(http.group(1))
    if meta := _META_CHARSET.search(body[:2048]):
        declared = meta.group(1).decode("ascii")
        # A page that could be read this far as ASCII is not UTF-16 (HTML's rule, too).
        candidates.append("utf-8" if declared.lower().startswith("utf-16") else declared)
    for name in candidates:
        try:
            return body.decode(name, "replace")
        except (LookupError, ValueError):
            continue
    return body.decode("utf-8", "replace")
