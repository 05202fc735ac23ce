"""Outbox gauges benchmark: what a ``/metrics`` scrape pays for the two outbox gauges.

Run (from the repository root; under a minute)::

    .venv/bin/python benchmarks/outbox_summary.py
    .venv/bin/python benchmarks/outbox_summary.py --sizes 1000,10000 --store redis

Redis: a ``redis-server`` of the run's own on a free port (no persistence), so the
server's command statistics count this run only; with ``MONITOR_TEST_REDIS_URL`` set, or
no ``redis-server`` binary, that server (else 127.0.0.1:6379) under a prefix of the
run's own (``nm-bench-outbox-<pid>-<size>``), deleted at the end. SQLite: a file in a
temporary directory.

For each size, that many alerts are queued (as a receiver down for hours leaves them:
each with an article text of 1.5 KB, created one second apart), plus ``--dead`` dead
letters created before all of them (0 by default). Then, in the same run, each way of
reading the gauges is timed (wall clock, best of ``--repeat``; the summary best of 20):

1. the old way, the baseline: ``pending()`` (every alert listed and decoded), then its
   length and the minimum ``created_at``;
2. ``outbox_summary()``: counts, and the oldest created time from Redis's index (SQLite:
   in SQL);
3. Redis only: the first ``outbox_summary()`` of an outbox written without its index
   (the index key deleted: a deployment upgraded with alerts queued), which rebuilds it
   once.

On the private Redis, the server time of each (``INFO commandstats``, microseconds spent
in commands and scripts, over the calls timed) is what every replica, and every other
client, waits for while it runs. Both ways must agree on the numbers; the run stops if
they do not.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import io
import os
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import redis

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks.redis_support import drop_prefix, private_redis_server
from monitor.log import configure_logging
from monitor.model import Alert, Article, Hit, OutboxSummary
from monitor.store.base import StateStore
from monitor.store.codec import created_epoch
from monitor.store.redis import RedisStore
from monitor.store.sqlite import FILE_NAME, SqliteStore

START = 1_800_000_000.0
BATCH = 1_000
TEXT = " ".join(["Iran and Russia signed a deal on attack drones, officials said."] * 24)


def make_alert(n: int) -> Alert:
    article = Article(
        id=f"art-{n}",
        feed_id=f"feed-{n % 100}",
        url=f"https://news.example.org/{n % 100}/{n}",
        title=f"Drones over the Black Sea, report {n}",
        text=TEXT,
        published=datetime.fromtimestamp(START + n, UTC),
        author="Staff",
    )
    return Alert(
        id=f"alrt_{n:012d}",
        channel=("slack", "email", "webhook")[n % 3],
        rule_id=f"rule-{n % 50}",
        query="Iran AND drones",
        article=article,
        hits=(Hit("text", 0, 4, "Iran"), Hit("text", 30, 36, "drones")),
        created_at=datetime.fromtimestamp(START + n, UTC),
    )


async def fill(store: StateStore, queued: int, dead: int) -> None:
    """``dead`` dead letters (the oldest alerts), then ``queued`` alerts waiting."""
    now = START + queued + dead + 60
    if dead:
        await store.enqueue([make_alert(n) for n in range(dead)], now)
        for entry in await store.claim_due(now, 600, dead):
            await store.dead_letter(entry.alert.id, now, "HTTP 404", claim=entry.claim)
    for start in range(dead, dead + queued, BATCH):
        await store.enqueue(
            [make_alert(n) for n in range(start, min(start + BATCH, dead + queued))], now
        )


async def the_old_way(store: StateStore) -> OutboxSummary:
    """What ``Metrics.refresh`` did before ``outbox_summary``: list, then count and min."""
    pending = await store.pending()
    oldest = min((created_epoch(e.alert.created_at) for e in pending), default=None)
    return OutboxSummary(len(pending), -1, oldest)


async def best_of(times: int, work: Callable[[], Awaitable[Any]]) -> tuple[float, Any]:
    """(fastest wall-clock ms, last result)."""
    best, result = float("inf"), None
    for _ in range(times):
        started = time.perf_counter()
        result = await work()
        best = min(best, (time.perf_counter() - started) * 1000)
    return best, result


def server_usec(client: redis.Redis) -> int:
    """Microseconds the server has spent in commands (scripts included) so far."""
    stats = client.info("commandstats")
    return sum(int(v["usec"]) for k, v in stats.items() if k.startswith("cmdstat_"))


@contextlib.contextmanager
def redis_server() -> Iterator[tuple[str, bool]]:
    """(URL, private): the configured server (MONITOR_TEST_REDIS_URL), else a redis-server of
    the run's own, else the local one."""
    configured = os.environ.get("MONITOR_TEST_REDIS_URL")
    if configured:
        yield configured, False
        return
    with private_redis_server() as url:
        yield (url, True) if url else ("redis://127.0.0.1:6379/0", False)


def check(old: OutboxSummary, new: OutboxSummary) -> None:
    if (old.pending, old.oldest_created_at) != (new.pending, new.oldest_created_at):
        raise SystemExit(f"the two ways disagree: {old} != {new}")


async def run_redis(
    url: str, private: bool, size: int, dead: int, repeat: int
) -> dict[str, float | None]:
    prefix = f"nm-bench-outbox-{os.getpid()}-{size}"
    store = RedisStore.from_url(url, prefix)
    stats = redis.Redis.from_url(url)

    async def timed(times: int, work: Callable[[], Awaitable[Any]]) -> tuple[float, float, Any]:
        before = server_usec(stats)
        ms, result = await best_of(times, work)
        server = (server_usec(stats) - before) / 1000 / times  # ms a call, on average
        return ms, server, result

    try:
        await fill(store, size, dead)
        old_ms, old_server, old = await timed(repeat, lambda: the_old_way(store))
        new_ms, new_server, new = await timed(20, store.outbox_summary)
        check(old, new)
        rebuilds = []
        for _ in range(min(repeat, 3)):
            await store._client.delete(store.keys.outbox_born)
            ms, _, again = await timed(1, store.outbox_summary)
            check(old, again)
            rebuilds.append(ms)
        return {
            "old": old_ms,
            "old_server": old_server if private else None,
            "new": new_ms,
            "new_server": new_server if private else None,
            "rebuild": min(rebuilds),
        }
    finally:
        await store.close()
        stats.close()
        await drop_prefix(url, prefix)


async def run_sqlite(size: int, dead: int, repeat: int) -> dict[str, float | None]:
    with tempfile.TemporaryDirectory(prefix="nm-outbox-") as tmp:
        store = await SqliteStore.open(Path(tmp) / FILE_NAME)
        try:
            await fill(store, size, dead)
            old_ms, old = await best_of(repeat, lambda: the_old_way(store))
            new_ms, new = await best_of(20, store.outbox_summary)
            check(old, new)
            return {"old": old_ms, "new": new_ms}
        finally:
            await store.close()


def cell(value: float | None) -> str:
    return "n/a" if value is None else f"{value:,.1f}" if value < 100 else f"{value:,.0f}"


async def main_async(args: argparse.Namespace) -> None:
    configure_logging("INFO", stream=io.StringIO())  # logged as in production, not printed
    sizes = [int(s) for s in args.sizes.split(",")]
    stores = ["redis", "sqlite"] if args.store == "both" else [args.store]
    redis_rows: dict[int, dict[str, float | None]] = {}
    sqlite_rows: dict[int, dict[str, float | None]] = {}
    where = ""
    if "redis" in stores:
        with redis_server() as (url, private):
            where = "a private redis-server" if private else f"{url} (shared: no server times)"
            for size in sizes:
                redis_rows[size] = await run_redis(url, private, size, args.dead, args.repeat)
    if "sqlite" in stores:
        for size in sizes:
            sqlite_rows[size] = await run_sqlite(size, args.dead, args.repeat)
    print(
        f"outbox gauges benchmark: queued alerts (1.5 KB of text each), {args.dead} older dead"
        f" letters; ms, wall clock best of {args.repeat} (summary: best of 20); Python"
        f" {sys.version.split()[0]}"
    )
    if redis_rows:
        print(f"\nRedis, {where}:\n")
        print(
            "| queued alerts | `pending()` + count/min (baseline) | server time of it |"
            " `outbox_summary()` | server time of it | speed-up | first summary, index"
            " rebuilt (once) |"
        )
        print("|---:|---:|---:|---:|---:|---:|---:|")
        for size, r in redis_rows.items():
            old, new = r["old"], r["new"]
            assert old is not None and new is not None
            print(
                f"| {size:,} | {cell(old)} | {cell(r['old_server'])} | {cell(new)} |"
                f" {cell(r['new_server'])} | {old / new:,.0f}× | {cell(r['rebuild'])} |"
            )
    if sqlite_rows:
        print("\nSQLite:\n")
        print(
            "| queued alerts | `pending()` + count/min (baseline) | `outbox_summary()` | speed-up |"
        )
        print("|---:|---:|---:|---:|")
        for size, r in sqlite_rows.items():
            old, new = r["old"], r["new"]
            assert old is not None and new is not None
            print(f"| {size:,} | {cell(old)} | {cell(new)} | {old / new:,.0f}× |")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0] if __doc__ else None)
    parser.add_argument(
        "--sizes", default="1000,10000,50000", help="queued alerts, comma-separated"
    )
    parser.add_argument("--store", choices=["redis", "sqlite", "both"], default="both")
    parser.add_argument("--dead", type=int, default=0, help="dead letters older than the queue")
    parser.add_argument("--repeat", type=int, default=3, help="runs of the baseline")
    asyncio.run(main_async(parser.parse_args()))


if __name__ == "__main__":
    main()
