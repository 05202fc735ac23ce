"""The fast path (monitor.ingest.fastparse) against feedparser: the same articles, always.

parse_feed reads well-formed RSS, RDF and Atom with the fast path and everything else
with feedparser; ``fast_path=False`` reads everything with feedparser, the reference.
Equivalence is checked three ways:

- on the whole corpus under ../shared/data/feeds (every file the fast path takes gives the
  same ParseOutcome as feedparser, and the share it takes is reported and held);
- on generated feeds (hypothesis) built from the elements and quirks that steer
  feedparser's state machine: titles in media groups, summaries that become content,
  guids that become links, authors in four shapes, inline XHTML, typepad divs, xml:base,
  namespace prefixes bound to unexpected URIs, double-encoded UTF-8, dates in odd formats;
- by cases that must be left to feedparser (DOCTYPE, malformed XML, GML, inline SVG)
  and cases it must take (whitespace before the XML declaration is trimmed by
  ``parse.trim_prolog`` first, see tests/ingest/test_parse.py).
"""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime
from pathlib import Path

import feedparser
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from monitor.ingest import fastparse
from monitor.ingest.parse import parse_feed, read_fast
from monitor.model import ParseOutcome
from tests.corpus_support import CorpusRun, run_corpus

FETCHED_AT = datetime(2026, 1, 15, 12, 0, tzinfo=UTC).timestamp()
PROPERTY = settings(max_examples=400, deadline=None, derandomize=True)
#: The real news feeds of the corpus (the rest is feedparser's and the validator's test suites).
REAL_FEEDS = ("feed-rs/", "rss-parser-js/", "feedjira/")


def both(body: bytes, headers: dict[str, str] | None = None) -> tuple[ParseOutcome, ParseOutcome]:
    """(fast path on, feedparser only) outcomes of one body."""
    headers = headers or {}
    fast = parse_feed("f", body, headers, fetched_at=FETCHED_AT)
    reference = parse_feed("f", body, headers, fetched_at=FETCHED_AT, fast_path=False)
    return fast, reference


# --- the corpus ----------------------------------------------------------------------------


@pytest.fixture
def corpus(shared_data: Path) -> CorpusRun:
    return run_corpus(shared_data / "feeds")  # cached: one run for all corpus tests


def test_every_corpus_file_the_fast_path_takes_reads_as_feedparser_reads_it(
    corpus: CorpusRun,
) -> None:
    taken: list[str] = []
    differ: list[str] = []
    feeds = Counter[str]()  # XML files read as feeds (without an error), real and all
    for rel, run in corpus.runs.items():
        # The corpus run read the body with the fast path on, as parse_feed always does;
        # it took the fast path when the body passed parse_feed's checks and the fast
        # path read it.
        if run.outcome.error == "" and read_fast(run.file.body, run.headers) is not None:
            taken.append(rel)
            reference = parse_feed(
                rel, run.file.body, run.headers, fetched_at=FETCHED_AT, fast_path=False
            )
            if run.outcome != reference:
                differ.append(rel)
        if not run.outcome.error and not rel.endswith(".json"):  # an RSS, RDF or Atom feed
            feeds["all"] += 1
            feeds["real"] += rel.startswith(REAL_FEEDS)
    real = [rel for rel in taken if rel.startswith(REAL_FEEDS)]
    print(
        f"\nfast path: {len(taken)} of {len(corpus.runs)} corpus files "
        f"({len(taken) / feeds['all']:.0%} of the {feeds['all']} XML feeds), "
        f"{len(real)} of {feeds['real']} real news feeds; "
        f"{len(taken) - len(differ)} identical to feedparser"
    )
    assert not differ, differ
    # What the fast path covers today; a change that makes it give up more often shows here.
    assert len(taken) > 2500
    assert len(real) >= 118


# --- generated feeds -----------------------------------------------------------------------

NAMESPACES = {
    "content": "http://purl.org/rss/1.0/modules/content/",
    "dc": "http://purl.org/dc/elements/1.1/",
    "dcterms": "http://purl.org/dc/terms/",
    "itunes": "http://www.itunes.com/dtds/podcast-1.0.dtd",
    "atom": "http://www.w3.org/2005/Atom",
    "x": "http://example.com/unknown/",
    "georss": "http://www.georss.org/georss",
    "xhtml": "http://www.w3.org/1999/xhtml",
    "rdf": "http://www.w3.org/1999/02/22-rdf-syntax-ns#",
    "cc": "http://web.resource.org/cc/",
    "psc": "http://podlove.org/simple-chapters",
}
# "media" bound to Media RSS (either spelling), or to a URI feedparser does not know;
# "dcx" is Dublin Core under another prefix; "dc" may be bound to the content module.
MEDIA_URIS = [
    "http://search.yahoo.com/mrss/",
    "http://search.yahoo.com/mrss",
    "http://www.rssboard.org/media-rss",
]

TEXTS = [
    "Plain words",
    "  spaced\n   out\twords  ",
    "",
    "AT&amp;T &lt;b&gt;bold&lt;/b&gt; &amp;amp; more",
    "<![CDATA[<p>Para <b>one</b></p><p>two &amp; more</p>]]>",
    "<![CDATA[Tom & Jerry <3]]>",
    "Caf\u00e9 \u2019quoted\u2019 \u2014 dash",
    "d\u00c3\u00a9j\u00c3\u00a0 vu",  # UTF-8 read as Latin-1: feedparser repairs it
    "c1 \u0080\u0093 controls",  # feedparser maps these as cp1252
    "&#8217;numeric&#x2014;refs&#38;",
    "x <b>inline</b> y",
    "<div>typepad div</div>",
    '<div xmlns="http://www.w3.org/1999/xhtml"><p>One <a href="/x">link</a></p></div>',
    "<p>para</p><p>two</p>",
    "text <title>inner title</title> after",
    "http://example.com/a?x=1&amp;y=2&amp;utm_source=rss",
    "https://example.org/story/7#frag",
    "/relative/path?b=2",
    "http:///extra.example/slash",
    "mark@example.org (Mark Pilgrim)",
    "Jonas Gro\u00dfe Sundrup &lt;jonas@insanity.industries&gt;",
    "Thu, 01 Jan 2026 10:00:00 GMT",
    "2026-01-02T03:04:05+02:00",
    "2025-12-31",
    "Sat, 16 Dec 2023 02:02:33 PM",
    "mer, 16 nov 2022 00:38:15 +0100",
    "yesterday",
    "12345",
    "tag:example.com,2020:entry-1",
    "&lt;script&gt;alert(1)&lt;/script&gt; after script",
    "Word &amp;copy; &amp;nbsp; entities",
    "a &lt;b&gt; tag-like &amp; &#60;em&#62;",
    "1 2",  # a GeoRSS point
    "a, b ,c",
    "split <!-- a comment --> by a comment<?pi here?>",
    '<div xmlns="http://www.w3.org/1999/xhtml">\n  <p>One</p>\n  <p>Two</p>\n</div>\n',
    '<div xmlns="http://www.w3.org/1999/xhtml"><math xmlns="http://www.w3.org/1998/Math/MathML">'
    "<mi>x</mi></math> and <![CDATA[<b>cdata</b>]]></div>",
    "\n    <p>pretty</p>\n    <p>printed</p>\n  ",
]
URLS = [
    "http://example.com/1",
    "https://Example.COM:443/path?utm_medium=x&amp;id=2",
    "/relative",
    "",
    "12345",
    "http:///three.example/slashes",
]

CONTENT_TYPES = [
    "text", "html", "xhtml", "TEXT", "text/plain", "text/html", "application/xhtml+xml",
    "image/png", "application/xml",
]  # fmt: skip


def element(name: str, text: str, attrs: str = "") -> str:
    return f"<{name}{attrs}>{text}</{name}>"


@st.composite
def entry_child(draw: st.DrawFn, depth: int = 0) -> str:
    """One child of an item or entry (sometimes with children of its own)."""
    text = draw(st.sampled_from(TEXTS))
    url = draw(st.sampled_from(URLS))
    kind = draw(st.sampled_from(CONTENT_TYPES))
    simple = [
        "title", "link", "guid", "id", "description", "summary", "content", "pubDate",
        "published", "updated", "issued", "modified", "created", "author", "comments",
        "category", "dc:creator", "dc:date", "dc:title", "dc:description", "dc:subject",
        "dc:publisher", "dc:contributor", "dcx:creator", "dcx:date", "dcterms:modified",
        "dcterms:issued", "dcterms:created", "content:encoded", "itunes:author",
        "itunes:summary", "itunes:subtitle", "itunes:keywords", "itunes:explicit",
        "media:title", "media:description", "media:keywords", "media:credit",
        "media:category", "media:thumbnail", "x:thing", "date", "managingEditor",
        "webMaster", "abstract", "fullitem", "body", "xhtml:body", "tags", "source", "name",
        "email", "uri", "url", "expirationDate", "language", "georss:point",
        "dcterms:valid", "rights", "subtitle", "generator", "newLocation", "width",
    ]  # fmt: skip
    choice = draw(st.integers(0, 19))
    if choice < 9:
        return element(draw(st.sampled_from(simple)), text)
    if choice == 9:
        name = draw(st.sampled_from(["title", "summary", "content", "description", "rights"]))
        return element(name, text, f' type="{kind}"')
    if choice == 10:
        rel = draw(st.sampled_from(["", ' rel="alternate"', ' rel="enclosure"', ' rel="self"',
                                    ' rel="related"', ' rel="ALTERNATE"']))  # fmt: skip
        kind = draw(st.sampled_from(["", ' type="text/html"', ' type="audio/mpeg"',
                                     ' type="application/xhtml+xml"']))  # fmt: skip
        name = draw(st.sampled_from(["link", "atom:link"]))
        body = draw(st.sampled_from(["", text]))
        return f'<{name}{rel}{kind} href="{url}">{body}</{name}>' if url else element(name, body)
    if choice == 11:
        permalink = draw(st.sampled_from(["", ' isPermaLink="false"', ' isPermaLink="true"']))
        return element("guid", draw(st.sampled_from([text, url])), permalink)
    if choice == 12:
        parts = draw(st.lists(st.sampled_from([
            element("name", text), element("email", "a@example.org"), element("uri", url),
            element("x:extra", text)]), max_size=3))  # fmt: skip
        return element(draw(st.sampled_from(["author", "contributor", "itunes:owner"])),
                       "".join(parts))  # fmt: skip
    if choice == 13:
        inner = draw(st.lists(st.sampled_from([
            element("media:title", text), element("media:description", text),
            f'<media:thumbnail url="{url}"/>', element("media:credit", text),
            element("media:title", text, ' type="html"')]), max_size=3))  # fmt: skip
        content = f'<media:content url="{url}" medium="image">{"".join(inner)}</media:content>'
        return draw(st.sampled_from([content, f"<media:group>{content}</media:group>"]))
    if choice == 14:
        return draw(st.sampled_from([
            f'<enclosure url="{url}" length="1" type="audio/mpeg"/>', "<title/>", "<link/>",
            f'<title type="HTML" xml:lang="en">{text}</title>',
            f'<summary type="xhtml" xmlns:xl="http://www.w3.org/1999/xlink">{text}</summary>',
            f'<x:thing xmlns:xl="http://www.w3.org/1999/xlink" xl:href="{url}">{text}</x:thing>',
            f'<title xmlns="http://example.com/unknown/">{text}</title>',
            f'<y:title xmlns:y="http://example.com/unknown/">{text}</y:title>',
        ]))  # fmt: skip
    if choice == 15 and depth < 2:
        # An element feedparser knows nothing about, around elements it does.
        children = draw(st.lists(entry_child(depth + 1), max_size=3))
        wrapper = draw(st.sampled_from(["x:wrap", "wrap", "image", "textInput", "source",
                                        "item", "entry", "media:group"]))  # fmt: skip
        attrs = draw(st.sampled_from(["", ' a="1"', f' xml:base="{url or "http://b.example/"}"',
                                      ' url="http://src.example/"']))  # fmt: skip
        return element(wrapper, "".join(children), attrs)
    if choice == 16:
        return f'<content src="{url}" type="{kind}"/>'
    if choice == 17:
        attrs = draw(st.sampled_from([' term="t"', ' domain="d"', ' term="t" label="L"']))
        return element("category", draw(st.sampled_from(["", text])), attrs)
    if choice == 18:
        return draw(st.sampled_from([
            '<cc:license rdf:resource="http://creativecommons.org/licenses/by/4.0/"/>',
            '<x:thing a="1">text</x:thing>',
            f'<item xml:base="{url or "http://b.example/"}"/>',
            "<psc:chapters><psc:chapter start=\"00:00:01.000\" title=\"One\"/></psc:chapters>",
            f'<link xml:base="http://base.example/dir/">{url}</link>',
            "<itunes:image href=\"http://example.com/i.png\"/>",
        ]))  # fmt: skip
    return element(draw(st.sampled_from(simple)), f" {text} ")


@st.composite
def generated_feed(draw: st.DrawFn) -> bytes:
    kind = draw(st.sampled_from(["rss20", "rss091", "rss", "rdf", "atom10", "atom03"]))
    media = draw(st.sampled_from(MEDIA_URIS))
    declared = {**NAMESPACES, "media": media, "dcx": NAMESPACES["dc"]}
    if draw(st.booleans()):
        declared["dc"] = NAMESPACES["content"]  # a standard prefix bound to another module
    if draw(st.booleans()):
        declared["rss1"] = "http://purl.org/rss/1.0/"  # sets feedparser's version early
    decls = "".join(f' xmlns:{p}="{u}"' for p, u in declared.items())
    # Pretty-printed or not: the whitespace between elements lands in feedparser's pieces.
    sep = draw(st.sampled_from(["", "\n", "\n    "]))
    entries = [
        sep + sep.join(draw(st.lists(entry_child(), min_size=0, max_size=7))) + sep
        for _ in range(draw(st.integers(1, 3)))
    ]
    head = "".join(draw(st.lists(st.sampled_from([
        "<title>Channel</title>", "<link>http://example.com/</link>",
        "<description>About</description>", '<atom:link rel="self" href="http://e.x/f"/>',
        "<image><title>Logo</title><url>http://e.x/i.png</url><link>http://e.x/</link></image>",
        "<textInput><title>T</title><name>q</name><link>http://e.x/s</link></textInput>",
        "<id>urn:feed</id>", "<language>en</language>", "<author><name>Feed</name></author>",
        "<generator uri=\"http://g.example/\">Gen</generator>",
    ]), max_size=4)))  # fmt: skip
    base = draw(st.sampled_from(["", ' xml:base="http://base.example/feed/"']))
    declaration = draw(st.sampled_from(['<?xml version="1.0" encoding="utf-8"?>', ""]))
    if kind in ("atom10", "atom03"):
        version = ' version="0.3"' if kind == "atom03" else ""
        ns = "http://purl.org/atom/ns#" if kind == "atom03" else NAMESPACES["atom"]
        items = "".join(f"<entry>{e}</entry>" for e in entries)
        doc = f'<feed xmlns="{ns}"{version}{decls}{base}>{head}{items}</feed>'
    elif kind == "rdf":
        items = "".join(
            f'<item rdf:about="http://e.x/{i}">{e}</item>' for i, e in enumerate(entries)
        )
        doc = (
            f'<rdf:RDF xmlns="http://purl.org/rss/1.0/"{decls}{base}>'
            f'<channel rdf:about="http://e.x/">{head}</channel>{items}</rdf:RDF>'
        )
    else:
        version = {"rss20": ' version="2.0"', "rss091": ' version="0.91"', "rss": ""}[kind]
        items = "".join(f"<item>{e}</item>" for e in entries)
        doc = f"<rss{version}{decls}><channel{base}>{head}{items}</channel></rss>"
    return (declaration + doc).encode()


# Documents with one of these may be left to feedparser on purpose: an unknown <date>
# becomes "updated" without "updated_parsed", which FeedParserDict answers from
# "published_parsed" (a lookup plain dicts do not reproduce).
GIVE_UP_MARKERS = ["<date>"]


@PROPERTY
@given(generated_feed())
def test_generated_feeds_read_as_feedparser_reads_them(body: bytes) -> None:
    fast, reference = both(body)
    assert fast == reference
    # Everything the generator writes is well-formed and within the fast path's reach,
    # except where feedparser itself raises (the outcome is then its error).
    if not reference.error and not any(m.encode() in body for m in GIVE_UP_MARKERS):
        assert read_fast(body, {}) is not None


# --- what the fast path leaves to feedparser, and what it must take ------------------------

RSS = (
    '<?xml version="1.0" encoding="utf-8"?>\n<rss version="2.0"><channel><title>T</title>'
    "<item><title>One &amp; two</title><link>https://example.com/1?utm_source=x</link>"
    '<guid isPermaLink="false">1</guid><pubDate>Thu, 01 Jan 2026 10:00:00 GMT</pubDate>'
    "<description>&lt;p&gt;Hello &lt;b&gt;world&lt;/b&gt;&lt;/p&gt;</description></item>"
    "</channel></rss>"
)


def test_a_plain_rss_feed_takes_the_fast_path() -> None:
    body = RSS.encode()
    entries = read_fast(body, {"Content-Type": "application/rss+xml; charset=utf-8"})
    assert entries is not None and len(entries) == 1
    fast, reference = both(body)
    assert fast == reference
    [article] = fast.articles
    assert (article.title, article.url, article.text) == (
        "One & two",
        "https://example.com/1",
        "Hello world",
    )


@pytest.mark.parametrize(
    ("name", "body"),
    [
        ("doctype", RSS.replace("<rss", '<!DOCTYPE rss SYSTEM "x.dtd"><rss', 1)),
        ("malformed", RSS.replace("</title>", "", 1)),
        ("html entity", RSS.replace("One &amp; two", "One&nbsp;two")),
        ("truncated", RSS[:-20]),
        ("gml", RSS.replace("<rss", '<rss xmlns:gml="http://www.opengis.net/gml"').replace(
            "</item>", "<gml:Point><gml:pos>1 2</gml:pos></gml:Point></item>")),
        ("no entries", RSS[: RSS.index("<item>")] + "</channel></rss>"),
        # expat cuts text at line ends; feedparser's XHTML <div> unwrapping sees the cut.
        ("markup text turned xhtml", '<feed xmlns="http://www.w3.org/2005/Atom"><entry>'
         '<id>urn:1</id><content type="html"><![CDATA[<div>\n<span>a</span>]]><b>x</b>'
         "<div>y</div></content></entry></feed>"),
        ("svg", RSS.replace("<rss", '<rss xmlns:a="http://www.w3.org/2005/Atom"').replace(
            "</item>", '<a:content type="xhtml"><div xmlns="http://www.w3.org/1999/xhtml">'
            '<svg xmlns="http://www.w3.org/2000/svg"><title>t</title></svg></div></a:content>'
            "</item>")),
    ],
)  # fmt: skip
def test_what_the_fast_path_leaves_to_feedparser(name: str, body: str) -> None:
    assert read_fast(body.encode(), {}) is None
    fast, reference = both(body.encode())
    assert fast == reference


@pytest.mark.parametrize(
    ("headers", "body"),
    [
        ({"Content-Type": "application/rss+xml; charset=iso-8859-1"},
         RSS.replace("One &amp; two", "Caf\u00e9").encode("iso-8859-1")),
        ({}, RSS.replace('encoding="utf-8"', 'encoding="windows-1252"')
             .replace("One &amp; two", "\u201cquoted\u201d").encode("cp1252")),
        ({}, RSS.replace("One &amp; two", "\u00e9t\u00e9").encode("utf-16")),
        # text/xml without a charset is us-ascii to feedparser; the UTF-8 bytes then fail
        # and it settles on another encoding, which the fast path reads the same way.
        ({"Content-Type": "text/xml"}, RSS.replace("One &amp; two", "\u00e9t\u00e9").encode()),
    ],
)  # fmt: skip
def test_charsets_are_decoded_as_feedparser_decodes_them(
    headers: dict[str, str], body: bytes
) -> None:
    assert read_fast(body, headers) is not None
    fast, reference = both(body, headers)
    assert fast == reference and fast.articles


def test_xml_base_resolves_links_as_feedparser_does() -> None:
    body = (
        b'<feed xmlns="http://www.w3.org/2005/Atom" xml:base="http://example.org/blog/">'
        b'<entry xml:base="2024/"><id>urn:1</id><title>T</title><link href="post.html"/></entry>'
        b"</feed>"
    )
    assert read_fast(body, {}) is not None
    fast, reference = both(body)
    assert fast == reference
    assert fast.articles[0].url == "http://example.org/blog/2024/post.html"


def test_the_fast_path_is_off_for_another_feedparser(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(fastparse, "ENABLED", False)
    assert read_fast(RSS.encode(), {}) is None
    assert parse_feed("f", RSS.encode(), {}, fetched_at=FETCHED_AT).articles


def test_every_replayed_handler_is_a_feedparser_handler_and_none_is_shadowed() -> None:
    handlers = {
        n for n in dir(feedparser.api.StrictFeedParser) if n.startswith(("_start_", "_end_"))
    }
    reader = fastparse.Reader
    replayed = set(reader.start_handlers) | set(reader.end_handlers)
    assert replayed <= handlers
    assert {"_start_item", "_end_title", "_start_dc_creator", "_end_media_title"} <= replayed
    # Only handlers are named like handlers: a helper called _start_<x> would replace the
    # handler for <x> (or be replaced by it) without a word.
    for cls in reader.__mro__:
        named_like_handlers = {n for n in vars(cls) if n.startswith(("_start_", "_end_"))}
        assert named_like_handlers <= handlers, cls
