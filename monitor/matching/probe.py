"""The quick test of a fetched rule: its word clauses as index keys, then the rest.

A rule the index fetches is mostly an AND whose children are words: terms of
title and text (their inflection key is among the article's keys), exact words
(``"drones"``: their exact key ``=drones``), entities all of whose aliases are
such words, and OR-groups of those. ``probe`` turns each such child into the
keys that make it hold, so that the rule is tested by set lookups on the
article's key set (``Document.body_stems``, to which ``RuleIndex.keys_of``
adds the exact keys), with no call per leaf; the other children (phrases,
NEAR, wildcards, fields, NOT, ``case:``) are tested as compiled. The answer is
the compiled program's, on an article whose keys the index has read.
"""

from __future__ import annotations

from collections.abc import Callable

from monitor.matching.document import DEFAULT_FIELDS, Document
from monitor.matching.index import exact_key
from monitor.matching.near import NearProgram
from monitor.matching.program import (
    AndProgram,
    EntityLeaf,
    Leaf,
    NotProgram,
    OrProgram,
    PhraseLeaf,
    Program,
    StemLeaf,
)

__all__ = ["KeyAnd", "clause_keys", "has_leaf", "probe"]


class KeyAnd(Program):
    """An AND: keys that must all be there, groups of keys of which one must be, the rest."""

    __slots__ = ("groups", "required", "rest")

    def __init__(
        self,
        required: tuple[str, ...],
        groups: tuple[tuple[str, ...], ...],
        rest: tuple[Program, ...],
    ) -> None:
        self.required = required
        self.groups = groups
        self.rest = rest

    def test(self, doc: Document) -> bool:
        keys = doc.body_stems
        for key in self.required:
            if key not in keys:
                return False
        for group in self.groups:
            if keys.isdisjoint(group):
                return False
        for child in self.rest:  # noqa: SIM110 - hot path
            if not child.test(doc):
                return False
        return True


def clause_keys(program: Program, words: bool = False) -> tuple[str, ...] | None:
    """The keys of which the article must hold one for ``program`` to hold (and holding
    one is enough), or None if ``program`` is not such a clause. ``words``: the index
    keys exact words by the words themselves (``RuleIndex.words``)."""
    if program.__class__ is StemLeaf:
        assert isinstance(program, StemLeaf)
        return (program.key,) if program.fields is DEFAULT_FIELDS else None
    if program.__class__ is PhraseLeaf:
        assert isinstance(program, PhraseLeaf)
        if program.fields is DEFAULT_FIELDS and len(program.words) == 1:
            word = program.words[0]
            return (word if words else exact_key(word),)
        return None
    if isinstance(program, EntityLeaf):
        if program.shadows or program.fields is not DEFAULT_FIELDS:
            return None
        return _union(program.aliases, words)
    if isinstance(program, OrProgram):
        return _union(program.children, words)
    return None


def _union(children: tuple[Program, ...], words: bool) -> tuple[str, ...] | None:
    found: dict[str, None] = {}
    for child in children:
        keys = clause_keys(child, words)
        if keys is None:
            return None
        found.update(dict.fromkeys(keys))
    return tuple(found)


def has_leaf(program: Program, kinds: type[Leaf] | tuple[type[Leaf], ...]) -> bool:
    """Whether ``program`` has a leaf of ``kinds`` (entity aliases and shadows included):
    ``StemLeaf`` reads the inflection keys of title and text, ``PrefixLeaf`` adds the
    wildcard keys to them."""
    if isinstance(program, kinds):
        return True
    if isinstance(program, AndProgram | OrProgram):
        return any(has_leaf(child, kinds) for child in program.children)
    if isinstance(program, NotProgram):
        return has_leaf(program.child, kinds)
    if isinstance(program, NearProgram):
        return has_leaf(program.left, kinds) or has_leaf(program.right, kinds)
    if isinstance(program, EntityLeaf):
        return any(has_leaf(leaf, kinds) for leaf in (*program.aliases, *program.shadows))
    return False


def probe(program: Program, note: Callable[[str], None], words: bool = False) -> Program:
    """The quick form of a rule's program (``program`` itself when there is none).

    ``note(key)`` is told every key used, so that the index reads the exact ones from
    articles; ``words`` as for ``clause_keys``.
    """
    children = program.children if isinstance(program, AndProgram) else (program,)
    required: list[str] = []
    groups: list[tuple[str, ...]] = []
    rest: list[Program] = []
    for child in children:
        keys = clause_keys(child, words)
        if keys is None:
            rest.append(child)
        elif len(keys) == 1:
            required.append(keys[0])
        else:
            groups.append(keys)
    if not required and not groups:
        return program
    for key in (*required, *(k for group in groups for k in group)):
        note(key)
    groups.sort(key=len)
    return KeyAnd(tuple(dict.fromkeys(required)), tuple(groups), tuple(rest))
