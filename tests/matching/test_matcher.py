"""Matching rules against articles: semantics, hits, explain, highlight, and a reference model."""

from __future__ import annotations

import html
import re
import unicodedata
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from monitor.errors import QuerySyntaxError
from monitor.matching import (
    And,
    Node,
    Not,
    Or,
    Phrase,
    RuleQueryError,
    RuleSpec,
    Term,
    compile_rules,
    explain,
    highlight,
    match_article,
    parse_query,
    render,
    tokenize,
)
from monitor.matching.text import query_words, stem, words
from monitor.model import Article, Hit

# Deterministic examples: a property failure is then a bug in the code, never a lucky draw.
PROPERTY = settings(max_examples=200, deadline=None, derandomize=True)


def article(title: str = "", text: str = "", feed_id: str = "feed") -> Article:
    return Article(id="a1", feed_id=feed_id, url="", title=title, text=text)


def match_text(query: str | Node, title: str = "", text: str = "") -> tuple[Hit, ...] | None:
    return match_article(query, article(title, text))


def matches(query: str, title: str = "", text: str = "") -> bool:
    return bool(compile_rules([RuleSpec("r", query)]).match(article(title, text)))


@pytest.fixture
def seed(shared_data: Path) -> Article:
    raw = (shared_data / "articles" / "seed-iran-russia.txt").read_text(encoding="utf-8")
    lines = [line for line in raw.splitlines() if line.strip()]
    # The file holds a section label ("Iran"), then the headline, then the body.
    return Article(id="seed", feed_id="news", url="", title=lines[1], text="\n\n".join(lines[2:]))


def test_seed_article_matches_all_three_terms(seed: Article) -> None:
    [match] = compile_rules([RuleSpec("iran-drones", "Iran AND Russia AND drones")]).match(seed)
    assert match.rule_id == "iran-drones"
    assert set(match.matched_terms) == {"Iran", "Russia", "drones"}
    fields = {"title": seed.title, "text": seed.text}
    for hit in match.hits:
        assert fields[hit.field][hit.start : hit.end].casefold() == hit.term.casefold()
    # Every occurrence is reported, title first, then in text order.
    drones = [h for h in match.hits if h.term == "drones"]
    assert len(drones) == len(re.findall(r"\bdrones\b", seed.text)) == 2
    assert [h.field for h in match.hits[:2]] == ["title", "title"]
    order = [(h.field != "title", h.start) for h in match.hits]
    assert order == sorted(order)
    # "Russia’s" (curly apostrophe) counts as Russia.
    assert any(seed.text[h.end] == "’" for h in match.hits if h.term == "Russia")


def test_seed_article_excluded_by_not(seed: Article) -> None:
    assert compile_rules([RuleSpec("r", "Iran AND NOT Russia")]).match(seed) == []


@pytest.mark.parametrize(
    ("query", "title", "text", "expected"),
    [
        # Case-insensitive.
        ("IRAN", "", "Iran said", True),
        ("iran", "", "IRAN SAID", True),
        # Accent-insensitive, whichever side has the accents, composed or not.
        ("Téhéran", "", "in Teheran today", True),
        ("Teheran", "", "à Téhéran", True),
        ("TÉHÉRAN", "", "à téhéran", True),
        ("Téhéran", "", unicodedata.normalize("NFD", "à Téhéran"), True),
        ("Tehran", "", "à Téhéran", False),  # accents fold; other spellings do not
        ("straße", "", "STRASSE", True),
        # Whole words only.
        ("Iran", "", "Iranian officials", False),
        ("Iranian", "", "Iran", False),
        ("drones", "", "drones were used", True),
        # English inflections fold: "drone" is "drones", "sanction" is "sanctioned".
        ("drone", "", "drones were used", True),
        ("sanction", "", "they sanctioned Iran", True),
        ('"drones"', "", "a drone", False),
        # Apostrophes and hyphens separate words.
        ("Iran", "", "Iran's neighbours", True),
        ("Iran", "", "Iran’s neighbours", True),
        ("Tehran", "", "Moscow-Tehran relations", True),
        ("Iran's", "", "Iran’s neighbours", True),
        ("Iran's", "", "Iran neighbours", False),
        ("e-mail", "", "an e mail", True),
        # Combining marks belong to their word (Devanagari vowel signs).
        ("समाचार", "", "हिन्दी समाचार", True),
        ("हि", "", "हिन्दी समाचार", False),
        # Phrases: consecutive words, in order, punctuation between them ignored.
        ('"Iran Russia"', "", "Iran Russia ties", True),
        ('"Iran Russia"', "", "Iran, Russia ties", True),
        ('"Iran Russia"', "", "Russia Iran ties", False),
        ('"Iran Russia"', "", "Iran and Russia", False),
        ('"white house"', "", "the White House said", True),
        # AND, implicit AND, OR, NOT, -x.
        ("Iran AND Russia", "", "Russia then Iran", True),
        ("Iran AND Russia", "", "Iran alone", False),
        ("Iran Russia", "", "Russia then Iran", True),
        ("Iran Russia", "", "Iran alone", False),
        ("Iran OR Russia", "", "Russia alone", True),
        ("Iran OR Russia", "", "neither", False),
        ("Iran AND NOT Russia", "", "Iran alone", True),
        ("Iran AND NOT Russia", "", "Iran and Russia", False),
        ("Iran -Russia", "", "Iran alone", True),
        ("Iran -Russia", "", "Iran and Russia", False),
        ('Iran -"White House"', "", "Iran and the house is white", True),
        ("NOT Iran", "", "nothing here", True),
        ("NOT Iran", "", "Iran", False),
        # Precedence: a OR b AND c is a OR (b AND c).
        ("a OR b AND c", "", "a", True),
        ("a OR b AND c", "", "b", False),
        ("a OR b AND c", "", "b c", True),
        ("(a OR b) AND c", "", "a", False),
        # Lowercase "and" is a word that must be there.
        ("Iran and Russia", "", "Iran, Russia", False),
        ("Iran and Russia", "", "Iran and Russia", True),
        # Title and text both count; a phrase never spans the two.
        ("Iran AND Russia", "Iran", "Russia", True),
        ('"Iran Russia"', "Iran", "Russia", False),
        ('"Iran Russia"', "Talks: Iran Russia", "", True),
    ],
)
def test_match(query: str, title: str, text: str, expected: bool) -> None:
    assert matches(query, title, text) is expected
    # The one-query helper for the CLI agrees with the rule set.
    assert (match_text(parse_query(query), title, text) is not None) is expected


def test_hits_come_from_positive_terms_only() -> None:
    [m] = compile_rules([RuleSpec("r", "Iran AND NOT Russia OR Iran AND drones")]).match(
        article("Iran and Russia", "Iran sold drones")
    )
    # The first branch is false (Russia is there); the second made the match.
    assert m.hits == (
        Hit("title", 0, 4, "Iran"),
        Hit("text", 0, 4, "Iran"),
        Hit("text", 10, 16, "drones"),
    )


def test_hits_of_an_or_are_its_true_branches() -> None:
    [m] = compile_rules([RuleSpec("r", "(a AND b) OR c")]).match(article("", "a c"))
    assert m.matched_terms == ("c",)


def test_phrase_hit_spans_the_phrase() -> None:
    text = "Officials at the White  House said"
    hits = match_text(parse_query('"white house" officials'), "", text)
    assert hits is not None
    assert [text[h.start : h.end] for h in hits] == ["Officials", "White  House"]
    assert [h.term for h in hits] == ["officials", "white house"]


def test_negation_alone_matches_with_no_hits() -> None:
    [m] = compile_rules([RuleSpec("r", "NOT Iran")]).match(article("x", "y"))
    assert m.hits == ()


def test_same_span_for_two_leaves_is_one_hit_per_term() -> None:
    hits = match_text(parse_query('Iran OR "Iran" OR Iran'), "", "Iran")
    assert hits == (Hit("text", 0, 4, "Iran"),)


def test_feeds_filter() -> None:
    ruleset = compile_rules(
        [
            RuleSpec("everywhere", "Iran"),
            RuleSpec("only-a", "Iran", feeds=frozenset({"a"})),
            RuleSpec("nowhere", "Iran", feeds=frozenset()),
        ]
    )
    assert [m.rule_id for m in ruleset.match(article("Iran", feed_id="a"))] == [
        "everywhere",
        "only-a",
    ]
    assert [m.rule_id for m in ruleset.match(article("Iran", feed_id="b"))] == ["everywhere"]


def test_matches_follow_rule_order_and_carry_the_article() -> None:
    ruleset = compile_rules([RuleSpec("z", "Russia"), RuleSpec("a", "Iran"), RuleSpec("m", "x")])
    item = article("Iran", "Russia")
    found = ruleset.match(item)
    assert [m.rule_id for m in found] == ["z", "a"]
    assert all(m.article is item for m in found)
    assert len(ruleset) == 3


def test_compile_rules_names_the_bad_rule() -> None:
    with pytest.raises(RuleQueryError) as info:
        compile_rules([RuleSpec("ok", "Iran"), RuleSpec("broken", "Iran AND")])
    error = info.value
    assert isinstance(error, QuerySyntaxError)
    assert error.rule_id == "broken"
    assert (error.query, error.position) == ("Iran AND", 8)
    assert (
        error.message == "rule 'broken': expected a term, phrase, wildcard, entity or '(' after AND"
    )


def test_compile_rules_refuses_duplicate_ids() -> None:
    with pytest.raises(ValueError, match="unique"):
        compile_rules([RuleSpec("r", "a"), RuleSpec("r", "b")])


def test_explain() -> None:
    ruleset = compile_rules([RuleSpec("r", 'Iran AND NOT Russia OR "White House"')])
    text = ruleset.explain(article("Iran, Russia", "The White House and Iran"), "r")
    assert text == "\n".join(
        [
            "✓ OR",
            "  ✗ AND",
            "    ✓ Iran ×2",
            "    ✗ NOT",
            "      ✓ Russia ×1",
            '  ✓ "White House" ×1',
        ]
    )
    assert explain(parse_query("drone"), article("", "drones")) == "✓ drone ×1"
    assert explain(parse_query('"drone"'), article("", "drones")) == '✗ "drone"'


# --- tokenize ------------------------------------------------------------------------------


def test_tokenize_offsets_and_folding() -> None:
    text = "Iran’s drones, Téhéran e-mail"
    tokens = tokenize(text)
    assert [t.norm for t in tokens] == ["iran", "s", "drones", "teheran", "e", "mail"]
    assert [text[t.start : t.end] for t in tokens] == [
        "Iran",
        "s",
        "drones",
        "Téhéran",
        "e",
        "mail",
    ]


def test_tokenize_keeps_decomposed_accents_in_their_word() -> None:
    text = unicodedata.normalize("NFD", "Téhéran")
    [token] = tokenize(text)
    assert (token.norm, token.start, token.end) == ("teheran", 0, len(text))


@PROPERTY
@given(st.text(max_size=60))
def test_words_is_tokenize_without_offsets(text: str) -> None:
    tokens = tokenize(text)
    assert words(text) == [t.norm for t in tokens]
    assert all(0 <= t.start < t.end <= len(text) for t in tokens)


# --- highlight -----------------------------------------------------------------------------


def test_highlight_wraps_and_merges_overlaps() -> None:
    text = "the White House and Iran"
    hits = [
        Hit("text", 4, 15, "White House"),
        Hit("text", 10, 15, "House"),
        Hit("text", 20, 24, "Iran"),
    ]
    assert highlight(text, hits, "[", "]") == "the [White House] and [Iran]"


def test_highlight_field_filter_and_escape() -> None:
    hits = [Hit("title", 0, 4, "Iran"), Hit("text", 3, 7, "Iran")]
    out = highlight("<b>Iran & co", hits, "<mark>", "</mark>", field="text", escape=html.escape)
    assert out == "&lt;b&gt;<mark>Iran</mark> &amp; co"


def test_highlight_ignores_spans_outside_the_text() -> None:
    assert highlight("abc", [Hit("text", 2, 10, "x"), Hit("text", 5, 6, "y")], "*", "*") == "ab*c*"
    assert highlight("abc", [], "*", "*") == "abc"


def test_highlight_matched_article(seed: Article) -> None:
    [m] = compile_rules([RuleSpec("r", "Iran AND Russia")]).match(seed)
    title = highlight(seed.title, m.hits, "*", "*", field="title")
    assert title == "*Iran* shrugs off Western criticism of its rapprochement with *Russia*"


# --- the rule set agrees with a naive reference ------------------------------------------------

VOCABULARY = ["Iran", "IRAN", "Russia", "drone", "drones", "Téhéran", "Teheran", "and", "s"]
SEPARATORS = [" ", ", ", "'s ", "’", "-", "\n", ". "]


def _fold(text: str) -> str:
    decomposed = unicodedata.normalize("NFKD", text)
    return "".join(ch for ch in decomposed if not unicodedata.combining(ch)).casefold()


def _reference_term(text: str, fields: tuple[str, str]) -> bool:
    # A term matches any word with the same inflection key.
    key = stem(_fold(text))
    return any(stem(w) == key for field in fields for w in re.findall(r"\w+", _fold(field)))


def _reference_leaf(words_: list[str], fields: tuple[str, str]) -> bool:
    # Whole words, non-word characters between them, within one field.
    pattern = r"\b" + r"\W+".join(re.escape(_fold(w)) for w in words_) + r"\b"
    return any(re.search(pattern, _fold(field)) for field in fields)


def reference(node: Node, fields: tuple[str, str]) -> bool:
    match node:
        case Term(text):
            return _reference_term(text, fields)
        case Phrase(_, text):
            return _reference_leaf(text.split(), fields)
        case And(children):
            return all(reference(c, fields) for c in children)
        case Or(children):
            return any(reference(c, fields) for c in children)
        case Not(child):
            return not reference(child, fields)
    raise AssertionError(node)


def positive_texts(node: Node) -> set[str]:
    match node:
        case Term(text) | Phrase(_, text):
            return {text}
        case And(children) | Or(children):
            return set().union(*(positive_texts(c) for c in children))
        case _:
            return set()


_words = st.sampled_from(VOCABULARY)
_leaves = st.one_of(
    st.builds(Term, _words),
    st.lists(_words, min_size=1, max_size=3).map(lambda ws: Phrase.of(" ".join(ws))),
)
_queries: st.SearchStrategy[Node] = st.recursive(
    _leaves,
    lambda kids: st.one_of(
        st.builds(Not, kids),
        st.lists(kids, min_size=2, max_size=3).map(lambda xs: And(tuple(xs))),
        st.lists(kids, min_size=2, max_size=3).map(lambda xs: Or(tuple(xs))),
    ),
    max_leaves=6,
)
_texts = st.lists(st.tuples(_words, st.sampled_from(SEPARATORS)), max_size=8).map(
    lambda pairs: "".join(w + s for w, s in pairs)
)


@PROPERTY
@given(st.lists(_queries, min_size=1, max_size=4), _texts, _texts)
def test_rule_set_agrees_with_reference(queries: list[Node], title: str, text: str) -> None:
    # Rules go through their text, so the parser and render are part of what is checked.
    ruleset = compile_rules([RuleSpec(f"r{i}", render(q)) for i, q in enumerate(queries)])
    found = {m.rule_id: m for m in ruleset.match(article(title, text))}
    fields = {"title": title, "text": text}
    for i, query in enumerate(queries):
        expected = reference(query, (title, text))
        assert (f"r{i}" in found) is expected, render(query)
        if not expected:
            continue
        hits = found[f"r{i}"].hits
        assert list(hits) == sorted(hits, key=lambda h: (h.field != "title", h.start))
        for hit in hits:
            # Each hit covers exactly the words of a term that is not negated.
            assert hit.term in positive_texts(query)
            span_words = words(fields[hit.field][hit.start : hit.end])
            assert [stem(w) for w in span_words] == [stem(w) for w in query_words(hit.term)]
