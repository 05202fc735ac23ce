"""Turn one parsed feed entry into an :class:`~monitor.model.Article`.

Owns the pure text and identity rules of ingest: HTML to plain text,
canonical URLs (tracking parameters stripped), the publication time in UTC,
author names, and the article id (guid, else canonical URL, else a hash of
title and date). It also repairs what feedparser 6.0 gets wrong in real feeds:
an entry link overwritten by an enclosure, an author name cut at a long
top-level domain, dates with foreign day or month names or an AM/PM marker.
Nothing here does I/O; everything runs once per entry per poll, so the
regular expressions are compiled once and plain text skips the HTML parser.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime, timedelta
from email.utils import parsedate_to_datetime
from html.parser import HTMLParser
from typing import Any
from urllib.parse import unquote, urljoin, urlsplit, urlunsplit

from monitor.ingest.language import detect_language, entry_language
from monitor.model import Article, guid_scope

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
# A summary is often the content cut short with an ellipsis marker; strip it before comparing.
_TRAILING_ELLIPSIS = re.compile(r"(?:\s*(?:\[\s*(?:\.\.\.|…)\s*\]|\.\.\.|…))+\s*$")
_ELLIPSIS_ENDS = ("...", "…", "]")

# feedparser splits "jonas@insanity.industries (Jonas)" at a 2-4 letter top-level domain,
# leaving "stries (Jonas" as the name; the name is read from the whole string instead.
_EMAIL = re.compile(r"(?:mailto:)?[\w.+'-]+@[\w-]+(?:\.[\w-]+)+", re.IGNORECASE)
_EMPTY_BRACKETS = re.compile(r"\(\s*\)|<\s*>|\[\s*\]")

# feedparser ignores an AM/PM marker ("Sat, 16 Dec 2023 02:02:33 PM" is read as 02:02)
# and gives up on foreign day and month names ("mer, 16 nov 2022", "5 dic 2022").
_MERIDIEM = re.compile(r"(?<=\d)\s*([AaPp])\.?[Mm]\.?(?![^\W\d_])")
_WORD = re.compile(r"[^\W\d_]+\.?")
_FOREIGN_MONTHS = {
    # it, es, pt, fr, de, nl abbreviations that English does not share
    "gen": "Jan", "ene": "Jan", "janv": "Jan", "fev": "Feb", "fév": "Feb", "févr": "Feb",
    "fevr": "Feb", "mär": "Mar", "mrz": "Mar", "mrt": "Mar", "mars": "Mar", "abr": "Apr",
    "avr": "Apr", "mag": "May", "mai": "May", "mei": "May", "giu": "Jun", "juin": "Jun",
    "lug": "Jul", "juil": "Jul", "ago": "Aug", "août": "Aug", "aout": "Aug", "set": "Sep",
    "sept": "Sep", "ott": "Oct", "okt": "Oct", "out": "Oct", "dic": "Dec", "dez": "Dec",
    "déc": "Dec",
}  # fmt: skip
_MONTHS = frozenset(
    {"jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"}
)

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
        # A newline in HTML source is just a space; only block elements break lines
        # (collapse_whitespace treats every other kind of whitespace as a space).
        if not self._skip_depth:
            self.parts.append(data.replace("\n", " "))


def collapse_whitespace(text: str) -> str:
    """Runs of spaces become one space, blank lines disappear, ends are trimmed.

    Only "\n" breaks a line; every other whitespace character counts as a space.
    (str.split is some five times faster than the equivalent regular expressions.)
    """
    return "\n".join(filter(None, (" ".join(line.split()) for line in text.split("\n"))))


def html_to_text(html: str) -> str:
    """The visible text of an HTML fragment: tags dropped, entities decoded, whitespace collapsed.

    Script and style content is dropped; block elements (p, div, li, br, ...)
    become line breaks so words on either side never run together.
    """
    if "<" not in html and "&" not in html:
        return " ".join(html.split())
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


def _without_ellipsis(text: str) -> str:
    """``text`` without a trailing "...", "…" or "[...]" (and the spaces around it)."""
    if not text.rstrip().endswith(_ELLIPSIS_ENDS):
        return text  # the common case, without running the regex over the whole text
    # The regex would try every position of a long text; the marker is at its end.
    return text[:-200] + _TRAILING_ELLIPSIS.sub("", text[-200:])


def _merge_texts(pieces: Sequence[str]) -> str:
    """Join summary and content, dropping a piece another piece already contains."""
    kept: list[tuple[str, str, str]] = []  # (piece, casefolded, casefolded without ellipsis)
    for piece in pieces:
        if not piece:
            continue
        folded = piece.casefold()
        core = _without_ellipsis(folded)
        if any(core in k_folded for _, k_folded, _ in kept):
            continue
        # A later, longer piece (the full content) replaces the summary it repeats.
        kept = [k for k in kept if k[2] not in folded]
        kept.append((piece, folded, core))
    return "\n".join(k[0] for k in kept)


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
    """Author names, comma separated, or ""; e-mail addresses are left out of names."""
    names: list[str] = []
    authors = entry.get("authors")
    if isinstance(authors, Sequence) and not isinstance(authors, str):
        for author in authors:
            name = author.get("name") if isinstance(author, Mapping) else None
            if isinstance(name, str) and (name := collapse_whitespace(name)):
                names.append(name)
        # One author given as "e-mail (Name)" or "Name <e-mail>": feedparser's own split
        # can cut the address short, so the name is taken from the whole string.
        raw = entry.get("author")
        whole = name_without_email(raw) if isinstance(raw, str) and "@" in raw else ""
        if len(authors) == 1 and whole:
            names = [whole]
    if not names and isinstance(author := entry.get("author"), str):
        names.append(collapse_whitespace(author))
    return ", ".join(dict.fromkeys(n for n in names if n))


def name_without_email(text: str) -> str:
    """A name without e-mail addresses: ``"jo@example.org (Jo Bloggs)"`` -> ``"Jo Bloggs"``."""
    name = collapse_whitespace(_EMPTY_BRACKETS.sub("", _EMAIL.sub("", text))).strip(" ,;:-")
    if name.startswith("(") and name.endswith(")") and name.count("(") == 1:
        name = name[1:-1].strip()
    return name


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
    published = _entry_date(entry, "published")
    # feedparser maps a missing updated_parsed back to published_parsed with a
    # DeprecationWarning; asking with ``in`` first avoids both.
    if published is None and ("updated_parsed" in entry or "updated" in entry):
        return _entry_date(entry, "updated")
    return published


def _entry_date(entry: Mapping[str, Any], key: str) -> datetime | None:
    """The entry's ``key`` date: feedparser's reading, repaired where it misread the raw text."""
    parsed = struct_time_to_utc(entry.get(f"{key}_parsed"))
    raw = entry.get(key) if key in entry else None  # ``in``: no fallback to another key
    if isinstance(raw, str) and (parsed is None or _MERIDIEM.search(raw)):
        return loose_date(raw) or parsed
    return parsed


def loose_date(text: str) -> datetime | None:
    """An RFC 822-like date feedparser reads wrongly or not at all, in UTC; None if unreadable.

    Handles a day name in any language ("mer, 16 nov 2022 00:38:15 +0100"), month
    abbreviations in Italian, Spanish, Portuguese, French, German and Dutch, and a
    12-hour clock ("02:02:33 PM"). A date without a zone is taken as UTC.
    """
    meridiem = _MERIDIEM.search(text)
    if meridiem:
        text = text[: meridiem.start()] + text[meridiem.end() :]
    text = text.strip()
    first = _WORD.match(text)
    if first:
        word = first.group().rstrip(".").lower()
        if word[:3] not in _MONTHS and word not in _FOREIGN_MONTHS:
            text = text[first.end() :].lstrip(" ,")  # a day name, in whatever language
    text = _WORD.sub(lambda m: _FOREIGN_MONTHS.get(m.group().rstrip(".").lower(), m.group()), text)
    try:
        parsed = parsedate_to_datetime(text)
    except (TypeError, ValueError, IndexError, OverflowError):
        return None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    if meridiem:
        afternoon = meridiem.group(1) in "Pp"
        if afternoon and parsed.hour < 12:
            parsed += timedelta(hours=12)
        elif not afternoon and parsed.hour == 12:
            parsed -= timedelta(hours=12)
    try:
        return parsed.astimezone(UTC)
    except (OverflowError, ValueError):
        return None


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


def entry_url(entry: Mapping[str, Any], base: str = "") -> str:
    """The canonical URL of an entry's link, resolved against ``base``; "" when it has none.

    feedparser 6.0 lets a later ``<link>`` with text content (an enclosure, say) overwrite
    the entry's alternate link, so a link that is none of the entry's alternate links
    gives way to them. A link feedparser copied from a permalink guid (RSS ``<guid>``
    without ``<link>``) is used only when it is absolute: "12345" is no page of the feed's
    site, and resolving it would invent a URL.
    """
    link = entry.get("link")
    link = link.strip() if isinstance(link, str) else ""
    if not link:
        return ""
    alternates = _alternate_hrefs(entry.get("links"))
    if link not in alternates:
        guid = entry.get("id")
        if isinstance(guid, str) and link == guid.strip():
            return canonical_url(link)  # copied from the guid
        if alternates:
            link = alternates[0]
    return canonical_url(urljoin(base, link) if base else link)


def _alternate_hrefs(links: object) -> list[str]:
    """The hrefs of an entry's rel="alternate" links, HTML ones first."""
    if not isinstance(links, Sequence) or isinstance(links, str):
        return []
    html: list[str] = []
    other: list[str] = []
    for item in links:
        if isinstance(item, Mapping) and item.get("rel", "alternate") == "alternate":
            href, kind = item.get("href"), item.get("type")
            if isinstance(href, str) and (href := href.strip()):
                (html if isinstance(kind, str) and "html" in kind else other).append(href)
    return html + other


def article_from_entry(
    feed_id: str,
    entry: Mapping[str, Any],
    fetched_at: float,
    *,
    base: str = "",
    language: str = "",
) -> Article:
    """Normalize one feedparser-shaped entry; raises ValueError when nothing identifies it.

    ``fetched_at`` (epoch seconds) is when the body was fetched: a publication
    time more than a day after it is a broken date (wrong year or time zone)
    and is reported as None rather than as a date in the future. The id is
    computed from the date as given, so it does not change as time passes.
    ``base`` (where the feed was fetched from) resolves a relative link. The language is
    the entry's declared one, else ``language`` (the feed's), else detected from the
    title and text (``monitor.ingest.language``).
    """
    raw_guid = entry.get("id")
    guid = raw_guid.strip() if isinstance(raw_guid, str) else ""
    url = entry_url(entry, base)
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
        language=entry_language(entry) or language or detect_language(title, text),
    )
