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
    Near,
    Node,
    Not,
    Or,
    Phrase,
    Prefix,
    Term,
)
from monitor.matching.catalog import AliasLike, EntityLookup, UnknownEntity, shadows_of
from monitor.matching.document import DEFAULT_FIELDS
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
from monitor.matching.text import STEMS, raw_words

__all__ = ["PREFIX_COST", "Compiler"]


class Compiler:
    """Builds programs from trees, sharing leaves; one per rule set."""

    def __init__(self, catalog: EntityLookup | None, cost: Callable[[str], float]) -> None:
        self.catalog = catalog
        #: Estimated chance that an article holds a word with this inflection key.
        self.word_cost = cost
        self._leaves: dict[tuple[object, ...], Leaf] = {}

    def compile(self, node: Node, fields: tuple[int, ...] = DEFAULT_FIELDS) -> Program:
        """The program of ``node``; raises ``UnknownEntity`` for an entity not in the catalog."""
        match node:
            case Term() | Phrase() | Prefix() | Case() | Entity():
                return self.leaf(node, fields)
            case And(children):
                compiled = [self.compile(c, fields) for c in children]
                # Cheap tests first, then the likeliest to fail; NOT (likely true) last.
                compiled.sort(key=lambda p: (isinstance(p, NotProgram), p.expense(), p.cost()))
                return AndProgram(tuple(compiled))
            case Or(children):
                return OrProgram(tuple(self.compile(c, fields) for c in children))
            case Not(child):
                return NotProgram(self.compile(child, fields))
            case Near(left, right, distance):
                a, b = self.compile(left, fields), self.compile(right, fields)
                assert isinstance(a, Leaf | OrProgram) and isinstance(b, Leaf | OrProgram)
                return NearProgram(a, b, distance)
            case Field(name, child):
                return self.compile(child, (FIELDS.index(name),))

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
                return _costed(StemLeaf(fields, text, intern(STEMS[node.word])), self)
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
                aliases = tuple(
                    _costed(leaf, self) for leaf in _alias_leaves(entity.aliases, fields)
                )
                # Places only: "Sudan" inside "South Sudan" is not Sudan (see catalog).
                shadows = tuple(_alias_leaves(shadows_of(self.catalog, entity), fields))
                return _costed(EntityLeaf(fields, node.text, aliases, shadows), self)


def _alias_leaves(aliases: Iterable[AliasLike], fields: tuple[int, ...]) -> Iterator[Leaf]:
    """A phrase per alias, case-kept for a case-sensitive one (aliases without words skipped)."""
    for alias in aliases:
        alias_words = raw_words(alias.text)
        if not alias_words:
            continue
        if alias.case_sensitive:
            # Case kept, with the allowance for capitals amid capitals (see program).
            yield case_alias_leaf(fields, alias.text, tuple(alias_words))
        else:
            yield PhraseLeaf(fields, alias.text, tuple(Phrase.of(alias.text).words))


#: Estimated chance that an article holds some word starting with a given 3-letter prefix.
PREFIX_COST = 0.3


def _costed(leaf: Leaf, compiler: Compiler) -> Leaf:
    if isinstance(leaf, EntityLeaf):
        leaf.p = min(1.0, sum(alias.p for alias in leaf.aliases))
    elif isinstance(leaf, PrefixLeaf):
        leaf.p = PREFIX_COST
    elif isinstance(leaf, StemLeaf | PhraseLeaf | CaseLeaf):
        keys = leaf_keys(leaf)
        # Words of a phrase rarely all occur, let alone in a row: halve per extra word.
        leaf.p = min(map(compiler.word_cost, keys)) * 0.5 ** (len(keys) - 1)
    return leaf
