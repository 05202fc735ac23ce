"""How common a word is: the estimate the index uses to pick the rarest required term.

An AND rule is indexed under its rarest children, so that few articles
fetch it. Without corpus statistics, the estimate is a heuristic: a short
list of the commonest English and news words (stop words, "said", "year",
"government"...) gets a high chance, any other word a chance that falls with
its length (long words are rarer). Callers with a corpus can pass a table of
document frequencies instead (``compile_rules(..., frequencies=...)``): the
share of articles holding each inflection key.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

from monitor.matching.text import STEMS

__all__ = ["COMMON_WORDS", "word_cost"]

#: Words found in most English news articles (folded); their chance is high.
COMMON_WORDS = frozenset(
    """
    a about after again against all also an and any are as at be because been before being
    between both but by can could did do does down during each few for from further had has
    have having he her here hers him his how i if in into is it its just me more most my no
    nor not now of off on once only or other our out over own same she should so some such
    than that the their them then there these they this those through to too under until up
    very was we were what when where which while who whom why will with would you your
    said says say year years new one two three first last people government told time
    week month day made make news former state states officials minister president country
    world many much may might us like back still well even since according report added
    """.split()  # noqa: SIM905 - a word list reads better as text
)
_COMMON_KEYS = frozenset(STEMS[w] for w in COMMON_WORDS)


def word_cost(frequencies: Mapping[str, float] | None = None) -> Callable[[str], float]:
    """A function: inflection key -> estimated share of articles that hold it (0..1)."""
    if frequencies is not None:
        table = dict(frequencies)
        heuristic = word_cost(None)
        # A key missing from the table was not in the corpus: rarer than any it holds.
        floor = min(table.values(), default=0.01) / 2
        return lambda key: table.get(key, min(floor, heuristic(key)))

    def estimate(key: str) -> float:
        if key in _COMMON_KEYS:
            return 0.8
        n = len(key)
        return 0.3 if n <= 2 else 0.12 if n <= 3 else 0.4 / (n * n)

    return estimate
