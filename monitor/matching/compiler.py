"""Syntax tree -> ``Program``: the compiler, shared by all the rules of a rule set.

Fields are pushed down into the leaves (``title:(a b)`` becomes two
title-only leaves), entities become an ``EntityLeaf`` over their aliases
(each a phrase, case-sensitive or not, a case-sensitive one also in capitals amid
capitals; for a place, also its shadows: the
longer aliases of other entities that contain its aliases, inside which its
own do not count), the children of an AND are ordered so that the rarest
comes first and the NOTs last (an AND fails fast), and
every leaf is shared between the rules that use it: a million rules over a
vocabulary of thousands of words hold one leaf object per distinct word and
field, which keeps a compiled rule small.

A compiler compiles for the articles of one language (``languages.Folding``; English
and unknown articles share one): a term is its inflection key in that language,
``lang:`` a constant where the language decides it (``lang:es`` is ``TRUE`` for Spanish
articles, ``FALSE`` for the others; folded away: ``lang:es AND x`` is ``FALSE`` or
``x``), and an entity holds the aliases of no language (the English catalog) and those
of that language, a one-word alias of a language with a stemmer folded as a term.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterable, Iterator

from monitor.matching.ast import (
    FIELDS,
    And,
    Case,
    Entity,
    Field,
    Lang,
    Near,
    Node,
    Not,
    Or,
    Phrase,
    Prefix,
    Term,
)
from monitor.matching.catalog import (
    AliasLike,
    EntityLookup,
    UnknownEntity,
    foreign_aliases_of,
    shadows_of,
)
from monitor.matching.document import DEFAULT_FIELDS
from monitor.matching.language_test import FALSE, TRUE, Constant, LangTest
from monitor.matching.languages import ENGLISH, Folding
from monitor.matching.near import NearProgram
from monitor.matching.program import (
    AndProgram,
    CaseLeaf,
    EntityLeaf,
    Leaf,
    NotProgram,
    OrProgram,
    PhraseLeaf,
    PrefixLeaf,
    Program,
    StemLeaf,
    case_alias_leaf,
    leaf_keys,
)
from monitor.matching.text import raw_words

__all__ = ["PREFIX_COST", "Compiler"]


class Compiler:
    """Builds programs from trees, sharing leaves; one per rule set."""

    def __init__(
        self,
        catalog: EntityLookup | None,
        cost: Callable[[str], float],
        folding: Folding = ENGLISH,
    ) -> None:
        self.catalog = catalog
        #: Estimated chance that an article holds a word with this inflection key.
        self.word_cost = cost
        #: The language of the articles compiled for (its inflection keys).
        self.folding = folding
        self._leaves: dict[tuple[object, ...], Leaf] = {}

    def compile(self, node: Node, fields: tuple[int, ...] = DEFAULT_FIELDS) -> Program:
        """The program of ``node``; raises ``UnknownEntity`` for an entity not in the catalog."""
        match node:
            case Term() | Phrase() | Prefix() | Case() | Entity():
                return self.leaf(node, fields)
            case Lang(codes):
                return self.lang(codes)
            case And(children):
                compiled = [self.compile(c, fields) for c in children]
                if FALSE in compiled:
                    return FALSE
                compiled = [c for c in compiled if c is not TRUE]
                if len(compiled) < 2:
                    return compiled[0] if compiled else TRUE
                # Cheap tests first, then the likeliest to fail; NOT (likely true) last.
                compiled.sort(key=lambda p: (isinstance(p, NotProgram), p.expense(), p.cost()))
                return AndProgram(tuple(compiled))
            case Or(children):
                compiled = [self.compile(c, fields) for c in children]
                if TRUE in compiled:
                    return TRUE
                compiled = [c for c in compiled if c is not FALSE]
                if len(compiled) < 2:
                    return compiled[0] if compiled else FALSE
                return OrProgram(tuple(compiled))
            case Not(child):
                negated = self.compile(child, fields)
                if isinstance(negated, Constant):
                    return FALSE if negated.value else TRUE
                return NotProgram(negated)
            case Near(left, right, distance):
                a, b = self.compile(left, fields), self.compile(right, fields)
                assert isinstance(a, Leaf | OrProgram) and isinstance(b, Leaf | OrProgram)
                return NearProgram(a, b, distance)
            case Field(name, child):
                return self.compile(child, (FIELDS.index(name),))

    def lang(self, codes: tuple[str, ...]) -> Program:
        """``lang:``: decided here for one language; English and unknown articles share a
        compiler, so ``lang:en`` is tested on the article there."""
        language = self.folding.language
        if language:
            return TRUE if language in codes else FALSE
        return LangTest(("en",)) if "en" in codes else FALSE

    def leaf(self, node: Term | Phrase | Prefix | Case | Entity, fields: tuple[int, ...]) -> Leaf:
        cache_key = (type(node), node.text, fields)
        found = self._leaves.get(cache_key)
        if found is None:
            found = self._leaves[cache_key] = self._new_leaf(node, fields)
        return found

    def _new_leaf(
        self, node: Term | Phrase | Prefix | Case | Entity, fields: tuple[int, ...]
    ) -> Leaf:
        intern = sys.intern
        match node:
            case Term(text):
                key = intern(self.folding.keys[node.word])
                return _costed(StemLeaf(fields, text, key), self)
            case Phrase(words, text):
                return _costed(PhraseLeaf(fields, text, tuple(map(intern, words))), self)
            case Prefix(text):
                return _costed(PrefixLeaf(fields, text, intern(node.prefix)), self)
            case Case(text):
                return _costed(CaseLeaf(fields, text, tuple(map(intern, node.words))), self)
            case Entity(name, position):
                entity = self.catalog.get(name) if self.catalog is not None else None
                if entity is None:
                    raise UnknownEntity(name, position)
                language = self.folding.language
                foreign = foreign_aliases_of(self.catalog, entity, language)
                # A name of the article's language replaces the same English one (its case
                # rule: Portuguese "Peru" is case-sensitive, "peru" is a turkey).
                own = {tuple(Phrase.of(a.text).words) for a in foreign}
                names = (
                    *(a for a in entity.aliases if tuple(Phrase.of(a.text).words) not in own),
                    *foreign,
                )
                aliases = tuple(
                    _costed(leaf, self) for leaf in _alias_leaves(names, fields, self.folding)
                )
                # Places only: "Sudan" inside "South Sudan" is not Sudan (see catalog).
                shadows = tuple(
                    _alias_leaves(shadows_of(self.catalog, entity, language), fields, None)
                )
                return _costed(EntityLeaf(fields, node.text, aliases, shadows), self)


def _alias_leaves(
    aliases: Iterable[AliasLike], fields: tuple[int, ...], folding: Folding | None
) -> Iterator[Leaf]:
    """A phrase per alias of no language or of ``folding``'s (None: every alias given),
    case-kept for a case-sensitive one; a one-word alias of a language with a stemmer is
    a term of that language (aliases without words skipped)."""
    for alias in aliases:
        language = getattr(alias, "language", "")
        if folding is not None and language and language != folding.language:
            continue
        alias_words = raw_words(alias.text)
        if not alias_words:
            continue
        if alias.case_sensitive:
            # Case kept, with the allowance for capitals amid capitals (see program).
            yield case_alias_leaf(fields, alias.text, tuple(alias_words))
            continue
        words = Phrase.of(alias.text).words
        if language and folding is not None and folding.stemmed and len(words) == 1:
            yield StemLeaf(fields, alias.text, sys.intern(folding.keys[words[0]]))
        else:
            yield PhraseLeaf(fields, alias.text, tuple(words))


#: Estimated chance that an article holds some word starting with a given 3-letter prefix.
PREFIX_COST = 0.3


def _costed(leaf: Leaf, compiler: Compiler) -> Leaf:
    if isinstance(leaf, EntityLeaf):
        leaf.p = min(1.0, sum(alias.p for alias in leaf.aliases))
    elif isinstance(leaf, PrefixLeaf):
        leaf.p = PREFIX_COST
    elif isinstance(leaf, StemLeaf | PhraseLeaf | CaseLeaf):
        keys = leaf_keys(leaf, compiler.folding)
        # Words of a phrase rarely all occur, let alone in a row: halve per extra word.
        leaf.p = min(map(compiler.word_cost, keys)) * 0.5 ** (len(keys) - 1)
    return leaf
