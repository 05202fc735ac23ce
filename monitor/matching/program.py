"""Compiled queries: small objects that test a ``Document`` (``compiler`` builds them).

Leaves (``StemLeaf``, ``PhraseLeaf``, ``CaseLeaf`` and its ``CapsAliasLeaf``,
``PrefixLeaf``, ``EntityLeaf``) carry the fields they look in; inner nodes are
``AndProgram``, ``OrProgram``, ``NotProgram`` and ``near.NearProgram`` (``lang:`` is in
``language_test``). Each
program answers ``test(doc)`` (does it hold) and ``support(doc, out)``
(the occurrences that make it hold, for hits); leaves and OR-groups of leaves
also answer ``occurrences(doc, field)``, which NEAR needs.
"""

from __future__ import annotations

import bisect
import re
import sys

from monitor.matching.document import DEFAULT_FIELDS, Document, View
from monitor.matching.languages import ENGLISH, Folding
from monitor.matching.text import normalize

__all__ = [
    "CapsAliasLeaf",
    "Leaf",
    "Occurrence",
    "Program",
    "case_alias_leaf",
    "leaf_keys",
]

#: One supporting occurrence: (field number, first character, one past the last, term as written).
Occurrence = tuple[int, int, int, str]
Span = tuple[int, int]


class Program:
    """A compiled query node."""

    __slots__ = ()

    def test(self, doc: Document) -> bool:
        raise NotImplementedError

    def support(self, doc: Document, out: list[Occurrence]) -> None:
        """Append the occurrences that make this (true) node true."""
        raise NotImplementedError

    def cost(self) -> float:
        """Estimated chance that the node holds on an article; orders the children of AND."""
        return 0.5

    def expense(self) -> int:
        """How costly ``test`` is, coarsely: 0 a set lookup ... 3 word positions (NEAR)."""
        return 1


class Leaf(Program):
    """A term, phrase, wildcard, case-sensitive word or entity, in some fields."""

    __slots__ = ("alternatives", "fields", "p", "text")

    def __init__(self, fields: tuple[int, ...], text: str) -> None:
        #: Field numbers to look in.
        self.fields = fields
        #: As written in the query (reported in hits).
        self.text = text
        #: Estimated chance that an article holds it (set by the compiler).
        self.p = 0.5
        #: Its presearch query, computed once by the index (leaves are shared by rules).
        self.alternatives: list[tuple[tuple[str, ...], float]] | None = None

    def cost(self) -> float:
        return self.p

    def found(self, doc: Document, field: int) -> bool:
        raise NotImplementedError

    def occurrences(self, doc: Document, field: int) -> list[Span]:
        raise NotImplementedError

    def occurrences_if_found(self, doc: Document, field: int) -> list[Span]:
        """``occurrences``, after the cheap ``found`` that spares the position work for
        what is absent."""
        return self.occurrences(doc, field) if self.found(doc, field) else []

    def masks(self, doc: Document, field: int) -> tuple[int, int]:
        """Where the leaf's occurrences in ``field`` start and end, as bit masks of word
        positions (bit i: word i; an occurrence of words s..e-1 sets bit s and bit e)."""
        starts = ends = 0
        for start, end in self.occurrences_if_found(doc, field):
            starts |= 1 << start
            ends |= 1 << end
        return starts, ends

    def test(self, doc: Document) -> bool:
        for field in self.fields:  # noqa: SIM110 - hot path, a loop beats any() here
            if self.found(doc, field):
                return True
        return False

    def support(self, doc: Document, out: list[Occurrence]) -> None:
        for field in self.fields:
            if self.found(doc, field):
                out.extend((field, s, e, self.text) for s, e in self.char_spans(doc, field))

    def char_spans(self, doc: Document, field: int) -> list[Span]:
        """Character offsets of the leaf's occurrences in ``field``."""
        view = doc.view(field)
        found = view.find(self.pattern(), False)
        return view.char_spans(self.occurrences(doc, field)) if found is None else found

    def pattern(self) -> str:
        """A regex for the leaf's occurrences in lower-cased ASCII text (word start not checked)."""
        raise NotImplementedError


def _memo_test(leaf: Leaf, doc: Document) -> bool:
    """``Leaf.test``, remembered per article: leaves are shared by rules, and the tests
    that reach here (phrase search, case-kept words) cost more than a dict lookup."""
    memo = doc.memo
    found = memo.get(leaf)
    if found is None:
        found = memo[leaf] = Leaf.test(leaf, doc)
    return found


class StemLeaf(Leaf):
    """A term: a word with its inflections."""

    __slots__ = ("key",)

    def __init__(self, fields: tuple[int, ...], text: str, key: str) -> None:
        super().__init__(fields, text)
        #: Inflection key of the word.
        self.key = key

    def test(self, doc: Document) -> bool:
        # The commonest leaf by far: inlined, no call per field.
        key = self.key
        if self.fields is DEFAULT_FIELDS:
            return key in doc.body_stems
        views = doc.views
        for field in self.fields:
            view = views[field] or doc.view(field)
            if key in view.stems:
                return True
        return False

    def found(self, doc: Document, field: int) -> bool:
        if field in DEFAULT_FIELDS and self.key not in doc.body_stems:
            return False
        # The field's words with the key rather than the field's keys: NEAR asks this of the
        # text, whose word set is built anyway, and a set of its keys would cost a lookup per word.
        return bool(doc.view(field).words_with_stem(self.key))

    def expense(self) -> int:
        return 0

    def occurrences(self, doc: Document, field: int) -> list[Span]:
        return doc.view(field).stem_occurrences(self.key)

    def masks(self, doc: Document, field: int) -> tuple[int, int]:
        key = self.key
        view = doc.view(field)
        if field in DEFAULT_FIELDS:
            if key not in doc.body_stems:
                return 0, 0
            # The words of title and text with the key, without building this field's
            # own word and key sets (as ``words_with_stem`` would).
            body = doc.body_words
            folding = doc.folding
            words = [word for word in folding.words.get(key, ()) if word in body]
            if not words:  # the caches were cleared since the article was read
                words = [word for word in body if folding.keys[word] == key]
        else:
            words = view.words_with_stem(key)
        starts = 0
        for word in words:
            starts |= view.word_mask(word)
        return starts, starts << 1

    def char_spans(self, doc: Document, field: int) -> list[Span]:
        view = doc.view(field)
        if not view.ascii:
            return view.char_spans(self.occurrences(doc, field))
        found: list[Span] = []
        for word in view.words_with_stem(self.key):
            found += view.find(re.escape(word) + r"\b", False) or ()
        return found


class PhraseLeaf(Leaf):
    """Folded words in a row, exact (a quoted phrase, or a quoted single word)."""

    __slots__ = ("joined", "words")

    def __init__(self, fields: tuple[int, ...], text: str, words: tuple[str, ...]) -> None:
        super().__init__(fields, text)
        self.words = words
        self.joined = " " + " ".join(words) + " "

    def test(self, doc: Document) -> bool:
        if self.fields is DEFAULT_FIELDS:
            for word in self.words:
                if word not in doc.body_words:
                    return False
            return len(self.words) == 1 or self.joined in doc.body_joined()
        return Leaf.test(self, doc)

    def found(self, doc: Document, field: int) -> bool:
        if field in DEFAULT_FIELDS and self.words[0] not in doc.body_words:
            return False
        view = doc.view(field)
        if len(self.words) == 1:
            return self.words[0] in view.wordset
        return self.words[0] in view.wordset and view.has_phrase(self.joined)

    def occurrences(self, doc: Document, field: int) -> list[Span]:
        return doc.view(field).phrase_occurrences(self.words)

    def masks(self, doc: Document, field: int) -> tuple[int, int]:
        starts = doc.view(field).needle_mask(self.joined)
        return starts, starts << len(self.words)

    def pattern(self) -> str:
        return r"\W+".join(map(re.escape, self.words)) + r"\b"


class CaseLeaf(Leaf):
    """Words in a row with their case (``case:US``)."""

    __slots__ = ("folded", "joined", "regex", "words")

    def __init__(self, fields: tuple[int, ...], text: str, words: tuple[str, ...]) -> None:
        super().__init__(fields, text)
        self.words = words
        self.joined = " " + " ".join(words) + " "
        #: The first word folded: it must be in the article for the exact one to be.
        self.folded = sys.intern(normalize(words[0]))
        #: ``pattern()``, built once: entities test their case-sensitive aliases often.
        self.regex = r"\W+".join(map(re.escape, words)) + r"\b"

    def test(self, doc: Document) -> bool:
        return _memo_test(self, doc)

    def found(self, doc: Document, field: int) -> bool:
        if field in DEFAULT_FIELDS and self.folded not in doc.body_words:
            return False  # spares the field's own word set
        view = doc.view(field)
        if self.folded not in view.wordset:
            return False
        # ASCII text: one regex over the text beats cutting all its case-kept words.
        spans = view.find(self.regex, True)
        return view.has_case_phrase(self.joined) if spans is None else bool(spans)

    def pattern(self) -> str:
        return self.regex

    def occurrences(self, doc: Document, field: int) -> list[Span]:
        return doc.view(field).case_occurrences(self.words)

    def char_spans(self, doc: Document, field: int) -> list[Span]:
        view = doc.view(field)
        found = view.find(self.pattern(), True)
        return view.char_spans(self.occurrences(doc, field)) if found is None else found


class CapsAliasLeaf(CaseLeaf):
    """A case-sensitive entity alias with a lower-case letter (``China``, ``Polish``): its
    exact case, or in capitals (CHINA) where the text around it is in capitals too
    (``View.amid_capitals``: a wire headline, not "we ate TURKEY"). ``case:`` words never
    get this allowance, nor do aliases already in capitals (``US``, which it would not
    change). Built by ``case_alias_leaf``."""

    __slots__ = ("caps", "caps_joined", "caps_regex")

    def __init__(self, fields: tuple[int, ...], text: str, words: tuple[str, ...]) -> None:
        super().__init__(fields, text, words)
        #: The words in capitals.
        self.caps = tuple(sys.intern(w.upper()) for w in words)
        self.caps_joined = " " + " ".join(self.caps) + " "
        self.caps_regex = r"\W+".join(map(re.escape, self.caps)) + r"\b"

    def found(self, doc: Document, field: int) -> bool:
        if field in DEFAULT_FIELDS and self.folded not in doc.body_words:
            return False
        view = doc.view(field)
        if self.folded not in view.wordset:
            return False
        spans = view.find(self.regex, True)
        if view.has_case_phrase(self.joined) if spans is None else spans:
            return True
        return bool(self.caps_occurrences(view))

    def caps_occurrences(self, view: View) -> list[Span]:
        """Word positions of the alias in capitals amid capitals (the folded words are
        known to be in the field)."""
        spans = view.find(self.caps_regex, True)
        if not (view.has_case_phrase(self.caps_joined) if spans is None else spans):
            return []  # the rule is about capitals: most fields have none, found by one scan
        return [(s, e) for s, e in view.case_occurrences(self.caps) if view.amid_capitals(s, e)]

    def occurrences(self, doc: Document, field: int) -> list[Span]:
        view = doc.view(field)
        found = view.case_occurrences(self.words)
        caps = self.caps_occurrences(view) if self.folded in view.wordset else []
        return sorted(found + caps) if caps else found

    def char_spans(self, doc: Document, field: int) -> list[Span]:
        found = CaseLeaf.char_spans(self, doc, field)
        view = doc.view(field)
        caps = self.caps_occurrences(view) if self.folded in view.wordset else []
        return sorted(found + view.char_spans(caps)) if caps else found


def case_alias_leaf(fields: tuple[int, ...], text: str, words: tuple[str, ...]) -> CaseLeaf:
    """The leaf of a case-sensitive entity alias: a ``CapsAliasLeaf`` when the alias has
    a lower-case letter, else (``US``, ``G7``) a ``CaseLeaf``.

    Also a plain ``CaseLeaf`` in the odd case where capitals fold to other words than the
    alias ("ı", dotless i, is "I" in capitals, which folds to "i"): the words an alias
    needs in an article, and so the keys it is indexed under, are its folded words.
    """
    caps = tuple(w.upper() for w in words)
    if caps == words or [normalize(w) for w in caps] != [normalize(w) for w in words]:
        return CaseLeaf(fields, text, words)
    return CapsAliasLeaf(fields, text, words)


#: Wildcard tests per article answered by substring search before the words are sorted.
FIND_TESTS = 8


class PrefixLeaf(Leaf):
    """A wildcard: words starting with a folded prefix."""

    __slots__ = ("index_key", "needle", "prefix")

    def __init__(self, fields: tuple[int, ...], text: str, prefix: str) -> None:
        super().__init__(fields, text)
        self.prefix = prefix
        #: A word start in the words joined by spaces.
        self.needle = " " + prefix
        #: The index key of the words it may match (first three letters and a star).
        self.index_key = prefix[:3] + "*"

    def test(self, doc: Document) -> bool:
        if self.fields is not DEFAULT_FIELDS:
            return Leaf.test(self, doc)
        if self.index_key not in doc.body_keys():
            # Computed for the index lookup already, when rules hold wildcards: the test
            # ends here for most articles.
            return False
        words = doc.sorted_words
        if words is None:
            # The first few wildcards of an article are searched in the joined words (a few
            # microseconds each, and the join is shared with phrases); past those, sorting
            # the words once makes each further test a binary search.
            doc.prefix_tests += 1
            if doc.prefix_tests <= FIND_TESTS:
                return self.needle in doc.body_joined()
            words = doc.sorted_body_words()
        i = bisect.bisect_left(words, self.prefix)
        return i < len(words) and words[i].startswith(self.prefix)

    def found(self, doc: Document, field: int) -> bool:
        return doc.view(field).has_phrase(self.needle)

    def occurrences(self, doc: Document, field: int) -> list[Span]:
        return doc.view(field).prefix_occurrences(self.prefix)

    def masks(self, doc: Document, field: int) -> tuple[int, int]:
        starts = doc.view(field).needle_mask(self.needle)
        return starts, starts << 1

    def pattern(self) -> str:
        return re.escape(self.prefix) + r"\w*"


class EntityLeaf(Leaf):
    """An entity: any of its aliases (phrases, some case-sensitive); hits say ``@Name``.

    ``shadows`` are longer aliases of other entities that contain its aliases (South
    Sudan for Sudan, filled in for places only): an occurrence of an alias inside an
    occurrence of a shadow, in the same field, does not count, for the test, NEAR or hits.
    """

    __slots__ = ("aliases", "shadows", "tested")

    def __init__(
        self,
        fields: tuple[int, ...],
        text: str,
        aliases: tuple[Leaf, ...],
        shadows: tuple[Leaf, ...] = (),
    ) -> None:
        super().__init__(fields, text)
        self.aliases = aliases
        #: Aliases of other entities whose occurrences hide this one's inside them.
        self.shadows = shadows
        #: The aliases in the order ``test`` tries them: a word (a set lookup) first, then
        #: phrases, then case-sensitive ones (a regex over the text).
        self.tested = tuple(sorted(aliases, key=_alias_expense))

    def test(self, doc: Document) -> bool:
        # Memoized: many rules name the same entity, and it has many aliases to try.
        memo = doc.memo
        found = memo.get(self)
        if found is None:
            found = False
            for alias in self.tested:
                if alias.test(doc):
                    found = True
                    break
            if found and self.shadows and any(shadow.test(doc) for shadow in self.shadows):
                # A shadow is there too (rare): positions decide.
                found = any(self.found(doc, field) for field in self.fields)
            memo[self] = found
        return found

    def found(self, doc: Document, field: int) -> bool:
        if not any(alias.found(doc, field) for alias in self.aliases):
            return False
        if not self.shadows or not self._shadowed(doc, field):
            return True
        return bool(self.occurrences(doc, field))

    def _shadowed(self, doc: Document, field: int) -> bool:
        """Whether some shadow occurs in ``field`` (then positions decide)."""
        return any(shadow.found(doc, field) for shadow in self.shadows)

    def occurrences(self, doc: Document, field: int) -> list[Span]:
        found = sorted(
            {s for alias in self.aliases for s in alias.occurrences_if_found(doc, field)}
        )
        if found and self.shadows:
            outer = [s for shadow in self.shadows for s in shadow.occurrences_if_found(doc, field)]
            found = unshadowed(found, outer)
        return found

    def occurrences_if_found(self, doc: Document, field: int) -> list[Span]:
        # Each alias is tested for presence once, here, rather than in ``found`` first.
        return self.occurrences(doc, field)

    def masks(self, doc: Document, field: int) -> tuple[int, int]:
        if self.shadows:
            return Leaf.masks(self, doc, field)  # positions decide what a shadow hides
        starts = ends = 0
        for alias in self.aliases:
            alias_starts, alias_ends = alias.masks(doc, field)
            starts |= alias_starts
            ends |= alias_ends
        return starts, ends

    def char_spans(self, doc: Document, field: int) -> list[Span]:
        found = [
            span
            for alias in self.aliases
            if alias.found(doc, field)
            for span in alias.char_spans(doc, field)
        ]
        if found and self.shadows:
            found = unshadowed(found, self.shadow_char_spans(doc, field))
        return found

    def shadow_char_spans(self, doc: Document, field: int) -> list[Span]:
        """Character offsets of the shadows' occurrences in ``field``."""
        return [
            span
            for shadow in self.shadows
            if shadow.found(doc, field)
            for span in shadow.char_spans(doc, field)
        ]


def _alias_expense(alias: Leaf) -> int:
    if isinstance(alias, CaseLeaf):
        return 2
    return 0 if isinstance(alias, PhraseLeaf) and len(alias.words) == 1 else 1


def unshadowed(spans: list[Span], outer: list[Span]) -> list[Span]:
    """The spans of ``spans`` that lie inside none of ``outer`` (word or character offsets)."""
    if not outer:
        return spans
    return [(s, e) for s, e in spans if not any(o_s <= s and e <= o_e for o_s, o_e in outer)]


class AndProgram(Program):
    __slots__ = ("children",)

    def __init__(self, children: tuple[Program, ...]) -> None:
        self.children = children

    def test(self, doc: Document) -> bool:
        for child in self.children:  # noqa: SIM110 - hot path
            if not child.test(doc):
                return False
        return True

    def support(self, doc: Document, out: list[Occurrence]) -> None:
        for child in self.children:
            child.support(doc, out)

    def cost(self) -> float:
        return min(c.cost() for c in self.children)


class OrProgram(Program):
    __slots__ = ("children",)

    def __init__(self, children: tuple[Program, ...]) -> None:
        self.children = children

    def test(self, doc: Document) -> bool:
        for child in self.children:  # noqa: SIM110 - hot path
            if child.test(doc):
                return True
        return False

    def support(self, doc: Document, out: list[Occurrence]) -> None:
        for child in self.children:
            if child.test(doc):
                child.support(doc, out)

    def cost(self) -> float:
        return min(1.0, sum(c.cost() for c in self.children))


class NotProgram(Program):
    __slots__ = ("child",)

    def __init__(self, child: Program) -> None:
        self.child = child

    def test(self, doc: Document) -> bool:
        return not self.child.test(doc)

    def support(self, doc: Document, out: list[Occurrence]) -> None:
        return  # what is absent has no place to highlight

    def cost(self) -> float:
        return 1.0


def leaf_keys(
    leaf: StemLeaf | PhraseLeaf | CaseLeaf, folding: Folding = ENGLISH
) -> tuple[str, ...]:
    """The inflection keys (in ``folding``, the articles' language) of the words a leaf
    needs in the article."""
    if isinstance(leaf, StemLeaf):
        return (leaf.key,)
    keys = folding.keys
    if isinstance(leaf, PhraseLeaf):
        return tuple(keys[w] for w in leaf.words)
    return tuple(keys[normalize(w)] for w in leaf.words)
