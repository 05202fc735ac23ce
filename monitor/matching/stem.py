"""English inflection folding: the inflectional steps of the Porter2 (Snowball English) stemmer.

``inflection_key("sanctioned") == inflection_key("sanctions") == "sanction"``.

Why not the whole Snowball English stemmer (PyStemmer, snowballstemmer): its
later steps strip *derivational* suffixes, so it folds words a news reader
keeps apart: organization/organ, university/universe, police/policy,
business/busy, communism/community. The issue asks for inflections only
(drone/drones, sanction/sanctioned), so this module runs only Porter2's
steps 1a (plurals), 1b (-ed, -ing), 1c (final -y) and the final-e rule of
step 5 (needed so that "raise", "raised" and "raising" share a key), with
Porter2's exceptional forms, plus a few words whose -ing form is a
different everyday word (evening/even, morning, during). Words of two letters or
fewer, words with non-ASCII letters and words with digits are left as they are.

Pure functions of one folded (lower-case, accent-free) word; callers cache.
"""

from __future__ import annotations

__all__ = ["inflection_key"]

_VOWELS = frozenset("aeiouy")
_DOUBLES = ("bb", "dd", "ff", "gg", "mm", "nn", "pp", "rr", "tt")
#: Porter2's exceptional forms, restricted to those the inflectional steps would touch.
_EXCEPTIONS = {
    "skis": "ski",
    "skies": "sky",
    "dying": "die",
    "lying": "lie",
    "tying": "tie",
    # Invariant: Porter2's list, and -ing words that are not the inflection of a shorter word.
    **dict.fromkeys(
        ["sky", "news", "howe", "atlas", "cosmos", "bias", "andes", "evening", "morning"],
        "",
    ),
    **dict.fromkeys(["during", "nothing", "something", "anything", "everything"], ""),
}
#: Porter2: words left alone after step 1a.
_AFTER_1A = frozenset(
    ["inning", "outing", "canning", "herring", "earring", "proceed", "exceed", "succeed"]
)
_R1_PREFIXES = ("gener", "commun", "arsen")


def _is_vowel(word: str, i: int) -> bool:
    # "Y" (a y acting as a consonant) was upper-cased beforehand, so it is not in the set.
    return word[i] in _VOWELS


def _region_after_vc(word: str, start: int) -> int:
    """Offset of the region after the first non-vowel that follows a vowel, from ``start``."""
    for i in range(start + 1, len(word)):
        if not _is_vowel(word, i) and _is_vowel(word, i - 1):
            return i + 1
    return len(word)


def _regions(word: str) -> tuple[int, int]:
    r1 = next((len(p) for p in _R1_PREFIXES if word.startswith(p)), None)
    if r1 is None:
        r1 = _region_after_vc(word, 0)
    return r1, _region_after_vc(word, r1) if r1 < len(word) else len(word)


def _ends_short_syllable(word: str) -> bool:
    n = len(word)
    if n == 2:
        return _is_vowel(word, 0) and not _is_vowel(word, 1)
    return (
        n >= 3
        and not _is_vowel(word, n - 3)
        and _is_vowel(word, n - 2)
        and not _is_vowel(word, n - 1)
        and word[n - 1] not in "wxY"
    )


def _has_vowel(part: str) -> bool:
    return any(c in _VOWELS for c in part)


def _step1a(word: str) -> str:
    if word.endswith("sses"):
        return word[:-2]
    if word.endswith(("ied", "ies")):
        return word[:-2] if len(word) > 4 else word[:-1]
    if word.endswith(("us", "ss")) or not word.endswith("s"):
        return word
    return word[:-1] if _has_vowel(word[:-2]) else word


def _step1b(word: str, r1: int) -> str:
    for suffix in ("eedly", "eed"):
        if word.endswith(suffix):
            return word[: -len(suffix)] + "ee" if len(word) - len(suffix) >= r1 else word
    for suffix in ("ingly", "edly", "ing", "ed"):
        if word.endswith(suffix):
            stem = word[: -len(suffix)]
            if not _has_vowel(stem):
                return word
            if stem.endswith(("at", "bl", "iz")):
                return stem + "e"
            if stem.endswith(_DOUBLES):
                return stem[:-1]
            if _ends_short_syllable(stem) and _regions(stem)[0] >= len(stem):
                return stem + "e"
            return stem
    return word


def _step1c(word: str) -> str:
    if len(word) > 2 and word[-1] in "yY" and not _is_vowel(word, len(word) - 2):
        return word[:-1] + "i"
    return word


def _final_e(word: str) -> str:
    if not word.endswith("e"):
        return word
    r1, r2 = _regions(word)
    last = len(word) - 1
    if last >= r2 or (last >= r1 and not _ends_short_syllable(word[:-1])):
        return word[:-1]
    return word


def inflection_key(word: str) -> str:
    """The key shared by the inflected forms of a folded English word."""
    # Only endings in s, d, g, y, e (and -ly) are touched: most words return here at once.
    if len(word) <= 2 or word[-1] not in "sdgyel" or not word.isascii() or not word.isalpha():
        return word
    if (exception := _EXCEPTIONS.get(word)) is not None:
        return exception or word
    # Mark the y's that act as consonants (initial, or after a vowel) as "Y".
    marked = "Y" + word[1:] if word[0] == "y" else word
    marked = "".join(
        "Y" if c == "y" and i and marked[i - 1] in _VOWELS else c for i, c in enumerate(marked)
    )
    marked = _step1a(marked)
    if marked in _AFTER_1A:
        return marked
    marked = _step1c(_step1b(marked, _regions(marked)[0]))
    return _final_e(marked).replace("Y", "y")
