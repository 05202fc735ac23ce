"""Inflections folded per language: which stemmer reads the words of an article.

An article is read in its language (``Article.language``, an ISO 639 code). English
and unknown (``""``) articles fold as they always have: ``stem.inflection_key``,
Porter2's inflectional steps (``ENGLISH``). An article in a language that has a
Snowball stemmer (PyStemmer, the C implementation: Spanish, French, German, Italian,
Portuguese, Russian, Arabic, ... ``SNOWBALL``) folds its words with it; one in a
language without one (Chinese, Japanese, Korean, Hebrew, Ukrainian, ...) folds nothing:
its words are compared exactly (folded for case and accents, as everywhere).

A ``Folding`` holds one language's inflection keys, cached per folded word, and the
words seen with each key (for hits and NEAR), like ``text.STEMS`` and
``text.STEM_WORDS`` for English. Each language keeps its own caches, and the engine
keeps a rule index per language (``engine``), so a key of one language never meets an
article of another: Spanish ``dron`` (drones) is a key of Spanish articles only.

Care taken, as for English (``stem``, which runs only Porter2's inflectional steps):
Snowball also strips derivational suffixes (Spanish *-ción*, *-mente*, French
*-ement*), and as it is it merges a fifth to a third of the distinct words of Spanish,
French, Italian or Portuguese with others. So an ending the stemmer cuts that is
derivational in that language (``data/derivational_endings.json``, learned from lemma
dictionaries by ``scripts/derivational_endings.py``) stays on the word, and only what
follows it is cut (``keep_derivational``: *organizaciones* -> *organizacion*, the key
of *organización*, not *organiz*, that of *organizar*); on held-out words this halves
the merges of Spanish and cuts those of French, Italian and Portuguese by a seventh to
a quarter, for at most a point of the inflections reached
(``benchmarks/folding.py``, README). Words of ``MIN_STEMMED`` letters or fewer, and
words of another script than the language's (a Latin name in a Russian article), are
left alone; the stemmer reads the word with its accents folded, as the matcher holds it.
"""

from __future__ import annotations

import functools
import json
import sys
import unicodedata
from collections.abc import Callable
from importlib import resources

from monitor.matching.text import STEM_WORDS, STEMS

__all__ = [
    "ENGLISH",
    "MIN_STEMMED",
    "SNOWBALL",
    "Folding",
    "folding",
    "keep_derivational",
    "language_code",
    "script_of",
]

#: ISO 639-1 code -> Snowball algorithm (English is ``stem``'s own folding, not Snowball's).
SNOWBALL = {
    "ar": "arabic",
    "ca": "catalan",
    "cs": "czech",
    "da": "danish",
    "de": "german",
    "el": "greek",
    "es": "spanish",
    "eu": "basque",
    "fa": "persian",
    "fi": "finnish",
    "fr": "french",
    "ga": "irish",
    "hi": "hindi",
    "hu": "hungarian",
    "hy": "armenian",
    "id": "indonesian",
    "it": "italian",
    "lt": "lithuanian",
    "ne": "nepali",
    "nl": "dutch",
    "no": "norwegian",
    "pl": "polish",
    "pt": "portuguese",
    "ro": "romanian",
    "ru": "russian",
    "sr": "serbian",
    "sv": "swedish",
    "ta": "tamil",
    "tr": "turkish",
}
#: The scripts each stemmer reads (Unicode names' first word); others are left alone.
_SCRIPTS = {
    "ar": ("ARABIC",),
    "fa": ("ARABIC",),
    "el": ("GREEK",),
    "hi": ("DEVANAGARI",),
    "ne": ("DEVANAGARI",),
    "hy": ("ARMENIAN",),
    "ru": ("CYRILLIC",),
    "sr": ("CYRILLIC", "LATIN"),
    "ta": ("TAMIL",),
}
#: Words this long or shorter are not stemmed (outside English).
MIN_STEMMED = 3
#: Most words a language's caches hold before they are cleared (as ``text._MAX_STEMS``).
_MAX_WORDS = 1 << 19


def language_code(language: str) -> str:
    """The base code of a language tag as the engine keys it: ``"pt-BR"`` -> ``"pt"``;
    English and unknown are both ``""`` (they fold alike)."""
    code = language.strip().lower().replace("_", "-").partition("-")[0]
    return "" if code == "en" else code


@functools.lru_cache(maxsize=1 << 12)
def script_of(word: str) -> str:
    """The script of a word's first letter (``LATIN``, ``CYRILLIC``, ...), "" for none."""
    for char in word:
        if char.isalpha():
            return unicodedata.name(char, "").partition(" ")[0]
    return ""


class _Keys(dict[str, str]):
    """Folded word -> its key in one language, computed on first use; the reverse map is
    filled as words come (see ``text._StemCache``)."""

    def __init__(self, fold: Callable[[str], str], words: dict[str, list[str]]) -> None:
        super().__init__()
        self.fold = fold
        self.words = words

    def __missing__(self, word: str) -> str:
        if len(self) >= _MAX_WORDS:
            self.clear()
            self.words.clear()
        key = self[word] = sys.intern(self.fold(word))
        self.words.setdefault(key, []).append(word)
        return key


class Folding:
    """How the words of one language fold: ``keys[word]`` is a folded word's inflection key,
    ``words[key]`` the folded words seen with that key."""

    __slots__ = ("keys", "language", "stemmed", "words")

    def __init__(
        self, language: str, keys: dict[str, str], words: dict[str, list[str]], stemmed: bool
    ) -> None:
        #: The language code ("" for English and unknown).
        self.language = language
        self.keys = keys
        self.words = words
        #: Whether words fold at all (False: every key is the word itself).
        self.stemmed = stemmed

    def __repr__(self) -> str:
        return f"<Folding {self.language or 'en'}{'' if self.stemmed else ' (exact)'}>"


#: English, and articles of unknown language: the folding the engine always had.
ENGLISH = Folding("", STEMS, STEM_WORDS, True)


@functools.cache
def _derivational() -> dict[str, frozenset[str]]:
    """Language -> the derivational endings its stemmer cuts (see the module docstring)."""
    data = resources.files("monitor.matching").joinpath("data/derivational_endings.json")
    if not data.is_file():
        return {}
    table = json.loads(data.read_text(encoding="utf-8"))
    return {code: frozenset(endings) for code, endings in table.items()}


def keep_derivational(stem: Callable[[str], str], endings: frozenset[str]) -> Callable[[str], str]:
    """``stem``, except that the longest of ``endings`` that starts what it cut stays on the
    word (a derivational suffix: only the inflection after it is cut)."""
    longest = max(map(len, endings), default=0)

    def fold(word: str) -> str:
        key = stem(word)
        if not word.startswith(key):
            return key
        cut = word[len(key) :]
        for size in range(min(len(cut), longest), 0, -1):
            if cut[:size] in endings:
                return key + cut[:size]
        return key

    return fold


def _snowball(code: str) -> Callable[[str], str] | None:
    """The stemming function of a language, or None when it has no stemmer."""
    algorithm = SNOWBALL.get(code)
    if algorithm is None:
        return None
    import Stemmer  # PyStemmer: loaded with the first article in such a language

    if algorithm not in Stemmer.algorithms():  # an older PyStemmer
        return None
    stem_word = Stemmer.Stemmer(algorithm).stemWord
    scripts = frozenset(_SCRIPTS.get(code, ("LATIN",)))
    endings = _derivational().get(code)
    stem = keep_derivational(stem_word, endings) if endings else stem_word

    def fold(word: str) -> str:
        if len(word) <= MIN_STEMMED or script_of(word) not in scripts:
            return word
        return stem(word) or word

    return fold


@functools.cache
def folding(language: str) -> Folding:
    """The folding of articles in ``language`` (a code as ``language_code`` gives it)."""
    code = language_code(language)
    if not code:
        return ENGLISH
    fold = _snowball(code)
    words: dict[str, list[str]] = {}
    if fold is None:
        return Folding(code, _Keys(_same, words), words, False)
    return Folding(code, _Keys(fold, words), words, True)


def _same(word: str) -> str:
    return word


def language_note(codes: tuple[str, ...]) -> str:
    """How the terms of a rule that names ``codes`` with ``lang:`` fold, for ``check``:
    ``"es (Snowball spanish), zh (words matched exactly: no stemmer)"``."""
    parts = []
    for code in codes:
        if code == "en":
            parts.append("en (English inflections)")
        elif code in SNOWBALL:
            parts.append(f"{code} (Snowball {SNOWBALL[code]})")
        else:
            parts.append(f"{code} (words matched exactly: no stemmer)")
    return ", ".join(parts)
