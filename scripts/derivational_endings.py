"""Make ``monitor/matching/data/derivational_endings.json``: per language, the endings the
Snowball stemmer cuts that make words of different meaning one (``matching.languages``).

Run from the repository root (needs ``simplemma``, whose lemma dictionaries are the
reference; not a dependency of the daemon)::

    .venv/bin/python scripts/derivational_endings.py

Snowball strips derivational suffixes too (Spanish *-ción*, *-mente*, French *-ement*),
which merges distinct words: a fifth to a third of the lemmas of Spanish, French,
Italian, Portuguese and Catalan share their key with another lemma. Our English folding
avoids that by running only the inflectional steps. For the other languages, the
endings the stemmer cuts are counted on (form, lemma) pairs of the language's
dictionary: cut from a form whose key is its lemma's (inflection), or from a lemma whose
key is another lemma's too (a merge). An ending cut at least ``MIN_SEEN`` times in
merges and at least as often as in inflections is *derivational*: the engine keeps it
on the word and cuts only what follows it (*organizaciones* -> *organizacion*, the
key of *organización*, no longer *organiz*, that of *organizar*). A language's list is
kept where, on the same pairs, it cuts the merges by a tenth or more and keeps 97% of
the inflections reached. The pairs are disjoint from those ``benchmarks/folding.py``
measures on (the same seeded shuffle, past its sample).
"""

from __future__ import annotations

import json
import sys
from collections import Counter, defaultdict
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import Stemmer  # noqa: E402

from benchmarks.folding import SAMPLE, SEED, measure, pairs  # noqa: E402
from monitor.matching.languages import MIN_STEMMED, SNOWBALL, keep_derivational  # noqa: E402

OUT = ROOT / "monitor" / "matching" / "data" / "derivational_endings.json"
#: Pairs learned from, after the benchmark's ``SAMPLE``.
TRAIN = 80_000
MIN_SEEN = 3
#: simplemma's codes where they differ from ISO 639-1.
DICTIONARIES = {"no": "nb", "sr": "hbs"}


def derivational(language: str) -> list[str] | None:
    """The derivational endings of ``language``, or None when a list does not help."""
    stem = Stemmer.Stemmer(SNOWBALL[language]).stemWord
    data = pairs(DICTIONARIES.get(language, language), SAMPLE + TRAIN, SEED)[SAMPLE:]
    if len(data) < 1000:
        return None  # too few words in its dictionary to learn from

    def plain(word: str) -> str:
        return word if len(word) <= MIN_STEMMED else stem(word)

    inflection: Counter[str] = Counter()
    for form, lemma in data:
        key = plain(form)
        if form != lemma and key == plain(lemma) and form.startswith(key):
            inflection[form[len(key) :]] += 1
            if lemma.startswith(key):
                inflection[lemma[len(key) :]] += 1
    by_key: dict[str, set[str]] = defaultdict(set)
    for lemma in {lemma for _, lemma in data}:
        by_key[plain(lemma)].add(lemma)
    merge: Counter[str] = Counter()
    for key, lemmas in by_key.items():
        if len(lemmas) > 1:
            merge.update(lemma[len(key) :] for lemma in lemmas if lemma.startswith(key))
    found = frozenset(t for t, n in merge.items() if t and n >= MIN_SEEN and n >= inflection[t])
    careful: Callable[[str], str] = keep_derivational(plain, found)
    (reached, merged), (reached_kept, merged_kept) = measure(data, plain), measure(data, careful)
    print(
        f"{language}: every ending {reached:.1%} reached, {merged:.1%} merged; "
        f"{len(found)} derivational endings kept: {reached_kept:.1%}, {merged_kept:.1%}",
        file=sys.stderr,
    )
    if not found or merged_kept > merged * 0.9 or reached_kept < reached * 0.97:
        return None
    return sorted(found)


def main() -> None:
    from simplemma.strategies.dictionaries.dictionary_factory import SUPPORTED_LANGUAGES

    found = {}
    for language in sorted(SNOWBALL):
        if DICTIONARIES.get(language, language) in SUPPORTED_LANGUAGES:
            endings = derivational(language)
            if endings is not None:
                found[language] = endings
    OUT.write_text(json.dumps(found, ensure_ascii=False, sort_keys=True) + "\n", "utf-8")
    print(f"{OUT.relative_to(ROOT)}: derivational endings of {len(found)} languages")


if __name__ == "__main__":
    main()
