"""Unit tests of monitor.ingest.normalize: plain text, canonical URLs, dates and ids."""

from __future__ import annotations

import time
from datetime import UTC, datetime

import pytest

from monitor.ingest.normalize import article_from_entry, canonical_url, html_to_text

FETCHED_AT = datetime(2026, 1, 15, 12, 0, tzinfo=UTC).timestamp()


# --- html_to_text --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("html", "text"),
    [
        ("plain   words\n here", "plain words here"),
        ("<p>one</p><p>two</p>", "one\ntwo"),
        ("a<br>b<br/>c", "a\nb\nc"),
        ("<ul><li>x</li><li>y</li></ul>", "x\ny"),
        ("<b>bold</b> and <i>italic</i>", "bold and italic"),
        ("AT&amp;T &lt;tag&gt; caf&eacute; &#8212; &#x41;", "AT&T <tag> café — A"),
        ("keep<script>alert('no')</script> this<style>p {color: red}</style>", "keep this"),
        ("<div>\n   spaced \t  out \n</div>", "spaced out"),
        ("Who\n   loves <a href='x'>name\nspaces</a>?", "Who loves name spaces?"),
        ("non&nbsp;breaking", "non breaking"),
        ("<p>unclosed <b>tags", "unclosed tags"),
        ("", ""),
    ],
)
def test_html_to_text(html: str, text: str) -> None:
    assert html_to_text(html) == text


def test_html_to_text_keeps_words_apart_across_blocks() -> None:
    assert html_to_text("<td>Iran</td><td>Russia</td>").split() == ["Iran", "Russia"]


# --- canonical_url -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("url", "canonical"),
    [
        ("HTTPS://Example.COM/Path?a=1", "https://example.com/Path?a=1"),
        ("http://example.com:80/x", "http://example.com/x"),
        ("https://example.com:443/x", "https://example.com/x"),
        ("https://example.com:8443/x", "https://example.com:8443/x"),
        ("https://example.com", "https://example.com/"),
        ("https://example.com/a#section-2", "https://example.com/a"),
        (
            "https://example.com/a?utm_source=rss&id=7&UTM_Medium=x&fbclid=abc&page=2",
            "https://example.com/a?id=7&page=2",
        ),
        ("https://example.com/a?gclid=1&msclkid=2&mc_cid=3&mc_eid=4", "https://example.com/a"),
        (
            "https://example.com/a?_hsenc=1&_hsmi=2&igshid=3&yclid=4&dclid=5",
            "https://example.com/a",
        ),
        ("https://example.com/a?traffic_source=rss&ref_src=twsrc&cmpid=x", "https://example.com/a"),
        ("https://example.com/a?b=2&a=1", "https://example.com/a?b=2&a=1"),
        ("https://example.com/a?q=x%20y&&z=", "https://example.com/a?q=x%20y&z="),
        ("https://example.com/a?", "https://example.com/a"),
        ("  https://example.com/a  ", "https://example.com/a"),
        ("http://[2001:DB8::1]:80/a", "http://[2001:db8::1]/a"),
        ("https://user:pass@Example.com/a", "https://example.com/a"),
        ("", ""),
        ("not a url", ""),
        ("/relative/path", ""),
        ("mailto:someone@example.com", ""),
        ("ftp://example.com/file", ""),
        ("https://example.com:notaport/x", ""),
        ("http://[::1/x", ""),
    ],
)
def test_canonical_url(url: str, canonical: str) -> None:
    assert canonical_url(url) == canonical


def test_canonical_url_is_idempotent() -> None:
    once = canonical_url("HTTP://Example.com:80/a?utm_campaign=x&id=1#frag")
    assert once == "http://example.com/a?id=1"
    assert canonical_url(once) == once


# --- article_from_entry --------------------------------------------------------------------


def _utc(year: int, month: int, day: int, hour: int, minute: int, second: int) -> time.struct_time:
    """A UTC struct_time, as feedparser gives ``published_parsed``."""
    return datetime(year, month, day, hour, minute, second, tzinfo=UTC).timetuple()


def test_article_fields_from_a_feedparser_entry() -> None:
    entry = {
        "id": "  tag:example.com,2026:1 ",
        "link": "https://Example.com/story?utm_source=rss&id=1",
        "title": "Drones &amp; <b>diplomacy</b>",
        "title_detail": {"type": "text/html"},
        "summary": "<p>Iran and Russia</p><script>x()</script>",
        "summary_detail": {"type": "text/html"},
        "published_parsed": _utc(2026, 1, 14, 8, 30, 0),
        "authors": [{"name": "Ann  Lee"}, {"name": "Bo"}],
        "author": "ignored when authors are given",
    }
    article = article_from_entry("feed-1", entry, FETCHED_AT)
    assert article.feed_id == "feed-1"
    assert article.guid == "tag:example.com,2026:1"
    assert article.url == "https://example.com/story?id=1"
    assert article.title == "Drones & diplomacy"
    assert article.text == "Iran and Russia"
    assert article.published == datetime(2026, 1, 14, 8, 30, tzinfo=UTC)
    assert article.author == "Ann Lee, Bo"
    assert len(article.id) == 32
    int(article.id, 16)  # hex


def test_plain_text_values_are_not_treated_as_html() -> None:
    entry = {
        "title": "x < y & <b> stays",
        "title_detail": {"type": "text/plain"},
        "link": "https://example.com/1",
    }
    assert article_from_entry("f", entry, FETCHED_AT).title == "x < y & <b> stays"


def test_updated_is_used_when_published_is_missing() -> None:
    entry = {"link": "https://example.com/1", "updated_parsed": _utc(2026, 1, 2, 3, 4, 5)}
    assert article_from_entry("f", entry, FETCHED_AT).published == datetime(
        2026, 1, 2, 3, 4, 5, tzinfo=UTC
    )


def test_no_date_gives_none_and_a_leap_second_is_clamped() -> None:
    assert article_from_entry("f", {"link": "https://e.com/1"}, FETCHED_AT).published is None
    leap = time.struct_time((2016, 12, 31, 23, 59, 60, 5, 366, 0))
    published = article_from_entry(
        "f", {"link": "https://e.com/1", "published_parsed": leap}, FETCHED_AT
    ).published
    assert published == datetime(2016, 12, 31, 23, 59, 59, tzinfo=UTC)


def test_a_date_far_in_the_future_is_dropped_but_the_id_does_not_depend_on_when() -> None:
    entry = {"title": "Broken clock", "published_parsed": _utc(2099, 1, 1, 0, 0, 0)}
    now = article_from_entry("f", entry, FETCHED_AT)
    later = article_from_entry("f", entry, datetime(2099, 1, 1, tzinfo=UTC).timestamp())
    assert now.published is None
    assert later.published == datetime(2099, 1, 1, tzinfo=UTC)
    assert now.id == later.id


def test_content_repeating_the_summary_is_not_doubled() -> None:
    entry = {
        "link": "https://example.com/1",
        "summary": "Iran and Russia sign a drone deal [...]",
        "content": [
            {"type": "text/html", "value": "<p>Iran and Russia sign a drone deal.</p><p>More.</p>"}
        ],
    }
    assert article_from_entry("f", entry, FETCHED_AT).text == (
        "Iran and Russia sign a drone deal.\nMore."
    )


def test_summary_and_different_content_are_both_kept() -> None:
    entry = {
        "link": "https://example.com/1",
        "summary": "A short teaser.",
        "content": [{"type": "text/plain", "value": "The full body."}],
    }
    assert article_from_entry("f", entry, FETCHED_AT).text == "A short teaser.\nThe full body."


def test_identical_summary_and_content_appear_once() -> None:
    entry = {
        "link": "https://example.com/1",
        "summary": "<p>Same words</p>",
        "content": [{"type": "text/html", "value": "Same   words"}],
    }
    assert article_from_entry("f", entry, FETCHED_AT).text == "Same words"


def test_id_prefers_guid_then_url_then_title_and_date() -> None:
    with_guid = article_from_entry("f", {"id": "g1", "link": "https://e.com/a"}, FETCHED_AT)
    other_link = article_from_entry("f", {"id": "g1", "link": "https://e.com/b"}, FETCHED_AT)
    assert with_guid.id == other_link.id  # the guid decides

    by_url = article_from_entry("f", {"link": "https://e.com/a?utm_source=x"}, FETCHED_AT)
    same_url = article_from_entry("f", {"link": "https://E.com/a", "title": "T"}, FETCHED_AT)
    assert by_url.id == same_url.id  # the canonical URL decides
    assert by_url.id != with_guid.id

    dated = {"title": "  Big   News ", "published_parsed": _utc(2026, 1, 1, 0, 0, 0)}
    by_title = article_from_entry("f", dated, FETCHED_AT)
    recased = article_from_entry("f", {**dated, "title": "big news"}, FETCHED_AT)
    assert by_title.id == recased.id
    next_day = article_from_entry(
        "f", {**dated, "published_parsed": _utc(2026, 1, 2, 0, 0, 0)}, FETCHED_AT
    )
    assert next_day.id != by_title.id


def test_guid_equal_to_a_url_does_not_collide_with_that_url_as_identity() -> None:
    url = "https://example.com/a"
    assert (
        article_from_entry("f", {"id": url}, FETCHED_AT).id
        != article_from_entry("f", {"link": url}, FETCHED_AT).id
    )


def test_blank_guid_is_not_an_identity() -> None:
    blank = article_from_entry("f", {"id": "   ", "link": "https://e.com/a"}, FETCHED_AT)
    assert blank.guid == ""
    assert blank.id == article_from_entry("f", {"link": "https://e.com/a"}, FETCHED_AT).id


def test_entry_with_nothing_identifying_is_rejected() -> None:
    with pytest.raises(ValueError, match="no guid, link, title or text"):
        article_from_entry("f", {"summary": "<script>only()</script>", "id": ""}, FETCHED_AT)
