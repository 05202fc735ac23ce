"""What each language's folding merges: inflections reached, and distinct words merged.

Run from the repository root (needs ``simplemma``, whose lemma dictionaries are the
reference; ``pip install simplemma``, not a dependency of the daemon)::

    .venv/bin/python benchmarks/folding.py [--sample 40000]

For each language, a seeded sample of (word form, lemma) pairs of simplemma's dictionary
(folded for case and accents, as the matcher folds). With a folding (a word -> its key):

- **reached**: the share of inflected forms whose key is their lemma's (drones and drone
  share a key): how much of the inflection the folding brings together;
- **merged**: the share of lemmas whose key is also the key of another lemma of the sample
  (a dictionary lists derivations as lemmas of their own: organización and organizar,
  police and policy, so this counts derivational and accidental merges alike): how much
  the folding confuses.

Rows: our English folding (``stem.inflection_key``) and the full Snowball English, for
the yardstick; then each language with its Snowball stemmer as it is, and as the engine
applies it (``languages``: the derivational endings ``scripts/derivational_endings.py``
found stay on the word, learned on other pairs of the same dictionary than these).
"""

from __future__ import annotations

import argparse
import random
import sys
from collections import defaultdict
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import Stemmer  # noqa: E402

from monitor.matching.languages import SNOWBALL, folding  # noqa: E402
from monitor.matching.stem import inflection_key  # noqa: E402
from monitor.matching.text import normalize  # noqa: E402

LANGUAGES = ("es", "fr", "de", "it", "pt", "ru", "ar", "nl", "sv", "pl", "tr")
#: Pairs measured per language, and the seed of the shuffle (the endings are learned on
#: the pairs after these: ``scripts/inflection_endings.py``).
SAMPLE = 40_000
SEED = 2005


def pairs(language: str, sample: int, seed: int) -> list[tuple[str, str]]:
    """Folded (form, lemma) pairs: one-word, alphabetic, a seeded sample."""
    from simplemma.strategies.dictionaries import DefaultDictionaryFactory

    dictionary = DefaultDictionaryFactory().get_dictionary(language)
    found = []
    for form, lemma in dictionary.items():
        if form.isalpha() and lemma.isalpha() and not form.isupper():
            found.append((normalize(form), normalize(lemma)))
    random.Random(seed).shuffle(found)
    return found[:sample]


def measure(data: list[tuple[str, str]], fold: Callable[[str], str]) -> tuple[float, float]:
    inflected = [(f, lemma) for f, lemma in data if f != lemma]
    reached = sum(fold(f) == fold(lemma) for f, lemma in inflected) / max(1, len(inflected))
    lemmas_of: dict[str, set[str]] = defaultdict(set)
    lemmas = {lemma for _, lemma in data}
    for lemma in lemmas:
        lemmas_of[fold(lemma)].add(lemma)
    merged = sum(len(group) for group in lemmas_of.values() if len(group) > 1) / len(lemmas)
    return reached, merged


def snowball(language: str) -> Callable[[str], str]:
    stem = Stemmer.Stemmer(SNOWBALL.get(language, "english")).stemWord
    return lambda word: word if len(word) <= 3 else stem(word)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0] if __doc__ else None)
    parser.add_argument("--sample", type=int, default=SAMPLE)
    parser.add_argument("--seed", type=int, default=SEED)
    args = parser.parse_args()
    print("| language | folding | reached | merged |\n|---|---|---|---|")
    english = pairs("en", args.sample, args.seed)
    for name, fold in (
        ("ours: Porter2's inflectional steps", inflection_key),
        ("Snowball English (all steps)", Stemmer.Stemmer("english").stemWord),
        ("none (exact words)", lambda w: w),
    ):
        reached, merged = measure(english, fold)
        print(f"| en | {name} | {reached:.1%} | {merged:.1%} |")
    for language in LANGUAGES:
        data = pairs(language, args.sample, args.seed)
        engine = folding(language).keys
        for label, fold in (
            ("Snowball, every ending", snowball(language)),
            ("Snowball, derivational endings kept (engine)", engine.__getitem__),
        ):
            reached, merged = measure(data, fold)
            print(f"| {language} | {label} | {reached:.1%} | {merged:.1%} |")


if __name__ == "__main__":
    main()
