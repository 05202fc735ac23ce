"""Compiled rule sets, and matching them against articles.

``compile_rules`` parses and compiles every query once (``program``), and
files each rule in a ``RuleIndex`` under the terms it requires. ``RuleSet.match``
reads an article once (``Document``), fetches from the index the rules the
article can possibly match, evaluates only those, and reports the hits of
each match: the occurrences of the leaves that made the rule true (the
operands of an AND, the true branches of an OR, the close pairs of a NEAR,
never what sits under a NOT), title first. Hits are computed when first
read (``_LazyMatch``).

``match_article`` and ``explain`` evaluate one query on one article, for the
``match`` command and for ``RuleSet.explain``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Protocol

from monitor.errors import QuerySyntaxError
from monitor.matching.ast import FIELDS, Node, render
from monitor.matching.catalog import (
    EntityLookup,
    LazyCatalog,
    UnknownEntity,
    UnknownEntityError,
)
from monitor.matching.compiler import Compiler
from monitor.matching.document import Document
from monitor.matching.explain import explain
from monitor.matching.index import RuleIndex, alternatives, implied
from monitor.matching.parser import parse_query
from monitor.matching.probe import probe
from monitor.matching.program import Occurrence, Program
from monitor.matching.rarity import word_cost
from monitor.model import Article, Hit, Match

__all__ = [
    "CompiledRule",
    "Matcher",
    "RuleQueryError",
    "RuleSet",
    "RuleSpec",
    "compile_query",
    "compile_rules",
    "hits_of",
    "match_article",
]


@dataclass(frozen=True, slots=True)
class RuleSpec:
    """A watch rule as configured."""

    #: Unique rule id.
    id: str
    #: Query text, e.g. "Iran AND Russia AND drones".
    query: str
    #: Feed ids the rule applies to; None for every feed (an empty set means none).
    feeds: frozenset[str] | None = None


class CompiledRule:
    """A rule whose query has been compiled (compared by identity: rule ids are unique)."""

    __slots__ = ("feeds", "order", "probe", "program", "rule", "spec", "sure")

    def __init__(self, spec: RuleSpec, program: Program, order: int) -> None:
        #: The rule as configured.
        self.spec = spec
        #: ``spec.feeds``, one attribute lookup closer (it is read for every candidate).
        self.feeds = spec.feeds
        #: Its compiled query.
        self.program = program
        #: Its place in the rule set (matches are reported in this order).
        self.order = order
        #: Itself: what the index holds is a rule or a ``_SureRule``, and both say which rule.
        self.rule = self
        #: Its ``_SureRule``, once it was filed under keys that imply it.
        self.sure: _SureRule | None = None
        #: What ``RuleSet.match`` tests when the index fetched it (``probe.probe``).
        self.probe: Program = program

    @property
    def node(self) -> Node:
        """The parsed query (parsed again on demand: the rule keeps only its program)."""
        return parse_query(self.spec.query)


class _Holds(Program):
    """The program of a ``_SureRule``: holds on every article it is asked about."""

    __slots__ = ()

    def test(self, doc: Document) -> bool:
        return True


_HOLDS = _Holds()


class _SureRule:
    """A rule as filed under a conjunction of keys that implies it (``index.implied``):
    ``a AND b`` under (a, b). Fetched means matched, its query is not evaluated."""

    __slots__ = ("feeds", "probe", "rule")

    def __init__(self, rule: CompiledRule) -> None:
        self.rule = rule
        self.feeds = rule.feeds
        self.probe: Program = _HOLDS


#: What the index holds.
_Filed = CompiledRule | _SureRule


class RuleQueryError(QuerySyntaxError):
    """A rule's query does not parse or names an unknown entity; ``rule_id`` says which rule."""

    def __init__(self, rule_id: str, error: QuerySyntaxError) -> None:
        super().__init__(f"rule {rule_id!r}: {error.message}", error.query, error.position)
        self.rule_id = rule_id
        #: The underlying error (an ``UnknownEntityError`` for an unknown ``@Name``).
        self.error = error


class Matcher(Protocol):
    """What the pipeline needs from a rule engine."""

    def match(self, article: Article) -> list[Match]:
        """The rules the article matches, in rule order."""
        ...


class RuleSet:
    """Compiled rules, indexed, matched against one article at a time."""

    def __init__(
        self,
        rules: Sequence[CompiledRule],
        *,
        frequencies: Mapping[str, float] | None = None,
        catalog: EntityLookup | None = None,
    ) -> None:
        self.rules: tuple[CompiledRule, ...] = tuple(rules)
        #: The entity catalog the rules were compiled with (None: the shipped one).
        self.catalog = catalog
        self._by_id = {rule.spec.id: rule for rule in self.rules}
        if len(self._by_id) != len(self.rules):
            raise ValueError("rule ids must be unique")
        cost = word_cost(frequencies)
        self._index: RuleIndex[_Filed] = RuleIndex()
        index = self._index
        unsure = False

        def file(filed: _Filed, keys: tuple[str, ...]) -> _Filed:
            nonlocal unsure
            entry = _filed(filed, keys)
            unsure = unsure or entry is filed.rule
            return entry

        for rule in self.rules:
            alts = alternatives(rule.program, cost)
            unsure = alts is None
            index.add(rule, alts, file)
            if unsure:  # fetched under some keys that do not imply it: tested when fetched
                rule.probe = probe(rule.program, index.note_exact)

    def __len__(self) -> int:
        return len(self.rules)

    def match(self, article: Article) -> list[Match]:
        """The rules the article matches, in rule order, with their hits."""
        doc = Document(article)
        feed = article.feed_id
        matched = [
            filed.rule
            for filed in self._index.candidates(doc)
            if (filed.feeds is None or feed in filed.feeds) and filed.probe.test(doc)
        ]
        if len(matched) > 1:
            # A rule filed under several conjunctions may have been fetched more than once.
            matched = sorted(set(matched), key=_order)
        return [_lazy_match(rule.spec.id, article, rule.program, doc) for rule in matched]

    def match_all(self, article: Article) -> list[Match]:
        """Like ``match``, evaluating every rule (no index): the baseline, and a cross-check."""
        doc = Document(article)
        return [
            _lazy_match(rule.spec.id, article, rule.program, doc)
            for rule in self.rules
            if (rule.spec.feeds is None or article.feed_id in rule.spec.feeds)
            and rule.program.test(doc)
        ]

    def unindexed_rule_ids(self) -> list[str]:
        """Rules the index cannot file (satisfied by a NOT alone): evaluated for every article."""
        return [filed.rule.spec.id for filed in self._index.always]

    def explain(self, article: Article, rule_id: str) -> str:
        """Why rule ``rule_id`` matches the article or not (see ``explain.explain``).

        Raises KeyError if there is no such rule.
        """
        return explain(self._by_id[rule_id].node, article, self.catalog)


def _order(rule: CompiledRule) -> int:
    return rule.order


def _filed(filed: _Filed, keys: tuple[str, ...]) -> _Filed:
    """What to file a rule under a conjunction of keys: its ``_SureRule`` (one per rule)
    where the keys imply the rule, else the rule."""
    rule = filed.rule
    if not implied(rule.program, keys):
        return rule
    if rule.sure is None:
        rule.sure = _SureRule(rule)
    return rule.sure


class _LazyMatch(Match):
    """A ``Match`` whose hits are computed on first access, then kept.

    With many rules an article can match hundreds of them, and finding the
    hits (character offsets, per leaf and field) costs more than deciding the
    match. Hits are needed when an alert is rendered; a caller that only counts
    or filters matches never pays for them. The value is the same as an eager
    computation: ``hits`` is a read-only property over the article's
    ``Document``, which the match keeps alive until the hits are read.
    """

    __slots__ = ("_doc", "_hits", "_program")
    _doc: Document | None
    _hits: tuple[Hit, ...] | None
    _program: Program | None

    def __init__(
        self,
        rule_id: str,
        article: Article,
        hits: tuple[Hit, ...] | None = None,
        program: Program | None = None,
        doc: Document | None = None,
    ) -> None:
        # ``hits`` given (as dataclasses.replace does) makes an eager match.
        object.__setattr__(self, "rule_id", rule_id)
        object.__setattr__(self, "article", article)
        object.__setattr__(self, "_program", program)
        object.__setattr__(self, "_doc", doc)
        object.__setattr__(self, "_hits", hits)

    @property
    def hits(self) -> tuple[Hit, ...]:
        hits: tuple[Hit, ...] | None = self._hits
        if hits is None:
            assert self._program is not None and self._doc is not None
            hits = hits_of(self._program, self._doc)
            object.__setattr__(self, "_hits", hits)
            object.__setattr__(self, "_doc", None)  # the document is no longer needed
        return hits

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Match):
            return NotImplemented
        return (self.rule_id, self.article, self.hits) == (other.rule_id, other.article, other.hits)

    def __hash__(self) -> int:
        return hash((self.rule_id, self.article, self.hits))

    def __repr__(self) -> str:
        return f"Match(rule_id={self.rule_id!r}, article={self.article!r}, hits={self.hits!r})"

    def __reduce__(self) -> tuple[type[Match], tuple[str, Article, tuple[Hit, ...]]]:
        return Match, (self.rule_id, self.article, self.hits)


_new = object.__new__
_set_rule_id = Match.__dict__["rule_id"].__set__
_set_article = Match.__dict__["article"].__set__
_set_program = _LazyMatch.__dict__["_program"].__set__
_set_doc = _LazyMatch.__dict__["_doc"].__set__
_set_hits = _LazyMatch.__dict__["_hits"].__set__


def _lazy_match(rule_id: str, article: Article, program: Program, doc: Document) -> Match:
    """A ``_LazyMatch``, built through its slots: half the cost of the frozen ``__init__``,
    which counts when an article matches hundreds of rules."""
    match = _new(_LazyMatch)
    _set_rule_id(match, rule_id)
    _set_article(match, article)
    _set_program(match, program)
    _set_doc(match, doc)
    _set_hits(match, None)
    return match


def compile_query(
    query: str | Node, catalog: EntityLookup | None = None, compiler: Compiler | None = None
) -> Program:
    """Parse (if text) and compile one query; raises ``QuerySyntaxError``.

    An unknown ``@Name`` raises ``UnknownEntityError``, a ``QuerySyntaxError``
    whose position is the ``@``. ``catalog`` None means the shipped catalog,
    loaded only if the query names an entity.
    """
    node = parse_query(query) if isinstance(query, str) else query
    if compiler is None:
        compiler = Compiler(LazyCatalog(catalog), word_cost(None))
    try:
        return compiler.compile(node)
    except UnknownEntity as e:
        text = query if isinstance(query, str) else render(query)
        position = e.position if isinstance(query, str) else max(0, text.find("@" + e.name))
        raise UnknownEntityError(e.name, text, position) from None


def compile_rules(
    specs: Sequence[RuleSpec],
    catalog: EntityLookup | None = None,
    *,
    frequencies: Mapping[str, float] | None = None,
) -> RuleSet:
    """Compile and index every rule; raises ``RuleQueryError`` on the first bad one.

    ``catalog`` resolves ``@Name`` (None: the shipped catalog). ``frequencies``
    optionally gives the share of articles that hold each inflection key, to
    choose the rarest terms better than the built-in estimate (``rarity``).
    """
    compiler = Compiler(LazyCatalog(catalog), word_cost(frequencies))
    compiled: list[CompiledRule] = []
    for order, spec in enumerate(specs):
        try:
            program = compile_query(spec.query, compiler=compiler)
        except QuerySyntaxError as e:
            raise RuleQueryError(spec.id, e) from e
        compiled.append(CompiledRule(spec, program, order))
    return RuleSet(compiled, frequencies=frequencies, catalog=catalog)


def match_article(
    query: str | Node, article: Article, catalog: EntityLookup | None = None
) -> tuple[Hit, ...] | None:
    """Evaluate one query on one article: its hits if it matches, else None.

    A query that matches by negation alone (``NOT x``) matches with no hits: ``()``.
    """
    program = compile_query(query, catalog)
    doc = Document(article)
    return hits_of(program, doc) if program.test(doc) else None


def hits_of(program: Program, doc: Document) -> tuple[Hit, ...]:
    """The hits of a program known to hold on ``doc``: unique, in field then offset order."""
    found: list[Occurrence] = []
    program.support(doc, found)
    hits: dict[Hit, None] = {}
    for field, start, end, term in sorted(set(found)):
        hits[Hit(FIELDS[field], start, end, term)] = None
    return tuple(hits)
