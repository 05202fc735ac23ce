"""Unit tests of monitor.ingest.normalize: plain text, canonical URLs, dates and ids."""

from __future__ import annotations

import time
from datetime import UTC, datetime

import pytest

from monitor.ingest.normalize import (
    article_from_entry,
    canonical_url,
    collapse_whitespace,
    entry_url,
    html_to_text,
    loose_date,
    name_without_email,
)

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


# --- whitespace and summary/content merging (the fast paths) -------------------------------


@pytest.mark.parametrize(
    ("text", "collapsed"),
    [
        ("  a \t b  ", "a b"),
        ("a\r\nb", "a\nb"),  # \r is a space, \n the line break
        ("a\n \n\n  b\n", "a\nb"),
        ("a\xa0\u2028\x0bb", "a b"),  # other Unicode whitespace is a space
        (" \n \n ", ""),
    ],
)
def test_collapse_whitespace(text: str, collapsed: str) -> None:
    assert collapse_whitespace(text) == collapsed


def test_a_long_text_ending_in_an_ellipsis_still_yields_to_the_full_content() -> None:
    teaser = "word " * 2000 + "and more [...]"
    full = "word " * 2000 + "and more. The end."
    entry = {"link": "https://e.com/1", "summary": teaser, "summary_detail": {"type": "text/plain"},
             "content": [{"type": "text/plain", "value": full}]}  # fmt: skip
    assert article_from_entry("f", entry, FETCHED_AT).text == collapse_whitespace(full)


# --- links ---------------------------------------------------------------------------------


def test_the_alternate_link_wins_over_a_link_feedparser_overwrote() -> None:
    # feedparser 6.0 sets ``link`` from a later <link rel="enclosure">text</link>.
    links = [
        {"rel": "alternate", "type": "text/html", "href": "http://www.example.com/alternate"},
        {"rel": "enclosure", "type": "text/html", "href": "http://www.example.com/enclosure"},
    ]
    entry = {"link": "http://www.example.com/enclosure", "links": links}
    assert entry_url(entry) == "http://www.example.com/alternate"
    # When the link is one of the alternates (the usual case) it stays.
    second = {"rel": "alternate", "href": "http://www.example.com/other"}
    entry = {"link": "http://www.example.com/other", "links": [*links, second]}
    assert entry_url(entry) == "http://www.example.com/other"


def test_a_relative_link_resolves_against_the_base() -> None:
    entry = {"link": "news/1?utm_source=rss", "links": [{"rel": "alternate", "href": "news/1"}]}
    assert (
        entry_url(entry, "https://example.com/feeds/rss.xml") == "https://example.com/feeds/news/1"
    )
    assert entry_url(entry) == ""  # no base: no absolute URL, no URL


def test_a_link_copied_from_a_guid_is_never_made_up() -> None:
    # RSS <guid>12345</guid> without <link>: feedparser copies the guid into ``link``.
    entry = {"id": "12345", "link": "12345", "guidislink": True}
    assert entry_url(entry, "https://example.com/feeds/rss.xml") == ""
    permalink = {"id": "https://example.com/a/1", "link": "https://example.com/a/1"}
    assert entry_url(permalink, "https://example.com/feeds/rss.xml") == "https://example.com/a/1"


# --- authors -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "name"),
    [
        ("jonas@insanity.industries (Jonas Große Sundrup)", "Jonas Große Sundrup"),
        ("Simon St.Laurent (mailto:simonstl@simonstl.com)", "Simon St.Laurent"),
        ("Example editor (me@example.com)", "Example editor"),
        ("John <john@example.org>", "John"),
        ("John (the editor) (john@example.org)", "John (the editor)"),
        ("news@bbc.co.uk", ""),
        ("No Address", "No Address"),
    ],
)
def test_name_without_email(raw: str, name: str) -> None:
    assert name_without_email(raw) == name


def test_an_author_name_is_read_from_the_whole_string_feedparser_cut_short() -> None:
    # What feedparser 6.0 makes of <author>jonas@insanity.industries (Jonas Große Sundrup)</author>:
    # its e-mail pattern stops at a 4-letter top-level domain.
    entry = {
        "link": "https://e.com/1",
        "author": "jonas@insanity.industries (Jonas Große Sundrup)",
        "authors": [{"name": "stries (Jonas Große Sundrup", "email": "jonas@insanity.indu"}],
    }
    assert article_from_entry("f", entry, FETCHED_AT).author == "Jonas Große Sundrup"
    # An address alone stays what it was: the only author information there is.
    only_address = {"link": "https://e.com/1", "author": "news@bbc.co.uk",
                    "authors": [{"email": "news@bbc.co.uk"}]}  # fmt: skip
    assert article_from_entry("f", only_address, FETCHED_AT).author == "news@bbc.co.uk"
    # Several authors are taken as feedparser names them.
    several = {"link": "https://e.com/1", "author": "A (a@example.org)",
               "authors": [{"name": "A", "email": "a@example.org"}, {"name": "B"}]}  # fmt: skip
    assert article_from_entry("f", several, FETCHED_AT).author == "A, B"


# --- dates feedparser misreads -------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "utc"),
    [
        ("mer, 16 nov 2022 00:38:15 +0100", datetime(2022, 11, 15, 23, 38, 15, tzinfo=UTC)),
        ("Seg, 24 Set 2018 19:42:40 -0300", datetime(2018, 9, 24, 22, 42, 40, tzinfo=UTC)),
        ("Mo, 05 Dez 2022 10:00:00 +0100", datetime(2022, 12, 5, 9, 0, tzinfo=UTC)),
        ("lun 05 dic 2022 10:00:00 +0100", datetime(2022, 12, 5, 9, 0, tzinfo=UTC)),
        ("16 déc. 2022 10:00:00 +0100", datetime(2022, 12, 16, 9, 0, tzinfo=UTC)),
        ("Sat, Dec 16 2023 02:02:33 PM", datetime(2023, 12, 16, 14, 2, 33, tzinfo=UTC)),
        ("Sat, 16 Dec 2023 02:02:33 PM EST", datetime(2023, 12, 16, 19, 2, 33, tzinfo=UTC)),
        ("Sat, 16 Dec 2023 12:05:00 AM +0000", datetime(2023, 12, 16, 0, 5, tzinfo=UTC)),
        ("Sat, 16 Dec 2023 12:05:00 p.m. +0000", datetime(2023, 12, 16, 12, 5, tzinfo=UTC)),
        ("yesterday", None),
        ("", None),
    ],
)
def test_loose_date(raw: str, utc: datetime | None) -> None:
    assert loose_date(raw) == utc


def test_a_date_feedparser_could_not_read_or_read_without_its_pm_is_repaired() -> None:
    unread = {"link": "https://e.com/1", "published": "mer, 16 nov 2022 00:38:15 +0100"}
    assert article_from_entry("f", unread, FETCHED_AT).published == datetime(
        2022, 11, 15, 23, 38, 15, tzinfo=UTC
    )
    # feedparser reads "02:02:33 PM" as 02:02:33.
    misread = {"link": "https://e.com/1", "published": "Sat, 16 Dec 2023 02:02:33 PM",
               "published_parsed": _utc(2023, 12, 16, 2, 2, 33)}  # fmt: skip
    assert article_from_entry("f", misread, FETCHED_AT).published == datetime(
        2023, 12, 16, 14, 2, 33, tzinfo=UTC
    )
    # A date feedparser read is kept when the raw text is beyond us.
    iso = {"link": "https://e.com/1", "updated": "2023-12-16T02:02:33 PM",
           "updated_parsed": _utc(2023, 12, 16, 2, 2, 33)}  # fmt: skip
    assert article_from_entry("f", iso, FETCHED_AT).published == datetime(
        2023, 12, 16, 2, 2, 33, tzinfo=UTC
    )
