"""``lang:`` compiled: a part of a query that looks at the article's language, not its words.

In the rules compiled for one language (``compiled``), ``lang:es`` is known: ``TRUE`` for
Spanish articles, ``FALSE`` for the others (``Constant``; the compiler folds them away,
so ``lang:es AND x`` is ``x`` or ``FALSE``, and a ``FALSE`` rule is never fetched). English
and unknown articles share one compiled set, so there ``lang:en`` is a ``LangTest`` of the
article itself.
"""

from __future__ import annotations

from monitor.matching.document import Document
from monitor.matching.program import Occurrence, Program

__all__ = ["FALSE", "TRUE", "Constant", "LangTest"]


class Constant(Program):
    """A query part whose value the compiler knows: ``lang:es`` compiled for the articles
    of one language (``TRUE`` for Spanish ones, ``FALSE`` for the others)."""

    __slots__ = ("value",)

    def __init__(self, value: bool) -> None:
        self.value = value

    def test(self, doc: Document) -> bool:
        return self.value

    def support(self, doc: Document, out: list[Occurrence]) -> None:
        return  # a language has no place in the text

    def cost(self) -> float:
        return 1.0 if self.value else 0.0

    def expense(self) -> int:
        return 0


TRUE = Constant(True)
FALSE = Constant(False)


class LangTest(Program):
    """``lang:en`` where English and unknown articles share one compiled rule set: the
    article's own language must be one of ``codes``."""

    __slots__ = ("codes",)

    def __init__(self, codes: tuple[str, ...]) -> None:
        self.codes = frozenset(codes)

    def test(self, doc: Document) -> bool:
        language = doc.article.language
        return language.strip().lower().replace("_", "-").partition("-")[0] in self.codes

    def support(self, doc: Document, out: list[Occurrence]) -> None:
        return

    def expense(self) -> int:
        return 0
