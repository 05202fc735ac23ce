"""One article as the matcher reads it: per field, its words, stems and (lazily) positions.

A ``View`` is one field's text. Built eagerly: the folded words, their set and
the set of their inflection keys, which is all that the index lookup and most
rule evaluations need. Everything else (the text joined for phrase search, the
case-kept words, word positions and their bit masks for NEAR, character
offsets, the sorted words for wildcards) is computed on first use, so an
article that only meets rules on plain terms never pays for it.

Capitals (``View.amid_capitals``): a case-sensitive entity alias also counts in
capitals (CHINA for ``China``) where the text around it is in capitals, as in a wire
headline. The words looked at are the cased ones (with a letter) of the occurrence's
sentence, up to ``CAPS_WINDOW`` on each side of it; there must be at least
``CAPS_CONTEXT`` of them and none may hold a lower-case letter. A sentence ends at a
line break, and at ".", "!" or "?" (closing quotes or brackets may follow) before a
space, except a "." after a one-letter word (U.S., J. Smith); a field is never crossed.

A ``Document`` holds the views of one article: title and text at once (every
article is matched on them), author, url and source only when a rule asks.
The source field is the feed id and the domain of the article's URL.
"""

from __future__ import annotations

import functools
import re
from urllib.parse import urlsplit

from monitor.matching.ast import FIELDS
from monitor.matching.languages import ENGLISH, Folding
from monitor.matching.text import (
    PREFIX_KEYS,
    ascii_words,
    raw_words,
    spans,
    words,
)
from monitor.model import Article

__all__ = [
    "AUTHOR",
    "CAPS_CONTEXT",
    "CAPS_WINDOW",
    "SOURCE",
    "TEXT",
    "TITLE",
    "URL",
    "Document",
    "View",
    "source_text",
]

#: Field numbers, the index of each field in ``FIELDS``.
TITLE, TEXT, AUTHOR, URL, SOURCE = range(len(FIELDS))
#: Title and text: the fields a query without ``field:`` looks in.
DEFAULT_FIELDS = (TITLE, TEXT)

_WWW = re.compile(r"^www\d*\.")
#: Word scans of a field (see ``View.word_positions``) before its words' positions are mapped.
POSITION_SCANS = 12
_NONE: list[int] = []
#: Cased words looked at on each side of an occurrence in capitals (``View.amid_capitals``).
CAPS_WINDOW = 3
#: Cased words in capitals it needs around it, on both sides together.
CAPS_CONTEXT = 2
#: The end of a sentence in the text between two words (a line break is tested apart).
_SENTENCE_END = re.compile(r"[.!?][\"'\u2019\u201d)\]]*\s")


def source_text(article: Article) -> str:
    """The text of the ``source:`` field: the feed id, then the domain of the article's URL."""
    host = ""
    if article.url:
        try:
            host = urlsplit(article.url).hostname or ""
        except ValueError:  # a malformed URL has no domain to match
            host = ""
    return f"{article.feed_id} {_WWW.sub('', host)}".strip()


class View:
    """The words of one field of one article."""

    __slots__ = (
        "_joined",
        "_lower",
        "_masks",
        "_raw",
        "_raw_joined",
        "_scans",
        "_spans",
        "_stems",
        "_word_index",
        "_wordset",
        "ascii",
        "folding",
        "text",
        "words",
    )

    def __init__(self, text: str, folding: Folding = ENGLISH) -> None:
        #: The field's original text.
        self.text = text
        #: How its words fold (its article's language).
        self.folding = folding
        #: Whether the text is ASCII (then hits are found by regex over the lower-cased text).
        self.ascii = text.isascii()
        #: Folded words, in order.
        self.words: list[str] = ascii_words(text) if self.ascii else words(text)
        self._lower: str | None = None
        self._wordset: set[str] | None = None
        self._stems: set[str] | None = None
        self._joined: str | None = None
        self._raw: list[str] | None = None
        self._raw_joined: str | None = None
        self._word_index: dict[str, list[int]] | None = None
        self._masks: dict[str, int] | None = None
        self._scans = 0
        self._spans: list[tuple[int, int]] | None = None

    @property
    def wordset(self) -> set[str]:
        """The distinct folded words (built on first use: the document keeps the sets of
        title and text together, which is what most rules look at)."""
        if self._wordset is None:
            self._wordset = set(self.words)
        return self._wordset

    @property
    def stems(self) -> set[str]:
        """Inflection keys of the words (the folding caches them per distinct word)."""
        if self._stems is None:
            self._stems = set(map(self.folding.keys.__getitem__, self.wordset))
        return self._stems

    # --- tests: does the field contain ... ---------------------------------------------------

    def has_phrase(self, joined: str) -> bool:
        """Whether the folded words ``joined`` (" w1 w2 ", spaces around) occur in a row."""
        if self._joined is None:
            # Words never contain spaces, so a substring test is a word-aligned phrase test.
            self._joined = " " + " ".join(self.words) + " "
        return joined in self._joined

    def has_case_phrase(self, joined: str) -> bool:
        """Like ``has_phrase`` for case-kept words (``case:``)."""
        if self._raw_joined is None:
            self._raw_joined = " " + " ".join(self.raw()) + " "
        return joined in self._raw_joined

    # --- lazily built structures ---------------------------------------------------------------

    def raw(self) -> list[str]:
        """The words with their case (accents dropped), in the order of ``words``."""
        if self._raw is None:
            self._raw = raw_words(self.text)
        return self._raw

    def spans(self) -> list[tuple[int, int]]:
        """Character offsets (start, end) of each word."""
        if self._spans is None:
            self._spans = spans(self.text)
        return self._spans

    def words_with_stem(self, key: str) -> list[str]:
        """The distinct folded words of the field whose inflection key is ``key``."""
        wordset = self.wordset
        folding = self.folding
        found = [word for word in folding.words.get(key, ()) if word in wordset]
        if not found and key in self.stems:
            # The caches were cleared since this view was read (a million distinct words
            # later): look the slow way rather than miss.
            found = [word for word in wordset if folding.keys[word] == key]
        return found

    # --- occurrences as word positions (start, end), for NEAR ------------------------------------
    # A word's positions come from list.count and list.index over the folded words (C-level
    # scans, no structure to build): most articles meet few NEAR operands. One that meets
    # many (large rule sets) gets, after ``POSITION_SCANS`` scans, a map of every word's
    # positions, built once in Python and then one dict lookup per word.

    def word_positions(self, word: str) -> list[int]:
        """Indexes of the folded word ``word`` in the field, in order (do not modify)."""
        index = self._word_index
        if index is not None:
            return index.get(word, _NONE)
        self._scans += 1
        words = self.words
        if self._scans > POSITION_SCANS:
            index = self._word_index = {w: [] for w in self.wordset}
            for i, w in enumerate(words):
                index[w].append(i)
            return index.get(word, _NONE)
        found: list[int] = []
        i = -1
        for _ in range(words.count(word)):
            i = words.index(word, i + 1)
            found.append(i)
        return found

    def word_mask(self, word: str) -> int:
        """The positions of the folded word ``word`` as a bit mask (bit i: word i), for NEAR;
        remembered per word (NEAR operands are shared by rules)."""
        masks = self._masks
        if masks is None:
            masks = self._masks = {}
        mask = masks.get(word)
        if mask is None:
            mask = masks[word] = self.needle_mask(" " + word + " ")
        return mask

    def needle_mask(self, needle: str) -> int:
        """Where ``needle`` (folded words, a space before each: " w1 w2 ", or a word start
        " pre") occurs in the joined words, as a bit mask of the first word's positions."""
        mask = 0
        for i in self._positions(needle):
            mask |= 1 << i
        return mask

    def stem_occurrences(self, key: str) -> list[tuple[int, int]]:
        """Where words with inflection key ``key`` are."""
        found = [i for word in self.words_with_stem(key) for i in self.word_positions(word)]
        return [(i, i + 1) for i in sorted(found)]

    def phrase_occurrences(self, phrase: tuple[str, ...]) -> list[tuple[int, int]]:
        """Where the folded words ``phrase`` occur in a row."""
        n = len(phrase)
        if not n:
            return []
        words = self.words
        rest = list(phrase[1:])
        return [(i, i + n) for i in self.word_positions(phrase[0]) if words[i + 1 : i + n] == rest]

    def case_occurrences(self, phrase: tuple[str, ...]) -> list[tuple[int, int]]:
        """Where the case-kept words ``phrase`` occur in a row."""
        n = len(phrase)
        needle = " " + " ".join(phrase) + " "
        self.has_case_phrase(needle)  # builds the joined case-kept words
        assert self._raw_joined is not None
        return [(i, i + n) for i in _find_all(self._raw_joined, needle)]

    def prefix_occurrences(self, prefix: str) -> list[tuple[int, int]]:
        """Where words starting with ``prefix`` are."""
        return [(i, i + 1) for i in self._positions(" " + prefix)]

    def _positions(self, needle: str) -> list[int]:
        self.has_phrase(needle)  # builds the joined words
        assert self._joined is not None
        return _find_all(self._joined, needle)

    # --- capitals around an occurrence, for case-sensitive entity aliases -----------------------

    def amid_capitals(self, start: int, end: int) -> bool:
        """Whether the words ``start:end`` stand amid capitals (see the module docstring):
        the cased words of their sentence, up to ``CAPS_WINDOW`` on each side, are at
        least ``CAPS_CONTEXT`` and all without a lower-case letter."""
        raw = self.raw()
        found = 0
        for step, first in ((-1, start - 1), (1, end)):
            i, taken = first, 0
            while 0 <= i < len(raw) and taken < CAPS_WINDOW:
                if self._sentence_break(i if step < 0 else i - 1):
                    break
                case = _case_of(raw[i])
                if case < 0:
                    return False
                taken += case
                i += step
            found += taken
        return found >= CAPS_CONTEXT

    def _sentence_break(self, i: int) -> bool:
        """Whether a sentence ends between word ``i`` and word ``i + 1``."""
        offsets = self.spans()
        gap = self.text[offsets[i][1] : offsets[i + 1][0]]
        if "\n" in gap or "\r" in gap:
            return True
        end = _SENTENCE_END.search(gap)
        # A "." after a one-letter word is an abbreviation or an initial: U.S. FORCES.
        return end is not None and (gap[end.start()] != "." or len(self.raw()[i]) > 1)

    # --- character offsets, for hits ---------------------------------------------------------

    def char_spans(self, occurrences: list[tuple[int, int]]) -> list[tuple[int, int]]:
        """Character offsets of word-position occurrences."""
        offsets = self.spans()
        return [(offsets[s][0], offsets[e - 1][1]) for s, e in occurrences]

    def find(self, pattern: str, case: bool) -> list[tuple[int, int]] | None:
        """Character offsets of a regex over the (lower-cased, unless ``case``) ASCII text.

        None if the text is not ASCII: the caller then goes through word positions.
        Patterns start with a literal, not with a word-boundary assertion: that
        would turn off the regex engine's fast literal scan, so the start of the
        word is checked here instead.
        """
        if not self.ascii:
            return None
        text = self.text
        if not case:
            lower = self._lower
            if lower is None:
                lower = self._lower = text.lower()
            text = lower
        return [
            m.span()
            for m in _compiled(pattern).finditer(text)
            if not m.start() or not _is_word_char(text[m.start() - 1])
        ]


_BITS: list[int] = []


def _bits(n: int) -> list[int]:
    """``1 << i`` for i up to ``n`` at least, built once and grown as needed: shifting anew
    for every word of every article would allocate a number each time."""
    if len(_BITS) < n:
        _BITS.extend(1 << i for i in range(len(_BITS), max(n, 2 * len(_BITS), 1024)))
    return _BITS


def _case_of(word: str) -> int:
    """1 for a word in capitals, 0 for one without a cased letter ("2024"), -1 for a word
    with a lower-case letter."""
    if word.isupper():
        return 1
    return 0 if word == word.upper() else -1


def _is_word_char(char: str) -> bool:
    return char.isalnum() or char == "_"


@functools.lru_cache(maxsize=1 << 15)
def _compiled(pattern: str) -> re.Pattern[str]:
    return re.compile(pattern, re.ASCII)


def _find_all(joined: str, needle: str) -> list[int]:
    """Word indexes where ``needle`` (starting with a space) occurs in ``joined``, the
    words joined by single spaces with a space before the first: a word's index is the
    number of spaces before it, counted in C from the previous occurrence on (no table
    of word offsets to build for the few words an article is asked about)."""
    out: list[int] = []
    i = joined.find(needle)
    if i < 0:
        return out
    index = joined.count(" ", 0, i)
    count = joined.count
    find = joined.find
    while True:
        out.append(index)
        j = find(needle, i + 1)
        if j < 0:
            return out
        index += count(" ", i, j)
        i = j


class Document:
    """The views of one article, built on demand (title and text at once)."""

    __slots__ = (
        "_body_joined",
        "_prefixed",
        "article",
        "body_stems",
        "body_words",
        "folding",
        "masks",
        "memo",
        "occurrences",
        "prefix_tests",
        "sorted_words",
        "views",
    )

    def __init__(self, article: Article, stems: bool = True, folding: Folding = ENGLISH) -> None:
        """``stems`` False leaves ``body_stems`` empty: for a caller that knows that no
        test will read the inflection keys of title and text (a rule set without terms).
        ``folding``: how the article's words fold (``languages.folding`` of its language)."""
        #: The article read.
        self.article = article
        #: How its words fold.
        self.folding = folding
        title, text = View(article.title, folding), View(article.text, folding)
        #: View per field number; None until first asked for.
        self.views: list[View | None] = [title, text, None, None, None]
        #: Folded words of title and text together (the default fields).
        body_words = set(text.words)
        body_words.update(title.words)
        self.body_words = body_words
        #: Their inflection keys; with their wildcard keys too once ``body_keys`` was called
        #: (a wildcard key ends with "*", which no inflection key holds), and the exact keys
        #: a rule set reads (``index.RuleIndex.keys_of``).
        self.body_stems = set(map(folding.keys.__getitem__, body_words)) if stems else set()
        self._body_joined: str | None = None
        #: The distinct words of title and text, sorted, once ``sorted_body_words`` was called.
        self.sorted_words: list[str] | None = None
        #: Wildcards tested so far without the sorted words (see ``program.PrefixLeaf``).
        self.prefix_tests = 0
        #: Word positions of NEAR operands, per (leaf, field) (see ``program``).
        self.occurrences: dict[tuple[object, int], list[tuple[int, int]]] = {}
        #: Where NEAR operands start and end, as bit masks of word positions, per (node, field).
        self.masks: dict[tuple[object, int], tuple[int, int]] = {}
        #: Results of the costlier leaf tests, per leaf object (see ``program``).
        self.memo: dict[object, bool] = {}
        self._prefixed = False

    def body_keys(self) -> set[str]:
        """``body_stems`` and the wildcard index keys (``dro*``) of the words of title and
        text, added to the same set: one set for the index lookup and the tests, no union."""
        if not self._prefixed:
            self.body_stems.update(map(PREFIX_KEYS.__getitem__, self.body_words))
            self._prefixed = True
        return self.body_stems

    def sorted_body_words(self) -> list[str]:
        """The distinct folded words of title and text, sorted (for wildcards)."""
        if self.sorted_words is None:
            self.sorted_words = sorted(self.body_words)
        return self.sorted_words

    def body_joined(self) -> str:
        """The folded words of title and text joined by spaces, the fields kept apart by a
        line break: one substring search finds a phrase (" w1 w2 ") or a word start
        (" pre") in either field, never across them."""
        if self._body_joined is None:
            title, text = self.views[0], self.views[1]
            assert title is not None and text is not None
            self._body_joined = f" {' '.join(title.words)} \n {' '.join(text.words)} "
        return self._body_joined

    def view(self, field: int) -> View:
        """The view of field ``field`` (see ``TITLE`` ... ``SOURCE``)."""
        found = self.views[field]
        if found is None:
            found = self.views[field] = View(self.field_text(field), self.folding)
        return found

    def field_text(self, field: int) -> str:
        """The text hits of field ``field`` are offsets into."""
        article = self.article
        if field == TITLE:
            return article.title
        if field == TEXT:
            return article.text
        if field == AUTHOR:
            return article.author
        if field == URL:
            return article.url
        return source_text(article)
