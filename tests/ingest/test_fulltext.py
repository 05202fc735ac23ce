"""Reading an article's page (``monitor.ingest.fulltext``): the main text of a news page
without its boilerplate, the charset, hostile pages (entity bombs, compressed bytes, too
many elements, endless text), how the page's text joins the feed's, and ``read_page``
against a real loopback server. The poller's use of it: tests/polling/test_fulltext_polls.py.
"""

from __future__ import annotations

import gzip
import html

import pytest

from monitor.ingest.fetch import FetchLimits, build_http_client
from monitor.ingest.fulltext import (
    MAX_ELEMENTS,
    MAX_TEXT_CHARS,
    PageUnreadable,
    decode_html,
    extract_text,
    is_html,
    merge_page_text,
    read_page,
)
from tests.factories import make_article, make_settings
from tests.fulltext_support import (
    SIDEBAR,
    VIENNA_BODY,
    VIENNA_TEASER,
    article_page,
    page,
    serving,
)

VIENNA_PAGE = article_page("Talks resume in Vienna", VIENNA_BODY)


# -- extraction ----------------------------------------------------------------------


def test_the_main_text_is_the_article_without_the_boilerplate() -> None:
    text = extract_text(VIENNA_PAGE.encode(), "text/html; charset=utf-8")
    for paragraph in VIENNA_BODY:
        assert paragraph in text
    for boilerplate in (*SIDEBAR, "Most read", "All rights reserved", "dataLayer", "Sport"):
        assert boilerplate not in text


META_KOI8 = b'<meta http-equiv="Content-Type" content="text/html; charset=koi8-r">'


@pytest.mark.parametrize(
    ("body", "content_type", "expected"),
    [
        ("café".encode("latin-1"), "text/html; charset=ISO-8859-1", "café"),
        ("café".encode("latin-1"), 'text/html; charset="latin1"', "café"),
        ("‘café’".encode("cp1252"), "text/html; charset=iso-8859-1", "‘café’"),  # as browsers
        ('<meta charset="windows-1252">café'.encode("cp1252"), "text/html", "café"),
        (META_KOI8 + "привет".encode("koi8-r"), "", "привет"),
        ("привет".encode(), "text/html", "привет"),  # valid UTF-8
        ("café".encode("latin-1"), "text/html", "café"),  # not UTF-8: windows-1252
        (b"\xef\xbb\xbf" + "café".encode(), "text/html; charset=latin-1", "café"),  # BOM wins
        ("café".encode("utf-16"), "text/html", "café"),  # a UTF-16 BOM
    ],
)
def test_the_charset_comes_from_the_bom_the_header_the_meta_or_a_guess(
    body: bytes, content_type: str, expected: str
) -> None:
    text = decode_html(body, content_type)
    assert expected in text
    assert "\ufffd" not in text


def test_a_charset_that_names_a_byte_transform_is_not_applied() -> None:
    """``charset=zlib`` must not make the page's bytes be decompressed (nor ``rot13``)."""
    body = "<p>caf\u00e9</p>".encode()
    assert decode_html(body, "text/html; charset=zlib_codec") == "<p>café</p>"
    assert (
        decode_html(b'<meta charset="rot13"><p>abc</p>', "") == '<meta charset="rot13"><p>abc</p>'
    )
    assert decode_html(b"<p>abc</p>", "text/html; charset=no-such-thing") == "<p>abc</p>"


def test_a_meta_that_says_utf16_is_read_as_utf8() -> None:
    body = '<meta charset="utf-16"><p>café</p>'.encode()
    assert decode_html(body) == '<meta charset="utf-16"><p>café</p>'


def test_entities_declared_in_the_page_are_not_expanded() -> None:
    laughs = "".join(
        f'<!ENTITY l{i} "{"".join(f"&l{i - 1};" for _ in range(10))}">' for i in range(1, 9)
    )
    bomb = f'<!DOCTYPE html [<!ENTITY l0 "lol">{laughs}]><html><body><article>'
    bomb += (
        "".join(f"<p>{html.escape(p)} &l8;</p>" for p in VIENNA_BODY) + "</article></body></html>"
    )
    text = extract_text(bomb.encode(), "text/html")
    assert len(text) < 10_000
    assert "lollol" not in text


def test_compressed_bytes_are_not_decompressed() -> None:
    """A gzip file served as text/html (no Content-Encoding): never inflated."""
    bomb = gzip.compress(b"<html><body><p>" + b"centrifuges " * 2_000_000 + b"</p></body></html>")
    assert len(bomb) < 100_000
    with pytest.raises(PageUnreadable, match="binary content"):
        extract_text(bomb, "text/html")


def test_binary_bytes_served_as_html_are_not_read() -> None:
    png = b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + bytes(range(256)) * 40
    with pytest.raises(PageUnreadable, match="binary content"):
        extract_text(png, "text/html")
    # UTF-16 (with its BOM) is text, its zero bytes notwithstanding.
    text = extract_text(article_page("Talks", VIENNA_BODY).encode("utf-16"), "text/html")
    assert VIENNA_BODY[1] in text


def test_a_page_with_too_many_elements_is_not_read() -> None:
    crowded = "<html><body><article>" + "<span>a</span>" * (MAX_ELEMENTS + 1) + "</article>"
    with pytest.raises(PageUnreadable, match="too complex"):
        extract_text(crowded.encode(), "text/html")


def test_the_text_is_capped_between_words() -> None:
    paragraphs = [
        f"Paragraph {i} of a very long read about the talks in Vienna." for i in range(3000)
    ]
    text = extract_text(article_page("Long read", paragraphs).encode(), "text/html")
    assert MAX_TEXT_CHARS // 2 < len(text) <= MAX_TEXT_CHARS
    assert text.split()[-1] in set(" ".join(paragraphs).split()), "not cut inside a word"


def test_what_is_html() -> None:
    assert is_html("text/html; charset=utf-8", b"")
    assert is_html("application/xhtml+xml", b"")
    assert not is_html("application/pdf", b"<html>")
    assert not is_html("text/plain", b"<html>")
    assert is_html("", b"\n  <!doctype html><html>")
    assert not is_html("", b"%PDF-1.7")


# -- the page's text and the feed's ----------------------------------------------------


def test_a_teaser_the_page_does_not_repeat_stays_in_front() -> None:
    article = make_article(text=VIENNA_TEASER)
    page_text = extract_text(VIENNA_PAGE.encode(), "text/html")
    merged = merge_page_text(article, page_text)
    assert merged.fulltext
    assert merged.text == f"{VIENNA_TEASER}\n\n{page_text}"


def test_a_teaser_the_page_repeats_is_not_doubled() -> None:
    """Compared word by word, case aside, without the teaser's last word (cut inside it)."""
    teaser = "NEGOTIATORS from six countries returned to the table in Vien…"
    merged = merge_page_text(make_article(text=teaser), "\n".join(VIENNA_BODY))
    assert (merged.fulltext, merged.text) == (True, "\n".join(VIENNA_BODY))


def test_a_page_that_adds_nothing_leaves_the_article_as_it_was() -> None:
    article = make_article(text="\n".join(VIENNA_BODY))
    assert merge_page_text(article, VIENNA_BODY[1]) is article
    assert merge_page_text(article, "") is article
    assert not merge_page_text(article, VIENNA_BODY[1]).fulltext


def test_an_empty_feed_text_takes_the_page() -> None:
    merged = merge_page_text(make_article(text=""), "The page's text.")
    assert (merged.fulltext, merged.text) == (True, "The page's text.")


# -- read_page against a real server -------------------------------------------------


async def test_read_page_fetches_and_extracts() -> None:
    with serving({"/news/vienna": page(VIENNA_PAGE)}) as site:
        async with build_http_client(make_settings(allow_private_addresses=True)) as client:
            result = await read_page(
                client,
                FetchLimits(4, 2),
                "wire",
                site.url("/news/vienna"),
                total_timeout=5,
                max_bytes=1_000_000,
            )
    assert result.error == ""
    assert VIENNA_BODY[1] in result.text
    assert result.elapsed > 0


async def test_read_page_reports_a_page_without_text() -> None:
    empty = "<html><head><title>Home</title></head><body><script>x()</script></body></html>"
    with serving({"/empty": page(empty)}) as site:
        async with build_http_client(make_settings(allow_private_addresses=True)) as client:
            result = await read_page(
                client,
                FetchLimits(4, 2),
                "wire",
                site.url("/empty?key=s3cr3t"),
                total_timeout=5,
                max_bytes=10_000,
            )
    assert result.text == ""
    assert result.error == f"feed wire: {site.url('/empty')}: no main text found in the page"
