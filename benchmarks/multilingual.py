"""Precision and recall of ``@Country`` rules on a generated multilingual set.

Run from the repository root::

    .venv/bin/python benchmarks/multilingual.py

The set (``benchmarks/multilingual_data.py``): ten countries in ten languages, each form
written by hand as running text writes it (names in their cases, with Arabic clitics,
demonyms in the plural and feminine, capitals) put in a few sentence templates per
language, one country per sentence (its gold label), plus sentences that name none of
them, some of them traps. Ten rules, ``@Iran`` ... ``@"United States"``, match every
sentence, three ways:

- **before**: as the engine did before languages: every article read as English, the
  English catalog only;
- **declared**: the article's language given (as a feed declares it);
- **detected**: the language detected from the sentence alone (``monitor.ingest.language``;
  short sentences are the hard case for a detector).

Precision and recall count (sentence, country) pairs: a rule that matches a sentence
labelled with its country is a true positive, one that matches another sentence a
false positive, a labelled country whose rule does not match a false negative.
"""

from __future__ import annotations

import dataclasses
import sys
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from benchmarks.multilingual_data import (  # noqa: E402
    COUNTRIES,
    FORMS,
    NEGATIVES,
    TEMPLATES,
)
from monitor.ingest.language import detect_language  # noqa: E402
from monitor.matching import RuleSpec, compile_rules  # noqa: E402
from monitor.matching.entities import EntityCatalog, default_catalog  # noqa: E402
from monitor.model import Article  # noqa: E402


@dataclasses.dataclass(frozen=True)
class Sentence:
    language: str
    text: str
    gold: frozenset[str]


def sentences() -> list[Sentence]:
    """Every form in every template of its kind, and the negatives."""
    found: list[Sentence] = []
    for language, countries in FORMS.items():
        templates = TEMPLATES[language]
        for country in COUNTRIES:
            for kind, forms in enumerate(countries[country]):
                for form in forms:
                    for template in templates[kind]:
                        found.append(
                            Sentence(language, template.format(form), frozenset({country}))
                        )
        found += [Sentence(language, text, frozenset()) for text in NEGATIVES[language]]
    return found


def score(predicted: list[set[str]], items: list[Sentence]) -> tuple[int, int, int]:
    """True positives, false positives, false negatives over (sentence, country) pairs."""
    counts: Counter[str] = Counter()
    for found, item in zip(predicted, items, strict=True):
        counts["tp"] += len(found & item.gold)
        counts["fp"] += len(found - item.gold)
        counts["fn"] += len(item.gold - found)
    return counts["tp"], counts["fp"], counts["fn"]


def ratio(part: int, whole: int) -> str:
    return f"{100 * part / whole:.1f}%" if whole else "-"


def main() -> None:
    items = sentences()
    specs = [RuleSpec(country, f'@"{country}"') for country in COUNTRIES]
    english = compile_rules(specs, EntityCatalog(default_catalog().entities()))
    ours = compile_rules(specs)

    def run(ruleset: object, language_of: dict[int, str]) -> list[set[str]]:
        out = []
        for i, item in enumerate(items):
            article = Article(
                id=str(i), feed_id="f", url="", title="", text=item.text, language=language_of[i]
            )
            out.append({m.rule_id for m in ruleset.match(article)})  # type: ignore[attr-defined]
        return out

    unknown = dict.fromkeys(range(len(items)), "")
    declared = {i: item.language for i, item in enumerate(items)}
    detected = {i: detect_language("", item.text) for i, item in enumerate(items)}
    runs = {
        "before": run(english, unknown),
        "declared": run(ours, declared),
        "detected": run(ours, detected),
    }
    print(
        f"{len(items)} sentences, {len(COUNTRIES)} @Country rules, {len(FORMS)} languages; "
        "precision / recall of (sentence, country) pairs"
    )
    header = f"| language | sentences | detected right | {' | '.join(runs)} |"
    print(header)
    print("|---" * (3 + len(runs)) + "|")
    languages = [*FORMS, "all"]
    for language in languages:
        chosen = [i for i, s in enumerate(items) if language in ("all", s.language)]
        cells = []
        for predicted in runs.values():
            tp, fp, fn = score([predicted[i] for i in chosen], [items[i] for i in chosen])
            cells.append(f"{ratio(tp, tp + fp)} / {ratio(tp, tp + fn)}")
        right = sum(detected[i] == items[i].language for i in chosen)
        print(f"| {language} | {len(chosen)} | {ratio(right, len(chosen))} | {' | '.join(cells)} |")
    print()
    misses = Counter(
        (items[i].language, text)
        for i, found in enumerate(runs["declared"])
        for text in [items[i].text]
        if found != items[i].gold
    )
    print(f"declared: {len(misses)} sentences wrong, e.g.:")
    for (language, text), _ in list(misses.items())[:25]:
        i = next(j for j, s in enumerate(items) if s.text == text)
        print(
            f"  {language}: {text}  gold={sorted(items[i].gold)} got={sorted(runs['declared'][i])}"
        )


if __name__ == "__main__":
    main()
