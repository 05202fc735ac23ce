"""perq beside the engine: CNF rules for both, and our rule mix translated into perq's CNF.

perq (https://pypi.org/project/perq/, the ``bench`` extra) is a pure-Python
percolator: a query is an AND of OR-groups of exact words (after NFKC and
casefold), filed under its rarest group; a document is its set of ``\\w+``
tokens. The benchmark runs it in the same process as the engine, on the same
articles, and compares the rules each matches.

- ``cnf_rules``: AND-of-OR-groups of single words drawn from the corpus by
  document frequency (stopwords excluded; or uniformly, for rules that match
  rarely: ``selective``), quoted in our syntax so that both
  engines mean exactly the same thing (``"drones"`` is the exact word, no
  inflection folding): ``("tanker" OR "shipping") AND "gulf"``. Agreement
  must be complete.
- ``perq_query``: our rule mix (``rulegen``) written in perq's terms, as
  closely as perq can say it. A term is the OR of every corpus word with its
  inflection key, a wildcard the OR of every corpus word with its prefix, a
  one-word phrase or entity alias the word: those are exact on this corpus.
  What perq cannot say is relaxed into something it implies: a phrase or
  NEAR into the AND of its words, ``title:`` into title + text, ``case:``
  into the folded word, a NOT dropped, an OR of conjunctions into one group
  holding a word of each. A relaxed rule matches a superset of ours; it is
  never harder for perq than the real rule.
"""

from __future__ import annotations

import random
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from benchmarks.rulegen import CorpusStats
from monitor.matching import (
    And,
    Case,
    Entity,
    Field,
    Near,
    Node,
    Not,
    Or,
    Phrase,
    Prefix,
    RuleSpec,
    Term,
    parse_query,
)
from monitor.matching.entities import default_catalog
from monitor.matching.text import stem, words
from monitor.model import Article

__all__ = [
    "PerqRule",
    "Vocabulary",
    "cnf_rules",
    "perq_document_text",
    "perq_query",
    "perq_rules",
]

#: Clause counts of a CNF rule and their weights; OR-group sizes and theirs.
_CLAUSES = ((1, 1), (2, 4), (3, 3), (4, 2))
_GROUP = ((1, 6), (2, 2), (3, 1))


@dataclass(frozen=True, slots=True)
class PerqRule:
    """One rule as perq reads it."""

    id: str
    #: AND of OR-groups of exact (folded) words; empty: perq cannot index the rule.
    clauses: tuple[tuple[str, ...], ...]
    #: Whether perq's query means exactly ours (on this corpus), else it is a relaxation.
    exact: bool


class Vocabulary:
    """The corpus's folded words, grouped by inflection key and searchable by prefix."""

    def __init__(self, articles: Iterable[Article]) -> None:
        found: set[str] = set()
        for article in articles:
            found.update(words(article.title))
            found.update(words(article.text))
        self.words = sorted(found)
        self.by_key: dict[str, list[str]] = {}
        for word in self.words:
            self.by_key.setdefault(stem(word), []).append(word)

    def inflections(self, word: str) -> tuple[str, ...]:
        """Every corpus word with the inflection key of ``word`` (at least ``word``)."""
        return tuple(sorted({word, *self.by_key.get(stem(word), ())}))

    def with_prefix(self, prefix: str) -> tuple[str, ...]:
        """Every corpus word that starts with ``prefix``."""
        import bisect

        i = bisect.bisect_left(self.words, prefix)
        out: list[str] = []
        while i < len(self.words) and self.words[i].startswith(prefix):
            out.append(self.words[i])
            i += 1
        return tuple(out)


def cnf_rules(
    stats: CorpusStats, count: int, seed: int = 2005, *, selective: bool = False
) -> list[tuple[RuleSpec, PerqRule]]:
    """``count`` CNF rules, each in our syntax and in perq's (the same meaning).

    Words are drawn by document frequency; ``selective``: uniformly over the corpus's
    content words instead, so that most are rare and a rule matches few articles.
    """
    rng = random.Random(seed)
    vocabulary = stats.terms.items

    def draw() -> str:
        return rng.choice(vocabulary) if selective else stats.terms.draw(rng)

    sizes, size_weights = zip(*_CLAUSES, strict=True)
    groups, group_weights = zip(*_GROUP, strict=True)
    out: list[tuple[RuleSpec, PerqRule]] = []
    for i in range(count):
        (n,) = rng.choices(sizes, size_weights)
        clauses: list[tuple[str, ...]] = []
        for _ in range(n):
            (m,) = rng.choices(groups, group_weights)
            clauses.append(tuple(dict.fromkeys(draw() for _ in range(m))))
        text = " AND ".join(
            '"' + group[0] + '"'
            if len(group) == 1
            else "(" + " OR ".join(f'"{w}"' for w in group) + ")"
            for group in clauses
        )
        out.append((RuleSpec(f"c{i}", text), PerqRule(f"c{i}", tuple(clauses), True)))
    return out


class _Relaxed(Exception):
    """Raised inside the translation when nothing perq can say is implied (a NOT alone)."""


def perq_query(node: Node, vocab: Vocabulary) -> tuple[tuple[tuple[str, ...], ...], bool]:
    """Our query as perq's CNF (see the module docstring): (clauses, exact)."""
    exact = [True]

    def relax() -> None:
        exact[0] = False

    def cnf(n: Node) -> list[tuple[str, ...]]:
        match n:
            case Term():
                return [vocab.inflections(n.word)]
            case Phrase(words_, _):
                if len(words_) > 1:
                    relax()
                return [(w,) for w in words_]
            case Prefix():
                found = vocab.with_prefix(n.prefix)
                return [found or (n.prefix,)]
            case Case():
                relax()
                return [(w,) for w in (words(" ".join(n.words)))]
            case Entity(name):
                entity = default_catalog().get(name)
                assert entity is not None
                group: set[str] = set()
                for alias in entity.aliases:
                    alias_words = words(alias.text)
                    if len(alias_words) != 1 or alias.case_sensitive:
                        relax()
                    if alias_words:
                        group.add(alias_words[0])
                return [tuple(sorted(group))]
            case And(children):
                return [c for child in children for c in cnf(child)]
            case Or(children):
                parts = [cnf(child) for child in children]
                if all(len(p) == 1 for p in parts):
                    return [tuple(sorted({w for p in parts for w in p[0]}))]
                relax()
                if any(not p for p in parts):
                    raise _Relaxed
                # Each child implies each of its clauses: one group with a clause of each.
                return [tuple(sorted({w for p in parts for w in min(p, key=len)}))]
            case Not():
                relax()
                return []
            case Near(left, right, _):
                relax()
                return cnf(left) + cnf(right)
            case Field(name, child):
                if name not in ("title", "text"):
                    raise _Relaxed
                relax()
                return cnf(child)
        raise TypeError(n)  # pragma: no cover

    try:
        clauses = cnf(node)
    except _Relaxed:
        return (), False
    unique = tuple(dict.fromkeys(tuple(sorted(set(c))) for c in clauses))
    return unique, exact[0]


def perq_rules(specs: Sequence[RuleSpec], vocab: Vocabulary) -> list[PerqRule]:
    """Our rules in perq's terms (``perq_query`` for each)."""
    out: list[PerqRule] = []
    for spec in specs:
        clauses, exact = perq_query(parse_query(spec.query), vocab)
        out.append(PerqRule(spec.id, clauses, exact and bool(clauses)))
    return out


def perq_document_text(article: Article) -> str:
    """What perq reads of an article: title and text (its own tokenizer cuts the words)."""
    return article.title + "\n" + article.text
