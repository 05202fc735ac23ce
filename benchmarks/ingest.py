"""Ingestion benchmark: polling cycles over 1,000 feeds served by a local HTTP server.

Run (from the repository root; the server gets one core, the daemon the other)::

    .venv/bin/python benchmarks/ingest.py                # 1,000 feeds, 10% changed, SQLite store
    .venv/bin/python benchmarks/ingest.py --store redis  # on Redis (MONITOR_REDIS_URL, or local)

What runs: a server process (``--serve``, pinned to the last CPU) answers
``/feed/N.xml`` on 50 loopback addresses (127.0.0.1-50, 20 feeds per host, so
the per-host limit plays as it would on the Internet) with RSS 2.0 feeds of 50
items built from the BBC 2005 corpus (title, link, guid, date, a 600-character
description: about 50 KB a feed), with ETags and 304s. The daemon's own
``Monitor`` (settings and limits as shipped, 100 rules from
``benchmarks/rulegen.py``, logging at INFO into a null stream) polls every
feed once per cycle, in this process, pinned to the first CPU:

1. cold: every feed is new (all 50,000 items claimed, matched, marked seen);
2. unchanged: every feed answers 304;
3. 10% changed: every tenth feed has five new items (the oldest five drop out).

Rows: wall and CPU seconds per cycle; CPU per unchanged feed (cycle 2 / feeds)
and per changed feed (the changed feeds changed again and polled alone, best of
three, / changed feeds); peak RSS.
Two rows measure "bytes to matched articles" for one 50-item feed with every
item new, on its own (parse, normalize, match; no HTTP, no store), against
bare ``feedparser.parse`` of the same bytes. The baseline is a plain httpx GET
of all feeds with the same concurrency (no conditional GET, no parsing): the
floor a cycle cannot go below on this machine.

After the cold cycle, the state it left is measured per part (seen marks,
archive, stories ...), in bytes per new item: SQLite's pages per table
(``dbstat``, after a checkpoint); for Redis, ``MEMORY USAGE`` of every key of
the run (summed by key family, with the number of keys), and as a cross-check
the growth of the server's ``used_memory`` since the start, which also counts
what a key's TTL costs but is server-wide (another client's writes show in
it). The Redis run writes under a key prefix of its own (``nm-bench-<pid>``),
deleted at the end, also when the run fails.
"""

from __future__ import annotations

import argparse
import asyncio
import html
import io
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import format_datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import feedparser  # noqa: E402
import httpx  # noqa: E402
import redis.asyncio as aioredis  # noqa: E402

from benchmarks.redis_support import drop_prefix  # noqa: E402
from benchmarks.rulegen import CorpusStats, RuleGenerator, load_corpus  # noqa: E402
from monitor.app import Monitor  # noqa: E402
from monitor.config.load import LoadedConfig, load_config  # noqa: E402
from monitor.config.models import FeedConfig  # noqa: E402
from monitor.ingest import parse_feed  # noqa: E402
from monitor.log import configure_logging  # noqa: E402
from monitor.model import Article  # noqa: E402
from monitor.settings import Settings  # noqa: E402

DATA = ROOT.parent / "shared" / "data"
CORPUS = DATA / "articles" / "bbc-2005" / "bbc_news.jsonl"
HOSTS = 50
ITEMS = 50
NEW_PER_CHANGE = 5
DESCRIPTION_CHARS = 600


# -- the feeds -----------------------------------------------------------------------------


def host_of(feed: int) -> str:
    return f"127.0.0.{1 + feed % HOSTS}"


def feed_body(stories: list[Article], feed: int, version: int, epoch: float) -> bytes:
    """Feed ``feed`` at ``version``: items ``5v .. 5v+49``, newest first, one a minute."""
    newest = version * NEW_PER_CHANGE + ITEMS - 1
    host = host_of(feed)
    items = []
    for n in range(newest, newest - ITEMS, -1):
        story = stories[(feed * 131 + n) % len(stories)]
        published = datetime.fromtimestamp(epoch - (newest - n) * 60, UTC)
        link = f"https://{host}/news/{feed}/{n}"
        items.append(
            "<item>"
            f"<title>{html.escape(story.title)}</title>"
            f"<link>{link}</link><guid isPermaLink='true'>{link}</guid>"
            f"<pubDate>{format_datetime(published)}</pubDate>"
            f"<description>{html.escape(story.text[:DESCRIPTION_CHARS])}</description>"
            "</item>"
        )
    return (
        "<?xml version='1.0' encoding='utf-8'?><rss version='2.0'><channel>"
        f"<title>Feed {feed}</title><link>https://{host}/</link>"
        f"<description>benchmark feed {feed}</description>" + "".join(items) + "</channel></rss>"
    ).encode()


class FeedServer:
    """Serves every feed with ETags; ``/_bump/A/B`` gives feeds A..B-1 five new items."""

    def __init__(self, stories: list[Article], feeds: int) -> None:
        self.stories = stories
        self.versions = [0] * feeds
        self.epoch = time.time()
        self.cache: dict[tuple[int, int], bytes] = {}

    def body(self, feed: int) -> tuple[bytes, str]:
        version = self.versions[feed]
        key = (feed, version)
        if key not in self.cache:
            self.cache[key] = feed_body(self.stories, feed, version, self.epoch + version * 300)
        return self.cache[key], f'"{feed}-{version}"'

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while request := await reader.readuntil(b"\r\n\r\n"):
                head = request.decode("latin-1").split("\r\n")
                path = head[0].split(" ")[1]
                headers = dict(
                    (k.strip().lower(), v.strip())
                    for k, _, v in (line.partition(":") for line in head[1:] if line)
                )
                writer.write(self.answer(path, headers.get("if-none-match")))
                await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            writer.close()

    def answer(self, path: str, etag_asked: str | None) -> bytes:
        if path.startswith("/_bump/"):
            start, stop = map(int, path.split("/")[2:4])
            for feed in range(start, stop):
                self.versions[feed] += 1
            return b"HTTP/1.1 204 No Content\r\nContent-Length: 0\r\n\r\n"
        feed = int(path.rsplit("/", 1)[1].split(".")[0])
        body, etag = self.body(feed)
        if etag_asked == etag:
            return (
                f"HTTP/1.1 304 Not Modified\r\nETag: {etag}\r\nContent-Length: 0\r\n\r\n".encode()
            )
        head = (
            "HTTP/1.1 200 OK\r\nContent-Type: application/rss+xml; charset=utf-8\r\n"
            f"ETag: {etag}\r\nContent-Length: {len(body)}\r\n\r\n"
        )
        return head.encode() + body


def serve(port: int, feeds: int) -> None:
    """The server process: listen on every host address until killed."""
    pin(-1)
    server = FeedServer(load_corpus(CORPUS), feeds)

    async def main() -> None:
        for i in range(HOSTS):
            await asyncio.start_server(server.handle, f"127.0.0.{1 + i}", port)
        print("ready", flush=True)
        await asyncio.Event().wait()

    asyncio.run(main())


def pin(index: int) -> None:
    """Pin this process to one CPU (the first or the last), if the platform allows."""
    if hasattr(os, "sched_getaffinity"):
        cpus = sorted(os.sched_getaffinity(0))
        if len(cpus) > 1:
            os.sched_setaffinity(0, {cpus[index]})


@contextmanager
def feed_server(feeds: int) -> Iterator[int]:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = int(s.getsockname()[1])
    child = subprocess.Popen(
        [sys.executable, __file__, "--serve", str(port), "--feeds", str(feeds)],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert child.stdout is not None and child.stdout.readline().strip() == "ready"
        yield port
    finally:
        child.kill()
        child.wait()


# -- the daemon side -------------------------------------------------------------------------


def write_config(directory: Path, port: int, feeds: int, rules: int) -> None:
    generator = RuleGenerator(CorpusStats(load_corpus(CORPUS)), seed=2005)
    lines = ["feeds:"]
    for feed in range(feeds):
        lines += [f"  - id: f{feed}", f"    url: http://{host_of(feed)}:{port}/feed/{feed}.xml"]
    lines += ["channels:", "  out:", "    type: console", "rules:"]
    for i in range(rules):
        lines += [f"  - id: r{i}", f"    query: {json.dumps(generator.query())}"]
    (directory / "watch.yaml").write_text("\n".join(lines) + "\n", encoding="utf-8")


@dataclass
class Cycle:
    name: str
    wall: float
    cpu: float
    new: int
    alerts: int


async def cycle(monitor: Monitor, name: str, feeds: list[FeedConfig] | None = None) -> Cycle:
    wall, cpu = time.perf_counter(), time.process_time()
    reports = await monitor.poll_feeds(feeds)
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    errors = [r for r in reports if r.status == "error"]
    if errors:
        raise SystemExit(f"{len(errors)} polls failed, e.g. {errors[0].feed_id}: {errors[0].error}")
    return Cycle(name, wall, cpu, sum(r.new for r in reports), sum(r.alerts for r in reports))


async def bump(port: int, feeds: list[int]) -> None:
    """Give each of ``feeds`` five new items (the oldest five drop out)."""
    async with httpx.AsyncClient() as client:
        for feed in feeds:
            await client.get(f"http://127.0.0.1:{port}/_bump/{feed}/{feed + 1}")


async def baseline(port: int, feeds: int, concurrency: int) -> tuple[float, float]:
    """Plain GETs of every feed (full bodies, no parsing), ``concurrency`` at a time."""
    limit = asyncio.Semaphore(concurrency)
    async with httpx.AsyncClient() as client:

        async def get(feed: int) -> None:
            async with limit:
                (
                    await client.get(f"http://{host_of(feed)}:{port}/feed/{feed}.xml")
                ).raise_for_status()

        wall, cpu = time.perf_counter(), time.process_time()
        await asyncio.gather(*(get(f) for f in range(feeds)))
        return time.perf_counter() - wall, time.process_time() - cpu


def bytes_to_matches(monitor: Monitor, body: bytes, repeats: int = 20) -> tuple[float, float, int]:
    """Best CPU ms of parse+normalize+match of ``body`` and of bare feedparser; matches."""
    ruleset = monitor.poller.rules.ruleset
    ours, bare, matches = float("inf"), float("inf"), 0
    for _ in range(repeats):
        start = time.process_time()
        parsed = parse_feed(
            "f0", body, {"content-type": "application/rss+xml"}, fetched_at=time.time()
        )
        matches = sum(len(ruleset.match(a)) for a in parsed.articles)
        ours = min(ours, time.process_time() - start)
        start = time.process_time()
        feedparser.parse(body)
        bare = min(bare, time.process_time() - start)
    return ours * 1000, bare * 1000, matches


#: What each part of the state is, by SQLite table or Redis key name (the part before ":").
#: Article claims are seen marks in both (a "claim" value of an ``article:`` key in Redis);
#: the Redis ``claim`` hash holds the outbox's claim tokens.
STATE_PARTS = (
    ("seen marks", ("marks", "article")),
    ("archive", ("archive",)),
    ("alert history", ("history",)),
    ("stories", ("stor",)),
    (
        "outbox and deliveries",
        ("outbox", "alert", "dead", "delivered", "attempts", "error", "claim"),
    ),
)


def part_of(name: str) -> str:
    for part, starts in STATE_PARTS:
        if name.startswith(starts):
            return part
    return "other"


def sqlite_state(directory: Path) -> dict[str, int]:
    """Bytes per part of the SQLite file (after a checkpoint), by table and its indexes."""
    import sqlite3

    conn = sqlite3.connect(directory / "state.sqlite3")
    try:
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        rows = conn.execute(
            "SELECT m.tbl_name, SUM(s.pgsize) FROM dbstat s JOIN sqlite_master m "
            "ON s.name = m.name GROUP BY m.tbl_name"
        ).fetchall()
    finally:
        conn.close()
    out: dict[str, int] = {}
    for table, size in rows:
        out[part_of(table)] = out.get(part_of(table), 0) + int(size)
    return out


async def used_memory(url: str) -> int:
    """The Redis server's ``used_memory`` (bytes, server-wide)."""
    client = aioredis.Redis.from_url(url)
    try:
        return int((await client.info("memory"))["used_memory"])
    finally:
        await client.aclose()


async def redis_state(url: str, prefix: str) -> tuple[dict[str, int], dict[str, int]]:
    """Bytes per part (``MEMORY USAGE`` of every key under ``prefix``, every element
    counted: ``SAMPLES 0``) and keys per part."""
    client = aioredis.Redis.from_url(url)
    sizes: dict[str, int] = {}
    counts: dict[str, int] = {}
    try:
        keys = [k async for k in client.scan_iter(match=f"{prefix}:*", count=1000)]
        for start in range(0, len(keys), 1000):
            chunk = keys[start : start + 1000]
            async with client.pipeline(transaction=False) as pipe:
                for key in chunk:
                    pipe.memory_usage(key, samples=0)
                usage = await pipe.execute()
            for key, size in zip(chunk, usage, strict=True):
                part = part_of(key.decode().removeprefix(f"{prefix}:").split(":", 1)[0])
                sizes[part] = sizes.get(part, 0) + int(size or 0)
                counts[part] = counts.get(part, 0) + 1
    finally:
        await client.aclose()
    return sizes, counts


async def run(args: argparse.Namespace) -> None:
    pin(0)
    configure_logging("INFO", stream=io.StringIO())  # logged as in production, not printed
    with tempfile.TemporaryDirectory(prefix="nm-ingest-") as tmp, feed_server(args.feeds) as port:
        directory = Path(tmp)
        write_config(directory, port, args.feeds, args.rules)
        # The feeds are served on 127.0.0.1, which fetches refuse unless allowed.
        overrides: dict[str, object] = {
            "rules_dir": directory,
            "data_dir": directory,
            "allow_private_addresses": True,
        }
        if args.store != "redis":
            overrides["redis_url"] = None
        else:
            overrides["redis_url"] = os.environ.get("MONITOR_REDIS_URL", "redis://127.0.0.1:6379/0")
            overrides["redis_prefix"] = f"nm-bench-{os.getpid()}"
        settings = Settings(**overrides)  # type: ignore[arg-type]
        loaded = load_config(settings)
        base_wall, base_cpu = await baseline(port, args.feeds, settings.max_concurrent_fetches)
        try:
            results = await measure(args, settings, loaded, port, directory)
        finally:
            if args.store == "redis":
                await drop_prefix(str(overrides["redis_url"]), settings.redis_prefix)
        peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    report(args, results, base_wall, base_cpu, peak_mb)


@dataclass
class Results:
    """What one run measured (beside the baseline and the peak memory)."""

    cold: Cycle
    unchanged: Cycle
    changed: Cycle
    #: The changed feeds changed again and polled alone, three times.
    alone: list[Cycle]
    changed_count: int
    #: Bytes per state part after the cold cycle.
    state: dict[str, int]
    #: Redis only: keys per state part, and the server's used_memory growth (bytes).
    redis_keys: dict[str, int]
    redis_growth: int
    #: Bytes to matched articles, bare feedparser (ms CPU), and the matches found.
    ours: float
    bare: float
    matches: int


async def measure(
    args: argparse.Namespace, settings: Settings, loaded: LoadedConfig, port: int, directory: Path
) -> Results:
    """The cycles, the state after the cold one, and bytes-to-matches."""
    url = settings.redis_url.get_secret_value() if settings.redis_url is not None else ""
    memory_before = await used_memory(url) if url else 0
    async with await Monitor.create(settings, loaded) as monitor:
        cold = await cycle(monitor, "cold: every item new")
        redis_keys: dict[str, int] = {}
        growth = 0
        if url:
            growth = await used_memory(url) - memory_before
            state, redis_keys = await redis_state(url, settings.redis_prefix)
        else:
            state = sqlite_state(directory)
        unchanged = await cycle(monitor, "unchanged: every feed 304")
        changed_count = max(1, round(args.feeds * args.changed))
        step = args.feeds // changed_count
        bumped = list(range(0, step * changed_count, step))
        await bump(port, bumped)
        changed = await cycle(monitor, f"{args.changed:.0%} changed")
        # The changed feeds alone, changed again, best of three: their CPU measured
        # directly rather than left over after the 304s' share (which is noisy).
        alone: list[Cycle] = []
        for _ in range(3):
            await bump(port, bumped)
            only = [loaded.config.feeds[feed] for feed in bumped]
            alone.append(await cycle(monitor, "changed feeds alone", only))
        sample = feed_body(load_corpus(CORPUS), 0, 1_000, time.time())
        ours, bare, matches = bytes_to_matches(monitor, sample)
    return Results(
        cold,
        unchanged,
        changed,
        alone,
        changed_count,
        state,
        redis_keys,
        growth,
        ours,
        bare,
        matches,
    )


def report(
    args: argparse.Namespace, results: Results, base_wall: float, base_cpu: float, peak_mb: float
) -> None:
    """Print the table and the state per part."""
    cold, unchanged, changed = results.cold, results.unchanged, results.changed
    per_unchanged = unchanged.cpu / args.feeds * 1000
    per_changed = min(c.cpu for c in results.alone) / results.changed_count
    print(
        f"ingestion benchmark: {args.feeds:,} feeds x {ITEMS} items on {HOSTS} loopback hosts, "
        f"{args.rules} rules, store {args.store}; Python {sys.version.split()[0]}"
    )
    print()
    rows = [
        (
            "baseline: plain GET of every feed",
            f"{base_wall:.2f} s wall",
            f"{base_cpu:.2f} s CPU",
            "",
        ),
        *(
            (
                c.name,
                f"{c.wall:.2f} s wall",
                f"{c.cpu:.2f} s CPU",
                f"{c.new:,} new, {c.alerts:,} alerts",
            )
            for c in (cold, unchanged, changed)
        ),
        ("CPU per unchanged (304) feed", f"{per_unchanged:.2f} ms", "", "target < 2 ms"),
        (
            "CPU per changed feed (5 new of 50), polled alone",
            f"{per_changed * 1000:.1f} ms",
            "",
            "target < 15 ms",
        ),
        (
            "50 new items: bytes to matched articles",
            f"{results.ours:.1f} ms CPU",
            "",
            f"{results.matches} matches",
        ),
        ("50 new items: bare feedparser.parse", f"{results.bare:.1f} ms CPU", "", "reference"),
        ("peak memory (RSS)", f"{peak_mb:.0f} MB", "", "target < 300 MB"),
    ]
    widths = [max(len(row[i]) for row in rows) for i in range(4)]
    print(
        " | ".join(
            h.ljust(w) for h, w in zip(("measurement", "time", "CPU", "note"), widths, strict=True)
        )
    )
    print("-|-".join("-" * w for w in widths))
    for row in rows:
        print(" | ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)))
    target = f"{changed.wall:.2f} s wall for a {args.changed:.0%}-changed cycle (target < 10 s)"
    print(f"\n{target}")
    items = max(cold.new, 1)
    keys = results.redis_keys
    where = "Redis MEMORY USAGE per key" if keys else "SQLite pages (dbstat)"
    print(f"\nstate after the cold cycle ({cold.new:,} items, {cold.alerts:,} alerts; {where}):")
    state = results.state
    for part in [p for p, _ in STATE_PARTS] + ["other", "total"]:
        size = sum(state.values()) if part == "total" else state.get(part, 0)
        line = f"  {part:<22} {size / 1e6:8.1f} MB  {size / items:8.0f} B per item"
        if keys:
            count = sum(keys.values()) if part == "total" else keys.get(part, 0)
            line += f"  {count:>9,} keys  {count / items:5.2f} per item"
        print(line)
    if keys:
        growth = results.redis_growth
        print(
            f"  server used_memory grew {growth / 1e6:.1f} MB, {growth / items:.0f} B per item "
            "(server-wide: other clients' writes count too)"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0] if __doc__ else None)
    parser.add_argument("--feeds", type=int, default=1000)
    parser.add_argument("--changed", type=float, default=0.1, help="share of feeds that change")
    parser.add_argument("--rules", type=int, default=100)
    parser.add_argument("--store", choices=["sqlite", "redis"], default="sqlite")
    parser.add_argument("--serve", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve:
        serve(args.serve, args.feeds)
    else:
        asyncio.run(run(args))


if __name__ == "__main__":
    main()
