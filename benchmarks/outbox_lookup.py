"""Outbox lookup benchmark: finding one alert, and requeueing many dead letters.

Run (from the repository root; about a minute)::

    .venv/bin/python benchmarks/outbox_lookup.py
    .venv/bin/python benchmarks/outbox_lookup.py --sizes 10000 --dead 1000 --store redis

Redis and SQLite are set up as in ``benchmarks/outbox_summary.py`` (a private
``redis-server`` unless ``MONITOR_TEST_REDIS_URL`` is set; SQLite in a temporary
directory), and so are the alerts (1.5 KB of article text each). In the same run, the
old way (the baseline) and the new one:

1. *Find one alert* (the console's alert page, ``GET /api/v1/alerts/{id}``, a retry), with
   ``--sizes`` alerts queued: the old way scanned ``dead_letters()`` then ``pending()``
   for its id (every alert listed and decoded); ``outbox_entry(id)`` reads that one. The
   alert looked up is the newest queued one (the listing costs the same for any).
2. *Requeue ``--dead`` dead letters* (``news-monitor alerts retry --all``): the old way
   called ``requeue(id)`` once per id (a round trip, or a transaction, each);
   ``requeue_many(ids)`` sends them in batches of ``REQUEUE_BATCH`` (one round trip each).
   The dead letters are made again before each run, outside the timed part.

Wall clock, best of ``--repeat``; on the private Redis, the server time of each (``INFO
commandstats``): what every other client waits for, and the longest it is blocked at once
(a script call runs alone; so the per-call mean of the ``requeue_many`` calls, all alike).
Old and new must agree (the same entry found, the same ids moved); the run stops if not.
"""

from __future__ import annotations

import argparse
import asyncio
import io
import math
import os
import sys
import tempfile
from collections.abc import Awaitable, Callable
from functools import partial
from pathlib import Path
from typing import Any

import redis

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks.outbox_summary import START, best_of, fill, redis_server, server_usec
from benchmarks.outbox_summary import cell as wide_cell
from benchmarks.redis_support import drop_prefix
from monitor.log import configure_logging
from monitor.model import OutboxLookup
from monitor.store.base import StateStore
from monitor.store.redis import RedisStore
from monitor.store.redis_outbox import REQUEUE_BATCH
from monitor.store.sqlite import FILE_NAME, SqliteStore

Row = dict[str, float | None]
#: Times ``work`` (best of ``times``): (ms, the server's ms and script calls a run (None
#: unless the server is private), the last result).
Timer = Callable[[int, Callable[[], Awaitable[Any]]], Awaitable[tuple[float, Row, Any]]]


async def find_the_old_way(store: StateStore, alert_id: str) -> OutboxLookup | None:
    """What ``find_alert`` did before ``outbox_entry``: scan the dead letters, then the outbox."""
    dead = next((e for e in await store.dead_letters() if e.alert.id == alert_id), None)
    if dead is not None:
        return OutboxLookup(dead, dead=True)
    queued = next((e for e in await store.pending() if e.alert.id == alert_id), None)
    return OutboxLookup(queued, dead=False) if queued is not None else None


async def requeue_the_old_way(store: StateStore, ids: list[str], now: float) -> list[str]:
    """What ``alerts retry --all`` did before ``requeue_many``: one ``requeue`` per id."""
    return [alert_id for alert_id in ids if await store.requeue(alert_id, now)]


async def requeue_new(store: StateStore, ids: list[str], now: float) -> list[str]:
    """``alerts retry --all`` now: ``requeue_many``."""
    return await store.requeue_many(ids, now)


async def kill_all(store: StateStore, now: float) -> list[str]:
    """Dead-letter every alert of the outbox (untimed); their ids, as ``dead_letters`` lists
    them (what ``alerts retry --all`` requeues)."""
    for entry in await store.claim_due(now, 600, 1_000_000):
        await store.dead_letter(entry.alert.id, now, "HTTP 404", claim=entry.claim)
    return [e.alert.id for e in await store.dead_letters()]


def agree(what: str, old: object, new: object) -> None:
    if old != new:
        raise SystemExit(f"{what}: the two ways disagree")


async def measure(store: StateStore, size: int, dead: int, repeat: int, timed: Timer) -> Row:
    """Both lookups with ``size`` alerts queued, then both requeues of ``dead`` dead letters
    (on the same store, emptied in between)."""
    row: Row = {}
    if size:
        await fill(store, size, 0)
        target = f"alrt_{size - 1:012d}"
        ms, server, old = await timed(repeat, lambda: find_the_old_way(store, target))
        row |= {"find_old": ms, "find_old_server": server["usec"]}
        ms, server, new = await timed(20, lambda: store.outbox_entry(target))
        row |= {"find_new": ms, "find_new_server": server["usec"]}
        agree("find", old, new)
        assert new is not None and new.entry.alert.id == target
        for entry in await store.pending():  # empty the outbox for the requeues
            await store.ack(entry.alert.id, START, "HTTP 200", 60)
    if dead:
        now = START + 10 * (size + dead)
        await fill(store, dead, 0)
        best: dict[str, tuple[float, Row]] = {}
        moved: dict[str, list[str]] = {}
        for _ in range(repeat):
            for way in ("old", "new"):
                ids = await kill_all(store, now)
                work = partial(
                    requeue_the_old_way if way == "old" else requeue_new, store, ids, now
                )
                ms, server, moved[way] = await timed(1, work)
                if way not in best or ms < best[way][0]:
                    best[way] = (ms, server)
                agree("requeue", sorted(ids), sorted(moved[way]))
        agree("requeue", moved["old"], moved["new"])
        for way, (ms, server) in best.items():
            usec, calls = server["usec"], server["calls"]
            row |= {f"requeue_{way}": ms, f"requeue_{way}_server": usec}
            row[f"requeue_{way}_block"] = usec / calls if usec is not None and calls else None
    return row


async def run_redis(url: str, private: bool, size: int, dead: int, repeat: int) -> Row:
    prefix = f"nm-bench-lookup-{os.getpid()}-{size}"
    store = RedisStore.from_url(url, prefix)
    stats = redis.Redis.from_url(url)

    def counters() -> tuple[int, int]:
        scripts = stats.info("commandstats")
        calls = sum(int(v["calls"]) for k, v in scripts.items() if k.startswith("cmdstat_eval"))
        return server_usec(stats), calls

    async def timed(times: int, work: Callable[[], Awaitable[Any]]) -> tuple[float, Row, Any]:
        usec, calls = counters()
        ms, result = await best_of(times, work)
        usec_after, calls_after = counters()
        server: Row = {"usec": None, "calls": None}
        if private:  # ms a run, on average; script calls a run
            server = {
                "usec": (usec_after - usec) / 1000 / times,
                "calls": (calls_after - calls) / times,
            }
        return ms, server, result

    try:
        return await measure(store, size, dead, repeat, timed)
    finally:
        await store.close()
        stats.close()
        await drop_prefix(url, prefix)


async def run_sqlite(size: int, dead: int, repeat: int) -> Row:
    async def timed(times: int, work: Callable[[], Awaitable[Any]]) -> tuple[float, Row, Any]:
        ms, result = await best_of(times, work)
        return ms, {"usec": None, "calls": None}, result

    with tempfile.TemporaryDirectory(prefix="nm-lookup-") as tmp:
        store = await SqliteStore.open(Path(tmp) / FILE_NAME)
        try:
            return await measure(store, size, dead, repeat, timed)
        finally:
            await store.close()


def cell(value: float | None) -> str:
    """A figure in ms; below one, to the hundredth (a lookup's server time is a few µs)."""
    return f"{value:.2f}" if value is not None and value < 1 else wide_cell(value)


def speed_up(old: float | None, new: float | None) -> str:
    return "n/a" if old is None or not new else f"{old / new:,.0f}×"


async def main_async(args: argparse.Namespace) -> None:
    configure_logging("INFO", stream=io.StringIO())  # logged as in production, not printed
    sizes = [int(s) for s in args.sizes.split(",")]
    stores = ["redis", "sqlite"] if args.store == "both" else [args.store]
    rows: dict[tuple[str, int], Row] = {}
    where = ""
    if "redis" in stores:
        with redis_server() as (url, private):
            where = "a private redis-server" if private else f"{url} (shared: no server times)"
            for size in sizes:
                rows["Redis", size] = await run_redis(url, private, size, 0, args.repeat)
            rows["Redis", 0] = await run_redis(url, private, 0, args.dead, args.repeat)
    if "sqlite" in stores:
        for size in sizes:
            rows["SQLite", size] = await run_sqlite(size, 0, args.repeat)
        rows["SQLite", 0] = await run_sqlite(0, args.dead, args.repeat)
    print(
        f"outbox lookup benchmark: alerts with 1.5 KB of text each; ms, wall clock best of"
        f" {args.repeat} (outbox_entry: best of 20); Redis: {where or 'not run'};"
        f" Python {sys.version.split()[0]}\n"
    )
    print("Find one alert:\n")
    print(
        "| store | queued alerts | scan `dead_letters()` + `pending()` (baseline) |"
        " its server time | `outbox_entry()` | its server time | speed-up |"
    )
    print("|---|---:|---:|---:|---:|---:|---:|")
    for (name, size), r in rows.items():
        if size:
            print(
                f"| {name} | {size:,} | {cell(r['find_old'])} | {cell(r['find_old_server'])} |"
                f" {cell(r['find_new'])} | {cell(r['find_new_server'])} |"
                f" {speed_up(r['find_old'], r['find_new'])} |"
            )
    print(f"\nRequeue {args.dead:,} dead letters (`alerts retry --all`):\n")
    print(
        "| store | `requeue()` per id (baseline) | calls (round trips or transactions) |"
        " its server time | `requeue_many()` | calls | its server time | longest block of"
        " the server | speed-up |"
    )
    print("|---|---:|---:|---:|---:|---:|---:|---:|---:|")
    batches = math.ceil(args.dead / REQUEUE_BATCH)
    for (name, size), r in rows.items():
        if not size:
            trips = f"{batches:,}" if name == "Redis" else "1"
            print(
                f"| {name} | {cell(r['requeue_old'])} | {args.dead:,} |"
                f" {cell(r['requeue_old_server'])} | {cell(r['requeue_new'])} | {trips} |"
                f" {cell(r['requeue_new_server'])} | {cell(r['requeue_new_block'])} |"
                f" {speed_up(r['requeue_old'], r['requeue_new'])} |"
            )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0] if __doc__ else None)
    parser.add_argument("--sizes", default="10000,50000", help="queued alerts, comma-separated")
    parser.add_argument("--dead", type=int, default=5_000, help="dead letters to requeue")
    parser.add_argument("--store", choices=["redis", "sqlite", "both"], default="both")
    parser.add_argument("--repeat", type=int, default=3, help="runs of each baseline")
    asyncio.run(main_async(parser.parse_args()))


if __name__ == "__main__":
    main()
