"""Feed links on web pages (``monitor.ingest.html_links``) and the hint a feed URL that
answers with a web page gets (``monitor.ingest.parse.web_page_hint``).

The real pages are the shared corpus's: two captures of Mark Pilgrim's "dive into mark"
home page kept by the W3C Feed Validator as "not a feed" cases (XHTML with an RSS
autodiscovery link), the validator's own test-case index pages (HTML with no feed
link), a "Document Moved" page served where a feed was expected (rss-parser's
``unrecognized.rss``), and the JSON Feed spec's discovery example.
"""

from __future__ import annotations

import re
import time
from pathlib import Path

import pytest

from monitor.ingest.html_links import FeedLink, find_feed_links
from monitor.ingest.parse import WEB_PAGE, parse_feed

DIVE_INTO_MARK = (
    "feed-validator/testcases/rss/must/missing_rss2.xml",
    "feed-validator/testcases/atom/must/feed_missing2.xml",
)
PAGES_WITHOUT_FEEDS = (
    "feed-validator/testcases/atom/index.html",
    "feed-validator/testcases/rss20/index.html",
    "feed-validator/testcases/opensearch/index.html",
    "feed-validator/testcases/atom/header.html",
    "rss-parser-js/input/unrecognized.rss",
)


@pytest.fixture
def feeds(shared_data: Path) -> Path:
    return shared_data / "feeds"


@pytest.mark.parametrize("name", DIVE_INTO_MARK)
def test_the_rss_link_of_a_real_page_is_found(feeds: Path, name: str) -> None:
    body = (feeds / name).read_bytes()
    links = find_feed_links(body, "http://diveintomark.org/", "text/html")
    # The page also links a stylesheet, a print stylesheet and rel="home": not feeds.
    assert links == [FeedLink("http://example.com/xml/rss.xml", "RSS", "RSS")]


@pytest.mark.parametrize("name", PAGES_WITHOUT_FEEDS)
def test_real_pages_without_feed_links_name_none(feeds: Path, name: str) -> None:
    assert find_feed_links((feeds / name).read_bytes(), "https://validator.example/") == []


def test_the_json_feed_specs_discovery_example(feeds: Path) -> None:
    spec = (feeds / "jsonfeed-spec/spec_manton_JSONFeed/pages_version_1.1.markdown").read_text()
    [tag] = re.findall(r"<link [^>]*application/feed\+json[^>]*>", spec)
    page = f"<html><head><title>Blog</title>{tag}</head><body></body></html>".encode()
    assert find_feed_links(page, "https://example.org/") == [
        FeedLink("https://example.org/feed.json", "JSON Feed", "My Feed")
    ]


def test_a_real_page_answered_for_a_feed_gets_the_hint(feeds: Path) -> None:
    body = (feeds / DIVE_INTO_MARK[0]).read_bytes()
    headers = {"Content-Type": "text/html", "Content-Location": "http://diveintomark.org/"}
    error = parse_feed("f", body, headers, fetched_at=time.time()).error
    assert error == (
        "not a feed (served as text/html): this is a web page; its feeds are: "
        'http://example.com/xml/rss.xml (RSS "RSS")'
    )


def test_a_real_page_without_links_says_so(feeds: Path) -> None:
    body = (feeds / PAGES_WITHOUT_FEEDS[0]).read_bytes()
    error = parse_feed("f", body, {"Content-Type": "text/html"}, fetched_at=time.time()).error
    assert error.startswith(f"not a feed (served as text/html): {WEB_PAGE}, and it names no feed")
    assert "news-monitor feeds add URL" in error


def test_relative_links_resolve_against_the_page_or_its_base() -> None:
    page = b"""<!doctype html><html><head>
      <link rel=alternate type=application/rss+xml href=feed.xml title='Site &amp; news'>
      <link rel="alternate" type="application/atom+xml" href="/atom.xml#top">
    </head><body></body></html>"""
    assert find_feed_links(page, "https://example.org/news/story-1.html") == [
        FeedLink("https://example.org/news/feed.xml", "RSS", "Site & news"),
        FeedLink("https://example.org/atom.xml", "Atom"),
    ]
    based = page.replace(b"<head>", b'<head><base href="https://cdn.example.net/blog/">')
    assert [link.url for link in find_feed_links(based, "https://example.org/news/x")] == [
        "https://cdn.example.net/blog/feed.xml",
        "https://cdn.example.net/atom.xml",
    ]


def test_what_is_not_a_feed_link() -> None:
    page = b"""<html><head>
      <link rel="alternate" type="application/json" href="https://example.org/wp-json/wp/v2/pages/2">
      <link rel="alternate" type="application/rdf+xml" href="/foaf.rdf" title="FOAF">
      <link rel="alternate" hreflang="fr" href="https://example.org/fr/">
      <link rel="stylesheet" type="text/css" href="/style.css">
      <link rel="alternate" type="application/rss+xml" href="javascript:alert(1)">
      <link rel="alternate" type="application/rss+xml" href="mailto:me@example.org">
      <link rel="alternate" type="application/json" title="JSON Feed" href="/feed.json">
      <link rel="alternate" type="application/rss+xml" href="feed://example.org/rss">
      <link rel="alternate" type="application/rss+xml" href="/feed.json">
    </head><body>
      <link rel="alternate" type="application/rss+xml" href="/in-the-body.xml">
    </body></html>"""
    assert find_feed_links(page, "https://example.org/") == [
        FeedLink("https://example.org/feed.json", "JSON Feed", "JSON Feed"),
        FeedLink("http://example.org/rss", "RSS"),
    ]


def test_the_charset_of_the_page_is_honoured() -> None:
    page = (
        '<html><head><meta charset="iso-8859-1">'
        '<link rel="alternate" type="application/rss+xml" title="Actualités" href="/rss">'
        "</head></html>"
    ).encode("latin-1")
    [link] = find_feed_links(page, "https://example.fr/")
    assert link.title == "Actualités"
    [by_header] = find_feed_links(page.replace(b"iso-8859-1", b"x"), "https://example.fr/",
                                  "text/html; charset=latin-1")  # fmt: skip
    assert by_header.title == "Actualités"


def test_the_hint_names_at_most_five_feeds() -> None:
    links = "".join(
        f'<link rel="alternate" type="application/rss+xml" href="/f{n}.xml">' for n in range(8)
    )
    body = f"<!DOCTYPE html><html><head>{links}</head><body></body></html>".encode()
    error = parse_feed("f", body, {"Content-Location": "https://s.example/"}, fetched_at=0).error
    assert error.count("https://s.example/f") == 5
    assert error.endswith("https://s.example/f4.xml (RSS) and 3 more")


def test_a_page_with_a_stray_entry_element_is_still_a_page() -> None:
    body = (
        b"<!DOCTYPE html><html><head>"
        b'<link rel="alternate" type="application/atom+xml" href="/atom"></head>'
        b"<body><entry>not a feed</entry></body></html>"
    )
    error = parse_feed("f", body, {"Content-Location": "https://s.example/a"}, fetched_at=0).error
    assert error == "not a feed: this is a web page; its feeds are: https://s.example/atom (Atom)"


def test_a_huge_page_is_read_only_up_to_its_body() -> None:
    head = b'<html><head><link rel="alternate" type="application/rss+xml" href="/rss"></head>'
    page = head + b"<body>" + b"<p><a href='/x'>words</a></p>" * 200_000 + b"</body></html>"
    started = time.process_time()
    assert [link.url for link in find_feed_links(page, "https://s.example/")] == [
        "https://s.example/rss"
    ]
    assert time.process_time() - started < 1.0  # generous: the body is never parsed
