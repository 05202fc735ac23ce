"""The engine's fast paths agree with plain evaluation: exact-word keys and the rules they
decide in the index, the key-clause probes of fetched rules, NEAR on bit masks of word
positions, and matches that read their rule id and article from a shared source."""

from __future__ import annotations

import dataclasses
import gc
import pickle

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from monitor.matching import RuleQueryError, RuleSpec, compile_rules
from monitor.matching.near import _reach
from monitor.matching.probe import KeyAnd
from monitor.model import Article, Hit, Match
from tests.matching.test_rule_language import CATALOG

PROPERTY = settings(max_examples=200, deadline=None, derandomize=True)

WORDS = ["drone", "drones", "droned", "gulf", "tanker", "tankers", "iran", "tehran", "us"]
SEPARATORS = [" ", ", ", ". ", "\n", "-"]


def article(title: str = "", text: str = "", feed_id: str = "feed") -> Article:
    return Article(id="a1", feed_id=feed_id, url="", title=title, text=text)


_word = st.sampled_from(WORDS)
_operand = st.one_of(
    _word.map(lambda w: f'"{w}"'),  # an exact word: its exact key
    _word,  # a term: its inflection key
    _word.map(lambda w: f'"{w} gulf"'),  # a phrase: tested when fetched
    st.sampled_from(["@Iran", "@Russia", '@"United States"', "dro*", "title:gulf"]),
)
_group = st.lists(_operand, min_size=1, max_size=3).map(
    lambda xs: xs[0] if len(xs) == 1 else "(" + " OR ".join(xs) + ")"
)
_cnf = st.lists(_group, min_size=1, max_size=4).map(" AND ".join)
_query = st.one_of(
    _cnf,
    st.tuples(_cnf, _operand).map(lambda p: f"{p[0]} -{p[1]}"),
    st.tuples(_operand, st.integers(1, 4), _operand).map(lambda p: f"{p[0]} NEAR/{p[1]} {p[2]}"),
)
_text = st.lists(st.tuples(_word, st.sampled_from(SEPARATORS)), max_size=12).map(
    lambda pairs: "".join(w + s for w, s in pairs)
)


@PROPERTY
@given(st.lists(_query, min_size=1, max_size=12), _text, _text)
def test_the_index_and_its_probes_agree_with_evaluating_every_rule(
    queries: list[str], title: str, text: str
) -> None:
    ruleset = compile_rules([RuleSpec(f"r{i}", q) for i, q in enumerate(queries)], CATALOG)
    item = article(title.upper() if len(title) % 3 == 0 else title, text)
    assert [m.rule_id for m in ruleset.match(item)] == [m.rule_id for m in ruleset.match_all(item)]


def test_rules_of_exact_words_are_decided_by_the_index() -> None:
    ruleset = compile_rules(
        [
            RuleSpec("pair", '"drones" AND "gulf"'),
            RuleSpec("group", '("tanker" OR "tankers") AND "gulf"'),
            RuleSpec("three", '"drones" AND "gulf" AND ("iran" OR tehran)'),
            RuleSpec("term", "drone AND gulf"),
        ]
    )
    # Two clauses of words: filed under both keys, never tested; more: a probe of keys.
    assert not isinstance(ruleset._probes[0], KeyAnd)
    assert isinstance(ruleset._probes[2], KeyAnd)
    item = article("", "Drones over the Gulf, Tehran said")
    assert [m.rule_id for m in ruleset.match(item)] == ["pair", "three", "term"]
    # An exact word is not its inflections.
    assert [m.rule_id for m in ruleset.match(article("", "a drone in the gulf"))] == ["term"]
    assert [m.rule_id for m in ruleset.match(article("", "tankers in the gulf"))] == ["group"]


@PROPERTY
@given(
    st.lists(st.tuples(st.integers(0, 60), st.integers(1, 3)), max_size=6),
    st.lists(st.tuples(st.integers(0, 60), st.integers(1, 3)), max_size=6),
    st.integers(0, 25),
)
def test_reach_finds_what_a_pairwise_search_finds(
    first: list[tuple[int, int]], then: list[tuple[int, int]], distance: int
) -> None:
    spans_a = [(s, s + n) for s, n in first]
    spans_b = [(s, s + n) for s, n in then]
    ends = sum({1 << e for _, e in spans_a})
    starts = sum({1 << s for s, _ in spans_b})
    expected = any(
        a_end <= b_start < a_end + distance for _, a_end in spans_a for b_start, _ in spans_b
    )
    assert bool(_reach(ends, distance) & starts) is expected


def test_near_on_long_texts_and_far_apart_words() -> None:
    filler = " ".join(["word"] * 500)
    ruleset = compile_rules(
        [RuleSpec("near", '"drones" NEAR/3 tanker*'), RuleSpec("far", "gulf NEAR/600 @Iran")],
        CATALOG,
    )
    item = article("", f"drones {filler} gulf a b tankers drones {filler} Tehran")
    assert [m.rule_id for m in ruleset.match(item)] == ["near", "far"]
    assert [m.rule_id for m in ruleset.match_all(item)] == ["near", "far"]
    assert not ruleset.match(article("", f"drones {filler} tankers"))


def test_a_match_reads_its_rule_and_article_from_the_rule_set_until_its_hits_are_read() -> None:
    item = article("Iran drones", "x")
    ruleset = compile_rules([RuleSpec("a", "tanker"), RuleSpec("r", "Iran drone")])
    [m] = ruleset.match(item)
    assert m.rule_id == "r" and m.article is item
    assert m.hits == (Hit("title", 0, 4, "Iran"), Hit("title", 5, 11, "drone"))
    assert m.rule_id == "r" and m.article is item  # kept when the document is let go
    eager = Match("r", item, m.hits)
    assert m == eager and hash(m) == hash(eager)
    [again] = ruleset.match(item)
    assert pickle.loads(pickle.dumps(again)) == eager
    assert dataclasses.replace(again, rule_id="z") == Match("z", item, m.hits)
    assert repr(again).startswith("Match(rule_id='r'")


_exact_operand = st.one_of(
    _word.map(lambda w: f'"{w}"'),
    _word.map(lambda w: f'"{w} gulf"'),
    st.sampled_from(["dro*", 'title:"gulf"', '"US" -dron*']),
)
_exact_query = st.lists(
    st.lists(_exact_operand, min_size=1, max_size=2).map(" OR ".join).map(lambda x: f"({x})"),
    min_size=1,
    max_size=3,
).map(" AND ".join)


@PROPERTY
@given(st.lists(_exact_query, min_size=1, max_size=8), _text, _text)
def test_a_rule_set_without_terms_reads_no_inflection_keys(
    queries: list[str], title: str, text: str
) -> None:
    ruleset = compile_rules([RuleSpec(f"r{i}", q) for i, q in enumerate(queries)], CATALOG)
    assert not ruleset._stems
    item = article(title, text.replace("us", "US"))
    assert [m.rule_id for m in ruleset.match(item)] == [m.rule_id for m in ruleset.match_all(item)]


@PROPERTY
@given(
    st.lists(
        st.lists(
            st.one_of(_word.map(lambda w: f'"{w}"'), _word.map(lambda w: f'"{w} gulf"')),
            min_size=1,
            max_size=3,
        ).map(lambda xs: "(" + " OR ".join(xs) + ")"),
        min_size=1,
        max_size=4,
    ).map(" AND ".join),
    _text,
    _text,
)
def test_rules_of_exact_words_read_the_words_as_keys(query: str, title: str, text: str) -> None:
    ruleset = compile_rules([RuleSpec("r", query), RuleSpec("s", f'{query} -"tanker"')])
    assert ruleset._words and not ruleset._stems
    item = article(title, text)
    assert [m.rule_id for m in ruleset.match(item)] == [m.rule_id for m in ruleset.match_all(item)]
    assert {m.rule_id for m in ruleset.match(item)} <= set(ruleset.fetched_ids(item))


def test_compiling_pauses_the_collector_and_restores_it() -> None:
    assert gc.isenabled()
    compile_rules([RuleSpec("r", "drones")])
    assert gc.isenabled()
    with pytest.raises(RuleQueryError):
        compile_rules([RuleSpec("r", "drones AND (")])
    assert gc.isenabled()
    gc.disable()
    try:
        compile_rules([RuleSpec("r", "drones")])
        assert not gc.isenabled()  # left as the caller had it
    finally:
        gc.enable()
