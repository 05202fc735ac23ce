"""feedparser's own expectations (the ``Expect:`` header of each test file) against our output.

Each file of feedparser's suite went through our fetch -> parse -> normalize path
(tests/corpus_support.py; the HTTP cases over a loopback server, with their
``Header:`` headers). tests/feedparser_expect.py maps the clauses of each
expectation that are about fields an Article exposes and checks them; the rest
(feed metadata, bozo, encodings, namespaces, content types, ...) do not apply
and are counted by category. A file whose mapped clauses fail must be listed in
``KNOWN_DIFFERENCES`` under a named policy; a listed file that passes fails the
test too, so the list only ever shrinks.
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pytest

from tests.corpus_support import CorpusRun, run_corpus
from tests.feedparser_expect import Verdict, check, clauses, expectation

SUITE = "feedparser-tests/tests/"

#: Policy name -> why our output differs from feedparser's on purpose.
POLICIES = {
    "entity-declarations-refused": (
        "a body declaring XML entities is refused before parsing (feedparser's lenient "
        "fallback expands them: a 110 KB feed can cost gigabytes)"
    ),
    "ids-kept-as-written": (
        "a guid / Atom id is kept as the feed writes it; feedparser resolves a relative one "
        "against the document URL, so the id would change when the feed moves or is fetched "
        "through a redirect (RFC 4287 4.2.6: an id must not change when a feed is relocated)"
    ),
    "visible-text-like-a-browser": (
        "HTML becomes the text a browser would show: <title>, <head> and <script> content is "
        "hidden; a lone '<>' is text; '<!' that opens no comment or doctype starts a bogus "
        "comment (HTML5 tokenizer). feedparser's sanitizer keeps or drops other bits"
    ),
    "unterminated-declaration-kept-as-text": (
        "malformed '<![CDATA[<script></script>]]&gt;' in HTML: Python's HTMLParser keeps an "
        "unterminated '<![' as text, a browser shows ']]>', feedparser's sanitizer "
        "'<![CDATA[]]>'; plain text either way, nothing executable"
    ),
}

#: File under feedparser-tests/tests/ -> policy name.
KNOWN_DIFFERENCES = {
    "wellformed/rss/entity_in_doctype.xml": "entity-declarations-refused",
    "wellformed/base/http_entry_id_base_content_location.xml": "ids-kept-as-written",
    "wellformed/base/http_entry_id_base_docuri.xml": "ids-kept-as-written",
    "encoding/bozo_linenoise.xml": "visible-text-like-a-browser",
    "wellformed/rss/item_description_not_a_doctype.xml": "visible-text-like-a-browser",
    "wellformed/sanitize/entry_content_crazy.xml": "visible-text-like-a-browser",
    "wellformed/sanitize/entry_summary_crazy.xml": "visible-text-like-a-browser",
    "wellformed/sanitize/entry_title_crazy.xml": "visible-text-like-a-browser",
    "wellformed/sanitize/item_content_encoded_crazy.xml": "visible-text-like-a-browser",
    "wellformed/sanitize/item_description_crazy.xml": "visible-text-like-a-browser",
    "wellformed/sanitize/item_fullitem_crazy.xml": "visible-text-like-a-browser",
    "wellformed/sanitize/item_content_encoded_script_nested_cdata.xml": (
        "unterminated-declaration-kept-as-text"
    ),
}


@pytest.fixture
def corpus(shared_data: Path) -> CorpusRun:
    return run_corpus(shared_data / "feeds")  # cached: one run for all corpus tests


def verdicts(corpus: CorpusRun) -> list[Verdict]:
    return [
        check(rel, run.file.body, run.headers, run.outcome, corpus.origin)
        for rel, run in corpus.runs.items()
        if rel.startswith(SUITE) and rel.endswith(".xml")
    ]


def test_feedparser_expectations_that_apply_hold(corpus: CorpusRun) -> None:
    results = verdicts(corpus)
    with_expectation = [v for v in results if v.expect]
    applicable = [v for v in with_expectation if v.applies]
    failing = {v.rel.removeprefix(SUITE): v.failures for v in applicable if v.failures}
    not_applicable = Counter(
        c.not_applicable for v in with_expectation for c in v.clauses if not c.field
    )
    fields = Counter(c.field for v in applicable for c in v.clauses if c.field)
    print(
        f"\nfeedparser: {len(with_expectation)} expectations, {len(applicable)} apply "
        f"({sum(fields.values())} clauses: {dict(fields)}), "
        f"{len(applicable) - len(failing)} hold, {len(failing)} differ by policy; "
        f"{sum(v.stand_ins for v in applicable)} clauses checked on entries we skip by design"
    )
    print("clauses that do not apply:", dict(not_applicable.most_common()))
    unexplained = {rel: f for rel, f in failing.items() if rel not in KNOWN_DIFFERENCES}
    assert not unexplained, "\n".join(f"{rel}: {f}" for rel, f in unexplained.items())
    stale = sorted(set(KNOWN_DIFFERENCES) - set(failing))
    assert not stale, f"listed differences that no longer occur: {stale}"
    assert len(with_expectation) > 2000
    assert len(applicable) > 800


def test_every_policy_is_used_and_explained() -> None:
    assert set(KNOWN_DIFFERENCES.values()) == set(POLICIES)


# --- the translator itself -----------------------------------------------------------------


def test_expectation_is_read_from_the_header_comment() -> None:
    body = b"<!--\nDescription: x\nExpect:   not bozo and entries[0]['title'] == 'T'\n-->\n<rss/>"
    assert expectation(body) == "not bozo and entries[0]['title'] == 'T'"
    assert expectation(b"<rss/>") == ""


@pytest.mark.parametrize(
    ("expect", "mapped", "not_applicable"),
    [
        ("not bozo and entries[0]['title'] == 'T'", ["title"], ["bozo (well-formedness flag)"]),
        ("entries[0]['link'] == entries[1]['link'] == 'http://x/'", ["url", "url"], []),
        ("entries[0]['content'][0]['value'] == 'a' + 'b'", ["text"], []),
        ("entries[0]['published_parsed'] == (2004, 1, 1, 0, 0, 0, 3, 1, 0)", ["published"], []),
        ("feed['title'] == 'T'", [], ["feed-level metadata"]),
        ("entries[0]['tags'][0]['term'] == 't'", [], ["entry categories"]),
        ("entries[0]['title_detail']['type'] == 'text/html'", [], [
            "entry content type, language or xml:base of a text construct"]),
        ("encoding == 'utf-8'", [], ["encoding (detected charset)"]),
        ("not bozo and len(entries) == 2", [], [
            "bozo (well-formedness flag)", "entry count or shape"]),
    ],
)  # fmt: skip
def test_clauses_are_mapped_or_categorised(
    expect: str, mapped: list[str], not_applicable: list[str]
) -> None:
    parts = clauses(expect)
    assert [c.field for c in parts if c.field] == mapped
    assert [c.not_applicable for c in parts if not c.field] == not_applicable


def test_the_translator_catches_a_wrong_value(corpus: CorpusRun) -> None:
    run = corpus.runs[f"{SUITE}wellformed/rss/item_title.xml"]
    assert not check(run.file.rel, run.file.body, run.headers, run.outcome, "").failures
    wrong = run.file.body.replace(b"== 'Item 1 title'", b"== 'Item 2 title'")
    assert check(run.file.rel, wrong, run.headers, run.outcome, "").failures
