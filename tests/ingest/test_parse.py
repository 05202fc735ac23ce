"""Tests of monitor.ingest.parse: real feeds from the shared data, hostile and non-feed bodies."""

from __future__ import annotations

import gzip
import io
import json
import random
import time
import tracemalloc
from datetime import UTC, datetime
from pathlib import Path

import feedparser
import pytest

from monitor.ingest.parse import (
    ENTITY_REFUSAL,
    has_entity_declaration,
    parse_feed,
    trim_prolog,
)
from monitor.model import ParseOutcome

FETCHED_AT = datetime(2026, 1, 15, 12, 0, tzinfo=UTC).timestamp()
RSS_HEADERS = {"Content-Type": "application/rss+xml; charset=utf-8"}


@pytest.fixture
def feeds(shared_data: Path) -> Path:
    return shared_data / "feeds"


def parse(body: bytes, headers: dict[str, str] | None = None) -> ParseOutcome:
    return parse_feed("feed-1", body, headers or {}, fetched_at=FETCHED_AT)


def rss(items: str, *, declaration: str = '<?xml version="1.0" encoding="utf-8"?>') -> bytes:
    return (
        f'{declaration}<rss version="2.0"><channel><title>T</title>'
        f"<link>https://example.com/</link>{items}</channel></rss>"
    ).encode()


# --- real feeds ----------------------------------------------------------------------------


def test_rss2_real_feed(feeds: Path) -> None:
    outcome = parse((feeds / "feed-rs/rss2/rss_2.0_bbc.xml").read_bytes(), RSS_HEADERS)
    assert outcome.error == ""
    assert outcome.feed_id == "feed-1"
    [article] = outcome.articles
    assert article.title == "Marcus Aurelius"
    assert article.guid == "urn:bbc:podcast:m000sjxt"
    assert article.url == "http://www.bbc.co.uk/programmes/m000sjxt"
    assert article.published == datetime(2021, 2, 25, 10, 15, tzinfo=UTC)
    assert article.author == "BBC Radio 4"
    # The description is a truncated copy of the itunes:summary: kept once.
    assert (
        article.text == "Melvyn Bragg and guests discuss the man who, according to Machiavelli..."
    )


def test_atom_real_feed(feeds: Path) -> None:
    outcome = parse((feeds / "feed-rs/atom/atom_spec_1.xml").read_bytes())
    assert outcome.error == ""
    [article] = outcome.articles
    assert article.title == "Atom-Powered Robots Run Amok"
    assert article.guid == "urn:uuid:1225c695-cfb8-4ebb-aaaa-80da344efa6a"
    assert article.url == "http://example.org/2003/12/13/atom03"
    assert article.text == "Some text."
    assert article.published == datetime(2003, 12, 13, 18, 30, 2, tzinfo=UTC)  # from <updated>


def test_html_is_stripped_from_real_summaries(feeds: Path) -> None:
    outcome = parse((feeds / "rss-parser-js/input/guardian.rss").read_bytes())
    assert outcome.error == ""
    assert len(outcome.articles) > 20
    for article in outcome.articles:
        assert article.text
        assert "<" not in article.text
        assert "&amp;" not in article.text and "&#" not in article.text


def test_tracking_parameters_are_stripped_from_real_links(feeds: Path) -> None:
    outcome = parse((feeds / "feed-rs/rss2/rss_2.0_wirecutter.xml").read_bytes())
    [article] = outcome.articles
    assert (
        article.url == "https://www.nytimes.com/wirecutter/blog/how-to-teach-someone-a-board-game/"
    )


JSON_FEED_EXAMPLES = [
    "jsonfeed-spec/spec_examples_extracted/pages_version_1_example1.json",
    "jsonfeed-spec/spec_examples_extracted/pages_version_1_example2.json",
    "jsonfeed-spec/spec_examples_extracted/pages_version_1_example3.json",
    "jsonfeed-spec/spec_examples_extracted/pages_version_1.1_example1.json",
    "jsonfeed-spec/spec_examples_extracted/pages_version_1.1_example2.json",
    "jsonfeed-spec/spec_examples_extracted/pages_version_1.1_example3.json",
    "jsonfeed-spec/schema_sonicdoe/test/examples/v1/simple.json",
    "jsonfeed-spec/schema_sonicdoe/test/examples/v1/podcast.json",
    "jsonfeed-spec/schema_sonicdoe/test/examples/v1/microblog.json",
    "jsonfeed-spec/schema_sonicdoe/test/examples/v1.1/simple.json",
    "jsonfeed-spec/schema_sonicdoe/test/examples/v1.1/podcast.json",
    "jsonfeed-spec/schema_sonicdoe/test/examples/v1.1/microblog.json",
    "feed-rs/jsonfeed/jsonfeed_spec_1.json",
    "feed-rs/jsonfeed/jsonfeed_example_1.json",
    "feed-rs/jsonfeed/jsonfeed_elastic_1.1.json",
    "feedjira/head/json_feed.json",
]


@pytest.mark.parametrize("name", JSON_FEED_EXAMPLES)
def test_every_json_feed_example_parses_completely(feeds: Path, name: str) -> None:
    body = (feeds / name).read_bytes()
    outcome = parse(body, {"Content-Type": "application/feed+json"})
    assert outcome.error == ""
    assert outcome.skipped == 0
    assert len(outcome.articles) == len(json.loads(body)["items"])
    for article in outcome.articles:
        assert article.url.startswith("http")
        assert article.text or article.title


def test_json_feed_fields(feeds: Path) -> None:
    examples = feeds / "jsonfeed-spec/spec_examples_extracted"
    first = parse((examples / "pages_version_1.1_example1.json").read_bytes())
    assert [(a.guid, a.url, a.text) for a in first.articles] == [
        ("2", "https://example.org/second-item", "This is a second item."),
        ("1", "https://example.org/initial-post", "Hello, world!"),
    ]
    # 1.0 and 1.1 spell the same feed the same way.
    same = parse((examples / "pages_version_1_example1.json").read_bytes())
    assert same.articles == first.articles

    [podcast] = parse((examples / "pages_version_1.1_example2.json").read_bytes()).articles
    assert podcast.title == "Special #1 - Chris Parrish"
    assert podcast.published == datetime(2014, 5, 9, 21, 4, tzinfo=UTC)  # -07:00 in the feed
    assert podcast.text.startswith("Brent interviews Chris Parrish")  # summary, then content
    assert "Chris has worked at Adobe" in podcast.text
    assert "<a" not in podcast.text

    # Items inherit the feed's author: "author" in 1.0, "authors" in 1.1.
    for name in ("pages_version_1_example3.json", "pages_version_1.1_example3.json"):
        [micro] = parse((examples / name).read_bytes()).articles
        assert micro.author == "Brent Simmons"
        assert micro.published == datetime(2016, 2, 9, 21, 22, tzinfo=UTC)


def test_json_feed_odd_but_common_shapes() -> None:
    doc = {
        "version": "https://jsonfeed.org/version/1.1",
        "home_page_url": "https://example.org/blog/",
        "items": [
            {"id": 42, "url": "posts/42?utm_source=json", "content_text": "Numeric id."},
            {"id": "x", "content_html": "<p>Dated the RSS way.</p>",
             "date_published": "Fri, 31 May 2019 12:17:58 -0700"},
            "not an object",
            {"id": "y", "content_text": "Bad date.", "date_published": "yesterday"},
        ],
    }  # fmt: skip
    outcome = parse(json.dumps(doc).encode())
    assert outcome.error == ""
    assert outcome.skipped == 1
    numeric, rss_dated, bad_date = outcome.articles
    assert numeric.guid == "42"
    assert numeric.url == "https://example.org/blog/posts/42"  # resolved, tracking stripped
    # Where the document was fetched from is the better base, when it is known.
    fetched = parse(json.dumps(doc).encode(), {"Content-Location": "https://cdn.example.net/f/"})
    assert fetched.articles[0].url == "https://cdn.example.net/f/posts/42"
    assert rss_dated.published == datetime(2019, 5, 31, 19, 17, 58, tzinfo=UTC)
    assert rss_dated.text == "Dated the RSS way."
    assert bad_date.published is None


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (b'{"title": "no version", "items": []}', "not a feed: JSON without a JSON Feed version"),
        (
            b'{"version": "https://jsonfeed.org/version/1"}',
            "not a feed: JSON Feed without an items",
        ),
        (b'[{"version": "https://jsonfeed.org/version/1"}]', "not a feed: JSON without a JSON"),
        (b'{"version": "https://jsonfeed.org/version/1", "items": [', "not a feed: invalid JSON"),
        (b"[" * 100_000, "not a feed: invalid JSON"),
    ],
)
def test_json_that_is_not_a_json_feed(body: bytes, message: str) -> None:
    outcome = parse(body, {"content-type": "application/json"})
    assert outcome.error.startswith(message)
    assert outcome.articles == ()


def test_xml_mislabelled_as_json_is_still_read() -> None:
    body = rss("<item><title>Hello</title><link>https://example.com/1</link></item>")
    outcome = parse(body, {"Content-Type": "application/json"})
    assert outcome.error == ""
    assert [a.title for a in outcome.articles] == ["Hello"]


# --- identity, dates, links ----------------------------------------------------------------


def test_entries_without_guid_or_link_get_stable_hash_ids() -> None:
    body = rss(
        "<item><title>First story</title><description>one</description></item>"
        "<item><title>Second story</title><description>two</description>"
        "<pubDate>Thu, 01 Jan 2026 10:00:00 GMT</pubDate></item>"
    )
    first = parse_feed("feed-1", body, {}, fetched_at=FETCHED_AT)
    again = parse_feed("feed-1", body, {}, fetched_at=FETCHED_AT + 3600)
    assert first.error == ""
    assert [a.id for a in first.articles] == [a.id for a in again.articles]
    assert len({a.id for a in first.articles}) == 2
    assert all(a.guid == "" and a.url == "" for a in first.articles)


def test_published_is_converted_to_utc() -> None:
    body = rss(
        "<item><title>a</title><pubDate>Thu, 01 Jan 2026 10:00:00 +0200</pubDate></item>"
        "<item><title>b</title><pubDate>Wed, 31 Dec 2025 23:30:00 -0500</pubDate></item>"
    )
    published = [a.published for a in parse(body).articles]
    assert published == [
        datetime(2026, 1, 1, 8, 0, tzinfo=UTC),
        datetime(2026, 1, 1, 4, 30, tzinfo=UTC),
    ]
    assert all(p is not None and p.utcoffset() is not None and not p.utcoffset() for p in published)


def test_relative_links_resolve_against_content_location() -> None:
    body = rss("<item><title>a</title><link>/news/1?fbclid=x</link></item>")
    with_base = parse(body, {"Content-Location": "https://example.com/feeds/rss.xml"})
    assert with_base.articles[0].url == "https://example.com/news/1"
    # Without a base the link cannot be made absolute, so the article has no URL.
    assert parse(body).articles[0].url == ""


def test_an_entry_that_cannot_be_normalized_is_skipped_and_counted() -> None:
    body = rss(
        "<item><title>kept</title></item>"
        "<item></item>"  # nothing to identify or match
        "<item><link>https://example.com/2</link></item>"
    )
    outcome = parse(body)
    assert outcome.error == ""
    assert outcome.skipped == 1
    assert [a.title for a in outcome.articles] == ["kept", ""]
    assert outcome.articles[1].url == "https://example.com/2"


def test_an_empty_feed_is_a_feed_even_when_served_with_a_sloppy_content_type() -> None:
    outcome = parse(rss(""), {"Content-Type": "text/html"})
    assert outcome == ParseOutcome(feed_id="feed-1")


def test_a_truncated_feed_with_no_entries_is_an_error() -> None:
    outcome = parse(rss("")[:-30])
    assert outcome.error.startswith("malformed rss20 feed with no readable entries")


# --- each format ---------------------------------------------------------------------------

# (feedparser's version name or the JSON Feed version URL, file, entries, the first article)
FORMATS = [
    ("rss090", "feed-validator/testcases/rss/must/valid_rss_090.xml", 5, {
        "title": "New Status Updates", "url": "http://www.mozilla.org/status/", "guid": "",
        "published": None, "author": "", "text": ""}),
    ("rss091u", "feed-rs/rss0/rss_0.91_spec_1.xml", 2, {
        "title": "Giving the world a pluggable Gnutella",
        "url": "http://writetheweb.com/read.php?item=24", "guid": "", "published": None,
        "author": "", "text": "WorldOS is a framework on which to build programs that work like "
        "Freenet or Gnutella -allowing distributed applications using peer-to-peer routing."}),
    ("rss092", "feed-rs/rss0/rss_0.92_spec_1.xml", 3, {
        "title": "", "url": "", "guid": "", "published": None, "author": "",
        "text": "Kevin Drennan started a Grateful Dead Weblog. Hey it's cool, he even has a "
        "directory. A Frontier 7 feature."}),
    ("rss10", "feedparser-tests/docs/examples/examples/rss10.rdf", 1, {
        "title": "First of all", "url": "http://example.org/archives/2002/09/04.html",
        "guid": "http://www.example.org/1",  # rdf:about
        "published": datetime(2004, 5, 30, 20, 23, 54, tzinfo=UTC),  # dc:date, -06:00
        "author": "Aaron Swartz",  # dc:creator
        # The description repeats inside content:encoded: kept once.
        "text": "Ian Hickson: Americans are fat. Smokers are stupid. People who don't speak "
        "Perl are irrelevant."}),
    ("rss20", "feedparser-tests/docs/examples/examples/rss20.xml", 1, {
        "title": "First item title", "url": "http://example.org/item/1",
        "guid": "http://example.org/guid/1",
        "published": datetime(2002, 9, 5, 0, 0, 1, tzinfo=UTC), "author": "mark@example.org",
        "text": "Watch out for nasty tricks"}),
    ("atom03", "feedparser-tests/docs/examples/examples/atom03.xml", 1, {
        "title": "First entry title",
        "url": "http://example.org/entry/3",  # "/entry/3" against xml:base
        "guid": "tag:feedparser.org,2004-04-20:/docs/examples/atom03.xml:3",
        "published": datetime(2004, 4, 20, 0, 23, 47, tzinfo=UTC),  # <issued>
        "author": "Mark Pilgrim", "text": "Watch out for nasty tricks"}),
    ("atom10", "feedparser-tests/docs/examples/examples/atom10.xml", 1, {
        "title": "First entry title", "url": "http://example.org/entry/3",
        "guid": "tag:feedparser.org,2005-11-09:/docs/examples/atom10.xml:3",
        "published": datetime(2005, 11, 9, 0, 23, 47, tzinfo=UTC),
        "author": "Mark Pilgrim", "text": "Watch out for nasty tricks"}),
    ("https://jsonfeed.org/version/1",
     "jsonfeed-spec/spec_examples_extracted/pages_version_1_example3.json", 1, {
        "title": "", "url": "https://example.org/2347259", "guid": "2347259",
        "published": datetime(2016, 2, 9, 21, 22, tzinfo=UTC), "author": "Brent Simmons",
        "text": "Cats are neat.\nhttps://example.org/cats"}),
    ("https://jsonfeed.org/version/1.1",
     "jsonfeed-spec/spec_examples_extracted/pages_version_1.1_example3.json", 1, {
        "title": "", "url": "https://example.org/2347259", "guid": "2347259",
        "published": datetime(2016, 2, 9, 21, 22, tzinfo=UTC), "author": "Brent Simmons",
        "text": "Cats are neat.\nhttps://example.org/cats"}),
]  # fmt: skip


@pytest.mark.parametrize(
    ("version", "name", "count", "first"), FORMATS, ids=[f[0] for f in FORMATS]
)
def test_each_format_is_read_field_by_field(
    feeds: Path, version: str, name: str, count: int, first: dict[str, object]
) -> None:
    body = (feeds / name).read_bytes()
    if version.startswith("https://jsonfeed.org/"):
        assert json.loads(body)["version"] == version
    else:
        assert feedparser.parse(io.BytesIO(body)).version == version
    outcome = parse(body)
    assert (outcome.error, outcome.skipped, len(outcome.articles)) == ("", 0, count)
    article = outcome.articles[0]
    assert {key: getattr(article, key) for key in first} == first


# --- repairs of what feedparser 6.0 gets wrong -----------------------------------------------


def test_ids_do_not_depend_on_where_the_feed_was_fetched_from(feeds: Path) -> None:
    # feedparser resolves a guid against Content-Location: "7bd2..." would become
    # "https://a.example/feeds/7bd2...", and the article's identity would change with the URL.
    for name, guid in [
        ("feed-rs/rss2/rss_2.0_example_1.xml", "7bd204c6-1655-4c27-aeee-53f933c5395f"),
        ("feed-rs/atom/atom_example_reddit.xml", "t3_glvkc5"),
    ]:
        body = (feeds / name).read_bytes()
        here = parse(body, {"Content-Location": "https://a.example/feeds/rss.xml"}).articles[0]
        there = parse(body, {"Content-Location": "https://b.example/x/"}).articles[0]
        assert here.guid == there.guid == parse(body).articles[0].guid == guid
        assert here.id == there.id


def test_a_guid_that_is_not_a_url_never_becomes_the_link() -> None:
    body = rss("<item><title>a</title><guid>12345</guid></item>"
               "<item><title>b</title><guid>https://example.com/b</guid></item>")  # fmt: skip
    first, second = parse(body, {"Content-Location": "https://example.com/feeds/rss.xml"}).articles
    assert (first.guid, first.url) == ("12345", "")
    assert (second.guid, second.url) == ("https://example.com/b", "https://example.com/b")


def test_an_enclosure_does_not_replace_the_entry_link(feeds: Path) -> None:
    for name in ("entry_link_no_href_link_priority.xml", "entry_link_rel_enclosure_no_href.xml"):
        for version in ("atom", "atom10"):
            body = (feeds / f"feedparser-tests/tests/wellformed/{version}/{name}").read_bytes()
            urls = [a.url for a in parse(body).articles]
            assert urls == ["http://www.example.com/alternate"] * 2, (version, name)


def test_real_feed_dates_feedparser_misreads(feeds: Path) -> None:
    [italian] = parse((feeds / "feed-rs/rss2/rss_2.0_ilmessaggero.xml").read_bytes()).articles
    assert italian.published == datetime(2022, 11, 15, 23, 38, 15, tzinfo=UTC)  # "mer, 16 nov"
    [twelve_hour] = parse((feeds / "feed-rs/rss2/rss_2.0_nbcny.xml").read_bytes()).articles
    assert twelve_hour.published == datetime(2023, 12, 16, 14, 2, 33, tzinfo=UTC)  # "02:02:33 PM"
    portuguese = parse((feeds / "rss-parser-js/input/uolNoticias.rss").read_bytes()).articles
    assert portuguese[0].published == datetime(2018, 9, 24, 22, 42, 40, tzinfo=UTC)  # "Seg, 24 Set"
    assert all(a.published is not None for a in portuguese)


def test_real_feed_author_names_feedparser_cuts_short(feeds: Path) -> None:
    articles = parse((feeds / "feed-rs/rss2/rss_2.0_relurl_1.xml").read_bytes()).articles
    assert [a.author for a in articles] == ["Jonas Große Sundrup"] * 2
    [rdf] = parse((feeds / "feed-rs/rss1/rss_1.0_spec_2.xml").read_bytes()).articles
    assert rdf.author == "Simon St.Laurent"  # "Simon St.Laurent (mailto:simonstl@simonstl.com)"


# --- hostile and non-feed bodies -----------------------------------------------------------

MB = 1024 * 1024


def bounded_parse(
    body: bytes, headers: dict[str, str] | None = None, *, seconds: float = 2.0, memory: int
) -> ParseOutcome:
    """``parse``, asserting it took under ``seconds`` and grew traced memory by under ``memory``.

    tracemalloc makes the parse several times slower; the bounds allow for it.
    """
    tracemalloc.start()
    try:
        started = time.perf_counter()
        outcome = parse(body, headers)
        took = time.perf_counter() - started
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert took < seconds, f"took {took:.2f}s"
    assert peak < memory, f"peak {peak / MB:.1f} MB"
    return outcome


def billion_laughs(levels: int = 10, *, sep: str = "\n") -> str:
    decls = ['<!ENTITY lol0 "lol">'] + [
        f'<!ENTITY lol{i} "{f"&lol{i - 1};" * 10}">' for i in range(1, levels)
    ]
    return (
        f'<?xml version="1.0"?>{sep}<!DOCTYPE rss [{sep}' + sep.join(decls) + f"{sep}]>{sep}"
        f'<rss version="2.0"><channel><item><title>&lol{levels - 1};</title></item></channel></rss>'
    )


def test_why_entity_declarations_are_refused() -> None:
    # feedparser strips entity declarations only when each starts a line; on one line
    # they reach expat, which expands them (up to its amplification limit, 100x the input).
    body = billion_laughs(5, sep="").encode()
    [entry] = feedparser.parse(io.BytesIO(body)).entries
    assert len(entry.title) == 3 * 10**4


def entity_attacks() -> list[tuple[str, bytes]]:
    big = "A" * 100_000
    return [
        ("utf-8", billion_laughs().encode()),
        ("one-line", billion_laughs(sep="").encode()),
        ("lower-case", billion_laughs().replace("<!ENTITY", "<!entity").encode()),
        # UTF-16 and EBCDIC hide the "<!ENTITY" bytes from a naive search.
        ("utf-16", billion_laughs().encode("utf-16")),  # a BOM, ASCII interleaved with NULs
        ("utf-16-be", billion_laughs().encode("utf-16-be")),  # no BOM at all
        ("ebcdic", billion_laughs()
            .replace('<?xml version="1.0"?>', '<?xml version="1.0" encoding="cp037"?>')
            .encode("cp037")),  # found after feedparser's own charset conversion
        # One 100 KB entity used 10,000 times: 1 GB expanded.
        ("quadratic", (f'<?xml version="1.0"?><!DOCTYPE rss [<!ENTITY a "{big}">]>'
            f'<rss version="2.0"><channel><item><title>{"&a;" * 10_000}</title></item>'
            "</channel></rss>").encode()),
        ("external", b'<?xml version="1.0"?><!DOCTYPE rss [<!ENTITY x SYSTEM "file:///etc/passwd">'
            b']><rss version="2.0"><channel><item><title>&x;</title></item></channel></rss>'),
        ("parameter", b'<?xml version="1.0"?><!DOCTYPE rss [<!ENTITY % p SYSTEM '
            b'"http://127.0.0.1:9/evil.dtd"> %p;]><rss version="2.0"><channel></channel></rss>'),
        # A declaration after 3 MB of items is still found.
        ("late", b'<?xml version="1.0"?><rss version="2.0"><channel>'
            + b"<item><title>x</title></item>" * 100_000
            + b'<!DOCTYPE x [<!ENTITY a "b">]></channel></rss>'),
    ]  # fmt: skip


@pytest.mark.parametrize(("name", "body"), entity_attacks(), ids=[n for n, _ in entity_attacks()])
def test_entity_declarations_are_refused_before_any_xml_parser_sees_the_bytes(
    monkeypatch: pytest.MonkeyPatch, name: str, body: bytes
) -> None:
    def must_not_parse(*args: object, **kwargs: object) -> None:
        raise AssertionError("an XML parser was called")

    monkeypatch.setattr(feedparser, "parse", must_not_parse)  # the only XML parser we call
    outcome = bounded_parse(body, seconds=2.0, memory=8 * MB + 4 * len(body))
    assert outcome == ParseOutcome(feed_id="feed-1", error=ENTITY_REFUSAL)
    assert has_entity_declaration(body, {})


def _declaring(encoding: str, *, declaration: bool = True) -> bytes:
    prolog = f'<?xml version="1.0" encoding="{encoding}"?>' if declaration else ""
    body = (prolog + billion_laughs(3).split("?>", 1)[1]).encode(encoding)
    # UTF-7 may write any character in base64: "+ADw-" is "<".
    return body.replace(b"<!ENTITY", b"+ADw-!ENTITY") if encoding == "utf-7" else body


@pytest.mark.parametrize(
    ("body", "headers"),
    [
        # Encodings that do not write "<!ENTITY" as its ASCII bytes, named by the document
        (_declaring("utf-7"), {}),
        (_declaring("cp500"), {}),  # EBCDIC that is not cp037: "!" is another byte
        # ... or only by the HTTP charset
        (_declaring("utf-7", declaration=False), {"Content-Type": "text/xml; charset=utf-7"}),
        (_declaring("cp037", declaration=False), {"content-type": "text/xml;charset='cp037'"}),
        # A declaration hidden by a switch of ISO-2022-JP's character set inside the keyword
        (b'<?xml version="1.0" encoding="iso-2022-jp"?><!DOCTYPE r [<!EN\x1b(JTITY a "b">]><r/>',
         {}),
    ],
)  # fmt: skip
def test_entity_declarations_are_found_in_any_encoding_a_parser_could_read(
    monkeypatch: pytest.MonkeyPatch, body: bytes, headers: dict[str, str]
) -> None:
    assert b"<!ENTITY" not in body.upper()  # a search of the bytes misses it

    def must_not_parse(*args: object, **kwargs: object) -> None:
        raise AssertionError("an XML parser was called")

    monkeypatch.setattr(feedparser, "parse", must_not_parse)
    assert parse(body, headers) == ParseOutcome(feed_id="feed-1", error=ENTITY_REFUSAL)


def test_entity_declarations_in_a_real_feed_are_refused(feeds: Path) -> None:
    body = (feeds / "feedparser-tests/tests/wellformed/rss/entity_in_doctype.xml").read_bytes()
    assert parse(body).error == ENTITY_REFUSAL


def test_an_entity_declaration_in_a_json_feed_is_just_text() -> None:
    doc = {
        "version": "https://jsonfeed.org/version/1.1",
        "items": [{"id": "1", "content_text": 'XXE 101: <!ENTITY x SYSTEM "file:///">'}],
    }
    [article] = parse(json.dumps(doc).encode()).articles
    assert "<!ENTITY x" in article.text


def _page(rows: int) -> bytes:
    return (
        b"<!DOCTYPE html><html><head><title>Home</title></head><body><h1>Welcome</h1>"
        + b"<div class='a'><p>Some <b>words</b> &amp; <a href='/x?a=1&b=2'>links</a></p></div>\n"
        * rows
        + b"</body></html>"
    )


NOT_FEEDS = [
    ("html", _page(1), {"Content-Type": "text/html; charset=utf-8"},
     "not a feed (served as text/html): this is a web page, and it names no feed"),
    # 2 MB of HTML cost feedparser's lenient parser ~2 s of CPU; it is recognised up front.
    ("html-2mb", _page(25_000), {"Content-Type": "text/html"},
     "not a feed (served as text/html): this is a web page, and it names no feed"),
    ("xhtml", b'<?xml version="1.0"?>\n<!-- generated -->\n<!DOCTYPE html PUBLIC "-//W3C//DTD '
     b'XHTML 1.0 Strict//EN" "x"><html xmlns="http://www.w3.org/1999/xhtml"><body/></html>', {},
     "not a feed: this is a web page, and it names no feed"),
    ("tag-soup-2mb", b"<div>" * 400_000, {}, "not a feed: no RSS, Atom or JSON Feed found"),
    ("png", b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + bytes(range(256)), {}, "not a feed"),
    ("random-2mb", random.Random(0).randbytes(2 * MB), {}, "not a feed"),
    ("nul-2mb", bytes(2 * MB), {}, "not a feed"),
    ("gzip", gzip.compress(_page(100)), {"Content-Type": "application/rss+xml"}, "not a feed"),
    ("empty", b"", {}, "not a feed: empty body"),
    ("whitespace", b"  \n\t ", {}, "not a feed: empty body"),
    ("text", b"just some words", {"Content-Type": "text/plain"},
     "not a feed (served as text/plain)"),
]  # fmt: skip


@pytest.mark.parametrize(
    ("name", "body", "headers", "message"), NOT_FEEDS, ids=[n[0] for n in NOT_FEEDS]
)
def test_bodies_that_are_not_feeds_are_told_apart_quickly(
    name: str, body: bytes, headers: dict[str, str], message: str
) -> None:
    outcome = bounded_parse(body, headers, seconds=2.0, memory=16 * MB + 16 * len(body))
    assert outcome.error.startswith(message)
    assert outcome.articles == ()


def test_a_real_html_page_is_not_a_feed(feeds: Path) -> None:
    body = (feeds / "feed-validator/testcases/atom/index.html").read_bytes()
    assert parse(body, {"Content-Type": "text/html"}).error.startswith("not a feed")


def test_what_the_quick_verdict_must_not_touch(feeds: Path) -> None:
    # An XHTML page wrapping an Atom feed (a real capture): feedparser reads it.
    wrapped = (feeds / "feedjira/head/DuplicateContentAtomFeed.xml").read_bytes()
    assert wrapped.lstrip().startswith(b"<?xml") and b"<!DOCTYPE html" in wrapped[:200]
    assert len(parse(wrapped).articles) == 10
    # UTF-16LE without a BOM opens with an ASCII "<" too.
    body = (
        rss(
            "<item><title>Hello</title></item>",
            declaration='<?xml version="1.0" encoding="utf-16"?>',
        )
        .decode()
        .encode("utf-16-le")
    )
    assert [a.title for a in parse(body).articles] == ["Hello"]
    empty = (feeds / "feedparser-tests/tests/encoding/utf-16le-autodetect.xml").read_bytes()
    assert parse(empty) == ParseOutcome(feed_id="feed-1")  # an empty feed, not an error


def test_a_body_naming_a_file_is_never_opened(feeds: Path) -> None:
    # feedparser given a str would open this path and parse the feed in it; we only
    # ever hand it bytes, so the body is read as (non-feed) text.
    path = feeds / "feed-rs/atom/atom_spec_1.xml"
    assert parse(str(path).encode()).error.startswith("not a feed")
    assert parse(b"https://127.0.0.1:9/feed.xml").error.startswith("not a feed")


def test_whitespace_before_the_xml_declaration_is_dropped() -> None:
    """WordPress often sends a newline first: the feed reads as if it were not there,
    with feedparser's XML parser, not its slow lenient one."""
    body = rss("<item><title>Iran drones</title><link>https://n.test/1</link></item>")
    clean = parse(body)
    padded = parse(b"\n\r\n  " + body)
    assert padded == clean and clean.articles
    assert feedparser.parse(io.BytesIO(b"\n" + body)).bozo  # what the trim avoids
    assert not feedparser.parse(io.BytesIO(trim_prolog(b"\n" + body))).bozo
    assert trim_prolog(b"\n<rss/>") == b"\n<rss/>"  # no declaration: left as it is
