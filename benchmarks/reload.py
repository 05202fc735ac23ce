"""Reload benchmark: a config reload beside a restart (the baseline), at several rule counts.

Run (from the repository root)::

    .venv/bin/python benchmarks/reload.py [--sizes 100,1000,10000]

For each size, a rules directory with one feed, one webhook channel and that many
generated rules (``benchmarks/rulegen.py``, the matching benchmark's realistic
queries over the BBC 2005 corpus) is

- *restarted*: ``load_config`` + ``Monitor.create`` + close, what a restart costs
  before the first poll (the baseline: what a user did before reload existed);
- *reloaded*: ``Monitor.reload()`` of the same files on a running Monitor (one rule
  edited each time, so the swap and the backfill check do real work).

While a reload runs, a ticker task on the same loop records the longest gap between
its ticks: the *loop stall*, how long polls, deliveries and ``/healthz`` wait on the
reload (the load and the rule compilation run in a thread; the swap does not).
Wall-clock seconds, best of ``--repeat`` (default 3).
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from benchmarks.rulegen import CorpusStats, RuleGenerator, load_corpus  # noqa: E402
from monitor.app import Monitor  # noqa: E402
from monitor.config.load import load_config  # noqa: E402
from monitor.log import configure_logging  # noqa: E402
from monitor.settings import Settings  # noqa: E402
from monitor.store.memory import MemoryStore  # noqa: E402

CORPUS = ROOT.parent / "shared" / "data" / "articles" / "bbc-2005" / "bbc_news.jsonl"


def write_rules(rules_dir: Path, queries: list[str], edit: int = 0) -> None:
    lines = [
        "feeds:",
        '  - {id: wire, url: "http://127.0.0.1:9/feed.xml", interval: 1h}',
        "channels:",
        '  hook: {type: webhook, url: "http://127.0.0.1:9/hook"}',
        "rules:",
    ]
    for i, query in enumerate(queries):
        if i == 0 and edit:
            query = f"({query}) AND NOT edit{edit}"
        quoted = query.replace("'", "''")
        lines.append(f"  - {{id: r{i}, query: '{quoted}'}}")
    (rules_dir / "watch.yaml").write_text("\n".join(lines) + "\n")


async def restart(settings: Settings) -> float:
    started = time.perf_counter()
    loaded = load_config(settings, env={})
    monitor = await Monitor.create(settings, loaded, store=MemoryStore())
    await monitor.aclose()
    return time.perf_counter() - started


async def reload(
    monitor: Monitor, rules_dir: Path, queries: list[str], edit: int
) -> tuple[float, float]:
    """Seconds of one reload, and the longest stall of the loop meanwhile."""
    write_rules(rules_dir, queries, edit)
    stall = 0.0
    done = asyncio.Event()

    async def ticker() -> None:
        nonlocal stall
        last = time.perf_counter()
        while not done.is_set():
            await asyncio.sleep(0.001)
            now = time.perf_counter()
            stall = max(stall, now - last)
            last = now

    tick = asyncio.create_task(ticker())
    await asyncio.sleep(0.01)
    started = time.perf_counter()
    assert await monitor.reload()
    elapsed = time.perf_counter() - started
    done.set()
    await tick
    return elapsed, stall


async def measure(size: int, queries: list[str], repeat: int) -> tuple[float, float, float]:
    with tempfile.TemporaryDirectory() as tmp:
        rules_dir = Path(tmp) / "rules"
        rules_dir.mkdir()
        write_rules(rules_dir, queries)
        settings = Settings(
            _env_file=None,  # type: ignore[call-arg]
            rules_dir=rules_dir,
            data_dir=Path(tmp) / "data",
            http_addr="",
            watch_rules=False,
        )
        restarts = [await restart(settings) for _ in range(repeat)]
        monitor = await Monitor.create(settings, load_config(settings, env={}), store=MemoryStore())
        try:
            results = [await reload(monitor, rules_dir, queries, i + 1) for i in range(repeat)]
        finally:
            await monitor.aclose()
    return min(restarts), min(r[0] for r in results), min(r[1] for r in results)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sizes", default="100,1000,10000")
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    configure_logging("ERROR", "console")
    sizes = [int(s) for s in args.sizes.split(",")]
    generator = RuleGenerator(CorpusStats(load_corpus(CORPUS)), seed=2005)
    queries = [generator.query() for _ in range(max(sizes))]
    print(f"{'rules':>7} | {'restart (baseline)':>18} | {'reload':>8} | {'loop stall':>10}")
    print(f"{'-' * 7}-+-{'-' * 18}-+-{'-' * 8}-+-{'-' * 10}")
    for size in sizes:
        restart_s, reload_s, stall_s = asyncio.run(measure(size, queries[:size], args.repeat))
        print(f"{size:>7,} | {restart_s:>16.3f} s | {reload_s:>6.3f} s | {stall_s * 1000:>7.1f} ms")


if __name__ == "__main__":
    main()
