"""Compiled rules, and matching them against articles.

``compile_rules`` parses every query once. ``RuleSet.match`` reads an article
once: it folds the words of its title and text and keeps the positions of the
words the rules use, then evaluates every rule that applies to the article's
feed. Hits are reported for the terms that made the rule true: the operands of
an AND, the true branches of an OR, never what sits under a NOT.

This engine evaluates every rule for every article, which is plenty for
hundreds of rules. An indexed engine (rules found through the words they
require, as Lucene Monitor does) can replace it behind the ``Matcher``
protocol without touching its callers.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence, Set
from dataclasses import dataclass
from typing import Protocol

from monitor.errors import QuerySyntaxError
from monitor.matching.ast import And, Leaf, Node, Not, Or, Phrase, Term, iter_leaves, render
from monitor.matching.parser import parse_query
from monitor.matching.text import spans, words
from monitor.types import Article, Hit, Match

__all__ = [
    "CompiledRule",
    "Matcher",
    "RuleQueryError",
    "RuleSet",
    "RuleSpec",
    "compile_rules",
    "explain",
    "match_text",
]

#: Fields an article is matched on, in the order hits are reported.
FIELDS = ("title", "text")


@dataclass(frozen=True, slots=True)
class RuleSpec:
    """A watch rule as configured."""

    #: Unique rule id.
    id: str
    #: Query text, e.g. "Iran AND Russia AND drones".
    query: str
    #: Feed ids the rule applies to; None for every feed (an empty set means none).
    feeds: frozenset[str] | None = None


@dataclass(frozen=True, slots=True)
class CompiledRule:
    """A rule whose query has been parsed."""

    #: The rule as configured.
    spec: RuleSpec
    #: Its parsed query.
    node: Node


class RuleQueryError(QuerySyntaxError):
    """A rule's query does not parse; ``rule_id`` says which rule."""

    def __init__(self, rule_id: str, error: QuerySyntaxError) -> None:
        super().__init__(f"rule {rule_id!r}: {error.message}", error.query, error.position)
        self.rule_id = rule_id


class Matcher(Protocol):
    """What the pipeline needs from a rule engine."""

    def match(self, article: Article) -> list[Match]:
        """The rules the article matches, in rule order."""
        ...


class _Document:
    """An article's words, folded, as one position space over its fields.

    Positions run over the title, then the text, with one unused position in
    between, so that a phrase never spans two fields. Offsets (for hits) are
    computed only when a rule matched.
    """

    __slots__ = ("_index", "_leaves", "_spans", "_starts", "_texts")

    def __init__(self, texts: Sequence[str], vocabulary: Set[str] | None) -> None:
        self._texts = texts
        self._starts: list[int] = []
        self._spans: dict[int, list[tuple[int, int]]] = {}
        self._leaves: dict[tuple[str, ...], list[int]] = {}
        index: dict[str, list[int]] = {}
        position = 0
        for text in texts:
            self._starts.append(position)
            folded = words(text)
            # Only the rules' words are indexed: most words of an article are never asked for.
            for i, word in enumerate(folded, position):
                if vocabulary is None or word in vocabulary:
                    if (positions := index.get(word)) is None:
                        index[word] = [i]
                    else:
                        positions.append(i)
            position += len(folded) + 1
        self._index = index

    def occurrences(self, leaf: Leaf) -> list[int]:
        """Positions where the leaf's words start, in order."""
        key = leaf.words
        found = self._leaves.get(key)
        if found is None:
            found = self._index.get(key[0], [])
            for offset, word in enumerate(key[1:], 1):
                following = set(self._index.get(word, ()))
                found = [p for p in found if p + offset in following]
            self._leaves[key] = found
        return found

    def evaluate(self, node: Node) -> bool:
        match node:
            case Term(word=word):
                return word in self._index
            case Phrase():
                return bool(self.occurrences(node))
            # Plain loops, not all()/any() over a generator: this is the hot path, and the
            # loops make matching 100 rules about 15% faster.
            case And(children):
                for child in children:  # noqa: SIM110
                    if not self.evaluate(child):
                        return False
                return True
            case Or(children):
                for child in children:  # noqa: SIM110
                    if self.evaluate(child):
                        return True
                return False
            case Not(child):
                return not self.evaluate(child)

    def hits(self, node: Node) -> tuple[Hit, ...]:
        """Hits of the terms that make ``node`` (known to be true) true, sorted."""
        found: list[Hit] = []
        for leaf in self._supporting_leaves(node):
            length = len(leaf.words)
            for position in self.occurrences(leaf):
                field = self._field_of(position)
                offsets = self._field_spans(field)
                first = position - self._starts[field]
                start, end = offsets[first][0], offsets[first + length - 1][1]
                found.append(Hit(FIELDS[field], start, end, leaf.text))
        # The same span can support two leaves (``Iran OR "Iran"``); keep one hit per term.
        unique = dict.fromkeys(found)
        return tuple(sorted(unique, key=lambda h: (FIELDS.index(h.field), h.start, h.end, h.term)))

    def _supporting_leaves(self, node: Node) -> Iterable[Leaf]:
        match node:
            case Term() | Phrase():
                yield node
            case And(children):
                for child in children:
                    yield from self._supporting_leaves(child)
            case Or(children):
                for child in children:
                    if self.evaluate(child):
                        yield from self._supporting_leaves(child)
            case Not():
                return

    def _field_of(self, position: int) -> int:
        field = len(self._starts) - 1
        while self._starts[field] > position:
            field -= 1
        return field

    def _field_spans(self, field: int) -> list[tuple[int, int]]:
        if (offsets := self._spans.get(field)) is None:
            offsets = self._spans[field] = spans(self._texts[field])
        return offsets


class RuleSet:
    """Compiled rules, matched against one article at a time."""

    def __init__(self, rules: Sequence[CompiledRule]) -> None:
        self.rules: tuple[CompiledRule, ...] = tuple(rules)
        self._by_id = {rule.spec.id: rule for rule in self.rules}
        if len(self._by_id) != len(self.rules):
            raise ValueError("rule ids must be unique")
        self._vocabulary = frozenset(
            word for rule in self.rules for leaf in iter_leaves(rule.node) for word in leaf.words
        )

    def __len__(self) -> int:
        return len(self.rules)

    def match(self, article: Article) -> list[Match]:
        """The rules the article matches, in rule order, with their hits."""
        document: _Document | None = None
        matches: list[Match] = []
        for rule in self.rules:
            feeds = rule.spec.feeds
            if feeds is not None and article.feed_id not in feeds:
                continue
            if document is None:
                document = _Document((article.title, article.text), self._vocabulary)
            if document.evaluate(rule.node):
                matches.append(Match(rule.spec.id, article, document.hits(rule.node)))
        return matches

    def explain(self, article: Article, rule_id: str) -> str:
        """Why rule ``rule_id`` matches the article or not (see ``explain``).

        Raises KeyError if there is no such rule.
        """
        return explain(self._by_id[rule_id].node, article.title, article.text)


def compile_rules(specs: Sequence[RuleSpec]) -> RuleSet:
    """Parse every rule's query once; raises ``RuleQueryError`` on the first bad one."""
    compiled: list[CompiledRule] = []
    for spec in specs:
        try:
            node = parse_query(spec.query)
        except QuerySyntaxError as e:
            raise RuleQueryError(spec.id, e) from e
        compiled.append(CompiledRule(spec, node))
    return RuleSet(compiled)


def match_text(node: Node, title: str, text: str = "") -> tuple[Hit, ...] | None:
    """Evaluate one parsed query on raw text: its hits if it matches, else None.

    A query that matches by negation alone (``NOT x``) matches with no hits: ``()``.
    """
    document = _Document((title, text), None)
    return document.hits(node) if document.evaluate(node) else None


def explain(node: Node, title: str, text: str = "") -> str:
    """The query as a tree, one clause a line, each marked ✓ (true) or ✗ (false).

    ::

        ✓ AND
          ✓ Iran ×9
          ✗ NOT
            ✓ Russia ×7
    """
    document = _Document((title, text), None)
    lines: list[str] = []

    def walk(n: Node, depth: int) -> None:
        mark = "✓" if document.evaluate(n) else "✗"
        indent = "  " * depth
        match n:
            case Term() | Phrase():
                count = len(document.occurrences(n))
                lines.append(f"{indent}{mark} {render(n)}" + (f" ×{count}" if count else ""))
            case And(children) | Or(children):
                lines.append(f"{indent}{mark} {type(n).__name__.upper()}")
                for child in children:
                    walk(child, depth + 1)
            case Not(child):
                lines.append(f"{indent}{mark} NOT")
                walk(child, depth + 1)

    walk(node, 0)
    return "\n".join(lines)
