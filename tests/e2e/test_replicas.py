"""End to end: replicas sharing one Redis split the polling, survive each other, and
survive Redis losing everything, with nothing lost and no flood.

Real ``news-monitor run`` processes (``tests.e2e.test_faults.daemons``) poll feeds served
by one loopback HTTP server (:class:`FeedFarm`: many small RSS feeds with ETags and
304s, counting every request per feed with its wall-clock time) and alert a webhook
receiver (``tests.servers.webhook_receiver``). What they prove:

- three daemons over 300 feeds fetch each feed about once per interval between them
  (no more than 1.1 x feeds per interval in all), each doing a share of the work;
- a SIGSTOPped daemon's feeds, and then a SIGKILLed one's, are polled by the others
  within one lease (MONITOR_FEED_LEASE), and the stopped one, resumed, is fenced out
  (``feed_lease_lost``; ``feed_state_fenced`` for a poll stopped before its state write)
  rather than overwriting the schedule and the feed state;
- every matching article published meanwhile alerts, and the only duplicate sends are
  resends of one alert (same ``webhook-id``) by the killed daemon, at most one;
- a Redis restarted empty mid-run is noticed once per daemon (``store_reset``), the items
  alerted before are not alerted again, new ones are, and the feed-health channel gets
  one store-reset alert.

Waits poll a condition with a generous deadline; the only fixed waits are the measuring
window and how long a daemon stays stopped, which are what is measured or staged.
"""

from __future__ import annotations

import contextlib
import random
import shutil
import signal
import socket
import subprocess
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
import redis
from werkzeug import Request, Response

from tests.conftest import free_port, skip_or_fail
from tests.e2e.test_faults import daemon_log, daemons, events
from tests.servers import Hit, Item, monitor_env, report_text, rss, webhook_receiver

pytestmark = [pytest.mark.e2e, pytest.mark.redis]

INTERVAL = 3.0
LEASE = 4.0
#: How much later than the lease end another replica may take a feed over: a claim round
#: (at most a second apart), the fetch (FETCH_DELAY) and scheduling slack on a busy machine.
PICKUP_SLACK = 2.5
#: Each feed request takes this long: polls overlap, so replicas hold leases when killed.
FETCH_DELAY = 0.2


class FeedFarm:
    """One loopback HTTP server for many RSS feeds (``/f/<n>``), with ETags and 304s."""

    def __init__(self, count: int, delay: float = 0.0) -> None:
        self.count = count
        self.delay = delay
        self._lock = threading.Lock()
        self._items: list[list[Item]] = [[] for _ in range(count)]
        self._versions = [0] * count
        self._bodies = [rss([]) for _ in range(count)]
        #: Wall-clock times of every request, per feed.
        self.hits: list[list[float]] = [[] for _ in range(count)]
        farm = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"  # keep-alive: the daemons reuse connections

            def do_GET(self) -> None:
                n = int(self.path.rsplit("/", 1)[-1])
                with farm._lock:
                    farm.hits[n].append(time.time())
                    etag = f'"{n}-{farm._versions[n]}"'
                    body = farm._bodies[n].encode()
                if farm.delay:
                    time.sleep(farm.delay)
                if self.headers.get("If-None-Match") == etag:
                    self.send_response(304)
                    self.send_header("ETag", etag)
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return
                self.send_response(200)
                self.send_header("Content-Type", "application/rss+xml")
                self.send_header("ETag", etag)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self.base = f"http://127.0.0.1:{self._server.server_address[1]}"

    def url(self, n: int) -> str:
        return f"{self.base}/f/{n}"

    def publish(self, n: int, item: Item) -> None:
        with self._lock:
            self._items[n].insert(0, item)
            self._versions[n] += 1
            self._bodies[n] = rss(self._items[n], title=f"feed {n}")

    def counts(self) -> list[int]:
        with self._lock:
            return [len(h) for h in self.hits]

    def hits_after(self, n: int, since: float) -> list[float]:
        with self._lock:
            return [t for t in self.hits[n] if t > since]

    @contextlib.contextmanager
    def serving(self) -> Iterator[FeedFarm]:
        thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        thread.start()
        try:
            yield self
        finally:
            self._server.shutdown()
            self._server.server_close()


def matching_item(k: int) -> Item:
    """A fresh item that matches ``Iran AND drones``, unlike any other ``k``'s."""
    title = f"Iran drones report {k}"
    link = f"https://news.example.org/{k}"
    return Item(title, link, f"{title}. {report_text(k, words=120)}", datetime.now(UTC), link)


def watch_dir(path: Path, farm: FeedFarm, hook_url: str, *, feed_health: bool = False) -> Path:
    path.mkdir()
    lines = ["feeds:"]
    lines += [f'  - {{id: f{n:03d}, url: "{farm.url(n)}"}}' for n in range(farm.count)]
    lines += ["channels:", f'  siem: {{type: webhook, url: "{hook_url}"}}']
    lines += ["rules:", "  - {id: drones, query: Iran AND drones}"]
    if feed_health:
        lines += ["feed_health:", "  notify: [siem]"]
    (path / "watch.yaml").write_text("\n".join(lines) + "\n")
    return path


def replica_env(rules: Path, redis_url: str, prefix: str, **more: str) -> dict[str, str]:
    return monitor_env(
        MONITOR_RULES_DIR=str(rules),
        MONITOR_REDIS_URL=redis_url,
        MONITOR_REDIS_PREFIX=prefix,
        MONITOR_POLL_INTERVAL=f"{INTERVAL:g}s",
        MONITOR_FEED_LEASE=f"{LEASE:g}s",
        MONITOR_FETCH_TIMEOUT="2s",
        MONITOR_CLAIM_LEASE="4s",  # articles a killed daemon had claimed come back soon
        MONITOR_MAX_CONCURRENT_FETCHES="32",
        MONITOR_MAX_FETCHES_PER_HOST="32",  # every feed is on 127.0.0.1
        MONITOR_DELIVERY_TIMEOUT="3s",  # a killed daemon's sends come back in 16 s
        MONITOR_DELIVERY_BACKOFF="200ms",
        MONITOR_SHUTDOWN_GRACE="2s",
        MONITOR_STORY_WINDOW="0",
        MONITOR_WATCH_RULES="false",
        MONITOR_LOG_FORMAT="json",
        **more,
    )


def wait_for(what: str, condition: Callable[[], bool], timeout: float) -> float:
    """Poll ``condition`` until it holds; the wall-clock time it did."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:g}s waiting for {what}")
        time.sleep(0.05)
    return time.time()


def leases_of(client: redis.Redis, prefix: str, pid: int) -> dict[str, float]:
    """The feeds a process holds a live lease on (token ``host:pid:...``), by lease end."""
    now = time.time()
    held: dict[str, float] = {}
    leases: dict[bytes, bytes] = client.hgetall(f"{prefix}:schedule_lease")  # type: ignore[assignment]
    for feed, token in leases.items():
        end = client.zscore(f"{prefix}:schedule", feed)
        if token.decode().split(":")[1] == str(pid) and end is not None and end > now:
            held[feed.decode()] = end
    return held


def feed_number(feed_id: str) -> int:
    return int(feed_id.removeprefix("f"))


def took_over(farm: FeedFarm, held: dict[str, float], since: float) -> dict[str, float]:
    """Seconds from ``since`` (a replica died or stalled) to the next request for each feed
    it held; waits for them (a lease and then some at most)."""
    numbers = [feed_number(f) for f in held]
    wait_for("their next polls", lambda: all(farm.hits_after(n, since) for n in numbers), 30)
    return {f: farm.hits_after(feed_number(f), since)[0] - since for f in held}


def polls_before(log: str, at: float) -> int:
    """How many polls a daemon's log records before the wall-clock time ``at``."""
    return sum(
        1 for e in events(log, "poll") if datetime.fromisoformat(e["timestamp"]).timestamp() < at
    )


def delivered_articles(hits: list[Hit]) -> Counter[str]:
    """Accepted alerts by article URL (one per alert if all is well)."""
    return Counter(h.article_url for h in hits if h.accepted)


def accept(request: Request, attempt: int) -> Response:
    return Response("", status=204)


FEEDS = 300
DAEMONS = 3
#: Seconds of steady polling over which fetches are counted.
WINDOW = 3 * INTERVAL
STOPPED_FOR = LEASE + 2.0


def test_three_replicas_share_300_feeds_and_survive_sigkill_and_sigstop(
    tmp_path: Path, redis_server_url: str, redis_prefix: str
) -> None:
    rng = random.Random(13)
    client = redis.Redis.from_url(redis_server_url)
    farm = FeedFarm(FEEDS, delay=FETCH_DELAY)
    published: list[str] = []

    def publish(feeds: list[int]) -> None:
        for n in feeds:
            item = matching_item(len(published))
            farm.publish(n, item)
            published.append(item.link)

    with farm.serving(), webhook_receiver(accept) as receiver:
        rules = watch_dir(tmp_path / "rules", farm, receiver.url)
        env = replica_env(rules, redis_server_url, redis_prefix)
        with daemons(env, tmp_path, DAEMONS) as processes:
            wait_for("every feed's first poll", lambda: min(farm.counts()) >= 1, 60)
            publish(rng.sample(range(FEEDS), 10))

            # Steady state: each feed about once per interval, whoever polls it.
            time.sleep(INTERVAL)  # the first polls' burst settles into the schedule
            before, started = farm.counts(), time.time()
            time.sleep(WINDOW)
            after, window = farm.counts(), time.time() - started
            fetched = [b - a for a, b in zip(before, after, strict=True)]
            assert sum(fetched) <= 1.1 * FEEDS * window / INTERVAL, (sum(fetched), window)
            # None starved: each polled in the three intervals (a busy machine may stretch
            # one feed's gap past an interval and a half, so not necessarily twice).
            assert min(fetched) >= 1, Counter(fetched)

            # SIGSTOP: a stalled replica's feeds are taken over within a lease; resumed, it
            # is fenced out. First, so that two replicas run at each fault: one survivor
            # alone polling all 300 feeds on a busy machine would lag behind its schedule.
            stalled = processes[1]
            stalled.send_signal(signal.SIGSTOP)
            stopped_at = time.time()
            frozen = leases_of(client, redis_prefix, stalled.pid)
            resumed = took_over(farm, frozen, stopped_at)
            publish(rng.sample(range(FEEDS), 5))
            time.sleep(max(0.0, stopped_at + STOPPED_FOR - time.time()))
            stalled.send_signal(signal.SIGCONT)

            # SIGKILL: the feeds it was polling are taken over within a lease.
            killed = processes[0]
            killed.send_signal(signal.SIGKILL)
            killed_at = time.time()
            killed.wait(timeout=10)
            held = leases_of(client, redis_prefix, killed.pid)
            publish(rng.sample([feed_number(f) for f in held], min(3, len(held))))
            publish(rng.sample(range(FEEDS), 5))
            taken_over = took_over(farm, held, killed_at)

            wait_for(
                "every matching article's alert",
                lambda: set(published) <= set(delivered_articles(receiver.hits)),
                60,
            )
            for process in processes[1:]:
                process.send_signal(signal.SIGTERM)
            codes = [process.wait(timeout=30) for process in processes[1:]]
        hits = receiver.hits

    logs = [daemon_log(tmp_path, n) for n in range(DAEMONS)]
    assert codes == [0, 0], logs[1:]
    assert held and frozen, "the killed and the stopped daemon held no lease: nothing was shown"
    assert max(taken_over.values()) <= LEASE + PICKUP_SLACK, taken_over
    assert max(resumed.values()) <= LEASE + PICKUP_SLACK, resumed
    # Every matching article alerted, under one webhook-id each; a resend only of an alert
    # the killed daemon was sending when it died.
    by_article: dict[str, set[str]] = {}
    for hit in hits:
        by_article.setdefault(hit.article_url, set()).add(hit.webhook_id)
    assert sorted(by_article) == sorted(published)
    assert all(len(ids) == 1 for ids in by_article.values()), by_article
    sends = Counter(h.webhook_id for h in hits if h.accepted)
    assert sum(n - 1 for n in sends.values()) <= 1, sends
    # The stalled daemon's polls of the feeds it held ended after others had them.
    lost = {e["feed"] for e in events(logs[1], "feed_lease_lost")}
    assert lost & set(frozen), (lost, frozen)
    # A state write refused means the lease was lost (whether any poll was stopped before
    # its write is down to timing): its finish is refused too.
    fenced = {e["feed"] for e in events(logs[1], "feed_state_fenced")}
    assert fenced <= lost, (fenced, lost)
    # Until the kill, each daemon did a share of the polls.
    polls = [polls_before(log, killed_at) for log in logs]
    assert all(n > 0.15 * sum(polls) for n in polls), polls
    client.close()


@contextlib.contextmanager
def private_redis(port: int, workdir: Path) -> Iterator[subprocess.Popen[bytes]]:
    """A redis-server of this test's own, without persistence: stopped, it forgets all."""
    binary = shutil.which("redis-server")
    if binary is None:
        skip_or_fail("redis-server is not installed (apt-get install redis-server)")
    args = [str(binary), "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--dir"]
    process = subprocess.Popen(
        [*args, str(workdir), "--appendonly", "no"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        wait_for("redis-server to answer", lambda: _answers(port), 10)
        yield process
    finally:
        process.terminate()
        process.wait(timeout=10)


def _answers(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.5) as s:
            s.sendall(b"PING\r\n")
            return s.recv(16).startswith(b"+PONG")
    except OSError:
        return False


RESET_FEEDS = 40


def test_redis_restarted_empty_is_one_warning_and_no_realert_flood(tmp_path: Path) -> None:
    port = free_port()
    url = f"redis://127.0.0.1:{port}/0"
    farm = FeedFarm(RESET_FEEDS)
    old = [matching_item(k) for k in range(RESET_FEEDS)]
    for n, item in enumerate(old):
        farm.publish(n, item)

    with farm.serving(), webhook_receiver(accept) as receiver:
        rules = watch_dir(tmp_path / "rules", farm, receiver.url, feed_health=True)
        env = replica_env(rules, url, "nm-reset")
        with private_redis(port, tmp_path) as server, daemons(env, tmp_path, 2) as processes:
            wait_for(
                "the alerts of the items already there",
                lambda: len(delivered_articles(receiver.hits)) == RESET_FEEDS,
                60,
            )
            server.terminate()  # no persistence: it comes back empty
            server.wait(timeout=10)
            with private_redis(port, tmp_path):
                restarted = time.time()
                client = redis.Redis(port=port)
                wait_for(
                    "every feed polled twice since the restart",
                    lambda: all(
                        len(farm.hits_after(n, restarted)) >= 2 for n in range(RESET_FEEDS)
                    ),
                    60,
                )
                fresh = [matching_item(RESET_FEEDS + k) for k in range(5)]
                for n, item in enumerate(fresh):
                    farm.publish(n * 7, item)
                wait_for(
                    "the alerts of the items published after the restart",
                    lambda: {i.link for i in fresh} <= set(delivered_articles(receiver.hits)),
                    30,
                )
                wait_for("the outbox to drain", lambda: client.zcard("nm-reset:outbox") == 0, 30)
                for process in processes:
                    process.send_signal(signal.SIGTERM)
                codes = [process.wait(timeout=30) for process in processes]
                client.close()
        hits = receiver.hits

    logs = [daemon_log(tmp_path, n) for n in range(2)]
    assert codes == [0, 0], logs
    delivered = delivered_articles(hits)
    # Each item alerted once: the ones from before the loss were not alerted again.
    expected = {i.link for i in old} | {i.link for i in fresh}
    assert {url for url in delivered if url} == expected, delivered
    assert all(n == 1 for u, n in delivered.items() if u), delivered
    # One warning per daemon, one store-reset alert on the feed-health channel.
    assert [len(events(log, "store_reset")) for log in logs] == [1, 1], logs
    resets = [h for h in hits if h.article_url == "" and h.accepted]
    assert len(resets) == 1, resets
    assert not [e for log in logs for e in events(log, "poll") if e.get("status") == "crashed"]
