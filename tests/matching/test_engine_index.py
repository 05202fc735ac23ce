"""The indexed engine: what each rule is filed under, rules that cannot be indexed, the index
agreeing with evaluating every rule, lazily computed hits, and explain for every construct."""

from __future__ import annotations

import dataclasses
import pickle
import random
from pathlib import Path

import pytest

from monitor.matching import RuleSpec, compile_query, compile_rules, explain, parse_query
from monitor.matching.compiler import Compiler
from monitor.matching.index import alternatives
from monitor.matching.rarity import word_cost
from monitor.matching.text import words
from monitor.model import Article, Hit, Match
from tests.matching.test_rule_language import CATALOG


def article(title: str = "", text: str = "", **kw: str) -> Article:
    return Article(id="a1", feed_id=kw.get("feed_id", "feed"), url="", title=title, text=text)


def keys(query: str, frequencies: dict[str, float] | None = None) -> set[tuple[str, ...]] | None:
    cost = word_cost(frequencies)
    alts = alternatives(compile_query(query, compiler=Compiler(CATALOG, cost)), cost)
    return None if alts is None else {k for k, _ in alts}


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("drones", {("drone",)}),
        ("sanctioned", {("sanction",)}),
        # A phrase: the exact keys of its two rarest words.
        ('"the drone strike"', {("=strike", "=drone")}),
        ('author:"Jane Smith"', {("author:smith", "author:jane")}),
        ("drone*", {("dro*",)}),  # a wildcard: its first three letters
        ("case:US", {("us",)}),
        ('"drone"', {("=drone",)}),  # an exact word: its exact key
        ("title:drones", {("drone",)}),  # title and text share the plain keys
        ("author:smith", {("author:smith",)}),
        ("source:bbc", {("source:bbc",)}),
        ("drones OR missiles", {("drone",), ("missil",)}),
        # An AND is filed under its two rarest children together; NOTs never count.
        ("the AND drones AND sanctions", {("sanction", "drone")}),
        ("drones -the", {("drone",)}),
        ("drones NEAR/5 sanctions", {("sanction", "drone")}),
        ("(drones OR missiles) sanctions", {("sanction", "drone"), ("sanction", "missil")}),
        ("@Russia", {("=russia",), ("=moscow",)}),  # its aliases: exact words
        # Negation alone: nothing to file under, evaluated for every article.
        ("NOT drones", None),
        ("drones OR NOT sanctions", None),
    ],
)
def test_presearch_keys(query: str, expected: set[tuple[str, ...]] | None) -> None:
    assert keys(query) == expected


def test_a_frequency_table_changes_which_term_is_rarest() -> None:
    assert keys("drone AND government AND sanction") == {("sanction", "drone")}
    table = {"drone": 0.5, "government": 0.001, "sanction": 0.01}
    assert keys("drone AND governments AND sanction", table) == {("government", "sanction")}


def test_unindexed_rules_are_reported_and_still_matched() -> None:
    ruleset = compile_rules(
        [
            RuleSpec("plain", "drones"),
            RuleSpec("not", "NOT drones"),
            RuleSpec("or-not", "sanctions OR NOT drones"),
            RuleSpec("and-not", "sanctions -drones"),
        ]
    )
    assert ruleset.unindexed_rule_ids() == ["not", "or-not"]
    assert [m.rule_id for m in ruleset.match(article("", "weather"))] == ["not", "or-not"]
    assert [m.rule_id for m in ruleset.match(article("", "drones"))] == ["plain"]


def test_a_rule_is_reported_once_even_when_found_under_several_keys() -> None:
    ruleset = compile_rules([RuleSpec("r", "drones OR drone OR droned OR Iran")])
    assert [m.rule_id for m in ruleset.match(article("Iran drones", "droned"))] == ["r"]


def test_index_agrees_with_evaluating_every_rule_on_real_articles(shared_data: Path) -> None:
    # Generated rules over the vocabulary of 60 BBC articles, common words included.
    lines = (shared_data / "articles/bbc-2005/bbc_news.jsonl").read_text().splitlines()[::37]
    import json

    rows = [json.loads(line) for line in lines]
    items = [Article(str(r["id"]), "bbc", "", r["title"], r["body"]) for r in rows]
    vocab = sorted({w for a in items for w in words(a.text) if w.isalpha() and len(w) > 2})
    rng = random.Random(7)
    shapes = [
        "{a} AND {b}",
        "{a} OR {b} {c}",
        '"{a} {b}" OR {c}',
        "{a} -{b}",
        "{a} NEAR/5 {b}",
        "{p}* AND {b}",
        "title:{a} OR {b} NEAR/3 {c}",
        "NOT {a}",
        "({a} OR {b}) AND NOT title:{c}",
    ]
    specs = []
    for i in range(600):
        a, b, c = rng.sample(vocab, 3)
        query = shapes[i % len(shapes)].format(a=a, b=b, c=c, p=a[:4] if len(a) > 3 else a + "x")
        specs.append(RuleSpec(f"r{i}", query))
    ruleset = compile_rules(specs)
    total = 0
    for item in items:
        indexed = ruleset.match(item)
        assert [m.rule_id for m in indexed] == [m.rule_id for m in ruleset.match_all(item)]
        total += len(indexed)
    assert total > len(items)  # the rules do match: the comparison is not vacuous


def test_hits_are_computed_on_first_access_and_behave_like_a_match() -> None:
    item = article("Iran drones", "x")
    [m] = compile_rules([RuleSpec("r", "Iran drone")]).match(item)
    eager = Match("r", item, (Hit("title", 0, 4, "Iran"), Hit("title", 5, 11, "drone")))
    assert m.hits == eager.hits
    assert m == eager and eager == m and hash(m) == hash(eager)
    assert m.matched_terms == ("Iran", "drone")
    assert pickle.loads(pickle.dumps(m)) == eager
    assert dataclasses.replace(m, rule_id="z").rule_id == "z"
    assert dataclasses.asdict(m)["hits"][0]["term"] == "Iran"


def test_explain_marks_every_construct() -> None:
    query = '@Iran NEAR/3 drone* AND title:(case:US OR "White House") -author:smith'
    item = Article("a", "f", "", "US: Tehran drones", "Tehran sent a drone", author="J. Smith")
    assert explain(parse_query(query), item, CATALOG) == "\n".join(
        [
            "✗ AND",
            "  ✓ NEAR/3",
            "    ✓ @Iran ×2 (Tehran ×2)",
            "    ✓ drone* ×2",
            "  ✓ title:",
            "    ✓ OR",
            "      ✓ case:US ×1",
            '      ✗ "White House"',
            "  ✗ NOT",
            "    ✓ author:smith ×1",
        ]
    )


def test_ruleset_explain_uses_the_catalog_given() -> None:
    ruleset = compile_rules([RuleSpec("r", "@Russia")], CATALOG)
    assert ruleset.explain(article("", "Moscow said"), "r") == "✓ @Russia ×1 (Moscow ×1)"


def test_the_matching_package_imports_no_io_library() -> None:
    import subprocess
    import sys

    code = (
        "import sys, monitor.matching\n"
        "io = ('httpx', 'redis', 'sqlite3', 'socket', 'feedparser', 'asyncio', 'http.client')\n"
        "print([m for m in io if m in sys.modules])"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
