"""The rule index: rules filed under the terms they require (a presearcher, as in Lucene Monitor).

For each rule, ``alternatives`` derives a *presearch query*: a list of
conjunctions of at most two index keys such that every article the rule
matches holds all the keys of at least one conjunction. An article then
fetches only the rules one of whose conjunctions it holds. Where the
conjunction implies the rule (``implied``: ``a AND b`` under (a, b), ``"x"``
under ``=x``), fetched means matched; otherwise the rule is tested
(``probe``), and a rule that is not fetched cannot match.

- A key is the inflection key of a word (``drone`` for drones), the exact key
  of a folded word of title or text (``=drones``: quoted words, the words of
  a phrase, one-word entity aliases, none of which fold inflections), or a
  3-letter prefix and a star (``dro*``) for wildcards; keys of the author,
  url and source fields carry the field name (``author:smith``). Title-only
  and text-only leaves use the plain keys: the article's keys cover both.
  A phrase is filed under its two rarest words' keys (both required).
- A leaf gives one conjunction of one key; an entity or an OR the union of
  its children's; an AND (or a NEAR) the product of its two rarest
  children's (when that stays small), else the rarest child's; a NOT
  nothing. A rule with no presearch query (``NOT x``, ``a OR NOT b``)
  is evaluated for every article. A rule compiled to ``FALSE`` (``lang:es`` in the
  index of another language) has an empty one: it is never fetched.

Each language has its own index (``engine``): the inflection keys of an index are
those of its language (``languages.Folding``), the exact and wildcard keys are the
same in all.

Rules are filed by number, ``n`` where the keys imply the rule and ``~n``
where it must be tested, in ``array("i")`` buckets: fetching concatenates
machine integers, with no Python object touched per rule. Two-key
conjunctions go into a two-level map, ``pairs[k1][k2]`` (k1 the rarer), so
that an AND rule is fetched only when the article holds both keys; both
levels are looked up by intersecting dict key views with the article's key
set, which runs in C.
"""

from __future__ import annotations

import sys
from array import array
from collections.abc import Callable

from monitor.matching.ast import FIELDS
from monitor.matching.document import DEFAULT_FIELDS, Document
from monitor.matching.language_test import Constant, LangTest
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
    leaf_keys,
)
from monitor.matching.text import STEMS

__all__ = ["EXACT", "RuleIndex", "alternatives", "exact_key", "implied"]

#: A conjunction of one or two keys (rarest first) and its estimated chance of holding.
Alternative = tuple[tuple[str, ...], float]
#: Largest product of two children's alternatives an AND is filed under.
MAX_PRODUCT = 16
_NAMESPACES = ("",) * len(DEFAULT_FIELDS) + tuple(f"{name}:" for name in FIELDS[2:])


#: What starts the key of an exact (folded) word of title or text: ``=drones``. Never in
#: an inflection key, a wildcard key or a field namespace.
EXACT = "="


def exact_key(word: str) -> str:
    """The index key of the exact folded word ``word`` in title or text."""
    return sys.intern(EXACT + word)


def _exact_cost(cost: Callable[[str], float]) -> Callable[[str], float]:
    # An exact word is at most as common as its inflection key.
    return lambda key: cost(STEMS[key[1:]]) if key.startswith(EXACT) else cost(key)


def _leaf_alternatives(
    leaf: Leaf, cost: Callable[[str], float], folding: Folding
) -> list[Alternative]:
    if isinstance(leaf, EntityLeaf):
        return [alt for alias in leaf.aliases for alt in _leaf_alternatives(alias, cost, folding)]
    if isinstance(leaf, PrefixLeaf):
        bases: tuple[str, ...] = (leaf.prefix[:3] + "*",)
    elif isinstance(leaf, PhraseLeaf) and set(leaf.fields) <= set(DEFAULT_FIELDS):
        # A phrase of title or text needs its exact words (no inflection): the keys of
        # its two rarest, both required.
        bases = tuple(sorted({exact_key(w) for w in leaf.words}, key=_exact_cost(cost))[:2])
    elif isinstance(leaf, StemLeaf | PhraseLeaf | CaseLeaf):
        # A phrase needs all its words: filed under its two rarest, both required.
        bases = tuple(sorted(set(leaf_keys(leaf, folding)), key=cost)[:2])
    else:  # pragma: no cover - every leaf type is listed above
        raise TypeError(leaf)
    namespaces = dict.fromkeys(_NAMESPACES[f] for f in leaf.fields)
    return [(tuple(ns + base for base in bases), leaf.p) for ns in namespaces]


def alternatives(
    program: Program, cost: Callable[[str], float], folding: Folding = ENGLISH
) -> list[Alternative] | None:
    """The presearch query of ``program`` (compiled for articles of ``folding``'s language),
    or None if it cannot be indexed."""
    if isinstance(program, Leaf):
        if program.alternatives is None:
            program.alternatives = _leaf_alternatives(program, cost, folding)
        return program.alternatives
    if isinstance(program, OrProgram):
        found: list[Alternative] = []
        for child in program.children:
            alts = alternatives(child, cost, folding)
            if alts is None:
                return None
            found += alts
        return found
    if isinstance(program, NotProgram | LangTest):
        return None
    if isinstance(program, Constant):
        return None if program.value else []
    if isinstance(program, AndProgram | NearProgram):
        children = program.children if isinstance(program, AndProgram) else program.operands()
        options = [a for a in (alternatives(c, cost, folding) for c in children) if a is not None]
        if not options:
            return None
        if any(not alts for alts in options):
            return []  # a child that never holds
        if len(options) > 1:
            options.sort(key=_total)
        if len(options) == 1 or len(options[0]) * len(options[1]) > MAX_PRODUCT:
            return options[0]
        return [_conjoin(a, b) for a in options[0] for b in options[1]]
    raise TypeError(program)  # pragma: no cover


def implied(program: Program, keys: tuple[str, ...]) -> bool:
    """Whether every article that holds all of ``keys`` satisfies ``program``.

    True for terms of title and text whose key is among ``keys`` (a plain key in
    the article's keys is the key of one of its title or text words), and for ANDs
    and ORs of those. A rule fetched under such a conjunction needs no evaluation.
    """
    # Loops rather than all() and any(): asked of every rule of a million when compiling.
    if isinstance(program, StemLeaf):
        return program.fields is DEFAULT_FIELDS and program.key in keys
    if isinstance(program, PhraseLeaf):
        words = program.words
        return program.fields is DEFAULT_FIELDS and len(words) == 1 and EXACT + words[0] in keys
    if isinstance(program, EntityLeaf):
        # Any alias will do, unless a longer name of another entity may hide it.
        if program.shadows or program.fields is not DEFAULT_FIELDS:
            return False
        for alias in program.aliases:  # noqa: SIM110
            if implied(alias, keys):
                return True
        return False
    if isinstance(program, AndProgram):
        if len(program.children) > len(keys):
            return False  # each term child needs a key of its own: cheap, and the common case
        for child in program.children:  # noqa: SIM110
            if not implied(child, keys):
                return False
        return True
    if isinstance(program, OrProgram):
        for child in program.children:
            if implied(child, keys):
                return True
    return False


def _total(alts: list[Alternative]) -> float:
    return alts[0][1] if len(alts) == 1 else sum(c for _, c in alts)


def _conjoin(a: Alternative, b: Alternative) -> Alternative:
    # Keep the rarest key of each side: two keys are enough to filter well.
    ka, kb = a[0][0], b[0][0]
    if ka == kb:
        return (ka,), min(a[1], b[1])
    keys = (ka, kb) if a[1] <= b[1] else (kb, ka)
    return keys, a[1] * b[1]


class RuleIndex:
    """Rules, by number, filed under their presearch queries.

    An entry is a rule's number ``n`` where the conjunction it is filed under implies
    the rule (``implied``: fetched means matched), else ``~n`` (negative: the rule
    must be tested). Entries sit in ``array("i")`` buckets: fetching copies
    machine integers, with no Python object to touch per rule.
    """

    __slots__ = (
        "always",
        "exact",
        "other_fields",
        "pairs",
        "prefix_namespaces",
        "single",
        "stem_keys",
        "word_namespaces",
        "words",
    )

    def __init__(self, words: bool = False) -> None:
        #: Whether exact keys are filed as the words themselves (``=drones`` as ``drones``):
        #: for rules with no inflection or wildcard key, so that an article's key set is
        #: its word set (``Document.body_words``), with nothing to add.
        self.words = words
        #: key -> entries filed under that key alone.
        self.single: dict[str, array[int]] = {}
        #: k1 -> k2 -> entries filed under the conjunction of both.
        self.pairs: dict[str, dict[str, array[int]]] = {}
        #: Entries of the rules without a presearch query, tested for every article.
        self.always: array[int] = array("i")
        #: Field namespaces ("" for title and text) of the word and prefix keys in use.
        self.word_namespaces: set[str] = {""}
        self.prefix_namespaces: set[str] = set()
        #: Field numbers besides title and text whose keys some rule uses.
        self.other_fields: tuple[int, ...] = ()
        #: Folded word -> its exact key, for every exact word some rule uses.
        self.exact: dict[str, str] = {}
        #: Whether some rule is filed under an inflection key of title and text.
        self.stem_keys = False

    def add(
        self,
        number: int,
        alts: list[Alternative] | None,
        implies: Callable[[tuple[str, ...]], bool] | None = None,
    ) -> bool:
        """File rule ``number`` under each of its alternatives (or among the unindexed
        rules); ``implies(keys)`` says whether holding ``keys`` implies the rule.

        Returns whether the rule must be tested under some of them.
        """
        if alts is None:
            self.always.append(~number)
            return True
        tested = False
        for keys in {keys for keys, _ in alts}:
            for key in keys:
                if key.startswith(EXACT):
                    if not self.words:
                        self.exact[key[1:]] = key
                elif ":" in key or key.endswith("*"):  # plain word keys are always looked up
                    self._note_namespace(key)
                else:
                    self.stem_keys = True
            entry = number if implies is not None and implies(keys) else ~number
            tested = tested or entry < 0
            if self.words:
                keys = tuple(key[1:] if key.startswith(EXACT) else key for key in keys)
            if len(keys) == 1:
                bucket = self.single.get(keys[0])
                if bucket is None:
                    bucket = self.single[keys[0]] = array("i")
            else:
                inner = self.pairs.get(keys[0])
                if inner is None:
                    inner = self.pairs[keys[0]] = {}
                bucket = inner.get(keys[1])
                if bucket is None:
                    bucket = inner[keys[1]] = array("i")
            bucket.append(entry)
        return tested

    def note_exact(self, key: str) -> None:
        """Read the exact key ``key`` from articles (when it is one) though no rule is filed
        under it: a rule's ``probe`` tests it."""
        if key.startswith(EXACT) and not self.words:
            self.exact[key[1:]] = key

    def _note_namespace(self, key: str) -> None:
        ns, _, base = key.rpartition(":")
        ns = ns + ":" if ns else ""
        (self.prefix_namespaces if base.endswith("*") else self.word_namespaces).add(ns)
        used = self.word_namespaces | self.prefix_namespaces
        self.other_fields = tuple(
            n for n in range(len(DEFAULT_FIELDS), len(FIELDS)) if _NAMESPACES[n] in used
        )

    def keys_of(self, doc: Document) -> set[str]:
        """The index keys an article holds (only of the namespaces some rule uses)."""
        keys = doc.body_keys() if "" in self.prefix_namespaces else doc.body_stems
        exact = self.exact
        if exact:
            # Added to the document's own set, which ``probe.KeyAnd`` reads.
            keys.update(map(exact.__getitem__, exact.keys() & doc.body_words))
        for number in self.other_fields:
            ns = _NAMESPACES[number]
            if keys is doc.body_stems:
                keys = set(keys)  # never update the document's own set with other fields
            if ns in self.word_namespaces:
                keys.update(ns + s for s in doc.view(number).stems)
            if ns in self.prefix_namespaces:
                keys.update(ns + w[:3] + "*" for w in doc.view(number).wordset)
        return keys

    def candidates(self, doc: Document) -> array[int]:
        """The entries of every rule the article may match, in no particular order
        (``n``: it matches; ``~n``: test it). A rule filed under several conjunctions
        may come more than once."""
        keys = self.keys_of(doc)
        found = array("i", self.always)
        single = self.single
        for key in single.keys() & keys:
            found += single[key]
        pairs = self.pairs
        for key in pairs.keys() & keys:
            inner = pairs[key]
            for second in inner.keys() & keys:
                found += inner[second]
        return found
