"""Read an article's web page: fetch it as politely as a feed, extract its main text.

A feed of teasers (``fulltext:`` in the watch config) links each entry to the page
that carries the whole article; the words a rule looks for may only be there.
:func:`read_page` fetches that page under the rules of a feed fetch: the shared
client (the address policy of :mod:`monitor.ingest.netpolicy` on the first request
and on every redirect, at most ``MAX_REDIRECTS`` of them), a slot of the fetch
limits (per host and in all, :class:`~monitor.ingest.fetch.FetchLimits`), the total
deadline, a cap on the raw and decompressed size (``MONITOR_FULLTEXT_MAX_BYTES``),
and the feed's own request settings (headers, cookies and auth on the feed's origin
only, its User-Agent and proxy on every hop: :class:`~monitor.ingest.request.FeedRequest`).

:func:`extract_text` (CPU: run it in a worker thread) then decodes the HTML itself
(so trafilatura never sees bytes it would try to decompress), parses it with lxml,
refuses a page of more than ``MAX_ELEMENTS`` elements (extraction time grows with
them: a hostile page of 50,000 took trafilatura seconds), and asks trafilatura for
the main text: no navigation, no related links, no comments; at most
``MAX_TEXT_CHARS`` characters of it are kept.

Everything that can go wrong (the fetch failed or was refused, the page is not HTML,
too big or too complex, nothing readable was found) is a :class:`PageText` with an
``error``, never an exception; the caller keeps the feed's own text then.
"""

from __future__ import annotations

import asyncio
import codecs
import logging
import re
import time
from dataclasses import dataclass, replace
from itertools import islice
from typing import Any

import httpx
from lxml import etree
from lxml import html as lxml_html

from monitor.ingest.fetch import FetchLimits, fetch_feed, redact_url
from monitor.ingest.request import FeedRequest
from monitor.model import Article, FeedValidators, FetchStatus

#: What a page is asked for as.
PAGE_ACCEPT = "text/html, application/xhtml+xml;q=0.9, */*;q=0.1"
#: Content types whose text is extracted; anything else (PDF, images, JSON) is skipped.
HTML_TYPES = ("text/html", "application/xhtml+xml")
#: Most elements a page may have: a news article page has a few thousand; trafilatura
#: needs some 40 µs per element, so this keeps one extraction to about a second.
MAX_ELEMENTS = 25_000
#: Most characters of a page's main text kept (about 8,000 words: a long read).
MAX_TEXT_CHARS = 50_000
#: How far into a page its ``<meta charset>`` is looked for (HTML says within the first
#: 1,024 bytes; some pages put it after a long comment or script).
_SNIFF_BYTES = 4096
_META_CHARSET = re.compile(
    rb"""<meta[^>]{0,400}?charset\s*=\s*["']?\s*([A-Za-z0-9._:-]{1,40})""", re.IGNORECASE
)
_HEADER_CHARSET = re.compile(r"""charset\s*=\s*["']?([A-Za-z0-9._:-]{1,40})""", re.IGNORECASE)
#: Labels that browsers read as windows-1252 (the WHATWG Encoding standard), so do we.
_AS_CP1252 = frozenset({"iso8859-1", "latin-1", "ascii"})


@dataclass(frozen=True, slots=True)
class PageText:
    """What reading one article's page gave: its main text, or why there is none."""

    #: The page asked for (the article's link).
    url: str
    #: Its main text, plain, paragraphs on lines of their own; "" when there is none.
    text: str = ""
    #: Why there is no text, naming the feed and the redacted URL; "" when there is.
    error: str = ""
    #: Seconds the fetch (slot wait included) and the extraction took.
    elapsed: float = 0.0


class PageUnreadable(Exception):
    """The page's bytes hold no text worth extracting (too complex, not a document)."""


async def read_page(
    client: httpx.AsyncClient,
    limits: FetchLimits,
    feed_id: str,
    url: str,
    *,
    total_timeout: float,
    max_bytes: int,
    allow_private: bool = False,
    request: FeedRequest | None = None,
) -> PageText:
    """Fetch the page at ``url`` for feed ``feed_id`` and extract its main text; never raises
    for the page's faults (see the module). ``allow_private`` and ``request`` are the
    feed's, so its pages are fetched as it is."""
    started = time.monotonic()

    def failed(reason: str, error: str = "") -> PageText:
        error = error or f"feed {feed_id}: {redact_url(url)}: {reason}"
        return PageText(url, error=error, elapsed=time.monotonic() - started)

    async with limits.slot(url):
        fetched = await fetch_feed(
            client,
            feed_id,
            url,
            FeedValidators(),
            total_timeout=total_timeout,
            max_bytes=max_bytes,
            allow_private=allow_private,
            request=request,
            accept=PAGE_ACCEPT,
        )
    if fetched.status is not FetchStatus.OK:
        return failed(f"HTTP {fetched.http_status} without a page", fetched.error)
    content_type = fetched.headers.get("content-type", "")
    if not is_html(content_type, fetched.body):
        return failed(f"not an HTML page (served as {_media_type(content_type) or 'nothing'})")
    try:
        text = await asyncio.to_thread(extract_text, fetched.body, content_type)
    except PageUnreadable as exc:
        return failed(str(exc))
    if not text:
        return failed("no main text found in the page")
    return PageText(url, text, elapsed=time.monotonic() - started)


def is_html(content_type: str, body: bytes) -> bool:
    """Whether a page served as ``content_type`` is HTML; one served without a type is, when
    it starts with markup."""
    media = _media_type(content_type)
    if media:
        return media in HTML_TYPES
    return body.lstrip(b"\xef\xbb\xbf \t\r\n").startswith(b"<")


def _media_type(content_type: str) -> str:
    """``text/html`` of ``text/html; charset=utf-8``: lower case, and (it is the server's
    text, and it ends up in a log line) printable ASCII only, at most 60 characters."""
    media = content_type.split(";", 1)[0].strip().lower()
    return "".join(c for c in media if c.isascii() and c.isprintable())[:60]


def decode_html(body: bytes, content_type: str = "") -> str:
    """``body`` as text: by its byte-order mark, else the charset of ``content_type``, else
    its ``<meta charset>``, else UTF-8 if it is valid, else windows-1252. Never raises."""
    bom = _bom_codec(body)
    header = _HEADER_CHARSET.search(content_type)
    meta = _META_CHARSET.search(body[:_SNIFF_BYTES])
    if bom:
        return body.decode(bom, errors="replace")
    if header and (codec := _codec(header.group(1))):
        return body.decode(codec, errors="replace")
    if meta and (codec := _codec(meta.group(1).decode("ascii"))):
        # A page whose <meta> could be read is ASCII-compatible, whatever it says (WHATWG).
        codec = "utf-8" if codec.startswith(("utf-16", "utf-32")) else codec
        return body.decode(codec, errors="replace")
    try:
        return body.decode("utf-8")
    except UnicodeDecodeError:
        return body.decode("cp1252", errors="replace")


def _bom_codec(body: bytes) -> str:
    if body.startswith(codecs.BOM_UTF8):
        return "utf-8-sig"
    if body.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return "utf-16"
    return ""


def _codec(label: str) -> str:
    """The Python codec a charset label names, or "" if none; a text codec only (a label
    such as ``rot13`` or ``zlib`` must not pick a byte transform)."""
    try:
        info = codecs.lookup(label.strip().lower())
    except LookupError:
        return ""
    if not getattr(info, "_is_text_encoding", True):
        return ""
    return "cp1252" if info.name in _AS_CP1252 else info.name


def extract_text(body: bytes, content_type: str = "") -> str:
    """The main text of an HTML page, at most ``MAX_TEXT_CHARS`` characters (cut between
    words); "" when trafilatura finds none. Raises :class:`PageUnreadable` for a page too
    complex to read or that is no document. CPU-bound: call it in a worker thread."""
    if b"\x00" in body[:_SNIFF_BYTES] and not _bom_codec(body).startswith("utf-16"):
        # An image or an archive served as text/html: its bytes would read as noise.
        raise PageUnreadable("binary content, not an HTML page")
    tree = _parse(decode_html(body, content_type))
    try:
        text = _trafilatura().extract(
            tree,
            include_comments=False,
            include_tables=True,
            deduplicate=False,
            with_metadata=False,
            output_format="txt",
        )
    except Exception as exc:  # third-party code on hostile input: a value, whatever it is
        raise PageUnreadable(f"text extraction failed ({type(exc).__name__})") from exc
    return _capped(text or "")


def _parse(html: str) -> Any:
    """The lxml tree of a page, refused when it has more than MAX_ELEMENTS elements.

    lxml's HTML parser never expands entities declared in a DOCTYPE (no billion laughs)
    and caps the nesting depth; comments and processing instructions are dropped.
    """
    # One parser per call: an lxml parser must not be used by two threads at once.
    parser = lxml_html.HTMLParser(
        encoding="utf-8",
        remove_comments=True,
        remove_pis=True,
        collect_ids=False,
        default_doctype=False,
    )
    try:
        # Encoded again as UTF-8 and parsed with that encoding: lxml refuses a str that
        # declares an encoding, and a <meta charset> must not override ours.
        tree = lxml_html.document_fromstring(html.encode("utf-8", "replace"), parser=parser)
    except (etree.ParserError, etree.XMLSyntaxError, ValueError) as exc:
        raise PageUnreadable(f"not an HTML document ({exc})") from exc
    if sum(1 for _ in islice(tree.iter(), MAX_ELEMENTS + 1)) > MAX_ELEMENTS:
        raise PageUnreadable(f"page too complex to read (over {MAX_ELEMENTS:,} elements)")
    return tree


def _capped(text: str) -> str:
    text = text.strip()
    if len(text) <= MAX_TEXT_CHARS:
        return text
    cut = text[:MAX_TEXT_CHARS]
    space = max(cut.rfind(" "), cut.rfind("\n"))
    return cut[:space] if space > MAX_TEXT_CHARS // 2 else cut


def _trafilatura() -> Any:
    """trafilatura, imported on first use (it costs 0.2 s, and most configs need none).

    Its own log lines are silenced: the outcome of every page is logged once, by the
    caller, with the feed and the redacted URL; trafilatura would repeat it unredacted.
    """
    import trafilatura

    logging.getLogger("trafilatura").setLevel(logging.CRITICAL)
    return trafilatura


def merge_page_text(article: Article, page_text: str) -> Article:
    """``article`` with the text a rule is matched on extended by its page's main text.

    The feed's own text stays in front unless the page already carries it (so a rule
    that matched the teaser still matches: a cookie wall or a page extracted badly takes
    nothing away), compared word by word, case aside, without the teaser's last word (a
    teaser is often cut inside it). A page that adds nothing the feed's text does not
    already hold leaves the article as it was (``fulltext`` stays false).
    """
    page = " ".join(page_text.casefold().split())
    own = " ".join(article.text.casefold().split())
    if not page or page in own:
        return article
    words = own.split(" ")
    core = " ".join(words[:-1]) if len(words) > 3 else own
    text = page_text if core in page else f"{article.text}\n\n{page_text}"
    return replace(article, text=text, fulltext=True)
