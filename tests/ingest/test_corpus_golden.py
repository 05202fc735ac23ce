"""Our normalized articles against the golden output of feed-rs and rss-parser, field by field.

Both corpora ship feeds with the output another parser produced; the feeds go
through our fetch -> parse -> normalize path (tests/corpus_support.py) and each
entry is compared on what an Article exposes: id/guid, title, link, published
time, author and text. Their representation is first translated to ours (the
*translations* below, applied everywhere); what still differs is either a bug
(fixed in monitor/ingest, with a unit test) or a difference of policy, listed
by file, entry and field in ``KNOWN_DIFFERENCES`` under a named policy with
its reason. The test fails on any difference not listed and on any listed one
that no longer occurs, so the lists can only shrink by fixing things.

Translations (representation, not content):

- text is compared with whitespace collapsed, as words; the other parser's text
  must appear in ours (we join summary and content into one text), after the
  trailing "..." of a truncated summary is removed (we keep the longer copy);
- HTML values become their visible text (our titles and texts are plain text);
- links are compared in canonical form (tracking parameters and fragment removed),
  resolved against the URL the feed was fetched from;
- times are compared to the second (feedparser has no fractions of a second);
- authors are compared by name, without e-mail addresses.
"""

from __future__ import annotations

import dataclasses
import html
import json
import re
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urljoin

import pytest

from monitor.ingest.normalize import (
    canonical_url,
    collapse_whitespace,
    html_to_text,
    name_without_email,
)
from monitor.model import Article
from tests.corpus_support import CorpusRun, FileRun, run_corpus

#: Policy name -> why we differ from the other parser on purpose.
POLICIES = {
    "rdf-about-is-the-id": (
        "RSS 1.0 items are identified by rdf:about (feedparser maps it to id); feed-rs "
        "ignores it and hashes the item instead"
    ),
    "permalink-guid-is-the-link": (
        "an entry without a link whose guid (RSS isPermaLink) or Atom id is an http(s) URL "
        "gets it as its URL, as RSS 2.0 defines and feedparser does; feed-rs gives no link"
    ),
    "every-author-counts": (
        "itunes:author and dc:creator are authors too (feedparser maps them), so they can "
        "be matched and shown; feed-rs reads only <author>"
    ),
    "json-feed-authors-over-author": (
        "JSON Feed 1.1: `authors` supersedes the deprecated 1.0 `author`, which a feed may "
        "keep for old readers; feed-rs lists both"
    ),
    "name-in-parentheses": (
        'RSS <author>e-mail (Name)</author> gives the name; feed-rs calls it "author" and '
        "keeps the whole string as the e-mail"
    ),
    "we-read-more-dates": (
        "feedparser reads dates feed-rs rejects: a truncated offset (+00:0), a 12-hour "
        "clock (02:02:33 PM, read as 14:02:33 by our repair)"
    ),
    "rss-descriptions-are-html": (
        "an RSS description is read as HTML whatever the RSS version (real RSS 1.0 feeds put "
        "escaped HTML there, e.g. golem.de, debian.org); feed-rs calls RSS 1.0 text plain "
        "and keeps the markup"
    ),
    "atom-id-resolved-against-xml-base": (
        "feedparser resolves an Atom id against the xml:base in scope (here an invalid "
        "relative id, t3_42tizy, becomes /t3_42tizy under a content element's xml:base); the "
        "result depends on the document only, so the identity is stable"
    ),
    "rss-parser-mixed-content-order": (
        "a description or content with unescaped XHTML child elements: rss-parser (xml2js) "
        "puts all text nodes before the child elements' text, scrambling the order"
    ),
    "rss-parser-snippet-loses-text": (
        "rss-parser's contentSnippet drops the line after a <br /> here (the names under "
        "FIRST CLASS WITH DISTINCTIONS); our text has it"
    ),
    "rss-parser-empty-tag-option": (
        "rss-parser's test of this feed sets xml2js emptyTag to 'EMPTY'; the description is empty"
    ),
}

#: (file under feeds/, entry index or None for every entry, field) -> policy name.
KNOWN_DIFFERENCES: dict[tuple[str, int | None, str], str] = {
    # feed-rs
    ("feed-rs/rss1/rss_1.0_biorxiv.xml", 0, "guid"): "rdf-about-is-the-id",
    ("feed-rs/rss1/rss_1.0_debian.xml", 0, "guid"): "rdf-about-is-the-id",
    ("feed-rs/rss1/rss_1.0_example_1.xml", None, "guid"): "rdf-about-is-the-id",
    ("feed-rs/rss1/rss_1.0_example_2.xml", 0, "guid"): "rdf-about-is-the-id",
    ("feed-rs/rss1/rss_1.0_iso8859.xml", 0, "guid"): "rdf-about-is-the-id",
    ("feed-rs/rss1/rss_1.0_spec_1.xml", None, "guid"): "rdf-about-is-the-id",
    ("feed-rs/rss1/rss_1.0_spec_2.xml", 0, "guid"): "rdf-about-is-the-id",
    ("feed-rs/atom/atom_xml_base.xml", 0, "url"): "permalink-guid-is-the-link",
    ("feed-rs/rss2/rss_2.0_spec_1.xml", None, "url"): "permalink-guid-is-the-link",
    ("feed-rs/rss2/rss_2.0_bbc.xml", 0, "author"): "every-author-counts",
    ("feed-rs/rss2/rss_2.0_nightvale.xml", 0, "author"): "every-author-counts",
    ("feed-rs/rss2/rss_2.0_spiegel.xml", 0, "author"): "every-author-counts",
    ("feed-rs/rss2/rss_2.0_spreaker.xml", 0, "author"): "every-author-counts",
    ("feed-rs/jsonfeed/jsonfeed_elastic_1.1.json", 0, "author"): "json-feed-authors-over-author",
    ("feed-rs/rss2/rss_2.0_ilgiornale.xml", 0, "author"): "name-in-parentheses",
    ("feed-rs/rss2/rss_2.0_relurl_1.xml", None, "author"): "name-in-parentheses",
    ("feed-rs/rss1/rss_1.0_example_1.xml", 1, "published"): "we-read-more-dates",
    ("feed-rs/rss2/rss_2.0_nbcny.xml", 0, "published"): "we-read-more-dates",
    ("feed-rs/rss1/rss_1.0_debian.xml", 0, "text"): "rss-descriptions-are-html",
    ("feed-rs/rss1/rss_1.0_iso8859.xml", 0, "text"): "rss-descriptions-are-html",
    # rss-parser
    ("rss-parser-js/input/reddit-atom.rss", None, "text"): "rss-parser-mixed-content-order",
    ("rss-parser-js/input/reddit-home.rss", None, "text"): "rss-parser-mixed-content-order",
    ("rss-parser-js/input/reddit-home.rss", None, "guid"): "atom-id-resolved-against-xml-base",
    ("rss-parser-js/input/customfields.rss", 4, "text"): "rss-parser-snippet-loses-text",
    ("rss-parser-js/input/xml2js-options.rss", None, "text"): "rss-parser-empty-tag-option",
}


@dataclass(frozen=True)
class Difference:
    file: str
    entry: int
    field: str
    detail: str


@dataclass
class Comparison:
    """The outcome of comparing one corpus."""

    entries: int = 0
    #: Fields compared, by field name.
    compared: Counter[str] = dataclasses.field(default_factory=Counter)
    differences: list[Difference] = dataclasses.field(default_factory=list)


@pytest.fixture
def corpus(shared_data: Path) -> CorpusRun:
    return run_corpus(shared_data / "feeds")  # cached: one run for all corpus tests


# --- translations --------------------------------------------------------------------------

_ELLIPSIS = re.compile(r"(?:\s*(?:\[\s*(?:\.\.\.|…)\s*\]|\.\.\.|…))+\s*$")


def words(text: str) -> str:
    return " ".join(text.split())


def _pattern(want: str) -> re.Pattern[str]:
    # The other parser mis-decoded the feed's charset: any one character stands for U+FFFD.
    # (or none: words() drops the non-breaking spaces rss-parser turned into U+FFFD)
    return re.compile(".?".join(re.escape(part) for part in want.split("\ufffd")))


def text_in(expected: str, ours: str) -> bool:
    """Whether the other parser's text appears in ours, as words."""
    want = words(_ELLIPSIS.sub("", expected))
    if "\ufffd" in want:
        return _pattern(want).search(words(ours)) is not None
    return want in words(ours)


def same_words(expected: str, ours: str) -> bool:
    want = words(expected)
    if "\ufffd" in want:
        return _pattern(want).fullmatch(words(ours)) is not None
    return want == words(ours)


def plain(value: str | None, content_type: str | None) -> str:
    if not value:
        return ""
    return html_to_text(value) if "html" in (content_type or "") else collapse_whitespace(value)


def instant(value: str | None) -> datetime | None:
    if not value:
        return None
    parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return parsed.astimezone(UTC).replace(microsecond=0)


def explained(difference: Difference) -> str | None:
    for entry in (difference.entry, None):
        policy = KNOWN_DIFFERENCES.get((difference.file, entry, difference.field))
        if policy:
            return policy
    return None


def pairs(
    run: FileRun, expected: list[dict[str, Any]], key: Callable[[dict[str, Any]], str]
) -> Iterator[tuple[int, dict[str, Any], Article | None]]:
    """Expected entries with our article for each (by position, else by guid)."""
    articles = run.outcome.articles
    if len(articles) == len(expected):
        yield from ((i, e, a) for i, (e, a) in enumerate(zip(expected, articles, strict=True)))
        return
    by_guid = {a.guid: a for a in articles if a.guid}
    for i, e in enumerate(expected):
        yield i, e, by_guid.get(key(e))


# --- feed-rs -------------------------------------------------------------------------------


def compare_feed_rs(corpus: CorpusRun, feeds: Path) -> Comparison:
    result = Comparison()
    goldens = sorted((feeds / "feed-rs").rglob("*.serde.json"))
    assert len(goldens) >= 60
    for golden in goldens:
        stem = golden.name.removesuffix(".serde.json")
        [source] = [p for p in golden.parent.iterdir() if p.stem == stem and p != golden]
        rel = source.relative_to(feeds).as_posix()
        run = corpus.runs[rel]
        assert run.outcome.error == "", (rel, run.outcome.error)
        expected = json.loads(golden.read_bytes())["entries"]
        text = html.unescape(source.read_bytes().decode("utf-8", "replace"))

        def diff(i: int, name: str, want: object, got: object, rel: str = rel) -> None:
            result.compared[name] += 1
            if want != got:
                result.differences.append(Difference(rel, i, name, f"{want!r} != {got!r}"))

        for i, entry, article in pairs(run, expected, lambda e: str(e["id"])):
            result.entries += 1
            if article is None:
                result.compared["entry"] += 1
                result.differences.append(Difference(rel, i, "entry", "we have no such entry"))
                continue
            # feed-rs hashes an id for an entry without one; we keep the guid "" then.
            feed_id = entry["id"] if entry["id"] in text else ""
            diff(i, "guid", feed_id, article.guid)
            title = entry["title"] or {}
            diff(i, "title", plain(title.get("content"), title.get("content_type")), article.title)
            links = [link["href"] for link in entry["links"] if link["rel"] in (None, "alternate")]
            want = canonical_url(urljoin(run.url, links[0])) if links else ""
            diff(i, "url", want, article.url)
            diff(i, "published", instant(entry["published"] or entry["updated"]), article.published)
            names = [name_without_email(a["name"]) or a["name"] for a in entry["authors"]]
            diff(i, "author", ", ".join(dict.fromkeys(n for n in names if n)), article.author)
            summary, content = entry["summary"] or {}, entry["content"] or {}
            pieces = [
                plain(summary.get("content"), summary.get("content_type")),
                plain(content.get("body"), content.get("content_type")),
            ]
            # Each piece (summary, content) must be in our text; [] when all of them are.
            diff(i, "text", [], [p[:120] for p in pieces if p and not text_in(p, article.text)])
    return result


# --- rss-parser ----------------------------------------------------------------------------


def rss_parser_goldens(feeds: Path) -> Iterator[tuple[str, list[dict[str, Any]]]]:
    outputs = feeds / "rss-parser-js/output"
    for source in sorted((feeds / "rss-parser-js/input").iterdir()):
        golden = outputs / f"{source.stem}.json"
        if not golden.exists():
            continue  # itunes-missing-image, unrecognized: no expected output
        raw = golden.read_bytes()
        try:
            doc = json.loads(raw)
        except UnicodeDecodeError:  # encoding.json is stored in ISO-8859-1, like its feed
            doc = json.loads(raw.decode("latin-1"))
        yield source.relative_to(feeds).as_posix(), doc["feed"].get("items", [])


def compare_rss_parser(corpus: CorpusRun, feeds: Path) -> Comparison:
    result = Comparison()
    goldens = list(rss_parser_goldens(feeds))
    assert len(goldens) >= 25
    for rel, expected in goldens:
        run = corpus.runs[rel]
        assert run.outcome.error == "", (rel, run.outcome.error)
        # rss-parser keeps an item with nothing in it as {}; we skip it (nothing to match).
        expected = [item for item in expected if item]

        def check(i: int, name: str, ok: bool, detail: str, rel: str = rel) -> None:
            result.compared[name] += 1
            if not ok:
                result.differences.append(Difference(rel, i, name, detail))

        def guid_of(item: dict[str, Any]) -> str:
            value = item.get("guid", item.get("id"))
            return value.strip() if isinstance(value, str) else ""

        for i, item, article in pairs(run, expected, guid_of):
            result.entries += 1
            if article is None:
                check(i, "entry", False, "we have no such entry")
                continue
            if isinstance(guid := item.get("guid", item.get("id")), str):
                check(i, "guid", guid.strip() == article.guid, f"{guid!r} != {article.guid!r}")
            if isinstance(title := item.get("title"), str):
                # rss-parser keeps a title's markup and entities as they are in the feed.
                want = html_to_text(title)
                check(i, "title", same_words(want, article.title), f"{want!r} != {article.title!r}")
            if isinstance(link := item.get("link"), str):
                want = canonical_url(urljoin(run.url, link))
                check(i, "url", want == article.url, f"{want!r} != {article.url!r}")
            if isinstance(iso := item.get("isoDate"), str):
                want_time = instant(iso)
                check(i, "published", want_time == article.published, f"{want_time} != "
                      f"{article.published}")  # fmt: skip
            names = [item.get(key) for key in ("creator", "author")]
            if name := next((n.strip() for n in names if isinstance(n, str) and n.strip()), ""):
                # One of the entry's authors: we list dc:creator, author and itunes:author.
                want = name_without_email(name) or name
                check(i, "author", want in article.author, f"{want!r} not in {article.author!r}")
            for key in ("contentSnippet", "content:encodedSnippet"):
                if isinstance(snippet := item.get(key), str):
                    # rss-parser drops tags without a space: compare without whitespace too
                    ok = text_in(snippet, article.text) or "".join(snippet.split()) in "".join(
                        article.text.split())  # fmt: skip
                    check(i, "text", ok, f"{snippet[:120]!r} not in {article.text[:120]!r}")
    return result


# --- the tests -----------------------------------------------------------------------------


def assert_explained(name: str, result: Comparison, prefix: str) -> None:
    unexplained = [d for d in result.differences if explained(d) is None]
    listed = {k for k in KNOWN_DIFFERENCES if k[0].startswith(prefix)}
    used = {
        (d.file, entry, d.field)
        for d in result.differences
        for entry in (d.entry, None)
        if (d.file, entry, d.field) in KNOWN_DIFFERENCES
    }
    policies = Counter(explained(d) for d in result.differences if explained(d))
    total = sum(result.compared.values())
    print(
        f"\n{name}: {result.entries} entries, {total} fields compared, "
        f"{total - len(result.differences)} agree, {len(result.differences) - len(unexplained)} "
        f"differ by policy {dict(policies)}, {len(unexplained)} unexplained"
    )
    assert not unexplained, "\n".join(f"{d.file}[{d.entry}].{d.field}: {d.detail}"
                                      for d in unexplained)  # fmt: skip
    assert listed <= used, f"listed differences that no longer occur: {sorted(listed - used)}"


def test_feed_rs_golden_output(corpus: CorpusRun, shared_data: Path) -> None:
    result = compare_feed_rs(corpus, shared_data / "feeds")
    assert result.entries >= 90
    assert_explained("feed-rs", result, "feed-rs/")


def test_rss_parser_golden_output(corpus: CorpusRun, shared_data: Path) -> None:
    result = compare_rss_parser(corpus, shared_data / "feeds")
    assert result.entries >= 1200
    assert_explained("rss-parser", result, "rss-parser-js/")


def test_every_policy_is_used_and_explained() -> None:
    assert set(KNOWN_DIFFERENCES.values()) == set(POLICIES)


def test_the_comparison_notices_a_wrong_field(corpus: CorpusRun, shared_data: Path) -> None:
    rel = "feed-rs/rss2/rss_2.0_bbc.xml"
    run = corpus.runs[rel]
    [article] = run.outcome.articles
    broken = dataclasses.replace(
        run, outcome=dataclasses.replace(run.outcome, articles=(
            dataclasses.replace(article, title="Marcus Antonius"),)),
    )  # fmt: skip
    tampered = dataclasses.replace(corpus, runs={**corpus.runs, rel: broken})
    result = compare_feed_rs(tampered, shared_data / "feeds")
    assert [(d.file, d.field) for d in result.differences if explained(d) is None] == [
        (rel, "title")
    ]
