"""Replicas benchmark: N shared schedulers over M feeds on one Redis, against one alone.

Run (from the repository root; about a minute and a half with the defaults)::

    .venv/bin/python benchmarks/replicas.py                  # 3 replicas, 1,000 feeds, 10 s
    .venv/bin/python benchmarks/replicas.py --replicas 5 --feeds 2000 --interval 20

What runs: a redis-server of the run's own on a free port (no persistence; without the
``redis-server`` binary, ``MONITOR_REDIS_URL`` or 127.0.0.1:6379 under a prefix of the
run's own, whose commandstats then count other clients too). In this process, one event
loop, each replica is what ``news-monitor run`` builds with Redis: its own ``RedisStore``
(its own connections), a real ``Poller`` (feed state, claims, matching, outbox, archive,
history: the real store calls of a poll) and a ``SharedScheduler`` (capacity 16, lease
120 s, as shipped). The feeds are served by ``httpx.MockTransport`` (no network): small
RSS bodies with ETags, so most polls are 304s, and at every interval 5% of the feeds
gain an item (one in four matches the rule).

First a baseline, one replica; then N. Each runs its first polls (every feed new), then
``--intervals`` intervals are measured. Rows:

- polls per replica: min, max and standard deviation (fairness of the split);
- fetches per feed per interval: mean and max (1.0: each feed once per interval);
- Redis round trips per poll, counted at the client (each command or pipeline sent is
  one), and commands per poll on the server (``INFO commandstats`` deltas: the commands
  scripts run count too), with the claim rounds (``claim_feeds`` calls) per poll apart;
- Redis memory per feed of the schedule (``MEMORY USAGE`` of the schedule sorted set and
  the lease hash, divided by the feeds) and of the feed state, and per article of the
  seen marks (``article:*`` keys over the articles processed).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import statistics
import sys
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from pathlib import Path
from typing import Any

import httpx
import redis
import redis.asyncio.connection as redis_connection

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks.redis_support import private_redis_server
from monitor.config.models import FeedConfig
from monitor.log import configure_logging
from monitor.matching.engine import RuleSpec, compile_rules
from monitor.polling.poller import Poller, PollReport
from monitor.polling.shared_scheduler import SharedScheduler
from monitor.polling.state_writer import SaveFeedState
from monitor.store.redis import RedisStore
from monitor.store.redis_schedule import RedisSchedule

RULE = "Iran AND drones"
#: Calls of each kind sent to Redis by this process (one per command or pipeline).
ROUND_TRIPS: Counter[str] = Counter()


def _count_round_trips() -> None:
    """Count every packet of commands the clients send: one round trip each."""
    original = redis_connection.AbstractConnection.send_packed_command

    async def counted(self: Any, command: Any, check_health: bool = True) -> None:
        ROUND_TRIPS["all"] += 1
        await original(self, command, check_health)

    redis_connection.AbstractConnection.send_packed_command = counted  # type: ignore[method-assign]
    claim = RedisSchedule.claim_feeds

    async def counted_claim(self: RedisSchedule, *args: Any) -> Any:
        ROUND_TRIPS["claim"] += 1
        return await claim(self, *args)

    RedisSchedule.claim_feeds = counted_claim  # type: ignore[method-assign,assignment]


@dataclass
class Farm:
    """M small RSS feeds behind ``httpx.MockTransport``, with ETags; counts fetches."""

    count: int
    items: list[list[tuple[str, str, datetime]]] = field(default_factory=list)
    fetches: Counter[int] = field(default_factory=Counter)
    published: int = 0

    def __post_init__(self) -> None:
        self.items = [
            [(f"Weather report {n}", f"w{n}", datetime.now(UTC))] for n in range(self.count)
        ]

    def publish(self, n: int) -> None:
        self.published += 1
        k = self.published
        title = f"Iran drones report {k}" if k % 4 == 0 else f"Market report {k}"
        self.items[n].insert(0, (title, f"a{k}", datetime.now(UTC)))
        del self.items[n][20:]

    def body(self, n: int) -> bytes:
        parts = ['<?xml version="1.0"?><rss version="2.0"><channel><title>f</title>']
        for title, guid, at in self.items[n]:
            parts.append(
                f"<item><title>{title}</title><link>https://news.example.org/{guid}</link>"
                f"<description>{title}: words words words.</description>"
                f"<pubDate>{format_datetime(at)}</pubDate><guid>{guid}</guid></item>"
            )
        return ("".join(parts) + "</channel></rss>").encode()

    def handle(self, request: httpx.Request) -> httpx.Response:
        n = int(request.url.path.rsplit("/", 1)[-1])
        self.fetches[n] += 1
        etag = f'"{n}-{self.items[n][0][1]}"'
        if request.headers.get("if-none-match") == etag:
            return httpx.Response(304, headers={"etag": etag})
        return httpx.Response(200, content=self.body(n), headers={"etag": etag})


@contextlib.contextmanager
def redis_server() -> Iterator[str]:
    """A private redis-server on a free port, or the configured/local one."""
    with private_redis_server() as url:
        yield url or os.environ.get("MONITOR_REDIS_URL", "redis://127.0.0.1:6379/0")


@dataclass
class Result:
    replicas: int
    polls: list[int]
    per_feed_mean: float
    per_feed_max: float
    round_trips: float
    commands: float
    claim_calls: float
    schedule_bytes: float
    state_bytes: float
    article_bytes: float
    breakdown: list[tuple[str, float]]


def command_stats(client: redis.Redis) -> Counter[str]:
    info: dict[str, Any] = client.info("commandstats")
    return Counter({name.removeprefix("cmdstat_"): int(v["calls"]) for name, v in info.items()})


def memory_of(client: redis.Redis, pattern: str) -> tuple[int, int]:
    """Bytes (``MEMORY USAGE``) and number of the keys matching ``pattern``."""
    total = keys = 0
    for key in client.scan_iter(match=pattern, count=1000):
        total += int(client.memory_usage(key, samples=0) or 0)
        keys += 1
    return total, keys


async def run(url: str, replicas: int, feeds: int, interval: float, intervals: int) -> Result:
    prefix = f"nm-bench-replicas-{uuid.uuid4().hex[:8]}"
    farm = Farm(feeds)
    configs = [
        FeedConfig(
            id=f"f{n:05d}", url=f"http://feeds.test/f/{n}", interval=timedelta(seconds=interval)
        )
        for n in range(feeds)
    ]
    polls: Counter[int] = Counter()
    articles = Counter[str]()
    sync = redis.Redis.from_url(url)
    async with contextlib.AsyncExitStack() as stack:
        http = await stack.enter_async_context(
            httpx.AsyncClient(transport=httpx.MockTransport(farm.handle))
        )
        schedulers = []
        for r in range(replicas):
            store = RedisStore.from_url(url, prefix)
            stack.push_async_callback(store.close)
            poller = Poller(
                store=store,
                http=http,
                ruleset=compile_rules([RuleSpec("drones", RULE)]),
                routes={"drones": (RULE, ("siem",))},
                max_age=timedelta(days=1),
                seen_retention=timedelta(days=30),
                fetch_timeout=30,
                max_feed_bytes=1_000_000,
            )

            async def poll(
                feed: FeedConfig, save_state: SaveFeedState, r: int = r, poller: Poller = poller
            ) -> PollReport:
                # The feed state goes through the lease-fenced writer, as in ``run``.
                report = await poller.poll(feed, save_state=save_state)
                polls[r] += 1
                articles["new"] += report.new
                return report

            scheduler = SharedScheduler(
                configs,
                poll=poll,
                schedule=store.feed_schedule(),
                default_interval=timedelta(seconds=interval),
                lease=120.0,
                capacity=16,
            )
            poller.baseline = scheduler.baseline
            schedulers.append(scheduler)
        for scheduler in schedulers:
            scheduler.start()
        for _ in range(3000):  # the first polls (every feed new), ten minutes at most
            if len(farm.fetches) == feeds:
                break
            await asyncio.sleep(0.2)
        await asyncio.sleep(interval)  # their burst settles into the schedule
        sync.config_resetstat()
        before_stats, before_trips = command_stats(sync), ROUND_TRIPS.copy()
        farm.fetches.clear()
        polls.clear()
        started = time.monotonic()
        for _ in range(intervals):
            for n in range(0, feeds, 20):  # 5% of the feeds gain an item
                farm.publish(n)
            await asyncio.sleep(interval)
        elapsed = time.monotonic() - started
        stats = command_stats(sync) - before_stats
        trips = ROUND_TRIPS - before_trips
        await asyncio.gather(*(s.shutdown(5.0) for s in schedulers))
    done = sum(polls.values())
    windows = elapsed / interval
    per_feed = [farm.fetches[n] / windows for n in range(feeds)]
    schedule = memory_of(sync, f"{prefix}:schedule*")[0]
    state = memory_of(sync, f"{prefix}:feed:*")[0]
    marks, _ = memory_of(sync, f"{prefix}:article:*")
    for key in sync.scan_iter(match=f"{prefix}:*", count=1000):
        sync.delete(key)
    sync.close()
    commands = sum(stats.values()) - stats["config|resetstat"] - stats["info"]
    return Result(
        replicas=replicas,
        polls=[polls[r] for r in range(replicas)],
        per_feed_mean=statistics.fmean(per_feed),
        per_feed_max=max(per_feed),
        round_trips=trips["all"] / done,
        commands=commands / done,
        claim_calls=trips["claim"] / done,
        schedule_bytes=schedule / feeds,
        state_bytes=state / feeds,
        article_bytes=marks / max(articles["new"], 1),
        breakdown=[(name, n / done) for name, n in stats.most_common(8) if name != "info"],
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--replicas", type=int, default=3)
    parser.add_argument("--feeds", type=int, default=1000)
    parser.add_argument("--interval", type=float, default=10.0)
    parser.add_argument("--intervals", type=int, default=3)
    args = parser.parse_args()
    configure_logging("ERROR")
    _count_round_trips()
    with redis_server() as url:
        results = [
            asyncio.run(run(url, n, args.feeds, args.interval, args.intervals))
            for n in (1, args.replicas)
        ]
    print(f"{args.feeds} feeds, interval {args.interval:g}s, {args.intervals} intervals measured")
    print(
        f"{'replicas':>8} {'polls':>6} {'min':>5} {'max':>5} {'stdev':>6} "
        f"{'fetch/feed/int':>15} {'max':>5} {'RT/poll':>8} {'cmds/poll':>10} "
        f"{'claims/poll':>12} {'sched B/feed':>13} {'state B/feed':>13} {'seen B/art':>11}"
    )
    for r in results:
        stdev = statistics.pstdev(r.polls) if len(r.polls) > 1 else 0.0
        print(
            f"{r.replicas:>8} {sum(r.polls):>6} {min(r.polls):>5} {max(r.polls):>5} "
            f"{stdev:>6.1f} {r.per_feed_mean:>15.2f} {r.per_feed_max:>5.1f} "
            f"{r.round_trips:>8.2f} {r.commands:>10.2f} {r.claim_calls:>12.2f} "
            f"{r.schedule_bytes:>13.0f} {r.state_bytes:>13.0f} {r.article_bytes:>11.0f}"
        )
    for r in results:
        parts = ", ".join(f"{name} {n:.2f}" for name, n in r.breakdown)
        print(f"server commands per poll, {r.replicas} replica(s): {parts}")


if __name__ == "__main__":
    main()
