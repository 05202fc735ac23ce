"""The query syntax tree, and its canonical text.

Leaves (``Term``, ``Phrase``) carry both the text as written, reported in hits,
and the folded words the matcher compares. Inner nodes are ``And``, ``Or``
(n-ary, at least two children) and ``Not``. Later node types (wildcards, NEAR,
fields, entities) join the ``Node`` union; every consumer dispatches with
``match`` statements, so a new node type is a new ``case`` in each of them.

``render`` writes the canonical text: explicit operators, parentheses only
where precedence needs them. ``parse_query(render(node)) == node`` for every
tree the parser can produce.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import TypeAlias

from monitor.matching.text import query_words

__all__ = [
    "OPERATORS",
    "RESERVED_CHARS",
    "And",
    "Leaf",
    "Node",
    "Not",
    "Or",
    "Phrase",
    "Term",
    "is_near",
    "iter_leaves",
    "matches_empty",
    "render",
]

#: Words that are operators when written in upper case (lower case, they are words).
OPERATORS = frozenset({"AND", "OR", "NOT"})
#: Characters a bare term cannot contain; within quotes they are ordinary.
_SPECIAL = frozenset('()"')
#: Syntax reserved for later versions, refused in bare terms so that its meaning
#: cannot change under an existing rule: character -> what it will mean.
RESERVED_CHARS = {"*": "wildcards (*)", "@": "entity queries (@)"}


def is_near(text: str) -> bool:
    """Whether a bare word is the (reserved) proximity operator ``NEAR`` or ``NEAR/n``."""
    return text == "NEAR" or text.startswith("NEAR/")


@dataclass(frozen=True, slots=True)
class Term:
    """One word, matched whole (case and accents folded)."""

    #: The term as written in the query, e.g. "Drones".
    text: str
    #: Its folded form, e.g. "drones"; derived from ``text``.
    word: str = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        folded = query_words(self.text)
        if len(folded) != 1:
            raise ValueError(f"a Term is exactly one word, not {self.text!r}; use Phrase")
        object.__setattr__(self, "word", folded[0])

    @property
    def words(self) -> tuple[str, ...]:
        """The folded words to find in a row (one, for a term)."""
        return (self.word,)


@dataclass(frozen=True, slots=True)
class Phrase:
    """Words that must follow one another in the same field."""

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


Leaf: TypeAlias = Term | Phrase
Node: TypeAlias = Term | Phrase | And | Or | Not


def iter_leaves(node: Node) -> Iterator[Leaf]:
    """Every term and phrase of the tree, negated or not, left to right."""
    match node:
        case Term() | Phrase():
            yield node
        case And(children) | Or(children):
            for child in children:
                yield from iter_leaves(child)
        case Not(child):
            yield from iter_leaves(child)


def matches_empty(node: Node) -> bool:
    """Whether the query matches an article that contains none of its words.

    True for queries satisfied by negation alone (``NOT x``, ``a OR NOT b``):
    such a rule cannot be found through the words it requires, so an index of
    rules must still evaluate it for every article.
    """
    match node:
        case Term() | Phrase():
            return False
        case And(children):
            return all(matches_empty(c) for c in children)
        case Or(children):
            return any(matches_empty(c) for c in children)
        case Not(child):
            return not matches_empty(child)


def render(node: Node) -> str:
    """Canonical query text for ``node``; it parses back to the same tree."""
    match node:
        case Term(text) if _is_bare_term(text):
            return text
        case Term(text) | Phrase(_, text):
            # Double quotes cannot occur inside a phrase; they are not word characters anyway.
            return '"' + text.replace('"', " ") + '"'
        case And(children):
            return " AND ".join(_group(c, (And, Or)) for c in children)
        case Or(children):
            return " OR ".join(_group(c, (Or,)) for c in children)
        case Not(child):
            return "NOT " + _group(child, (And, Or))


def _group(node: Node, needs_parens: tuple[type, ...]) -> str:
    # A nested And inside an And is parenthesized too: the parser flattens only a
    # chain written at one level, so the parentheses keep the tree as it is.
    text = render(node)
    return f"({text})" if isinstance(node, needs_parens) else text


def _is_bare_term(text: str) -> bool:
    """Whether the parser reads ``text``, unquoted, back as this very term."""
    return (
        bool(text)
        and text not in OPERATORS
        and not text.startswith("-")
        and not is_near(text)
        and not any(c.isspace() or c in _SPECIAL or c in RESERVED_CHARS for c in text)
    )
