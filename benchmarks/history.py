"""Alert history benchmark: searches over 100,000 recorded alerts, on SQLite and Redis.

Run (from the repository root)::

    .venv/bin/python benchmarks/history.py                  # both stores, 100,000 alerts
    .venv/bin/python benchmarks/history.py --store sqlite   # one store
    .venv/bin/python benchmarks/history.py --alerts 20000   # a smaller history

Redis is ``MONITOR_REDIS_URL`` (else a server on 127.0.0.1:6379); the run writes under a
prefix of its own (``nm-bench-history-<pid>``) and deletes it at the end. SQLite is a
file in a temporary directory.

What is recorded: ``--alerts`` alerts (default 100,000) over 30 days, built from the
BBC 2005 corpus (2,225 articles: title and the whole body, 2.2 KB on average, as a feed
that carries full text gives them; each article alerts about 45 times), of 100 rules
(their queries made of corpus words) to 3 channels, each queued then settled as the
daemon does (80% delivered, 8% retried then delivered, 5% dead, 3% silenced, 4% still
pending), in batches of 500 updates per ``record_history``, as a busy daemon's
worker would record them.

What is timed (each best of 5, one page of 50 entries, newest first):

1. the first page of the alert list, no filter;
2. a text search for a common word ("government": in 21% of the articles, the page
   fills quickly);
3. a text search for a rare word ("glenmorangie": in one article, so about 45 alerts,
   fewer than a page: the whole history is searched);
4. a filter by rule and status (one rule's dead letters: fewer than a page);
5. paging to page 10: pages 1 to 10 following each page's cursor (10 calls), and page
   10 alone from its cursor;

and, for scale, the stats over the last day, the last 7 days (what the console's rules
page asks) and everything, and one batch of 500 new alerts recorded into the full
history; then the same history through the daemon's web console and API in process
(``httpx.ASGITransport``): the alerts page, a search on it, the overview, the rules
page, and the API search. Target: every search, and the alerts page, under 300 ms.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import httpx  # noqa: E402
import redis.asyncio as aioredis  # noqa: E402

from benchmarks.redis_support import drop_prefix  # noqa: E402
from monitor.config.load import LoadedConfig  # noqa: E402
from monitor.config.models import WatchConfig  # noqa: E402
from monitor.model import Alert, Article, Attempt, HistoryQuery  # noqa: E402
from monitor.store.base import StateStore  # noqa: E402
from monitor.store.redis import RedisStore  # noqa: E402
from monitor.store.sqlite import FILE_NAME, SqliteStore  # noqa: E402
from monitor.web import ConsoleContext, Metrics, Probes  # noqa: E402
from monitor.web.asgi import build_app  # noqa: E402

CORPUS = ROOT.parent / "shared" / "data" / "articles" / "bbc-2005" / "bbc_news.jsonl"
DAY = 86_400.0
START = 1_800_000_000.0
RULES, CHANNELS, BATCH, PAGE = 100, ("ops", "email", "webhook"), 500, 50
RETENTION = 31 * DAY
COMMON, RARE = "government", "glenmorangie"
WORDS = ("Iran", "Russia", "drones", "economy", "election", "football", "music", "oil")


def load_articles() -> list[tuple[str, str, str]]:
    """(id, title, body) of each corpus article."""
    with CORPUS.open(encoding="utf-8") as f:
        rows = [json.loads(line) for line in f]
    return [(r["id"], r["title"], r["body"]) for r in rows]


def make_alerts(count: int, seed: int = 7) -> list[tuple[Alert, float, str]]:
    """``count`` alerts, each with its creation time and its final outcome, oldest first."""
    rng = random.Random(seed)
    articles = load_articles()
    queries = [f"{rng.choice(WORDS)} AND {rng.choice(WORDS)}" for _ in range(RULES)]
    out: list[tuple[Alert, float, str]] = []
    for n in range(count):
        article_id, title, body = articles[n % len(articles)]
        rule = n * 7 % RULES
        channel = CHANNELS[n % len(CHANNELS)]
        at = START + 30 * DAY * n / count
        article = Article(
            id=f"{article_id}#{n // len(articles)}",
            feed_id=f"feed-{n % 40}",
            url=f"https://news.example/{article_id}/{n}",
            title=title,
            text=body,
            published=datetime.fromtimestamp(at - 600, UTC),
        )
        alert = Alert(
            id=f"alrt_{n:08d}",
            channel=channel,
            rule_id=f"rule-{rule:03d}",
            query=queries[rule],
            article=article,
            hits=(),
            created_at=datetime.fromtimestamp(at, UTC),
            story_id=article.id if n % 5 else "",
        )
        roll = rng.random()
        outcome = (
            "delivered"
            if roll < 0.80
            else "retried"
            if roll < 0.88
            else "dead"
            if roll < 0.93
            else "silenced"
            if roll < 0.96
            else "pending"
        )
        out.append((alert, at, outcome))
    return out


def updates_of(alert: Alert, at: float, outcome: str) -> list[tuple[Alert, str, Attempt]]:
    """The history updates of one alert's life."""
    life = [(alert, "pending", Attempt(at, "queued"))]
    if outcome == "retried":
        life.append((alert, "retrying", Attempt(at + 5, "retried", "HTTP 503")))
        life.append((alert, "delivered", Attempt(at + 30, "delivered", "HTTP 200")))
    elif outcome == "delivered":
        life.append((alert, "delivered", Attempt(at + 1, "delivered", "HTTP 200")))
    elif outcome == "dead":
        life.append((alert, "dead", Attempt(at + 1, "dead", "HTTP 404 Not Found")))
    elif outcome == "silenced":
        life.append((alert, "silenced", Attempt(at + 1, "silenced", "sil_0123456789abcdef")))
    return life


async def fill(store: StateStore, alerts: list[tuple[Alert, float, str]]) -> float:
    """Record every alert's life; the seconds it took."""
    updates = [u for alert, at, outcome in alerts for u in updates_of(alert, at, outcome)]
    updates.sort(key=lambda u: u[2].at)
    started = time.perf_counter()
    for start in range(0, len(updates), BATCH):
        await store.record_history(updates[start : start + BATCH], RETENTION)
    return time.perf_counter() - started


async def best_of(times: int, work: Callable[[], Awaitable[Any]]) -> tuple[float, Any]:
    """The fastest of ``times`` runs of ``work`` in milliseconds, and its last result."""
    best, result = float("inf"), None
    for _ in range(times):
        started = time.perf_counter()
        result = await work()
        best = min(best, time.perf_counter() - started)
    return best * 1000, result


async def measure(
    store: StateStore, alerts: list[tuple[Alert, float, str]]
) -> dict[str, tuple[float, str]]:
    """Each timed operation: (ms, what it found)."""
    rows: dict[str, tuple[float, str]] = {}
    dead_rule = next(a.rule_id for a, _, outcome in alerts if outcome == "dead")

    async def search(**query: Any) -> Any:
        return await store.search_history(HistoryQuery(limit=PAGE, **query))

    async def timed(name: str, **query: Any) -> None:
        ms, page = await best_of(5, lambda: search(**query))
        more = "more" if page.next_cursor else "last page"
        rows[name] = (ms, f"{len(page.entries)} entries, {more}")

    await timed("first page, no filter")
    await timed(f'text "{COMMON}" (common)', text=COMMON)
    await timed(f'text "{RARE}" (rare)', text=RARE)
    await timed(f"rule {dead_rule} + status dead", rule=dead_rule, status="dead")

    async def to_page_ten() -> Any:
        cursor = None
        for _ in range(10):
            page = await search(cursor=cursor)
            cursor = page.next_cursor
        return page

    ms, page = await best_of(5, to_page_ten)
    rows["pages 1 to 10 (10 calls)"] = (ms, f"page 10: {len(page.entries)} entries")
    cursor = None
    for _ in range(9):
        cursor = (await search(cursor=cursor)).next_cursor
    ms, page = await best_of(5, lambda: search(cursor=cursor))
    rows["page 10 alone, from its cursor"] = (ms, f"{len(page.entries)} entries")
    newest = max(at for _, at, _ in alerts)
    ms, stats = await best_of(5, lambda: store.history_stats(newest - DAY))
    rows["stats, last day"] = (ms, f"{sum(stats.by_status.values()):,} alerts")
    ms, stats = await best_of(5, lambda: store.history_stats(newest - 7 * DAY))
    rows["stats, last 7 days"] = (ms, f"{sum(stats.by_status.values()):,} alerts")
    ms, stats = await best_of(5, lambda: store.history_stats(0))
    rows["stats, everything"] = (ms, f"{sum(stats.by_status.values()):,} alerts")
    extra = [
        (replace(a, id=f"{a.id}-x"), "pending", Attempt(newest + 1, "queued"))
        for a, _, _ in alerts[:BATCH]
    ]
    started = time.perf_counter()
    await store.record_history(extra, RETENTION)
    rows[f"record {BATCH} new alerts (one call)"] = (
        (time.perf_counter() - started) * 1000,
        "into the full history",
    )
    return rows


def console_app(store: StateStore, alerts: list[tuple[Alert, float, str]]) -> Any:
    """The daemon's web console and API over ``store``, with a config naming the rules and
    channels of ``alerts`` (no token: answered on loopback, as a local daemon would)."""
    queries = {a.rule_id: a.query for a, _, _ in alerts}
    config = WatchConfig.model_validate(
        {
            "feeds": [
                {"id": f"feed-{n}", "url": f"https://news.example/{n}.xml"} for n in range(40)
            ],
            "channels": {c: {"type": "console"} for c in CHANNELS},
            "rules": [{"id": rule, "query": query} for rule, query in sorted(queries.items())],
        }
    )
    newest = max(at for _, at, _ in alerts)

    async def ready() -> None:
        return None

    async def refresh() -> None:
        return None

    context = ConsoleContext(
        loaded=lambda: LoadedConfig(config=config, files=[]),
        channels=lambda: {},  # nothing sends here: no channel is disabled
        store=store,
        clock=lambda: newest + 60,  # "now" is just after the newest alert
        wake=lambda: None,
        history_retention=RETENTION,
        archive_retention=7 * DAY,
    )
    probes = Probes(alive=lambda: {}, not_ready=ready, refresh=refresh)
    return build_app(probes, Metrics(), console=context)


async def measure_pages(
    store: StateStore, alerts: list[tuple[Alert, float, str]]
) -> dict[str, tuple[float, str]]:
    """The console's pages and the API over the same history: (ms, status and size)."""
    app = console_app(store, alerts)
    rows: dict[str, tuple[float, str]] = {}
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://127.0.0.1") as client:
        for name, path in (
            ("page: alerts, first page", "/alerts"),
            (f'page: alerts, search "{COMMON}"', f"/alerts?q={COMMON}"),
            (f'page: alerts, search "{RARE}"', f"/alerts?q={RARE}"),
            ("page: overview", "/"),
            ("page: rules (hits 24 h and 7 d)", "/rules"),
            (f"API: GET /api/v1/alerts?q={COMMON}", f"/api/v1/alerts?q={COMMON}"),
        ):

            async def get(path: str = path) -> httpx.Response:
                return await client.get(path)

            ms, response = await best_of(5, get)
            assert response.status_code == 200, (path, response.status_code, response.text[:200])
            rows[name] = (ms, f"HTTP {response.status_code}, {len(response.content) // 1024} KB")
    return rows


async def redis_memory(url: str) -> int:
    client = aioredis.Redis.from_url(url)
    try:
        return int((await client.info("memory"))["used_memory"])
    finally:
        await client.aclose()


async def run_store(
    name: str, alerts: list[tuple[Alert, float, str]]
) -> tuple[dict[str, tuple[float, str]], float, str]:
    """(timings, fill seconds, size) on one store."""
    if name == "sqlite":
        with tempfile.TemporaryDirectory(prefix="nm-history-") as tmp:
            path = Path(tmp) / FILE_NAME
            store = await SqliteStore.open(path)
            try:
                seconds = await fill(store, alerts)
                rows = await measure(store, alerts)
                rows.update(await measure_pages(store, alerts))
            finally:
                await store.close()
            size = sum(p.stat().st_size for p in Path(tmp).iterdir()) / 1e6  # noqa: ASYNC240
            return rows, seconds, f"{size:,.0f} MB file"
    url = os.environ.get("MONITOR_REDIS_URL", "redis://127.0.0.1:6379/0")
    prefix = f"nm-bench-history-{os.getpid()}"
    before = await redis_memory(url)
    store = RedisStore.from_url(url, prefix)
    try:
        seconds = await fill(store, alerts)
        used = (await redis_memory(url) - before) / 1e6
        rows = await measure(store, alerts)
        rows.update(await measure_pages(store, alerts))
    finally:
        await store.close()
        await drop_prefix(url, prefix)
    return rows, seconds, f"{used:,.0f} MB used_memory"


async def main_async(args: argparse.Namespace) -> None:
    alerts = make_alerts(args.alerts)
    stores = ["sqlite", "redis"] if args.store == "both" else [args.store]
    results = {name: await run_store(name, alerts) for name in stores}
    print(
        f"alert history benchmark: {args.alerts:,} alerts over 30 days ({RULES} rules, "
        f"{len(CHANNELS)} channels, BBC 2005 texts), pages of {PAGE}, best of 5; "
        f"Python {sys.version.split()[0]}"
    )
    print()
    header = "| operation | " + " | ".join(f"{s} (ms)" for s in stores) + " | found |"
    print(header)
    print("|---|" + "---:|" * len(stores) + "---|")
    first = results[stores[0]][0]
    for name in first:
        cells = " | ".join(f"{results[s][0][name][0]:.1f}" for s in stores)
        print(f"| {name} | {cells} | {first[name][1]} |")
    fills = " | ".join(f"{results[s][1]:.1f} s" for s in stores)
    print(f"| fill: record every alert's life | {fills} | batches of {BATCH} updates |")
    sizes = " | ".join(results[s][2] for s in stores)
    print(f"| size | {sizes} | |")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0] if __doc__ else None)
    parser.add_argument("--alerts", type=int, default=100_000)
    parser.add_argument("--store", choices=["sqlite", "redis", "both"], default="both")
    asyncio.run(main_async(parser.parse_args()))


if __name__ == "__main__":
    main()
