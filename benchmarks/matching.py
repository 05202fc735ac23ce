"""Matching benchmark: articles per second against 1k to 1M generated rules, beside a baseline.

Run from the repository root, on one core. The quick run (two sizes, well under a minute)::

    taskset -c 0 .venv/bin/python benchmarks/matching.py

The full run of the issue (all four sizes; several minutes, about 1 GB of RAM)::

    taskset -c 0 .venv/bin/python benchmarks/matching.py --sizes 1000,10000,100000,1000000

How:

- rules: ``benchmarks/rulegen.py`` generates one seeded stream of realistic
  queries from the corpus (an anchor - a name, a phrase cut from the text, an
  entity, an acronym or a term - and one to four context clauses: terms drawn
  by document frequency, OR-groups, wildcards, NEAR/n, NOT, ``title:``); the
  rules of a size are the first ones of the stream, so each size contains the
  smaller ones. ``--features auto`` (the default) writes only the constructs
  the engine implements, the others in their plain equivalent; the first line
  says which were used;
- each size runs in a fresh subprocess that loads the corpus, reads the rules,
  compiles and matches, so that no size pollutes another's memory high-water mark;
- compile s: CPU seconds of ``compile_rules`` (wall seconds in the footer);
- peak RSS MB: the child's resident-memory high-water mark (``VmHWM``):
  corpus, rule specs, compiled rule set and matching together;
- matches, /article: rules matched, summed over the 2,225 BBC 2005 articles
  (title and body), and per article;
- art/s, µs/art: the whole corpus through ``RuleSet.match`` after a short
  warm-up, CPU seconds (``time.process_time``), best of three passes up to 10k rules;
- baseline art/s: ``RuleSet.match_all``, the engine's non-indexed path (the
  article read once, then every rule tested). From 10k rules on it is timed
  on an evenly spread sample of articles and scaled (footnotes); its matches on
  the sample are checked against the engine's. ratio = art/s / baseline art/s.

Then the growth of the cost per article from 1k to 100k rules, and each
target of the issue, met or missed. Nothing here asserts on timing.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from benchmarks.rulegen import (  # noqa: E402
    ALL_FEATURES,
    BASIC_FEATURES,
    CorpusStats,
    RuleGenerator,
    load_corpus,
    supported_features,
)
from monitor.matching import RuleSet, RuleSpec, compile_rules  # noqa: E402
from monitor.model import Article  # noqa: E402

DATA = Path(os.environ.get("MONITOR_SHARED_DATA", ROOT.parent / "shared" / "data"))
CORPUS = DATA / "articles" / "bbc-2005" / "bbc_news.jsonl"
#: Rule evaluations the baseline may spend per size (rules x sample articles), to bound its time.
BASELINE_BUDGET = 3_000_000
#: (rules, articles/s at least, baseline ratio at least or None) from the issue.
TARGETS: dict[int, tuple[float, float | None]] = {
    1_000: (10_000, None),
    10_000: (10_000, 20.0),
    100_000: (3_000, None),
    1_000_000: (300, None),
}
#: 1M rules: compiled in under this many seconds, under this many bytes.
BIG_COMPILE_S = 60.0
BIG_RSS_BYTES = 2 * 1024**3
#: Cost per article may grow at most this much from 1k to 100k rules.
GROWTH_TARGET = 3.0


@dataclass(frozen=True, slots=True)
class Row:
    """One size's measurements (what a child process reports)."""

    rules: int
    articles: int
    compile_s: float
    compile_wall_s: float
    rss_before_compile: int
    peak_rss: int
    matches: int
    engine_cpu_s: float
    baseline_sample: int
    baseline_cpu_s: float
    baseline_agrees: bool

    @property
    def articles_per_s(self) -> float:
        return self.articles / self.engine_cpu_s

    @property
    def us_per_article(self) -> float:
        return self.engine_cpu_s / self.articles * 1e6

    @property
    def baseline_per_s(self) -> float:
        return self.baseline_sample / self.baseline_cpu_s

    @property
    def ratio(self) -> float:
        return self.articles_per_s / self.baseline_per_s


# -- the baseline ---------------------------------------------------------------------------


def baseline_matcher(ruleset: RuleSet) -> Callable[[Article], list[str]]:
    """Every rule's tree evaluated on the article, no index: the ids of the rules that hold.

    ``RuleSet.match_all`` is the engine's own non-indexed path: the article is
    read once, then every compiled rule is tested and the matches are built as
    in ``match``, so the two differ only by the index (what the issue measures).
    """
    match_all = getattr(ruleset, "match_all", None)
    if match_all is None:
        raise SystemExit("this engine has no RuleSet.match_all (the non-indexed baseline)")

    def match(article: Article) -> list[str]:
        return [m.rule_id for m in match_all(article)]

    return match


# -- one size, in a child process -----------------------------------------------------------


def peak_rss_bytes() -> int:
    """Resident-memory high-water mark of this process."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) * 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024  # kB on Linux


def current_rss_bytes() -> int:
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    except OSError:
        pass
    return 0


def cpu_best(fn: Callable[[], object], repeat: int) -> float:
    best = float("inf")
    for _ in range(repeat):
        start = time.process_time()
        fn()
        best = min(best, time.process_time() - start)
    return best


def spread_sample(items: Sequence[Article], n: int) -> list[Article]:
    """``n`` items evenly spread over ``items`` (the corpus is sorted by category)."""
    if n >= len(items):
        return list(items)
    return [items[i * len(items) // n] for i in range(n)]


def read_rules(path: Path, size: int) -> list[RuleSpec]:
    """The first ``size`` generated queries of ``path`` (one a line) as rules r0, r1, ..."""
    specs: list[RuleSpec] = []
    with path.open(encoding="utf-8") as f:
        for i, line in zip(range(size), f, strict=False):
            specs.append(RuleSpec(f"r{i}", line.rstrip("\n")))
    if len(specs) < size:
        raise SystemExit(f"{path} has only {len(specs)} rules, not {size}")
    return specs


def measure(size: int, rules: Path) -> Row:
    articles = load_corpus(CORPUS)
    specs = read_rules(rules, size)
    rss_before = current_rss_bytes()
    start, start_cpu = time.perf_counter(), time.process_time()
    ruleset = compile_rules(specs)
    compile_s = time.process_time() - start_cpu
    compile_wall_s = time.perf_counter() - start

    for article in articles[:50]:  # warm-up: first-use caches, lazy compilation
        ruleset.match(article)
    counts: list[int] = []

    def run_engine() -> None:
        counts.append(sum(len(ruleset.match(article)) for article in articles))

    engine_cpu_s = cpu_best(run_engine, repeat=3 if size <= 10_000 else 1)

    sample = spread_sample(articles, max(5, BASELINE_BUDGET // size))
    baseline = baseline_matcher(ruleset)
    found: list[list[str]] = []
    baseline_cpu_s = cpu_best(lambda: found.extend(baseline(a) for a in sample), repeat=1)
    agrees = all(
        sorted(ids) == sorted(m.rule_id for m in ruleset.match(article))
        for ids, article in zip(found, sample, strict=True)
    )
    return Row(
        rules=size,
        articles=len(articles),
        compile_s=compile_s,
        compile_wall_s=compile_wall_s,
        rss_before_compile=rss_before,
        peak_rss=peak_rss_bytes(),
        matches=counts[-1],
        engine_cpu_s=engine_cpu_s,
        baseline_sample=len(sample),
        baseline_cpu_s=baseline_cpu_s,
        baseline_agrees=agrees,
    )


# -- the table ------------------------------------------------------------------------------


def run_child(size: int, rules: Path) -> Row:
    cmd = [sys.executable, str(Path(__file__).resolve()), "--child", str(size)]
    cmd += ["--rules", str(rules)]
    print(f"  measuring {size:,} rules ...", file=sys.stderr, flush=True)
    done = subprocess.run(cmd, check=True, stdout=subprocess.PIPE, text=True)
    fields = json.loads(done.stdout.strip().splitlines()[-1])
    return Row(**fields)


def mb(n: int) -> str:
    return f"{n / 1024**2:,.0f}"


def print_table(rows: Sequence[Row]) -> None:
    header = (
        f"{'rules':>9} {'compile s':>9} {'peak RSS MB':>11} {'matches':>11} {'/article':>9} "
        f"{'art/s':>8} {'µs/art':>8} {'baseline art/s':>14} {'ratio':>7}"
    )
    print(header)
    print("-" * len(header))
    notes: list[str] = []
    for row in rows:
        mark = "" if row.baseline_sample == row.articles else f"[{len(notes) + 1}]"
        if mark:
            notes.append(
                f"[{len(notes) + 1}] baseline timed on {row.baseline_sample} of {row.articles} "
                f"articles (evenly spread) and scaled"
            )
        if not row.baseline_agrees:
            notes.append(f"!! {row.rules:,} rules: the baseline's matches differ from the engine's")
        print(
            f"{row.rules:>9,} {row.compile_s:>9.2f} {mb(row.peak_rss):>11} {row.matches:>11,} "
            f"{row.matches / row.articles:>9.1f} {row.articles_per_s:>8,.0f} "
            f"{row.us_per_article:>8,.1f} {row.baseline_per_s:>10,.1f}{mark:>4} "
            f"{row.ratio:>6.1f}x"
        )
    print()
    for note in notes:
        print(note)
    rates = ", ".join(f"{100 * row.matches / row.rules / row.articles:.2f}%" for row in rows)
    print(f"A rule matches this share of the articles, on average: {rates}.")
    print(
        "art/s, µs/art and baseline: CPU time on one core over the BBC 2005 corpus "
        f"({rows[0].articles:,} articles, title + body); baseline = RuleSet.match_all "
        "(every rule tested, no index)."
    )
    walls = ", ".join(f"{row.compile_wall_s:.2f} s" for row in rows)
    print(f"Compile time, wall clock: {walls}.")
    print(
        "Peak RSS: high-water mark (VmHWM) of a fresh process per size that loads the corpus, "
        "reads the generated queries, compiles and matches; RSS before compiling: "
        + ", ".join(f"{mb(row.rss_before_compile)} MB" for row in rows)
        + "."
    )


def print_targets(rows: Sequence[Row]) -> None:
    by_size = {row.rules: row for row in rows}
    print()
    if 1_000 in by_size and 100_000 in by_size:
        growth = by_size[100_000].us_per_article / by_size[1_000].us_per_article
        verdict = "met" if growth <= GROWTH_TARGET else "MISSED"
        print(
            f"cost per article, 1k -> 100k rules: {by_size[1_000].us_per_article:,.1f} -> "
            f"{by_size[100_000].us_per_article:,.1f} µs, x{growth:.2f} "
            f"(target at most x{GROWTH_TARGET:g}: {verdict})"
        )
    print("targets:")
    for size, (per_s, ratio) in TARGETS.items():
        if (row := by_size.get(size)) is None:
            continue
        checks = [(f">= {per_s:,.0f} art/s", row.articles_per_s >= per_s)]
        if ratio is not None:
            checks.append((f">= {ratio:g}x baseline", row.ratio >= ratio))
        if size == 1_000_000:
            checks.append((f"compiled < {BIG_COMPILE_S:g} s", row.compile_s < BIG_COMPILE_S))
            checks.append((f"peak < {mb(BIG_RSS_BYTES)} MB", row.peak_rss < BIG_RSS_BYTES))
        shown = "; ".join(f"{text}: {'met' if ok else 'MISSED'}" for text, ok in checks)
        print(f"  {size:>9,} rules: {shown}")


def resolve_features(choice: str) -> frozenset[str]:
    if choice == "auto":
        return supported_features()
    if choice == "basic":
        return BASIC_FEATURES
    if choice == "full":
        return ALL_FEATURES
    wanted = frozenset(f for f in choice.split(",") if f)
    if unknown := wanted - ALL_FEATURES:
        raise SystemExit(f"unknown features: {', '.join(sorted(unknown))}")
    return wanted


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0] if __doc__ else None)
    parser.add_argument(
        "--sizes",
        default="1000,10000",
        help="comma-separated rule-set sizes (default: %(default)s; the issue's run is "
        "1000,10000,100000,1000000)",
    )
    parser.add_argument("--seed", type=int, default=2005, help="rule generator seed")
    parser.add_argument(
        "--features",
        default="auto",
        help="optional constructs to generate: auto (what the engine implements), basic, "
        "full, or a list out of " + ",".join(sorted(ALL_FEATURES)),
    )
    parser.add_argument("--child", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--rules", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)

    if args.child is not None:
        print(json.dumps(asdict(measure(args.child, args.rules))))
        return

    features = resolve_features(args.features)
    sizes = [int(s.replace("_", "")) for s in args.sizes.split(",") if s]
    cpus = sorted(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else []
    # One stream of rules, generated here once: the rules of a size are the first ones of the
    # next size's. The children only read them, so the generator's memory is not theirs.
    start = time.perf_counter()
    generator = RuleGenerator(CorpusStats(load_corpus(CORPUS)), seed=args.seed, features=features)
    with tempfile.TemporaryDirectory(prefix="nm-bench-") as tmp:
        rules = Path(tmp) / "rules.txt"
        with rules.open("w", encoding="utf-8") as f:
            for _ in range(max(sizes)):
                f.write(generator.query() + "\n")
        generate_s = time.perf_counter() - start
        print(
            f"matching benchmark: BBC 2005 corpus; {max(sizes):,} rules generated in "
            f"{generate_s:.1f} s (seed {args.seed}, features "
            f"{','.join(sorted(features)) or 'none'}); Python {platform.python_version()}, "
            f"CPUs {cpus}"
        )
        rows = [run_child(size, rules) for size in sizes]
    print()
    print_table(rows)
    print_targets(rows)


if __name__ == "__main__":
    main()
