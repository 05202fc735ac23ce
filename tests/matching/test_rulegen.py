"""Tests of the benchmark's rule generator (``benchmarks/rulegen.py``).

What this file owns: the generator's promises to the matching benchmark. The
same seed gives the same rules; every rule compiles in the engine; every
construct of the language shows up in a realistic share; switched-off
constructs never appear; no rule term is a stopword; terms follow document
frequency (common content words more often than rare ones).
"""

from __future__ import annotations

import collections
import functools
import re
from pathlib import Path

import pytest

from benchmarks.rulegen import (
    ALL_FEATURES,
    BASIC_FEATURES,
    STOPWORDS,
    CorpusStats,
    RuleGenerator,
    load_corpus,
    supported_features,
)
from monitor.matching import compile_rules, parse_query
from monitor.matching.ast import And, Or

N = 2000


@functools.cache
def stats_of(data: Path) -> CorpusStats:
    return CorpusStats(load_corpus(data / "articles" / "bbc-2005" / "bbc_news.jsonl"))


@pytest.fixture
def stats(shared_data: Path) -> CorpusStats:
    return stats_of(shared_data)


def queries(
    stats: CorpusStats, features: frozenset[str] = ALL_FEATURES, seed: int = 1
) -> list[str]:
    return [spec.query for spec in RuleGenerator(stats, seed=seed, features=features).rules(N)]


def test_the_engine_implements_every_generated_construct() -> None:
    assert supported_features() == ALL_FEATURES


def test_same_seed_same_rules(stats: CorpusStats) -> None:
    assert queries(stats) == queries(stats)
    assert queries(stats, seed=2) != queries(stats)


def test_every_rule_compiles(stats: CorpusStats) -> None:
    for features in (ALL_FEATURES, BASIC_FEATURES):
        ruleset = compile_rules(RuleGenerator(stats, features=features).rules(N))
        assert len(ruleset) == N


def test_constructs_appear_in_realistic_shares(stats: CorpusStats) -> None:
    text = queries(stats)
    share = {
        construct: sum(bool(re.search(pattern, q)) for q in text) / N
        for construct, pattern in {
            "phrase": r'(?<!@)"[^"]+ [^"]+"',
            "NOT": r"\bNOT\b|(?:^| )-\w",
            "OR": r"\bOR\b",
            "NEAR": r"\bNEAR/\d+\b",
            "wildcard": r"\w\*",
            "title:": r"\btitle:",
            "entity": r"@",
            "case:": r"\bcase:",
        }.items()
    }
    for construct, fraction in share.items():
        assert 0.02 <= fraction <= 0.6, (construct, fraction)
    trees = [parse_query(q) for q in text]
    clauses = [len(t.children) if isinstance(t, And | Or) else 1 for t in trees]
    assert max(clauses) <= 5
    assert sum(n >= 2 for n in clauses) >= 0.8 * N


def test_switched_off_constructs_never_appear(stats: CorpusStats) -> None:
    for q in queries(stats, BASIC_FEATURES):
        assert not re.search(r"\bNEAR/|\*|@|\b(title|case):", q), q


def test_terms_are_content_words_drawn_by_document_frequency(stats: CorpusStats) -> None:
    terms: collections.Counter[str] = collections.Counter()
    for q in queries(stats, BASIC_FEATURES):
        unquoted = re.sub(r'"[^"]*"|\b\w+:', " ", q)
        terms.update(re.findall(r"\b[a-z]+\b(?!\*)", unquoted))
    assert not set(terms) & STOPWORDS
    # Drawn in proportion to document frequency: per word, those in 300+ articles come up
    # far more often than those in 1-3 articles (zeros included), and rare words still occur.
    content = set(stats.terms.items)
    common = [w for w in content if stats.df[w] >= 300]
    rare = [w for w in content if stats.df[w] <= 3]
    per_common = sum(terms[w] for w in common) / len(common)
    per_rare = sum(terms[w] for w in rare) / len(rare)
    assert per_common > 30 * per_rare > 0
