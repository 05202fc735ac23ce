"""The query syntax tree, and its canonical text.

Leaves carry the text as written (reported in hits) and the folded form the
matcher compares:

- ``Term``: one word; matches its inflections (``drone`` ~ drones).
- ``Phrase``: quoted words in a row, exact (no inflection folding).
- ``Prefix``: ``drone*``, any word starting with the folded prefix.
- ``Case``: ``case:US``, words compared with their case (accents still folded).
- ``Entity``: ``@Iran``, resolved through the entity catalog when rules compile.
- ``Lang``: ``lang:es``, the article is in one of these languages (not a word: it
  looks at ``Article.language``, and it decides which language the rule's terms fold in).

Inner nodes: ``And``, ``Or`` (n-ary, at least two children), ``Not``,
``Near`` (two operands within ``distance`` words) and ``Field`` (restricts the
leaves under it to one field). Every consumer dispatches with ``match``.

``render`` writes the canonical text: explicit operators, parentheses only
where precedence needs them. ``parse_query(render(node)) == node`` for every
tree the parser can produce.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import TypeAlias

from monitor.matching.text import query_words, raw_words

__all__ = [
    "FIELDS",
    "OPERATORS",
    "And",
    "Case",
    "Entity",
    "Field",
    "Lang",
    "Leaf",
    "Near",
    "Node",
    "Not",
    "Or",
    "Phrase",
    "Prefix",
    "Term",
    "is_near",
    "iter_leaves",
    "iter_nodes",
    "matches_empty",
    "render",
]

#: Words that are operators when written in upper case (lower case, they are words).
OPERATORS = frozenset({"AND", "OR", "NOT"})
#: Fields a query can name, in the order hits are reported.
FIELDS = ("title", "text", "author", "url", "source")
#: Minimum number of characters before the ``*`` of a wildcard.
MIN_PREFIX = 3
#: Characters a bare term cannot contain; within quotes they are ordinary.
_SPECIAL = frozenset('()"*')
#: Bare-word prefixes the lexer reads as a field (``title:``), as ``case:`` or ``lang:``.
_FIELD_PREFIXES = tuple(f"{name}:" for name in (*FIELDS, "case", "lang"))
#: A language code of ``lang:``: ISO 639-1 (``es``) or -3 (``fil``), lower case.
LANGUAGE_CODE = re.compile(r"[a-z]{2,3}")


def is_near(text: str) -> bool:
    """Whether a bare word is spelled as the proximity operator (``NEAR``, ``NEAR/n``)."""
    return text == "NEAR" or text.startswith("NEAR/")


@dataclass(frozen=True, slots=True)
class Term:
    """One word, matched whole, case, accents and English inflections folded."""

    #: The term as written in the query, e.g. "Drones".
    text: str
    #: Its folded form, e.g. "drones"; derived from ``text``.
    word: str = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        folded = query_words(self.text)
        if len(folded) != 1:
            raise ValueError(f"a Term is exactly one word, not {self.text!r}; use Phrase")
        object.__setattr__(self, "word", folded[0])


@dataclass(frozen=True, slots=True)
class Phrase:
    """Words that must follow one another in the same field, exactly (no inflections)."""

    #: Folded words, in order, e.g. ("white", "house").
    words: tuple[str, ...]
    #: The phrase as written between the quotes, e.g. "White House".
    text: str

    def __post_init__(self) -> None:
        if not self.words or not all(self.words):
            raise ValueError("a Phrase needs at least one non-empty word")

    @classmethod
    def of(cls, text: str) -> Phrase:
        """The phrase for ``text`` as the parser reads it between quotes."""
        return cls(tuple(query_words(text)), text)


@dataclass(frozen=True, slots=True)
class Prefix:
    """A wildcard: any word that starts with the folded prefix."""

    #: As written, star included, e.g. "Drone*".
    text: str
    #: The folded prefix, e.g. "drone"; derived from ``text``.
    prefix: str = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        folded = query_words(self.text[:-1]) if self.text.endswith("*") else []
        if len(folded) != 1 or len(folded[0]) < MIN_PREFIX:
            raise ValueError(f"not a wildcard: {self.text!r}")
        object.__setattr__(self, "prefix", folded[0])


@dataclass(frozen=True, slots=True)
class Case:
    """A word or phrase matched with its case (``case:US`` is not "us")."""

    #: As written, without ``case:`` and quotes, e.g. "WHO".
    text: str
    #: Words with their case, accents dropped; derived from ``text``.
    words: tuple[str, ...] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        words = tuple(w for w in raw_words(self.text) if w)
        if not words:
            raise ValueError(f"no words in {self.text!r}")
        object.__setattr__(self, "words", words)


@dataclass(frozen=True, slots=True)
class Entity:
    """A named entity (``@Iran``): any of its aliases, resolved when the rule compiles."""

    #: The name as written after ``@``, e.g. "Iran" or "United States".
    name: str
    #: Offset of the ``@`` in the query (for error messages); not part of the tree's identity.
    position: int = field(default=0, compare=False, repr=False)

    @property
    def text(self) -> str:
        """The entity as written in the query, e.g. "@Iran"."""
        return "@" + (self.name if _is_bare(self.name) else f'"{self.name}"')


@dataclass(frozen=True, slots=True)
class Lang:
    """The article is in one of ``codes`` (``lang:es``, ``lang:(es OR pt)``)."""

    #: ISO 639 codes, lower case, in the order written, e.g. ("es", "pt").
    codes: tuple[str, ...]

    def __post_init__(self) -> None:
        if not self.codes or not all(LANGUAGE_CODE.fullmatch(c) for c in self.codes):
            raise ValueError(f"not language codes: {self.codes!r}")

    @property
    def text(self) -> str:
        """As written in a query: ``lang:es`` or ``lang:(es OR pt)``."""
        if len(self.codes) == 1:
            return f"lang:{self.codes[0]}"
        return f"lang:({' OR '.join(self.codes)})"


@dataclass(frozen=True, slots=True)
class And:
    """Every child matches."""

    #: Two or more operands.
    children: tuple[Node, ...]

    def __post_init__(self) -> None:
        if len(self.children) < 2:
            raise ValueError("And needs at least two children")


@dataclass(frozen=True, slots=True)
class Or:
    """At least one child matches."""

    #: Two or more operands.
    children: tuple[Node, ...]

    def __post_init__(self) -> None:
        if len(self.children) < 2:
            raise ValueError("Or needs at least two children")


@dataclass(frozen=True, slots=True)
class Not:
    """The child does not match."""

    #: The negated operand.
    child: Node


@dataclass(frozen=True, slots=True)
class Near:
    """Both operands occur in one field, at most ``distance`` words apart, in either order."""

    #: A leaf, a field-restricted leaf, or an Or of those.
    left: Node
    right: Node
    #: 1 means adjacent.
    distance: int


@dataclass(frozen=True, slots=True)
class Field:
    """The leaves under ``child`` are looked for in one field only (the innermost field wins)."""

    #: One of ``FIELDS``.
    name: str
    child: Node

    def __post_init__(self) -> None:
        if self.name not in FIELDS:
            raise ValueError(f"unknown field {self.name!r}")


Leaf: TypeAlias = Term | Phrase | Prefix | Case | Entity
Node: TypeAlias = Term | Phrase | Prefix | Case | Entity | Lang | And | Or | Not | Near | Field


def iter_leaves(node: Node) -> Iterator[Leaf]:
    """Every leaf of the tree, negated or not, left to right."""
    match node:
        case Term() | Phrase() | Prefix() | Case() | Entity():
            yield node
        case Lang():
            return
        case And(children) | Or(children):
            for child in children:
                yield from iter_leaves(child)
        case Not(child) | Field(_, child):
            yield from iter_leaves(child)
        case Near(left, right):
            yield from iter_leaves(left)
            yield from iter_leaves(right)


def iter_nodes(node: Node) -> Iterator[Node]:
    """Every node of the tree, ``node`` first, then its children, depth first."""
    yield node
    match node:
        case And(children) | Or(children):
            for child in children:
                yield from iter_nodes(child)
        case Not(child) | Field(_, child):
            yield from iter_nodes(child)
        case Near(left, right):
            yield from iter_nodes(left)
            yield from iter_nodes(right)


def matches_empty(node: Node) -> bool:
    """Whether the query matches an article that contains none of its words.

    True for queries satisfied by negation alone (``NOT x``, ``a OR NOT b``):
    such a rule cannot be found through the words it requires, so an index of
    rules must still evaluate it for every article.
    """
    match node:
        case Term() | Phrase() | Prefix() | Case() | Entity() | Near() | Lang():
            return False
        case And(children):
            return all(matches_empty(c) for c in children)
        case Or(children):
            return any(matches_empty(c) for c in children)
        case Not(child):
            return not matches_empty(child)
        case Field(_, child):
            return matches_empty(child)


def render(node: Node) -> str:
    """Canonical query text for ``node``; it parses back to the same tree."""
    match node:
        case Term(text) if _is_bare(text):
            return text
        case Term(text) | Phrase(_, text):
            # Double quotes cannot occur inside a phrase; they are not word characters anyway.
            return '"' + text.replace('"', " ") + '"'
        case Prefix(text):
            return text
        case Case(text):
            bare = _is_bare(text) and len(node.words) == 1
            return "case:" + (text if bare else '"' + text.replace('"', " ") + '"')
        case Entity() | Lang():
            return node.text
        case And(children):
            return " AND ".join(_group(c, (And, Or)) for c in children)
        case Or(children):
            return " OR ".join(_group(c, (Or,)) for c in children)
        case Not(child):
            return "NOT " + _group(child, (And, Or, Near))
        case Near(left, right, distance):
            kinds = (And, Or, Not, Near)
            return f"{_group(left, kinds)} NEAR/{distance} {_group(right, kinds)}"
        case Field(name, child):
            return f"{name}:" + _group(child, (And, Or, Not, Near))


def _group(node: Node, needs_parens: tuple[type, ...]) -> str:
    # A nested And inside an And is parenthesized too: the parser flattens only a
    # chain written at one level, so the parentheses keep the tree as it is.
    text = render(node)
    return f"({text})" if isinstance(node, needs_parens) else text


def _is_bare(text: str) -> bool:
    """Whether the lexer reads ``text``, unquoted, back as one plain word."""
    return (
        bool(text)
        and text not in OPERATORS
        and not text.startswith(("-", "@", *_FIELD_PREFIXES))
        and not is_near(text)
        and not any(c.isspace() or c in _SPECIAL for c in text)
    )
