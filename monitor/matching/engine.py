"""Compiled rule sets, and matching them against articles.

``compile_rules`` parses and compiles every query once (``program``), and
files each rule, by number, in a ``RuleIndex`` under the terms it requires.
``RuleSet.match`` reads an article once (``Document``), fetches from the index
the numbers of the rules the article can possibly match, takes those the
index decided (their keys imply them) and tests the others (``probe``: their
word clauses as key lookups, then the rest as compiled), and reports the hits
of each match: the occurrences of the leaves that made the rule true (the
operands of an AND, the true branches of an OR, the close pairs of a NEAR,
never what sits under a NOT), title first. Hits are computed when first
read (``_LazyMatch``).

Rules are compiled per language (``compiled``): an article is matched with the rules
compiled for its language (``Article.language``; English and unknown share the set
compiled up front, the others are compiled on the first article in them).

``match_article`` and ``explain`` evaluate one query on one article, for the
``match`` command and for ``RuleSet.explain``.
"""

from __future__ import annotations

import bisect
import gc
from collections import deque
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from itertools import repeat
from operator import invert
from typing import Protocol

from monitor.errors import QuerySyntaxError
from monitor.matching.ast import FIELDS, Node, render
from monitor.matching.catalog import (
    EntityLookup,
    LazyCatalog,
    UnknownEntity,
    UnknownEntityError,
)
from monitor.matching.compiled import Compiled, compile_for
from monitor.matching.compiler import Compiler
from monitor.matching.document import Document
from monitor.matching.explain import explain
from monitor.matching.languages import ENGLISH, folding, language_code
from monitor.matching.parser import parse_query
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

    __slots__ = ("feeds", "order", "program", "spec")

    def __init__(self, spec: RuleSpec, program: Program, order: int) -> None:
        #: The rule as configured.
        self.spec = spec
        #: ``spec.feeds``.
        self.feeds = spec.feeds
        #: Its compiled query.
        self.program = program
        #: Its place in the rule set it was compiled for.
        self.order = order

    @property
    def node(self) -> Node:
        """The parsed query (parsed again on demand: the rule keeps only its program)."""
        return parse_query(self.spec.query)


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
    """Compiled rules, indexed, matched against one article at a time.

    Rules are known by number (their place in ``rules``, the order matches are
    reported in): the index holds numbers, and per-rule data sits in lists.
    """

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
        self._ids = [rule.spec.id for rule in self.rules]
        self._programs = [rule.program for rule in self.rules]
        self._feeds = [rule.spec.feeds for rule in self.rules]
        self._any_feeds = any(feeds is not None for feeds in self._feeds)
        self._cost = word_cost(frequencies)
        #: The rules compiled for English and unknown articles.
        self._default = Compiled(self._programs, ENGLISH, self._cost)
        self._index = self._default.index
        #: Article language (as the article gives it) -> the rules compiled for it.
        self._languages: dict[str, Compiled] = {"": self._default, "en": self._default}

    def __len__(self) -> int:
        return len(self.rules)

    # The English set's parts, under the names they had before languages (tests and the
    # floor benchmark read them).
    @property
    def _probes(self) -> list[Program]:
        return self._default.probes

    @property
    def _words(self) -> bool:
        return self._default.words

    @property
    def _stems(self) -> bool:
        return self._default.stems

    def _document(self, article: Article) -> Document:
        return self.compiled(article.language).document(article)

    def compiled(self, language: str) -> Compiled:
        """The rules compiled for the articles of ``language`` (compiled on first use)."""
        found = self._languages.get(language)
        if found is None:
            code = language_code(language)
            found = self._languages.get(code)
            if found is None:
                queries = [rule.spec.query for rule in self.rules]
                found = compile_for(queries, self.catalog, self._cost, folding(code))
                self._languages[code] = found
            self._languages[language] = found
        return found

    def prepare(self, languages: Iterable[str]) -> None:
        """Compile the rules for ``languages`` now rather than on their first article."""
        for language in languages:
            self.compiled(language)

    def languages(self) -> list[str]:
        """The languages the rules are compiled for so far ("" for English and unknown)."""
        return sorted({c.folding.language for c in self._languages.values()})

    def match(self, article: Article) -> list[Match]:
        """The rules the article matches, in rule order, with their hits."""
        compiled = self._languages.get(article.language) or self.compiled(article.language)
        doc = compiled.document(article)
        found = compiled.index.candidates(doc)
        if not found:
            return []
        entries = sorted(set(found))
        cut = bisect.bisect_left(entries, 0)
        if cut:  # rules to test (negative entries), unless already matched
            sure = entries[cut:]
            decided = set(sure)
            probes = compiled.probes
            if self._any_feeds:
                tested = [
                    n
                    for n in map(invert, entries[:cut])
                    if n not in decided and self._for_feed(n, article) and probes[n].test(doc)
                ]
            else:
                tested = [
                    n
                    for n in map(invert, entries[:cut])
                    if n not in decided and probes[n].test(doc)
                ]
            matched = sorted(sure + tested) if tested else sure
        else:
            matched = entries
        if self._any_feeds:
            feeds, feed = self._feeds, article.feed_id
            matched = [n for n in matched if feeds[n] is None or feed in feeds[n]]  # type: ignore[operator]
        return _lazy_matches(article, matched, _Source(self._ids, compiled.programs, doc))

    def _for_feed(self, number: int, article: Article) -> bool:
        feeds = self._feeds[number]
        return feeds is None or article.feed_id in feeds

    def match_all(self, article: Article) -> list[Match]:
        """Like ``match``, evaluating every rule (no index): the baseline, and a cross-check."""
        compiled = self.compiled(article.language)
        doc = Document(article, folding=compiled.folding)
        programs = compiled.programs
        matched = [
            number
            for number, rule in enumerate(self.rules)
            if (rule.spec.feeds is None or article.feed_id in rule.spec.feeds)
            and programs[number].test(doc)
        ]
        return _lazy_matches(article, matched, _Source(self._ids, programs, doc))

    def fetched_ids(self, article: Article) -> list[str]:
        """The rules the index fetches for the article (matched or to be tested), in rule
        order: what the index narrows the rule set to."""
        compiled = self.compiled(article.language)
        found = {~e if e < 0 else e for e in compiled.index.candidates(compiled.document(article))}
        return [self._ids[n] for n in sorted(found)]

    def unindexed_rule_ids(self) -> list[str]:
        """Rules the index cannot file (satisfied by a NOT alone): evaluated for every article."""
        return [self._ids[~entry] for entry in self._index.always]

    def explain(self, article: Article, rule_id: str) -> str:
        """Why rule ``rule_id`` matches the article or not (see ``explain.explain``).

        Raises KeyError if there is no such rule.
        """
        return explain(self._by_id[rule_id].node, article, self.catalog)


class _Source:
    """What the matches of one article read their rule id, article and hits from: the rule
    set's ids and programs and the article's ``Document`` (one per article, shared)."""

    __slots__ = ("doc", "ids", "programs")

    def __init__(self, ids: list[str], programs: list[Program], doc: Document) -> None:
        self.ids = ids
        self.programs = programs
        self.doc = doc


_set_rule_id = Match.__dict__["rule_id"].__set__
_get_rule_id = Match.__dict__["rule_id"].__get__
_set_article = Match.__dict__["article"].__set__
_get_article = Match.__dict__["article"].__get__


class _LazyMatch(Match):
    """A ``Match`` whose hits are computed on first access, then kept.

    With many rules an article can match hundreds of them, and finding the
    hits (character offsets, per leaf and field) costs more than deciding the
    match. Hits are needed when an alert is rendered; a caller that only counts
    or filters matches never pays for them. The value is the same as an eager
    computation: ``hits`` is a read-only property over the article's
    ``Document``, which the match keeps alive until the hits are read.

    A match made by ``RuleSet.match`` holds only its rule's number and the
    article's ``_Source`` (shared by its matches): its rule id and article are
    read from there, so that making hundreds of matches sets two slots each.
    """

    __slots__ = ("_hits", "_number", "_source")
    _hits: tuple[Hit, ...] | None
    _number: int
    _source: _Source | None

    def __init__(
        self,
        rule_id: str,
        article: Article,
        hits: tuple[Hit, ...] | None = None,
        number: int = -1,
        source: _Source | None = None,
    ) -> None:
        # ``hits`` given (as dataclasses.replace does) makes an eager match.
        _set_rule_id(self, rule_id)
        _set_article(self, article)
        object.__setattr__(self, "_number", number)
        object.__setattr__(self, "_source", source)
        object.__setattr__(self, "_hits", hits)

    @property
    def rule_id(self) -> str:
        source = self._source
        return _get_rule_id(self, Match) if source is None else source.ids[self._number]

    @property
    def article(self) -> Article:
        source = self._source
        return _get_article(self, Match) if source is None else source.doc.article

    @property
    def hits(self) -> tuple[Hit, ...]:
        try:
            hits: tuple[Hit, ...] | None = self._hits
        except AttributeError:  # not set by ``_lazy_matches``
            hits = None
        if hits is None:
            source = self._source
            assert source is not None
            hits = hits_of(source.programs[self._number], source.doc)
            # The document is no longer needed: what was read from it moves here.
            _set_rule_id(self, source.ids[self._number])
            _set_article(self, source.doc.article)
            object.__setattr__(self, "_hits", hits)
            object.__setattr__(self, "_source", None)
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
#: Runs an iterator to its end, in C, keeping nothing.
_drain: Callable[[Iterable[object]], None] = deque[object](maxlen=0).extend
_set_number = _LazyMatch.__dict__["_number"].__set__
_set_source = _LazyMatch.__dict__["_source"].__set__


def _lazy_matches(article: Article, numbers: list[int], source: _Source) -> list[Match]:
    """A ``_LazyMatch`` for each rule of ``numbers``, one slot at a time over all of them:
    each pass is a ``map`` that runs in C, with no Python call per match."""
    matches: list[Match] = list(map(_new, repeat(_LazyMatch, len(numbers))))
    _drain(map(_set_number, matches, numbers))
    _drain(map(_set_source, matches, repeat(source)))
    return matches


def compile_query(
    query: str | Node,
    catalog: EntityLookup | None = None,
    compiler: Compiler | None = None,
    *,
    language: str = "",
) -> Program:
    """Parse (if text) and compile one query for articles in ``language``; raises
    ``QuerySyntaxError``.

    An unknown ``@Name`` raises ``UnknownEntityError``, a ``QuerySyntaxError``
    whose position is the ``@``. ``catalog`` None means the shipped catalog,
    loaded only if the query names an entity.
    """
    node = parse_query(query) if isinstance(query, str) else query
    if compiler is None:
        compiler = Compiler(LazyCatalog(catalog), word_cost(None), folding(language))
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

    The cyclic garbage collector is paused meanwhile: compiling a large rule set makes
    millions of objects that all live on, and each collection would walk all of them
    again (with a million rules, that doubled the compile time).
    """
    paused = gc.isenabled()
    gc.disable()
    try:
        compiler = Compiler(LazyCatalog(catalog), word_cost(frequencies))
        compiled: list[CompiledRule] = []
        for order, spec in enumerate(specs):
            try:
                program = compile_query(spec.query, compiler=compiler)
            except QuerySyntaxError as e:
                raise RuleQueryError(spec.id, e) from e
            compiled.append(CompiledRule(spec, program, order))
        return RuleSet(compiled, frequencies=frequencies, catalog=catalog)
    finally:
        if paused:
            gc.enable()


def match_article(
    query: str | Node, article: Article, catalog: EntityLookup | None = None
) -> tuple[Hit, ...] | None:
    """Evaluate one query on one article: its hits if it matches, else None.

    A query that matches by negation alone (``NOT x``) matches with no hits: ``()``.
    """
    program = compile_query(query, catalog, language=article.language)
    doc = Document(article, folding=folding(article.language))
    return hits_of(program, doc) if program.test(doc) else None


def hits_of(program: Program, doc: Document) -> tuple[Hit, ...]:
    """The hits of a program known to hold on ``doc``: unique, in field then offset order."""
    found: list[Occurrence] = []
    program.support(doc, found)
    hits: dict[Hit, None] = {}
    for field, start, end, term in sorted(set(found)):
        hits[Hit(FIELDS[field], start, end, term)] = None
    return tuple(hits)
