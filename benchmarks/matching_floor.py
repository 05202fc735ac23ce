"""Where the engine's time per article goes, beside perq's, and what a native pass would save.

Run from the repository root, on one core (about a minute)::

    taskset -c 0 .venv/bin/python benchmarks/matching_floor.py

For 1,000 and 10,000 rules of the mix (``benchmarks/rulegen.py``, as in
``benchmarks/matching.py``), over the BBC 2005 corpus, microseconds per article
(CPU, best of 7 passes) of:

- the steps every article pays before any rule is looked at: its folded words
  (``Document`` cuts them with one ``bytes.translate`` and ``split``), their set,
  their inflection keys, their wildcard keys;
- the phases of ``RuleSet.match``: reading the article (``Document``), its index
  keys and the rules fetched with them, testing the fetched ones, making the matches;
- a native pass that was tried as a replacement for the first two steps:
  Aho-Corasick (``ahocorasick_rs``, Rust) over the folded text, with every word
  of the rules as a pattern, giving the ids of the words present;
- perq on the same rules: its tokenizer alone (``perq.Document.from_text``) and
  its whole match.

perq and ahocorasick_rs are the ``bench`` extra. Nothing here asserts on timing.
"""

from __future__ import annotations

import argparse
import bisect
import sys
import time
from collections.abc import Callable, Sequence
from operator import invert
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from benchmarks.matching import CORPUS  # noqa: E402
from benchmarks.perq_compare import Vocabulary, perq_document_text, perq_rules  # noqa: E402
from benchmarks.rulegen import (  # noqa: E402
    CorpusStats,
    RuleGenerator,
    load_corpus,
    supported_features,
)
from monitor.matching import RuleSpec, compile_rules  # noqa: E402
from monitor.matching.text import PREFIX_KEYS, STEMS, words  # noqa: E402
from monitor.model import Article  # noqa: E402

PASSES = 7


def per_article(fn: Callable[[], object], articles: int) -> float:
    """Best CPU microseconds per article of ``fn`` over ``PASSES`` passes."""
    best = float("inf")
    for _ in range(PASSES):
        start = time.process_time()
        fn()
        best = min(best, time.process_time() - start)
    return best / articles * 1e6


def phases(specs: Sequence[RuleSpec], articles: Sequence[Article]) -> dict[str, float]:
    """Microseconds per article of each phase of ``RuleSet.match`` (best of 3 passes)."""
    from monitor.matching.engine import _lazy_matches, _Source

    ruleset = compile_rules(specs)
    index = ruleset._index
    clock = time.process_time
    best: dict[str, float] = {}
    for _ in range(3):
        spent = dict.fromkeys(("read", "keys and fetch", "test", "matches"), 0.0)
        for article in articles:
            t0 = clock()
            doc = ruleset._document(article)
            t1 = clock()
            found = index.candidates(doc)
            t3 = clock()
            entries = sorted(set(found))
            cut = bisect.bisect_left(entries, 0)
            sure = entries[cut:]
            decided = set(sure)
            probes = ruleset._probes
            tested = [
                n for n in map(invert, entries[:cut]) if n not in decided and probes[n].test(doc)
            ]
            matched = sorted(sure + tested)
            t4 = clock()
            _lazy_matches(article, matched, _Source(ruleset._ids, ruleset._programs, doc))
            t5 = clock()
            for name, spent_s in zip(spent, (t1 - t0, t3 - t1, t4 - t3, t5 - t4), strict=True):
                spent[name] += spent_s
        for name, total in spent.items():
            best[name] = min(best.get(name, float("inf")), total / len(articles) * 1e6)
    return best


def measure(size: int, queries: Sequence[str], articles: Sequence[Article]) -> dict[str, float]:
    import ahocorasick_rs  # the bench extra
    import perq

    specs = [RuleSpec(f"r{i}", query) for i, query in enumerate(queries[:size])]
    n = len(articles)
    bodies = [article.title + "\n" + article.text for article in articles]
    word_sets = [set(words(body)) for body in bodies]
    for word_set in word_sets:  # the caches warm, as in a running daemon
        for word in word_set:
            STEMS[word]
            PREFIX_KEYS[word]
    row = {
        "words": per_article(lambda: [words(body) for body in bodies], n),
        "word set": per_article(lambda: [set(words(body)) for body in bodies], n)
        - per_article(lambda: [words(body) for body in bodies], n),
        "inflection keys": per_article(
            lambda: [set(map(STEMS.__getitem__, s)) for s in word_sets], n
        ),
        "wildcard keys": per_article(
            lambda: [set(map(PREFIX_KEYS.__getitem__, s)) for s in word_sets], n
        ),
    }
    vocabulary = sorted({w for query in queries[:size] for w in words(query)})
    automaton = ahocorasick_rs.AhoCorasick([f" {w} " for w in vocabulary])
    folded = [" " + " ".join(words(body)) + " " for body in bodies]
    row["native: Aho-Corasick ids"] = per_article(
        lambda: [
            {m[0] for m in automaton.find_matches_as_indexes(text, overlapping=True)}
            for text in folded
        ],
        n,
    )
    row.update({f"match: {name}": us for name, us in phases(specs, articles).items()})
    translated = [r for r in perq_rules(specs, Vocabulary(list(articles))) if r.clauses]
    store = perq.MemoryStore()
    perq.index([perq.Query(r.id, r.clauses) for r in translated], store)
    matcher = perq.QueryMatcher(store)
    texts = [perq_document_text(article) for article in articles]
    row["perq: tokenizer"] = per_article(
        lambda: [perq.Document.from_text(text) for text in texts], n
    )
    row["perq: whole match"] = per_article(
        lambda: [list(matcher.matches(perq.Document.from_text(text))) for text in texts], n
    )
    return row


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0] if __doc__ else None)
    parser.add_argument("--sizes", default="1000,10000", help="default: %(default)s")
    parser.add_argument("--seed", type=int, default=2005, help="rule generator seed")
    args = parser.parse_args(argv)
    sizes = [int(s) for s in args.sizes.split(",") if s]
    articles = load_corpus(CORPUS)
    generator = RuleGenerator(CorpusStats(articles), seed=args.seed, features=supported_features())
    queries = [generator.query() for _ in range(max(sizes))]
    rows = {size: measure(size, queries, articles) for size in sizes}
    names = list(next(iter(rows.values())))
    width = max(map(len, names))
    print(f"µs per article (CPU, best of {PASSES}), mix rules, {len(articles):,} BBC articles")
    print(f"{'':<{width}} " + " ".join(f"{size:>10,}" for size in sizes))
    for name in names:
        print(f"{name:<{width}} " + " ".join(f"{rows[size][name]:>10.1f}" for size in sizes))
    for size in sizes:
        ours = sum(us for name, us in rows[size].items() if name.startswith("match: "))
        print(
            f"{size:,} rules: ours {ours:.0f} µs per article, perq "
            f"{rows[size]['perq: whole match']:.0f}; twice perq's speed leaves "
            f"{rows[size]['perq: whole match'] / 2:.0f} µs"
        )


if __name__ == "__main__":
    main()
