"""The rules of a rule set compiled for the articles of one language, with their index.

A ``RuleSet`` (``engine``) keeps one ``Compiled`` per language it has met: English and
unknown articles share the one built when the rules compile; the others are built from
the same queries when the first article in their language arrives (``compile_for``), so
a language costs compile time and memory only where articles in it are read, and an
English article never reads a key of another language.

Per language: each rule's program (``compiler``, with that language's inflection keys,
``lang:`` decided), the index (``index.RuleIndex``) and what a fetched rule is tested by
(``probe``).
"""

from __future__ import annotations

import gc
from collections.abc import Callable, Sequence
from functools import partial

from monitor.matching.catalog import EntityLookup, LazyCatalog
from monitor.matching.compiler import Compiler
from monitor.matching.document import Document
from monitor.matching.index import EXACT, RuleIndex, alternatives, implied
from monitor.matching.languages import Folding
from monitor.matching.parser import parse_query
from monitor.matching.probe import has_leaf, probe
from monitor.matching.program import PrefixLeaf, Program, StemLeaf
from monitor.model import Article

__all__ = ["Compiled", "compile_for"]


class Compiled:
    """Rules compiled for one language: programs, probes and the index, by rule number."""

    __slots__ = ("folding", "index", "probes", "programs", "stems", "words")

    def __init__(
        self, programs: Sequence[Program], folding: Folding, cost: Callable[[str], float]
    ) -> None:
        #: The language's folding (its inflection keys).
        self.folding = folding
        #: Each rule's program, by rule number.
        self.programs: list[Program] = list(programs)
        #: What ``match`` tests of a rule the index fetched but did not decide (``probe``).
        self.probes: list[Program] = list(programs)
        #: Whether the index's keys of title and text are all exact words, and no test reads
        #: inflection or wildcard keys: then an article's key set is its word set.
        self.words = not any(has_leaf(p, (StemLeaf, PrefixLeaf)) for p in programs) and all(
            _exact_only(alternatives(p, cost, folding)) for p in programs
        )
        self.index = index = RuleIndex(self.words)
        for number, program in enumerate(programs):
            alts = alternatives(program, cost, folding)
            if index.add(number, alts, partial(implied, program)):
                self.probes[number] = probe(program, index.note_exact, self.words)
        #: Whether articles need the inflection keys of their words: not for rules of exact
        #: words alone (the index's keys, and the terms tests read).
        self.stems = index.stem_keys or any(has_leaf(p, StemLeaf) for p in programs)

    def document(self, article: Article) -> Document:
        """The article as the index and the probes read it."""
        doc = Document(article, self.stems, self.folding)
        if self.words:
            doc.body_stems = doc.body_words  # the keys (see ``__init__``)
        return doc


def compile_for(
    queries: Sequence[str],
    catalog: EntityLookup | None,
    cost: Callable[[str], float],
    folding: Folding,
) -> Compiled:
    """The queries (already known to compile) compiled for the articles of ``folding``'s
    language; the collector is paused meanwhile, as in ``engine.compile_rules``."""
    paused = gc.isenabled()
    gc.disable()
    try:
        compiler = Compiler(LazyCatalog(catalog), cost, folding)
        return Compiled([compiler.compile(parse_query(q)) for q in queries], folding, cost)
    finally:
        if paused:
            gc.enable()


def _exact_only(alts: list[tuple[tuple[str, ...], float]] | None) -> bool:
    """Whether the keys of title and text of a presearch query are all exact words."""
    return alts is None or all(
        key.startswith(EXACT) or ":" in key for keys, _ in alts for key in keys
    )
