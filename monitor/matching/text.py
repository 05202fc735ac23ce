"""Words of a text: where they are and their normalized (folded) form.

A word is a run of Unicode word characters (``\\w``) and combining marks, so
apostrophes, hyphens and punctuation separate words: "Iran's" is the words
``iran`` and ``s``, and the query ``Iran`` matches it. Python's ``\\w`` does
not cover combining marks, which would cut Devanagari or Thai words (and
decomposed Latin such as "Te\\u0301he\\u0301ran") in pieces, so the marks are
added to the word class.

Chinese and Japanese are written without spaces between words, so in those scripts
(Han ideographs, Hiragana, Katakana) every character is a word of its own: the query
``伊朗`` is the phrase of its two characters, found wherever they stand in a row. Other
scripts keep their words whole.

The normalized form folds case (``str.casefold``) and accents (NFKD, then the
combining accents are dropped). Queries and articles go through the very same
functions, which is all that matching needs: no later step compares a folded
word with anything but another folded word.
"""

from __future__ import annotations

import codecs
import functools
import re
import sys
import unicodedata
from collections.abc import Callable
from typing import NamedTuple

from monitor.matching.stem import inflection_key

__all__ = [
    "Token",
    "normalize",
    "query_words",
    "raw_words",
    "spans",
    "stem",
    "strip_accents",
    "tokenize",
    "words",
]

#: Accents we fold away: the combining diacritics used by Latin, Greek and Cyrillic, and
#: Arabic short vowels. Not every mark: Indic vowel signs and viramas are letters there.
_ACCENTS_RE = re.compile(
    "[\u0300-\u036f\u1ab0-\u1aff\u1dc0-\u1dff\u20d0-\u20ff\ufe20-\ufe2f\u064b-\u065f]"
)


@functools.cache
def _plain_word_re() -> re.Pattern[str]:
    """The word pattern of a text without CJK characters: ``\\w`` runs, continued across
    combining marks.

    Built on first use rather than at import: collecting the marks takes a few
    milliseconds. Only marks of the Basic Multilingual Plane are included: a
    class of BMP-only ranges compiles to a bitmap, and the marks beyond it
    (historic scripts, variation selectors) would cost every word a slower test.
    The marks class comes after ``\\w+`` rather than inside it, so that the
    common case stays a plain ``\\w`` run.
    """
    ranges: list[str] = []
    run_start = run_end = -2
    for cp in range(0x300, 0x10000):
        if unicodedata.category(chr(cp))[0] != "M":
            continue
        if cp != run_end + 1:
            if run_start >= 0:
                ranges.append(_char_range(run_start, run_end))
            run_start = cp
        run_end = cp
    ranges.append(_char_range(run_start, run_end))
    marks = "[" + "".join(ranges) + "]"
    return re.compile(rf"\w+(?:{marks}+\w*)*")


#: Characters that are each a word (scripts written without spaces): the ideographs of
#: Chinese and Japanese (with 々〆〇), Hiragana, Katakana and its half-width forms.
_CJK = (
    "\u3005-\u3007\u3040-\u30ff\u31f0-\u31ff\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff"
    "\uff66-\uff9f\U00020000-\U0003134f"
)
_HAS_CJK = re.compile(f"[{_CJK}]")


@functools.cache
def _word_re() -> re.Pattern[str]:
    """The word pattern: a CJK character alone, or a run of other word characters cut as
    ``_plain_word_re`` cuts them (the same, in a text without CJK)."""
    plain = _plain_word_re().pattern
    # "\w" without the CJK characters: a character class of what is neither \W nor CJK.
    other = plain.replace("\\w", f"[^\\W{_CJK}]")
    # A CJK character is a word only if it is a word character (not an unassigned one).
    return re.compile(f"(?=\\w)[{_CJK}]|{other}")


def _pattern(text: str) -> re.Pattern[str]:
    """The word pattern for ``text``: the CJK one only when it holds such characters, so
    that other texts are cut as before, at the cost of one scan of non-ASCII text."""
    return _word_re() if _HAS_CJK.search(text) else _plain_word_re()


def _char_range(first: int, last: int) -> str:
    return f"{re.escape(chr(first))}-{re.escape(chr(last))}"


class Token(NamedTuple):
    """One word of a text."""

    #: Folded form: casefolded, compatibility-decomposed, accents dropped.
    norm: str
    #: Offset of the word's first character in the original text.
    start: int
    #: Offset one past the word's last character.
    end: int


@functools.lru_cache(maxsize=1 << 16)
def _fold(word: str) -> str:
    # NFKD before casefold too, so that compatibility characters that decompose to
    # capitals (e.g. "ℌ" -> "H") are folded as well.
    decomposed = unicodedata.normalize("NFKD", unicodedata.normalize("NFKD", word).casefold())
    return _ACCENTS_RE.sub("", decomposed)


def normalize(word: str) -> str:
    """Fold one word as the matcher does: case, compatibility forms and accents."""
    # ASCII is the common case, and for it casefold is lower and there is nothing to decompose.
    return word.lower() if word.isascii() else _fold(word)


def tokenize(text: str) -> list[Token]:
    """The words of ``text`` with their folded form and their offsets in ``text``."""
    return [Token(normalize(m.group()), m.start(), m.end()) for m in _pattern(text).finditer(text)]


#: Byte table for ASCII text: letters lower-cased, digits and "_" kept, anything else a space.
_ASCII_FOLD = bytes(
    ord(chr(b).lower()) if chr(b).isalnum() or b == ord("_") else ord(" ") for b in range(128)
) + bytes(b" " * 128)


def ascii_words(text: str) -> list[str]:
    """``words(text)`` for an ASCII ``text``.

    In ASCII a word is a run of ``[A-Za-z0-9_]``: one table lookup per byte
    turns everything else into a space and folds the case, and ``split`` cuts
    the words, all in C; about three times faster than the regex.
    """
    return text.encode("ascii").translate(_ASCII_FOLD).decode("ascii").split()


def words(text: str) -> list[str]:
    """The folded words of ``text``; same as ``[t.norm for t in tokenize(text)]``, faster."""
    if text.isascii():
        return ascii_words(text)
    try:
        # Mostly-ASCII text ("£", curly quotes, "é"): each run of non-ASCII characters is
        # swapped for its ASCII equivalent by an encoding error handler (one Python call per
        # run), then the ASCII path cuts the words, several times faster than the regex.
        encoded = text.encode("ascii", _FOLDED_ERRORS)
    except _Unfoldable:
        # map() over a dict's __getitem__ runs in C for every word already folded once.
        return list(map(FOLDED.__getitem__, _pattern(text).findall(text)))
    return encoded.translate(_ASCII_FOLD).decode("ascii").split()


#: Like ``_ASCII_FOLD``, case kept.
_ASCII_KEEP = bytes(
    b if chr(b).isalnum() or b == ord("_") else ord(" ") for b in range(128)
) + bytes(b" " * 128)


def raw_words(text: str) -> list[str]:
    """The words of ``text`` with their case kept and accents dropped (for ``case:``)."""
    try:
        # As in ``words``: the ASCII path when every non-ASCII character has an ASCII stand-in.
        encoded = text.encode("ascii", _RAW_ERRORS)
    except _Unfoldable:
        return [w if w.isascii() else strip_accents(w) for w in _pattern(text).findall(text)]
    return encoded.translate(_ASCII_KEEP).decode("ascii").split()


class _Unfoldable(Exception):
    """A character the ASCII path cannot stand for: the text takes the regex path."""


class _CharFolds(dict[str, str]):
    """Non-ASCII character -> what replaces it for the ASCII path (filled on first use).

    Replacing a character is exact only when the word it is part of folds to the
    concatenation of its characters' replacements (``fold`` is ``normalize`` or
    ``strip_accents``), which holds for: a word character whose fold is ASCII word
    characters ("É" -> "e", "ß" -> "ss"; casefold and NFKD act per character, and the
    accents they leave are all dropped); an accent (a combining mark that folds to
    nothing: it continues a word and starts none); anything else, which separates words
    (-> a space). Any other character (a letter of another script, a mark the fold
    keeps) raises ``_Unfoldable``.
    """

    def __init__(self, fold: Callable[[str], str]) -> None:
        super().__init__()
        self.fold = fold

    def __missing__(self, char: str) -> str:
        if _ONE_WORD_CHAR.match(char):
            folded = self.fold(char)
            if not _ASCII_WORD.fullmatch(folded):
                raise _Unfoldable(char)
        elif unicodedata.category(char)[0] == "M" and char <= "\uffff":
            # A mark of the word pattern (BMP marks): kept out of words only if it folds away.
            folded = self.fold(char)
            if folded:
                raise _Unfoldable(char)
        else:
            folded = " "
        self[char] = folded
        return folded


_ONE_WORD_CHAR = re.compile(r"\w")
_ASCII_WORD = re.compile(r"[A-Za-z0-9_]+", re.ASCII)


def _error_handler(folds: _CharFolds) -> Callable[[UnicodeError], tuple[str, int]]:
    def replace(error: UnicodeError) -> tuple[str, int]:
        """Encoding error handler: the ASCII stand-in of a run of non-ASCII characters."""
        assert isinstance(error, UnicodeEncodeError)
        run = error.object[error.start : error.end]
        return "".join(map(folds.__getitem__, run)), error.end

    return replace


_FOLDED_ERRORS = "monitor-fold"
_RAW_ERRORS = "monitor-fold-keep-case"


def spans(text: str) -> list[tuple[int, int]]:
    """The (start, end) offsets of the words of ``text``, in the order of ``words(text)``."""
    # map() over the C-level Match.span keeps the per-word work out of Python bytecode.
    return list(map(re.Match.span, _pattern(text).finditer(text)))


def query_words(text: str) -> list[str]:
    """The folded words a query term or phrase stands for (empty folds dropped)."""
    return list(_query_words(text))


@functools.lru_cache(maxsize=1 << 17)
def _query_words(text: str) -> tuple[str, ...]:
    # Cached: a large rule set repeats the same words many times, and the parser asks twice.
    return tuple(w for w in words(text) if w)


@functools.lru_cache(maxsize=1 << 14)
def strip_accents(word: str) -> str:
    """``word`` without its accents, case kept (compatibility forms decomposed, then NFC)."""
    return unicodedata.normalize("NFC", _ACCENTS_RE.sub("", unicodedata.normalize("NFKD", word)))


class _FoldCache(dict[str, str]):
    """Word -> ``normalize(word)``, filled on first use and bounded like ``_StemCache``."""

    def __missing__(self, word: str) -> str:
        if len(self) >= _MAX_STEMS:
            self.clear()
        folded = self[word] = normalize(word)
        return folded


class _PrefixCache(dict[str, str]):
    """Folded word -> its wildcard index key: its first three characters and a star."""

    def __missing__(self, word: str) -> str:
        if len(self) >= _MAX_STEMS:
            self.clear()
        # Interned, as index keys are: a lookup of the article's key in the index then
        # compares pointers, without reading the string (see ``_StemCache``).
        key = self[word] = sys.intern(word[:3] + "*")
        return key


class _StemCache(dict[str, str]):
    """Folded word -> inflection key; a word is stemmed once per process.

    A dict subclass with ``__missing__`` so that ``map(cache.__getitem__, ...)``
    runs at C speed for the words already seen (nearly all of them). Cleared
    when it grows past ``_MAX_STEMS``, so that a long-running daemon stays bounded.
    """

    def __missing__(self, word: str) -> str:
        if len(self) >= _MAX_STEMS:
            self.clear()
            STEM_WORDS.clear()
        # Interned: the index holds the interned keys, and a dict lookup of the very same
        # object compares pointers, without reading the string (a cache miss in a large index).
        key = self[word] = sys.intern(inflection_key(word))
        STEM_WORDS.setdefault(key, []).append(word)
        return key


_MAX_STEMS = 1 << 20
#: The shared cache; ``STEMS[word]`` is the inflection key of a folded word.
STEMS = _StemCache()
#: The reverse: inflection key -> the folded words seen with it ("drone" -> drone, drones...).
STEM_WORDS: dict[str, list[str]] = {}
#: ``FOLDED[word]`` is ``normalize(word)``.
FOLDED = _FoldCache()
#: ``PREFIX_KEYS[word]`` is the index key of the wildcards that may match a folded word.
PREFIX_KEYS = _PrefixCache()


def stem(word: str) -> str:
    """The inflection key of a folded word: "drones" and "drone" -> "drone"."""
    return STEMS[word]


codecs.register_error(_FOLDED_ERRORS, _error_handler(_CharFolds(normalize)))
codecs.register_error(_RAW_ERRORS, _error_handler(_CharFolds(strip_accents)))
