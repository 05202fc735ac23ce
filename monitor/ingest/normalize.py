"""Turn one parsed feed entry into an :class:`~monitor.types.Article`.

Owns the pure text and identity rules of ingest: HTML to plain text,
canonical URLs (tracking parameters stripped), the publication time in UTC,
and the article id (guid, else canonical URL, else a hash of title and date).
Nothing here does I/O; everything runs once per entry per poll, so the
regular expressions are compiled once and plain text skips the HTML parser.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime, timedelta
from html.parser import HTMLParser
from typing import Any
from urllib.parse import unquote, urlsplit, urlunsplit

from monitor.types import Article, guid_scope

# Elements whose content is never text a reader would see.
_SKIPPED_ELEMENTS = frozenset({"script", "style", "template", "noscript", "head", "title"})
# Elements that start a new line of text: without a break, "<p>one</p><p>two</p>"
# would become "onetwo" and a query for "one" would miss.
_BLOCK_ELEMENTS = frozenset(
    {
        "address", "article", "aside", "blockquote", "br", "caption", "dd", "details", "div",
        "dl", "dt", "figcaption", "figure", "footer", "form", "h1", "h2", "h3", "h4", "h5",
        "h6", "header", "hr", "li", "main", "nav", "ol", "p", "pre", "section", "summary",
        "table", "tbody", "td", "tfoot", "th", "thead", "tr", "ul",
    }
)  # fmt: skip
_ANY_SPACE = re.compile(r"\s+")
_SPACES = re.compile(r"[^\S\n]+")
_BLANK_LINES = re.compile(r"\s*\n\s*")
# A summary is often the content cut short with an ellipsis marker; strip it before comparing.
_TRAILING_ELLIPSIS = re.compile(r"(?:\s*(?:\[\s*(?:\.\.\.|…)\s*\]|\.\.\.|…))+\s*$")

# Query parameters that only say where a click came from, never which page it is.
_TRACKING_PARAMS = frozenset(
    {
        "fbclid", "gclid", "dclid", "gbraid", "wbraid", "msclkid", "mc_cid", "mc_eid",
        "igshid", "yclid", "_hsenc", "_hsmi", "traffic_source", "ref_src", "cmpid",
        "ocid", "ncid", "smid", "smtyp", "mkt_tok", "_ga", "_gl", "oly_enc_id",
        "oly_anon_id", "vero_id", "vero_conv", "wt.mc_id", "s_cid", "at_medium",
        "at_campaign", "guccounter", "guce_referrer", "guce_referrer_sig", "__twitter_impression",
        "sr_share",
    }
)  # fmt: skip
_TRACKING_PREFIXES = ("utm_",)
_DEFAULT_PORTS = {"http": 80, "https": 443}
# Publication times further than this past the fetch time are broken dates, not news.
_MAX_CLOCK_SKEW = timedelta(days=1)


class _TextExtractor(HTMLParser):
    """Collects the visible text of an HTML fragment, one line per block element."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self._skip_depth = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in _SKIPPED_ELEMENTS:
            self._skip_depth += 1
        elif tag in _BLOCK_ELEMENTS:
            self.parts.append("\n")

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        # <br/> and <hr/>: a break; a self-closed <script/> opens nothing.
        if tag in _BLOCK_ELEMENTS:
            self.parts.append("\n")

    def handle_endtag(self, tag: str) -> None:
        if tag in _SKIPPED_ELEMENTS:
            self._skip_depth = max(0, self._skip_depth - 1)
        elif tag in _BLOCK_ELEMENTS:
            self.parts.append("\n")

    def handle_data(self, data: str) -> None:
        # A newline in HTML source is just a space; only block elements break lines.
        if not self._skip_depth:
            self.parts.append(_ANY_SPACE.sub(" ", data))


def collapse_whitespace(text: str) -> str:
    """Runs of spaces become one space, blank lines disappear, ends are trimmed."""
    return _BLANK_LINES.sub("\n", _SPACES.sub(" ", text)).strip()


def html_to_text(html: str) -> str:
    """The visible text of an HTML fragment: tags dropped, entities decoded, whitespace collapsed.

    Script and style content is dropped; block elements (p, div, li, br, ...)
    become line breaks so words on either side never run together.
    """
    if "<" not in html and "&" not in html:
        return _ANY_SPACE.sub(" ", html).strip()
    extractor = _TextExtractor()
    extractor.feed(html)
    extractor.close()
    return collapse_whitespace("".join(extractor.parts))


def _is_tracking(pair: str) -> bool:
    key = unquote(pair.split("=", 1)[0]).strip().lower()
    return key in _TRACKING_PARAMS or key.startswith(_TRACKING_PREFIXES)


def canonical_url(url: str) -> str:
    """The URL an article is known by: http(s) only, tracking parameters and fragment removed.

    Scheme and host are lower-cased, user info and default ports dropped, an
    empty path becomes "/"; the remaining query parameters keep their order and their
    exact spelling. Anything that is not an absolute http(s) URL gives "".
    """
    url = url.strip()
    if not url:
        return ""
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:  # an unbalanced IPv6 bracket, a port that is not a number
        return ""
    scheme = parts.scheme.lower()
    host = (parts.hostname or "").lower()
    if scheme not in _DEFAULT_PORTS or not host:
        return ""
    if ":" in host:  # IPv6 literal: urlsplit removed the brackets
        host = f"[{host}]"
    # User info is dropped: it never names a different article, and it must not reach an alert.
    netloc = host if port in (None, _DEFAULT_PORTS[scheme]) else f"{host}:{port}"
    query = "&".join(p for p in parts.query.split("&") if p and not _is_tracking(p))
    return urlunsplit((scheme, netloc, parts.path or "/", query, ""))


def _detail_type(entry: Mapping[str, Any], key: str) -> str:
    detail = entry.get(f"{key}_detail")
    if isinstance(detail, Mapping):
        kind = detail.get("type")
        if isinstance(kind, str):
            return kind
    return "text/html"


def _as_text(value: object, content_type: str) -> str:
    """Plain text of a feed value whose type feedparser reports (text/plain, text/html, ...)."""
    if not isinstance(value, str) or not value:
        return ""
    if "html" in content_type:
        return html_to_text(value)
    return collapse_whitespace(value)


def _merge_texts(pieces: Sequence[str]) -> str:
    """Join summary and content, dropping a piece another piece already contains."""
    kept: list[str] = []
    for piece in pieces:
        if not piece:
            continue
        core = _TRAILING_ELLIPSIS.sub("", piece).casefold()
        if any(core in k.casefold() for k in kept):
            continue
        # A later, longer piece (the full content) replaces the summary it repeats.
        kept = [k for k in kept if _TRAILING_ELLIPSIS.sub("", k).casefold() not in piece.casefold()]
        kept.append(piece)
    return "\n".join(kept)


def entry_text(entry: Mapping[str, Any]) -> str:
    """Plain text of an entry's summary and content, without repeating one inside the other."""
    pieces = [_as_text(entry.get("summary"), _detail_type(entry, "summary"))]
    contents = entry.get("content")
    if isinstance(contents, Sequence) and not isinstance(contents, str):
        for content in contents:
            if isinstance(content, Mapping):
                kind = content.get("type")
                pieces.append(
                    _as_text(content.get("value"), kind if isinstance(kind, str) else "text/html")
                )
    return _merge_texts(pieces)


def entry_author(entry: Mapping[str, Any]) -> str:
    """Author names, comma separated, or ""."""
    names: list[str] = []
    authors = entry.get("authors")
    if isinstance(authors, Sequence) and not isinstance(authors, str):
        for author in authors:
            name = author.get("name") if isinstance(author, Mapping) else None
            if isinstance(name, str) and (name := collapse_whitespace(name)):
                names.append(name)
    if not names and isinstance(author := entry.get("author"), str):
        names.append(collapse_whitespace(author))
    return ", ".join(dict.fromkeys(n for n in names if n))


def struct_time_to_utc(value: object) -> datetime | None:
    """A feedparser ``*_parsed`` value (a UTC struct_time or 9-tuple) as an aware datetime."""
    if not isinstance(value, Sequence) or len(value) < 6:
        return None
    try:
        year, month, day, hour, minute, second = (int(v) for v in value[:6])
        # struct_time allows leap seconds (60, 61); datetime does not.
        return datetime(year, month, day, hour, minute, min(second, 59), tzinfo=UTC)
    except (TypeError, ValueError, OverflowError):
        return None


def entry_published(entry: Mapping[str, Any]) -> datetime | None:
    """Publication time, else update time, in UTC; None when the entry gives neither."""
    published = struct_time_to_utc(entry.get("published_parsed"))
    # feedparser maps a missing updated_parsed back to published_parsed with a
    # DeprecationWarning; asking with ``in`` first avoids both.
    if published is None and "updated_parsed" in entry:
        return struct_time_to_utc(entry.get("updated_parsed"))
    return published


def article_id(feed_id: str, guid: str, url: str, title: str, published: datetime | None) -> str:
    """Stable id: a hash of the guid, else of the canonical URL, else of title and date.

    The kind of source is part of the hashed text, so a guid that happens to
    equal another entry's URL still gives a different id. A guid that is not
    a URI is only unique within its feed, so the feed id is hashed with it.
    """
    if guid:
        source = f"guid\n{guid_scope(guid, feed_id)}\n{guid}"
    elif url:
        source = f"url\n{url}"
    else:
        date = published.isoformat() if published else ""
        source = f"title\n{collapse_whitespace(title).casefold()}\n{date}"
    return hashlib.sha256(source.encode("utf-8", "surrogatepass")).hexdigest()[:32]


def article_from_entry(feed_id: str, entry: Mapping[str, Any], fetched_at: float) -> Article:
    """Normalize one feedparser-shaped entry; raises ValueError when nothing identifies it.

    ``fetched_at`` (epoch seconds) is when the body was fetched: a publication
    time more than a day after it is a broken date (wrong year or time zone)
    and is reported as None rather than as a date in the future. The id is
    computed from the date as given, so it does not change as time passes.
    """
    raw_guid = entry.get("id")
    guid = raw_guid.strip() if isinstance(raw_guid, str) else ""
    link = entry.get("link")
    url = canonical_url(link) if isinstance(link, str) else ""
    title = _as_text(entry.get("title"), _detail_type(entry, "title"))
    text = entry_text(entry)
    published = entry_published(entry)
    if not (guid or url or title or text):
        raise ValueError("entry has no guid, link, title or text")
    # Without guid, link or title the text is all there is to tell entries apart.
    ident = article_id(feed_id, guid, url, title or text, published)
    if (
        published is not None
        and published > datetime.fromtimestamp(fetched_at, tz=UTC) + _MAX_CLOCK_SKEW
    ):
        published = None
    return Article(
        id=ident,
        feed_id=feed_id,
        url=url,
        title=title,
        text=text,
        published=published,
        author=entry_author(entry),
        guid=guid,
    )
