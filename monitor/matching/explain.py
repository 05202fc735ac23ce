"""``explain``: a query as a tree, one clause a line, each marked ✓ (held) or ✗ (did not).

::

    ✓ AND
      ✓ Iran ×9
      ✗ NOT
        ✓ Russia ×7
      ✓ NEAR/5
        ✓ @Iran ×3 (Tehran ×2, Iran ×1)
        ✓ drone* ×2

A leaf shows how often it occurs (in the fields it looks in), an entity also per alias
and the occurrences it does not count, inside a longer name of another entity
(``✗ @Sudan (not counted: ×1 inside South Sudan)``); a field prefix
is shown on its own line above a group, or in front of a single leaf.

The tree is evaluated in the article's language (``Article.language``): there a term is
its inflection key in that language, and in an article of a language with a stemmer
other than English the key and the words of the article found with it are shown
(``✓ sanciones ×2 [es sancion: sanciones ×1, sancion ×1]``); ``lang:`` shows the
article's language (``✓ lang:es (article: es)``).
"""

from __future__ import annotations

from collections import Counter

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
    render,
)
from monitor.matching.catalog import EntityLookup, LazyCatalog, UnknownEntity, UnknownEntityError
from monitor.matching.compiler import Compiler
from monitor.matching.document import DEFAULT_FIELDS, Document
from monitor.matching.languages import folding
from monitor.matching.program import EntityLeaf, Leaf, StemLeaf
from monitor.matching.rarity import word_cost
from monitor.model import Article

__all__ = ["explain"]


def explain(node: Node, article: Article, catalog: EntityLookup | None = None) -> str:
    """The tree of ``node`` evaluated on ``article`` (see the module docstring).

    Raises ``UnknownEntityError`` for an entity the catalog does not know.
    """
    language = folding(article.language)
    compiler = Compiler(LazyCatalog(catalog), word_cost(None), language)
    doc = Document(article, folding=language)
    lines: list[str] = []

    def walk(n: Node, depth: int, fields: tuple[int, ...], prefix: str = "") -> None:
        mark = "✓" if compiler.compile(n, fields).test(doc) else "✗"
        indent = "  " * depth
        match n:
            case Term() | Phrase() | Prefix() | Case() | Entity():
                leaf = compiler.leaf(n, fields)
                lines.append(f"{indent}{mark} {prefix}{render(n)}{_counts(leaf, doc)}")
            case Lang():
                shown = article.language or "unknown"
                lines.append(f"{indent}{mark} {prefix}{render(n)} (article: {shown})")
            case Field(name, child) if isinstance(
                child, Field | Term | Phrase | Prefix | Case | Entity
            ):
                walk(child, depth, (FIELDS.index(name),), f"{prefix}{name}:")
            case Field(name, child):
                lines.append(f"{indent}{mark} {prefix}{name}:")
                walk(child, depth + 1, (FIELDS.index(name),))
            case And(children) | Or(children):
                lines.append(f"{indent}{mark} {prefix}{type(n).__name__.upper()}")
                for child in children:
                    walk(child, depth + 1, fields)
            case Not(child):
                lines.append(f"{indent}{mark} {prefix}NOT")
                walk(child, depth + 1, fields)
            case Near(left, right, distance):
                lines.append(f"{indent}{mark} {prefix}NEAR/{distance}")
                walk(left, depth + 1, fields)
                walk(right, depth + 1, fields)

    try:
        walk(node, 0, DEFAULT_FIELDS)
    except UnknownEntity as e:
        text = render(node)
        raise UnknownEntityError(e.name, text, max(0, text.find("@" + e.name))) from None
    return "\n".join(lines)


def _occurrences(leaf: Leaf, doc: Document) -> int:
    return sum(len(leaf.occurrences(doc, field)) for field in leaf.fields)


def _folded(leaf: StemLeaf, doc: Document) -> str:
    """`` [es sancion: sanciones ×1, sancion ×1]``: a term's key in the article's language
    and the words found with it (only for a language with a stemmer other than English)."""
    folding = doc.folding
    if not folding.language or not folding.stemmed:
        return ""
    found: Counter[str] = Counter()
    for field in leaf.fields:
        view = doc.view(field)
        for word in view.words_with_stem(leaf.key):
            found[word] += len(view.word_positions(word))
    words = ", ".join(f"{word} ×{n}" for word, n in found.most_common())
    return f" [{folding.language} {leaf.key}{': ' + words if words else ''}]"


def _counts(leaf: Leaf, doc: Document) -> str:
    count = _occurrences(leaf, doc)
    if isinstance(leaf, StemLeaf):
        return (f" ×{count}" if count else "") + _folded(leaf, doc)
    if not isinstance(leaf, EntityLeaf):
        return f" ×{count}" if count else ""
    per_alias: Counter[str] = Counter()
    hidden: Counter[str] = Counter()  # alias occurrences inside a shadow, per shadow
    for field in leaf.fields:
        outer = [(s.text, span) for s in leaf.shadows for span in s.occurrences(doc, field)]
        for alias in leaf.aliases:
            for start, end in alias.occurrences(doc, field):
                shadow = next((t for t, (s, e) in outer if s <= start and end <= e), None)
                if shadow is None:
                    per_alias[alias.text] += 1
                else:
                    hidden[shadow] += 1
    parts = [", ".join(f"{text} ×{n}" for text, n in per_alias.most_common())] if per_alias else []
    if hidden:
        parts.append(
            "not counted: " + ", ".join(f"×{n} inside {text}" for text, n in hidden.most_common())
        )
    shown = f" ({'; '.join(parts)})" if parts else ""
    return f" ×{count}{shown}" if count else shown
