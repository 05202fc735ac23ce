"""Read a fetched feed body (RSS, Atom, RDF or JSON Feed) into normalized Articles.

Owns the decision "is this body a feed, and which entries does it hold".
It is pure and synchronous (callers run it with ``asyncio.to_thread``) and it
never raises for bad input: a body that is not a feed, or is hostile, becomes
a :class:`~monitor.model.ParseOutcome` with an error, and an entry that
cannot be normalized is skipped and counted.

RSS, RDF and Atom are read by feedparser, through its public ``feedparser.parse``
only. It only ever receives bytes wrapped in ``BytesIO``: given a ``str`` it would
treat it as a URL or a file name and fetch or open it itself. Nor does it get the
Content-Location: it would resolve every guid against it ("123" becomes
"https://host/feeds/123"), so an article's identity would depend on where the
feed was fetched from (RFC 4287 4.2.6: an id must not change when a feed moves);
the normalizer resolves entry links against it instead. feedparser 6 has no JSON
Feed support, so JSON Feed 1.0/1.1 is mapped here onto the same entry shape
feedparser produces, and both go through one normalizer.

Before any XML parser sees a body, it is refused if it declares XML entities (in
whatever encoding a parser could read it), and markup with no feed element (an
HTML page) is reported as not a feed without parsing it. A web page's error names
the feeds the page links to (``this is a web page; its feeds are: ...``,
:func:`web_page_hint`), so whoever reads it knows which URL to configure instead.
"""

from __future__ import annotations

import codecs
import io
import json
import re
import time
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Any
from urllib.parse import urljoin

import feedparser

from monitor.ingest.html_links import find_feed_links
from monitor.ingest.language import declared_language
from monitor.ingest.normalize import article_from_entry
from monitor.model import Article, ParseOutcome

ENTITY_REFUSAL = "refused: XML entity declarations"
#: How the error of a feed URL that answers a web page begins, after ``not a feed: ``.
WEB_PAGE = "this is a web page"
#: Most of a page's feeds named in that error.
MAX_HINTED_FEEDS = 5
_HTML_PAGE = "an HTML page"

# Only headers that steer decoding and relative links are read; a Content-Encoding
# header in particular must not make feedparser decompress anything.
_PASSED_HEADERS = ("content-type", "content-location", "content-language")
_FEEDPARSER_HEADERS = ("content-type", "content-language")
_ENTITY_DECL = re.compile(rb"<!ENTITY", re.IGNORECASE)
_ENTITY_DECL_TEXT = re.compile(r"<!ENTITY", re.IGNORECASE)
_JSON_TYPE = re.compile(r"[/+]json\b", re.IGNORECASE)
_BOMS = (b"\xef\xbb\xbf", b"\xff\xfe", b"\xfe\xff")
# Markup with no element a feed or an entry could be read from (an HTML login wall or
# challenge page, the site's home page, tag soup) costs feedparser's lenient SGML parser
# one to two seconds per megabyte to reject; one regular expression finds that up front.
# An XHTML page that wraps an Atom feed has a <feed> element, so it is still read.
_FEED_ELEMENT = re.compile(rb"<(?:[\w.-]+:)?(?:rss|feed|rdf|channel|item|entry)[\s>/]", re.I)
_HTML_START = re.compile(
    rb"(?:<\?xml[^>]*>\s*)?(?:<!--.*?-->\s*)*<(?:!doctype\s+html|html[\s>])",
    re.IGNORECASE | re.DOTALL,
)

# --- which encodings a body could be read in (for the entity check) ---
# The first bytes of "<?xm" (or a BOM) in encodings that are not ASCII-compatible
# (XML 1.0, appendix F), as an XML parser sniffs them.
_SNIFFED = (
    (codecs.BOM_UTF8, "utf-8"),
    (codecs.BOM_UTF32_BE, "utf-32-be"),
    (codecs.BOM_UTF32_LE, "utf-32-le"),
    (codecs.BOM_UTF16_BE, "utf-16-be"),
    (codecs.BOM_UTF16_LE, "utf-16-le"),
    (b"\x4c\x6f\xa7\x94", "cp037"),
    (b"\x00\x3c\x00\x3f", "utf-16-be"),
    (b"\x3c\x00\x3f\x00", "utf-16-le"),
    (b"\x00\x00\x00\x3c", "utf-32-be"),
    (b"\x3c\x00\x00\x00", "utf-32-le"),
)
_DECLARED_ENCODING = re.compile(r"""^\s*<\?xml[^>]*?encoding\s*=\s*["']([^"']{1,64})["']""")
_CHARSET = re.compile(r"""charset\s*=\s*["']?([^"';\s]{1,64})""", re.IGNORECASE)
# Stateless encodings in which every ASCII character is its own byte and no other byte
# sequence decodes to one: a search of the raw bytes finds "<!ENTITY" in them.
_ASCII_TRANSPARENT = re.compile(r"utf-8|ascii|iso8859-\d+|cp125\d|koi8-[a-z]+")


def parse_feed(
    feed_id: str, body: bytes, headers: Mapping[str, str], *, fetched_at: float
) -> ParseOutcome:
    """Parse one feed body into articles, in feed order.

    ``headers`` are the response headers (any case); content-type,
    content-location (base of relative links) and content-language are used.
    ``fetched_at`` is when the body was fetched (epoch seconds).
    """
    lowered = {k.lower(): v for k, v in headers.items() if k.lower() in _PASSED_HEADERS}
    content_type = lowered.get("content-type", "")
    base = lowered.get("content-location", "")
    if not body or body.isspace():
        return ParseOutcome(feed_id=feed_id, error="not a feed: empty body")
    if _looks_like_json(body, content_type):
        return _parse_json(feed_id, body, base, fetched_at)
    body = trim_prolog(body)
    if _declares_entities(body, content_type):
        return ParseOutcome(feed_id=feed_id, error=ENTITY_REFUSAL)
    if reason := _no_feed_element(body):
        if reason == _HTML_PAGE:
            reason = web_page_hint(body, base, content_type)
        served_as = f" (served as {content_type.split(';')[0].strip()})" if content_type else ""
        return ParseOutcome(feed_id=feed_id, error=f"not a feed{served_as}: {reason}")
    try:
        result = feedparser.parse(
            io.BytesIO(body),
            response_headers={k: v for k, v in lowered.items() if k in _FEEDPARSER_HEADERS},
            # We keep plain text only: sanitizing HTML and resolving links inside
            # it would be work thrown away (entry links are resolved regardless).
            sanitize_html=False,
            resolve_relative_uris=False,
        )
    except Exception as exc:  # feedparser is lenient, but one bad body must not stop a poll
        return ParseOutcome(feed_id=feed_id, error=f"parser failed: {type(exc).__name__}: {exc}")
    entries = result.get("entries") or []
    version = result.get("version") or ""
    # A feed served as text/html or text/xml without a charset is flagged bozo with
    # a warning; only a real syntax error makes an empty result a broken feed.
    broken = result.get("bozo") and not isinstance(
        result.get("bozo_exception"), feedparser.ThingsNobodyCaresAboutButMe
    )
    if not entries and (not version or broken):
        if not version and _HTML_START.match(body[:4096].removeprefix(b"\xef\xbb\xbf").lstrip()):
            # An HTML page with a stray <item> or <entry> in it: still a page.
            served_as = f" (served as {content_type.split(';')[0].strip()})" if content_type else ""
            hint = web_page_hint(body, base, content_type)
            return ParseOutcome(feed_id=feed_id, error=f"not a feed{served_as}: {hint}")
        return ParseOutcome(feed_id=feed_id, error=_not_a_feed(version, result, content_type))
    language = declared_language(result.get("feed", {}).get("language"))
    return _outcome(feed_id, [_plain(entry) for entry in entries], fetched_at, base, language)


def has_entity_declaration(body: bytes, headers: Mapping[str, str]) -> bool:
    """Whether the body declares XML entities, in whatever encoding a parser could read it.

    ``headers`` are the response headers (any case); the Content-Type charset counts.
    The whole body is searched, not just the DOCTYPE: finding exactly where a
    prolog ends means understanding comments, processing instructions and
    quoted literals, each a place to hide a declaration from a sloppy scan.
    Outside a DOCTYPE a literal ``<!ENTITY`` can only sit in a comment or a
    CDATA section, and HTML in CDATA writes it ``&lt;!ENTITY`` (a browser would
    take it for a tag otherwise), so refusing costs no real feed anything.
    The body is searched as bytes and, decoded, in every encoding a parser could
    pick for it (a BOM or the first bytes, the HTTP charset, the XML declaration),
    so UTF-16, UTF-32, UTF-7 or EBCDIC cannot disguise the declaration either.
    """
    content_type = next((v for k, v in headers.items() if k.lower() == "content-type"), "")
    return _declares_entities(body, content_type)


def trim_prolog(body: bytes) -> bytes:
    """``body`` without whitespace before its XML declaration, if it has one.

    Whitespace there (common with WordPress) is an XML error that sends feedparser
    from its strict XML parser to its slow lenient one; feed readers drop it, and so
    do we.
    """
    if body[:1].isspace() and body.lstrip()[:5] == b"<?xml":
        return body.lstrip()
    return body


def _plain(value: Any) -> Any:
    """A feedparser value with every FeedParserDict made a plain dict (lists and dicts copied).

    The normalizer takes half the time on plain dicts: FeedParserDict answers each
    lookup in Python. It reads the same values: the normalizer reads no key that
    FeedParserDict aliases ("description", "guid", ...), and it reads ``updated_parsed``
    (which FeedParserDict answers from ``published_parsed`` when missing) only when
    ``published_parsed`` is missing or unreadable, so that answer would be no date too.
    """
    if isinstance(value, dict):
        return {key: _plain(item) for key, item in dict.items(value)}
    if isinstance(value, list):
        return [_plain(item) for item in value]
    return value


def _declares_entities(body: bytes, content_type: str) -> bool:
    if _ENTITY_DECL.search(body):
        return True
    # UTF-16/32 without a usable declaration: ASCII characters with NULs between them.
    if b"\x00" in body and _ENTITY_DECL.search(body.replace(b"\x00", b"")):
        return True
    for encoding in _possible_encodings(body, content_type):
        try:
            text = body.decode(encoding, "replace")
        except (LookupError, ValueError):  # unknown, or not a text encoding (base64, ...)
            continue
        if _ENTITY_DECL_TEXT.search(text):
            return True
    return False


def _possible_encodings(body: bytes, content_type: str) -> set[str]:
    """The encodings, other than ASCII-transparent ones, a parser could read ``body`` in."""
    names: set[str] = set()
    head = body[:1024]
    for marker, encoding in _SNIFFED:
        if head.startswith(marker):
            names.add(encoding)
            head_text = head.decode(encoding, "replace")
            break
    else:
        head_text = head.decode("latin-1")
    if declared := _DECLARED_ENCODING.match(head_text.lstrip("\ufeff")):
        names.add(declared.group(1))
    if charset := _CHARSET.search(content_type):
        names.add(charset.group(1))
    return {name for name in names if not _ascii_transparent(name)}


def _ascii_transparent(encoding: str) -> bool:
    try:
        name = codecs.lookup(encoding).name
    except LookupError:
        return True  # no parser can decode with it: nothing to search
    return _ASCII_TRANSPARENT.fullmatch(name) is not None


def _no_feed_element(body: bytes) -> str:
    """Why an ASCII-compatible markup body cannot be a feed, or "" when it may be one.

    Only a body that opens with an ASCII "<" is judged: in UTF-16, UTF-32 or EBCDIC a
    feed's tags are not ASCII bytes, and feedparser (which converts the charset first)
    decides those. feedparser reads entries only from rss, feed, RDF, channel, item and
    entry elements, so a body with none of them gives none; this only saves the time.
    """
    head = body[:4096].removeprefix(b"\xef\xbb\xbf").lstrip()
    if not head.startswith(b"<") or b"\x00" in head[:256]:  # UTF-16LE / UTF-32LE open with "<"
        return ""
    if _FEED_ELEMENT.search(body) is not None:
        return ""
    if _HTML_START.match(head):
        return _HTML_PAGE
    return "no RSS, Atom or JSON Feed found"


def web_page_hint(body: bytes, base: str, content_type: str = "") -> str:
    """What to tell about an HTML page fetched as a feed: :data:`WEB_PAGE`, and the feeds
    its ``<link rel="alternate">`` elements name (relative ones resolved against ``base``),
    so the log, ``news-monitor feeds`` and ``check --online`` say what to configure."""
    links = find_feed_links(body, base, content_type)
    if not links:
        return (
            f"{WEB_PAGE}, and it names no feed (`news-monitor feeds add URL` also tries "
            "the usual feed paths)"
        )
    shown = ", ".join(link.describe() for link in links[:MAX_HINTED_FEEDS])
    more = f" and {len(links) - MAX_HINTED_FEEDS} more" if len(links) > MAX_HINTED_FEEDS else ""
    return f"{WEB_PAGE}; its feeds are: {shown}{more}"


def _looks_like_json(body: bytes, content_type: str) -> bool:
    """JSON when the body opens like JSON; when it opens like XML, the body wins over the label."""
    head = body[:64].replace(b"\x00", b"")  # UTF-16/32: keep the ASCII characters
    for bom in _BOMS:
        head = head.removeprefix(bom)
    first = head.lstrip()[:1]
    if first in (b"{", b"["):
        return True
    return first != b"<" and _JSON_TYPE.search(content_type) is not None


def _not_a_feed(version: str, result: Mapping[str, Any], content_type: str) -> str:
    reason = result.get("bozo_exception")
    detail = f": {reason}" if reason else ""
    if version:
        return f"malformed {version} feed with no readable entries{detail}"
    served_as = f" (served as {content_type.split(';')[0].strip()})" if content_type else ""
    return f"not a feed{served_as}: no RSS, Atom or JSON Feed found{detail}"


def _outcome(
    feed_id: str, entries: Iterable[object], fetched_at: float, base: str, language: str = ""
) -> ParseOutcome:
    """The articles of ``entries``; ``language`` is the feed's declared language."""
    articles: list[Article] = []
    skipped = 0
    for entry in entries:
        try:
            if not isinstance(entry, Mapping):
                raise TypeError(f"entry is a {type(entry).__name__}, not an object")
            article = article_from_entry(feed_id, entry, fetched_at, base=base, language=language)
            articles.append(article)
        except Exception:  # one odd entry is counted, never fatal to the feed
            skipped += 1
    return ParseOutcome(feed_id=feed_id, articles=tuple(articles), skipped=skipped)


# --- JSON Feed -----------------------------------------------------------------------------


def _parse_json(feed_id: str, body: bytes, base: str, fetched_at: float) -> ParseOutcome:
    try:
        doc = json.loads(body)
    except (ValueError, RecursionError) as exc:  # UnicodeDecodeError is a ValueError
        return ParseOutcome(feed_id=feed_id, error=f"not a feed: invalid JSON: {exc}")
    if not isinstance(doc, dict) or not _is_json_feed_version(doc.get("version")):
        return ParseOutcome(feed_id=feed_id, error="not a feed: JSON without a JSON Feed version")
    items = doc.get("items")
    if not isinstance(items, list):
        return ParseOutcome(feed_id=feed_id, error="not a feed: JSON Feed without an items list")
    # JSON has no xml:base: relative URLs resolve against where the document was
    # fetched, else where it says it lives, else its home page.
    for candidate in (base, doc.get("feed_url"), doc.get("home_page_url")):
        if isinstance(candidate, str) and candidate:
            base = candidate
            break
    feed_authors = _json_authors(doc)
    entries = [
        _json_entry(item, base, feed_authors) if isinstance(item, dict) else item for item in items
    ]
    return _outcome(feed_id, entries, fetched_at, base, declared_language(doc.get("language")))


def _is_json_feed_version(version: object) -> bool:
    return isinstance(version, str) and "jsonfeed.org/version/" in version


def _json_entry(
    item: dict[str, Any], base: str, feed_authors: list[dict[str, str]]
) -> dict[str, Any]:
    """One JSON Feed item in feedparser's entry shape (see the JSON Feed spec, section "Items")."""
    entry: dict[str, Any] = {}
    item_id = item.get("id")
    # The spec says id is a string, but numbers are common in the wild.
    if isinstance(item_id, str | int) and not isinstance(item_id, bool):
        entry["id"] = str(item_id)
    link = item.get("url") or item.get("external_url")
    if isinstance(link, str):
        entry["link"] = urljoin(base, link) if base else link
    if isinstance(title := item.get("title"), str):
        entry["title"] = title
        entry["title_detail"] = {"type": "text/plain"}
    if isinstance(summary := item.get("summary"), str):
        entry["summary"] = summary
        entry["summary_detail"] = {"type": "text/plain"}
    # content_text and content_html carry the same text; the plain one is cheaper to read.
    if isinstance(text := item.get("content_text"), str):
        entry["content"] = [{"type": "text/plain", "value": text}]
    elif isinstance(html := item.get("content_html"), str):
        entry["content"] = [{"type": "text/html", "value": html}]
    for key, target in (
        ("date_published", "published_parsed"),
        ("date_modified", "updated_parsed"),
    ):
        if parsed := _date_to_struct(item.get(key)):
            entry[target] = parsed
    if isinstance(language := item.get("language"), str):  # JSON Feed 1.1
        entry["language"] = language
    # An item without authors inherits the feed's (JSON Feed 1.1, "authors").
    entry["authors"] = _json_authors(item) or feed_authors
    return entry


def _json_authors(obj: Mapping[str, Any]) -> list[dict[str, str]]:
    """``authors`` (1.1) or ``author`` (1.0) as feedparser-style author dicts."""
    raw = obj.get("authors")
    if not isinstance(raw, list):
        raw = [obj.get("author")]
    return [
        {"name": a["name"]} for a in raw if isinstance(a, dict) and isinstance(a.get("name"), str)
    ]


def _date_to_struct(value: object) -> time.struct_time | None:
    """A JSON Feed date as a UTC struct_time, the form feedparser gives ``*_parsed`` in.

    The spec says RFC 3339; RFC 822 dates (the RSS habit) are common enough to accept too.
    """
    if not isinstance(value, str) or not (value := value.strip()):
        return None
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        try:
            parsed = parsedate_to_datetime(value)
        except (TypeError, ValueError, IndexError):
            return None
    if parsed.tzinfo is None:  # no offset given: UTC is the only sane reading for a server
        parsed = parsed.replace(tzinfo=UTC)
    try:
        return parsed.astimezone(UTC).timetuple()
    except (OverflowError, ValueError):
        return None
