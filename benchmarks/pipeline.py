"""Pipeline benchmark: parse, match and poll, each beside a baseline measured in the same run.

Run (from the repository root, one core)::

    taskset -c 0 .venv/bin/python benchmarks/pipeline.py

Rows:

- parse: five real news feeds, bytes -> normalized Articles with ``parse_feed``
  (the entity and not-a-feed checks, ``feedparser.parse`` without HTML sanitizing
  or link rewriting, HTML-to-text and normalization), against bare
  ``feedparser.parse`` of the same bytes with its default options, in the same run.
- match: the BBC 2005 corpus against 100 generated rules with ``RuleSet``,
  against a straightforward evaluator that runs one regex per query word.
- poll: one ``Poller.poll`` of a 55-item feed over ``httpx.MockTransport``
  and an in-memory store, as a 304, as a 200 whose items are all seen, and as
  a 200 with every item new (claim, match, enqueue, mark seen).

Times are CPU seconds (``time.process_time``), best of several repeats.
"""

from __future__ import annotations

import asyncio
import collections
import io
import json
import random
import re
import sys
import time
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path

import feedparser
import httpx

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from monitor.config.models import FeedConfig  # noqa: E402
from monitor.ingest import parse_feed  # noqa: E402
from monitor.log import configure_logging  # noqa: E402
from monitor.matching import And, Node, Not, Or, Phrase, RuleSpec, Term, compile_rules  # noqa: E402
from monitor.matching.text import words  # noqa: E402
from monitor.model import Article  # noqa: E402
from monitor.polling.poller import Poller  # noqa: E402
from monitor.store.memory import MemoryStore  # noqa: E402

DATA = ROOT.parent / "shared" / "data"
FEEDS = [
    DATA / "feeds/rss-parser-js/input/guardian.rss",
    DATA / "feeds/rss-parser-js/input/heise.atom",
    DATA / "feeds/rss-parser-js/input/heraldsun.rss",
    DATA / "feeds/rss-parser-js/input/uolNoticias.rss",
    DATA / "feeds/feedjira/head/TechCrunch.xml",
]
SHAPES = [
    "{a} AND {b}",
    "{a} OR {b}",
    '"{a} {b}"',
    "{a} AND NOT {b}",
    "({a} OR {b}) AND {c}",
    "{a} {b} -{c}",
    "{a}",
]


def best_cpu(fn: Callable[[], object], repeat: int = 5) -> float:
    best = float("inf")
    for _ in range(repeat):
        start = time.process_time()
        fn()
        best = min(best, time.process_time() - start)
    return best


def bench_parse() -> tuple[int, float, float]:
    bodies = [p.read_bytes() for p in FEEDS]
    entries = sum(len(parse_feed("b", b, {}, fetched_at=time.time()).articles) for b in bodies)
    ours = best_cpu(lambda: [parse_feed("b", b, {}, fetched_at=time.time()) for b in bodies])
    bare = best_cpu(lambda: [feedparser.parse(io.BytesIO(b)) for b in bodies])
    return entries, ours, bare


def naive_matches(node: Node, title: str, text: str) -> bool:
    """Reference evaluator: a regex search per word, no index, no shared tokenization."""
    haystack = f"{title}\n{text}"
    if isinstance(node, Term | Phrase):
        words_ = node.words if isinstance(node, Phrase) else (node.text,)
        pattern = r"\b" + r"\W+".join(re.escape(w) for w in words_) + r"\b"
        return re.search(pattern, haystack, re.IGNORECASE) is not None
    if isinstance(node, And):
        return all(naive_matches(c, title, text) for c in node.children)
    if isinstance(node, Or):
        return any(naive_matches(c, title, text) for c in node.children)
    if isinstance(node, Not):
        return not naive_matches(node.child, title, text)
    raise TypeError(node)


def bench_match(n_rules: int = 100) -> tuple[int, float, float]:
    rows = [json.loads(line) for line in (DATA / "articles/bbc-2005/bbc_news.jsonl").open()]
    articles = [Article(str(r["id"]), "bbc", "", r["title"], r["body"]) for r in rows]
    counts = collections.Counter(w for a in articles for w in set(words(a.text)) if len(w) > 3)
    vocab = sorted(w for w, n in counts.items() if 10 <= n <= 300)
    rng = random.Random(42)
    specs = []
    for i in range(n_rules):
        a, b, c = rng.sample(vocab, 3)
        specs.append(RuleSpec(f"r{i}", SHAPES[i % len(SHAPES)].format(a=a, b=b, c=c)))
    ruleset = compile_rules(specs)
    trees = [rule.node for rule in ruleset.rules]
    ours = best_cpu(lambda: [ruleset.match(a) for a in articles], repeat=3)
    sample = articles[:200]  # the baseline is slow; time a sample and scale
    bare = (
        best_cpu(
            lambda: [naive_matches(t, a.title, a.text) for a in sample for t in trees], repeat=1
        )
        * len(articles)
        / len(sample)
    )
    return len(articles), ours, bare


def bench_poll() -> dict[str, float]:
    body = FEEDS[0].read_bytes()
    feed = FeedConfig(id="guardian", url="http://feeds.test/guardian.rss")
    mode = {"status": 200}

    def handler(request: httpx.Request) -> httpx.Response:
        if mode["status"] == 304:
            return httpx.Response(304, headers={"etag": '"v1"'})
        return httpx.Response(200, content=body, headers={"etag": '"v1"'})

    async def run() -> dict[str, float]:
        async with httpx.AsyncClient(transport=httpx.MockTransport(handler)) as http:

            def poller() -> Poller:
                return Poller(
                    store=MemoryStore(),
                    http=http,
                    ruleset=compile_rules([RuleSpec("r", "government OR minister")]),
                    routes={"r": ("government OR minister", ("ops",))},
                    max_age=timedelta(days=36500),
                    seen_retention=timedelta(days=30),
                    fetch_timeout=10,
                    max_feed_bytes=10_000_000,
                )

            async def cpu(make: Callable[[], Poller], n: int) -> float:
                best = float("inf")
                for _ in range(n):
                    p = make()
                    if mode.get("prime"):
                        await p.poll(feed)
                    start = time.process_time()
                    await p.poll(feed)
                    best = min(best, time.process_time() - start)
                return best

            out = {}
            out["200, 55 new items"] = await cpu(poller, 5)
            mode["prime"] = 1
            out["200, all 55 seen"] = await cpu(poller, 5)
            mode["status"] = 304
            out["304 not modified"] = await cpu(poller, 20)
            return out

    return asyncio.run(run())


def main() -> None:
    configure_logging("ERROR")
    entries, ours, bare = bench_parse()
    print(
        f"{'stage':<28}{'items':>8}{'ours s':>10}{'items/s':>10}"
        f"{'baseline s':>12}{'items/s':>10}{'ratio':>8}"
    )
    print(
        f"{'parse (vs feedparser.parse)':<28}{entries:>8}{ours:>10.3f}{entries / ours:>10.0f}"
        f"{bare:>12.3f}{entries / bare:>10.0f}{bare / ours:>8.2f}"
    )
    n, ours, bare = bench_match()
    print(
        f"{'match 100 rules (vs naive)':<28}{n:>8}{ours:>10.3f}{n / ours:>10.0f}"
        f"{bare:>12.3f}{n / bare:>10.0f}{bare / ours:>8.2f}"
    )
    print()
    print(f"{'poll one feed':<28}{'CPU ms':>8}")
    for label, seconds in bench_poll().items():
        print(f"{label:<28}{seconds * 1000:>8.2f}")


if __name__ == "__main__":
    main()
