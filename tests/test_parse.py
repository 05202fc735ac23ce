"""Tests of monitor.ingest.parse: real feeds from the shared data, hostile and non-feed bodies."""

from __future__ import annotations

import io
import json
import time
from datetime import UTC, datetime
from pathlib import Path

import feedparser
import pytest

from monitor.ingest.parse import ENTITY_REFUSAL, parse_feed
from monitor.types import ParseOutcome

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


# --- hostile and non-feed bodies -----------------------------------------------------------


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


@pytest.mark.parametrize(
    "body",
    [
        billion_laughs().encode(),
        billion_laughs(sep="").encode(),
        billion_laughs().replace("<!ENTITY", "<!entity").encode(),
        # UTF-16 and EBCDIC hide the "<!ENTITY" bytes from a naive search.
        billion_laughs().encode("utf-16"),  # with a BOM: ASCII bytes interleaved with NULs
        billion_laughs().encode("utf-16-be"),  # no BOM at all
        billion_laughs()
        .replace('<?xml version="1.0"?>', '<?xml version="1.0" encoding="cp037"?>')
        .encode("cp037"),  # found after feedparser's own charset conversion
    ],
    ids=["utf-8", "one-line", "lower-case", "utf-16", "utf-16-be", "ebcdic"],
)
def test_entity_declarations_are_refused_before_parsing(body: bytes) -> None:
    assert parse(body) == ParseOutcome(feed_id="feed-1", error=ENTITY_REFUSAL)


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


@pytest.mark.parametrize(
    ("body", "headers", "message"),
    [
        (
            b"<!DOCTYPE html><html><head><title>Home</title></head>"
            b"<body><h1>Welcome</h1><p>Not a feed.</p></body></html>",
            {"Content-Type": "text/html; charset=utf-8"},
            "not a feed (served as text/html): no RSS, Atom or JSON Feed found",
        ),
        (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + bytes(range(256)), {}, "not a feed"),
        (b"", {}, "not a feed: empty body"),
        (b"  \n\t ", {}, "not a feed: empty body"),
        (b"just some words", {"Content-Type": "text/plain"}, "not a feed (served as text/plain)"),
    ],
    ids=["html", "binary", "empty", "whitespace", "text"],
)
def test_bodies_that_are_not_feeds(body: bytes, headers: dict[str, str], message: str) -> None:
    outcome = parse(body, headers)
    assert outcome.error.startswith(message)
    assert outcome.articles == ()


def test_a_real_html_page_is_not_a_feed(feeds: Path) -> None:
    body = (feeds / "feed-validator/testcases/atom/index.html").read_bytes()
    assert parse(body, {"Content-Type": "text/html"}).error.startswith("not a feed")


def test_a_body_naming_a_file_is_never_opened(feeds: Path) -> None:
    # feedparser given a str would open this path and parse the feed in it; we only
    # ever hand it bytes, so the body is read as (non-feed) text.
    path = feeds / "feed-rs/atom/atom_spec_1.xml"
    assert parse(str(path).encode()).error.startswith("not a feed")
    assert parse(b"https://127.0.0.1:9/feed.xml").error.startswith("not a feed")


# --- the whole corpus ----------------------------------------------------------------------

NOT_FEED_SUFFIXES = {".txt", ".md", ".markdown", ".htaccess"}


@pytest.mark.timeout(90)
def test_parse_feed_survives_every_file_in_the_corpus(feeds: Path) -> None:
    """Every file under feeds/ (except licences and notes) parses to an outcome, never raises."""
    files = sorted(
        p
        for p in feeds.rglob("*")
        if p.is_file() and p.suffix.lower() not in NOT_FEED_SUFFIXES and "LICENSE" not in p.name
    )
    assert len(files) > 4000
    as_feeds = articles = 0
    slowest = (0.0, "")
    for path in files:
        started = time.monotonic()
        outcome = parse_feed(path.name, path.read_bytes(), {}, fetched_at=FETCHED_AT)
        slowest = max(slowest, (time.monotonic() - started, path.name))
        assert outcome.feed_id == path.name
        assert outcome.skipped >= 0
        if outcome.error:
            assert not outcome.articles, path
            continue
        as_feeds += 1
        articles += len(outcome.articles)
        for article in outcome.articles:
            assert len(article.id) == 32, path
            assert article.url == "" or article.url.startswith(("http://", "https://")), path
            assert article.published is None or article.published.tzinfo is UTC, path
            assert article.title or article.text or article.url or article.guid, path
    # Most of the corpus is feeds; the rest is expected JSON, schemas, HTML and OPML.
    assert as_feeds > 3500
    assert articles > 3000
    print(f"\ncorpus: {len(files)} files, {as_feeds} feeds, {articles} articles, "
          f"slowest {slowest[1]} {slowest[0]:.2f}s")  # fmt: skip
