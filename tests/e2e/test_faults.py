"""Delivery fault tests: real subprocesses, real local receivers, real Redis and SQLite.

Each test runs ``news-monitor run`` or ``run --once`` as a subprocess against a
feed on a local HTTP server and a scriptable webhook receiver
(``tests.servers.webhook_receiver``) that records, with server-side monotonic
timestamps, every request and what it answered. Unless a test says otherwise
it runs on both stores (``store_env``: the embedded SQLite file and a real
Redis under a prefix of its own).

What they prove:

- a receiver that answers 500, then times out, then resets the connection,
  then recovers, accepts every alert exactly once;
- ``429`` + ``Retry-After: N``: no new request for that alert before N s;
- SIGKILL at random moments, again and again: every alert is delivered, a
  duplicate only under the same ``webhook-id``;
- SIGTERM with sends in flight: exit 0 within ``MONITOR_SHUTDOWN_GRACE``, and a
  restart delivers every alert; the grace is one budget for polls and sends,
  and a poll that can finish within it does;
- an alert that always fails is dead-lettered after exactly
  ``MONITOR_DELIVERY_MAX_ATTEMPTS`` attempts spaced by the backoff, and
  ``news-monitor alerts`` shows it with its last error;
- three daemons sharing one Redis send every alert exactly once.

The assertions hold whatever the timing; bounds on durations appear only
where the duration is what is tested, and are generous.
"""

from __future__ import annotations

import json
import random
import re
import signal
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from pytest_httpserver import HTTPServer
from werkzeug import Request, Response

from tests.servers import (
    DropConnection,
    Hit,
    Item,
    monitor_env,
    report_text,
    rss,
    webhook_receiver,
    webhook_watch_dir,
)

pytestmark = pytest.mark.e2e

COMMAND = [sys.executable, "-m", "monitor"]
#: MONITOR_DELIVERY_BACKOFF of these tests, in seconds: the first retry waits 0.1-0.2 s.
BACKOFF = 0.2
#: Slack for comparing the daemon's wall-clock schedule with the receiver's monotonic clock.
CLOCK_SLACK = 0.01


@pytest.fixture(params=["sqlite", pytest.param("redis", marks=pytest.mark.redis)])
def store_env(request: pytest.FixtureRequest, tmp_path: Path) -> dict[str, str]:
    """The settings naming the store under test: an SQLite file, or a prefix on real Redis."""
    if request.param == "sqlite":
        return {"MONITOR_DATA_DIR": str(tmp_path / "data")}
    url = request.getfixturevalue("redis_server_url")
    prefix = request.getfixturevalue("redis_prefix")
    return {"MONITOR_REDIS_URL": url, "MONITOR_REDIS_PREFIX": prefix}


def matching_items(count: int) -> list[Item]:
    """``count`` fresh items that match the rule ``Iran AND drones``, newest first."""
    now = datetime.now(UTC)
    return [
        Item(
            f"Report {i}: Iran and drones",
            f"https://news.example.org/{i}",
            f"Tehran sent more drones, officials said. {report_text(i)}",
            now - timedelta(minutes=i),
            guid=f"https://news.example.org/{i}",
        )
        for i in range(count)
    ]


def serve_feed(httpserver: HTTPServer, items: list[Item]) -> str:
    """Serve ``items`` as an RSS feed; its URL."""
    httpserver.expect_request("/feed.xml").respond_with_data(
        rss(items), content_type="application/rss+xml"
    )
    return httpserver.url_for("/feed.xml")


def fault_env(
    tmp_path: Path, store: dict[str, str], feed_url: str, hook_url: str, **settings: str
) -> dict[str, str]:
    """A subprocess environment: one feed, one webhook channel, fast backoff, JSON logs."""
    rules = webhook_watch_dir(tmp_path / "rules", feed_url, hook_url, interval="1h")
    base = {
        "MONITOR_RULES_DIR": str(rules),
        "MONITOR_LOG_FORMAT": "json",
        "MONITOR_DELIVERY_BACKOFF": f"{BACKOFF}s",
        "MONITOR_DELIVERY_BACKOFF_CAP": "2s",
    }
    return monitor_env(**{**base, **store, **settings})


def run_once(env: dict[str, str], cwd: Path, timeout: float = 60) -> tuple[dict[str, Any], str]:
    """Run ``news-monitor run --once``; it must exit 0. Its ``run_once`` summary event and log."""
    done = subprocess.run(
        [*COMMAND, "run", "--once"],
        env=env,
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    # 3: finished with problems (an alert dead or still failing); never a crash.
    assert done.returncode in (0, 3), done.stderr
    (summary,) = events(done.stderr, "run_once")
    return summary, done.stderr


def events(log: str, name: str) -> list[dict[str, Any]]:
    """The JSON log events called ``name``."""
    found = []
    for line in log.splitlines():
        if line.startswith("{"):
            event = json.loads(line)
            if event.get("event") == name:
                found.append(event)
    return found


@contextmanager
def daemons(
    env: dict[str, str], cwd: Path, count: int = 1
) -> Iterator[list[subprocess.Popen[str]]]:
    """``count`` ``news-monitor run`` processes, logging to ``cwd/daemon-N.log``; any still
    running at the end of the block is killed."""
    with ExitStack() as stack:
        processes = []
        for n in range(count):
            log = stack.enter_context((cwd / f"daemon-{n}.log").open("w"))
            processes.append(
                subprocess.Popen(
                    [*COMMAND, "run"],
                    env=env,
                    cwd=cwd,
                    stdout=subprocess.DEVNULL,
                    stderr=log,
                    text=True,
                )
            )
        try:
            yield processes
        finally:
            for process in processes:
                if process.poll() is None:
                    process.kill()
                    process.wait()


def daemon_log(cwd: Path, n: int = 0) -> str:
    return (cwd / f"daemon-{n}.log").read_text()


def hits_of(hits: list[Hit], webhook_id: str) -> list[Hit]:
    return [h for h in hits if h.webhook_id == webhook_id]


def assert_one_id_per_article(by_article: dict[str, set[str]], count: int) -> None:
    """Every one of ``count`` articles arrived, each under a single ``webhook-id``: a
    duplicate, if any, was a resend of the same alert, never a second alert."""
    assert len(by_article) == count, sorted(by_article)
    assert all(len(ids) == 1 for ids in by_article.values()), by_article


# -- 1. a receiver failing in every way, then recovering ---------------------------------

RECOVERY_ITEMS = 5
RECOVERY_TIMEOUT = 1.0


def test_receiver_failing_then_recovering_gets_every_alert_exactly_once(
    tmp_path: Path, httpserver: HTTPServer, store_env: dict[str, str]
) -> None:
    """Each alert meets a 500, a timeout, a connection reset, then a 204: it is accepted
    exactly once, after exactly those four attempts (no extra attempt, no duplicate)."""

    def respond(request: Request, attempt: int) -> Response:
        if attempt == 1:
            return Response("overloaded", status=500)
        if attempt == 2:  # slower than MONITOR_DELIVERY_TIMEOUT: the sender gives up first
            time.sleep(RECOVERY_TIMEOUT + 0.5)
            return Response("too late", status=503)
        if attempt == 3:
            raise DropConnection
        return Response("", status=204)

    with webhook_receiver(respond) as receiver:
        env = fault_env(
            tmp_path,
            store_env,
            serve_feed(httpserver, matching_items(RECOVERY_ITEMS)),
            receiver.url,
            MONITOR_DELIVERY_TIMEOUT=f"{RECOVERY_TIMEOUT}s",
            MONITOR_DELIVERY_MAX_ATTEMPTS="8",
            MONITOR_ONCE_DELIVERY_DEADLINE="30s",
        )
        summary, log = run_once(env, tmp_path)
        hits = receiver.hits

    assert summary["pending"] == 0 and summary["dead"] == 0, summary
    accepted = Counter(h.webhook_id for h in hits if h.accepted)
    assert len(accepted) == RECOVERY_ITEMS, accepted
    assert set(accepted.values()) == {1}, accepted
    for webhook_id in accepted:
        mine = hits_of(hits, webhook_id)
        assert [h.attempt for h in mine] == [1, 2, 3, 4], mine
        assert [h.status for h in mine] == [500, 503, None, 204], mine
    assert_one_id_per_article(receiver.ids_by_article(), RECOVERY_ITEMS)
    # The sender saw each failure for what it was: an HTTP 500, its own timeout, a connection
    # error without any status; and recorded each alert delivered once, at attempt 4.
    outcomes: dict[str, list[tuple[int, str, str]]] = {}
    for e in events(log, "deliver"):
        outcomes.setdefault(e["alert"], []).append((e["attempt"], e["status"], e["detail"]))
    assert sorted(outcomes) == sorted(accepted), outcomes
    for steps in outcomes.values():
        assert [(n, status) for n, status, _ in steps] == [
            (1, "retry"),
            (2, "retry"),
            (3, "retry"),
            (4, "delivered"),
        ], steps
        details = [detail for _, _, detail in steps]
        assert details[0].startswith("HTTP 500"), steps
        assert "timed out" in details[1], steps
        assert "HTTP" not in details[2], steps


# -- 2. 429 + Retry-After ----------------------------------------------------------------

RETRY_AFTER = 2
RATE_LIMITED_ITEMS = 3


def test_429_retry_after_is_honoured(
    tmp_path: Path, httpserver: HTTPServer, store_env: dict[str, str]
) -> None:
    """After ``429`` + ``Retry-After: 2`` (far above the backoff), no request for that alert
    arrives within 2 s of the answer having been sent, and the alert is delivered after."""

    def respond(request: Request, attempt: int) -> Response:
        if attempt == 1:
            return Response("slow down", status=429, headers={"Retry-After": str(RETRY_AFTER)})
        return Response("", status=204)

    with webhook_receiver(respond) as receiver:
        env = fault_env(
            tmp_path,
            store_env,
            serve_feed(httpserver, matching_items(RATE_LIMITED_ITEMS)),
            receiver.url,
            MONITOR_DELIVERY_TIMEOUT="2s",
            MONITOR_ONCE_DELIVERY_DEADLINE="20s",
        )
        summary, _ = run_once(env, tmp_path)
        hits = receiver.hits

    assert summary["pending"] == 0 and summary["dead"] == 0, summary
    accepted = Counter(h.webhook_id for h in hits if h.accepted)
    assert len(accepted) == RATE_LIMITED_ITEMS and set(accepted.values()) == {1}, accepted
    for webhook_id in accepted:
        first, *later = hits_of(hits, webhook_id)
        assert first.status == 429 and first.answered is not None, first
        assert later, f"{webhook_id} was never retried"
        for hit in later:
            waited = hit.arrived - first.answered
            assert waited >= RETRY_AFTER - CLOCK_SLACK, f"retried {waited:.3f}s after the 429"
        delivered = [h for h in later if h.accepted]
        # Timing is what is tested here: the retry comes soon after Retry-After, not at some
        # much later backoff step (generous bound).
        assert delivered[0].arrived - first.answered < RETRY_AFTER + 5


# -- 3. SIGKILL again and again ----------------------------------------------------------

KILL_ITEMS = 12
KILLS = 6


def test_sigkill_at_random_moments_loses_no_alert(
    tmp_path: Path, httpserver: HTTPServer, store_env: dict[str, str], shared_data: Path
) -> None:
    """``run --once`` SIGKILLed six times at random moments (polling, matching, mid-send),
    then left to finish: every alert delivered, resends only under the same webhook-id."""
    seed = (shared_data / "articles" / "seed-iran-russia.txt").read_text(encoding="utf-8")
    now = datetime.now(UTC)
    items = [  # distinct stories (each a different lead on the seed), so each alerts
        Item(
            f"Report {i}: Iran and drones",
            f"https://news.example.org/{i}",
            report_text(i, words=400) + " " + seed,
            now - timedelta(minutes=i),
            guid=f"https://news.example.org/{i}",
        )
        for i in range(KILL_ITEMS)
    ]
    feed_url = serve_feed(httpserver, items)

    def receiver(request: Request) -> Response:
        time.sleep(0.3)  # a slow receiver (requests are served one at a time): kills land mid-send
        return Response("", status=204)

    httpserver.expect_request("/hook").respond_with_handler(receiver)
    env = fault_env(
        tmp_path,
        store_env,
        feed_url,
        httpserver.url_for("/hook"),
        MONITOR_DELIVERY_TIMEOUT="1s",  # delivery lease: 12 s
        MONITOR_CLAIM_LEASE="2s",
        MONITOR_ONCE_DELIVERY_DEADLINE="30s",
        # The default backoff: one at a time, this receiver serves 12 concurrent sends in
        # 3.6 s, so most time out (1 s) while it still works through abandoned requests; with
        # a fast backoff the 12 attempts run out and alerts are (rightly) dead-lettered.
        MONITOR_DELIVERY_BACKOFF="5s",
        MONITOR_DELIVERY_BACKOFF_CAP="1h",
    )
    rng = random.Random(20261127)
    for _ in range(KILLS):
        process = subprocess.Popen(
            [*COMMAND, "run", "--once"],
            env=env,
            cwd=tmp_path,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        time.sleep(rng.uniform(0.5, 2.5))
        process.send_signal(signal.SIGKILL)
        process.wait(timeout=10)

    time.sleep(2.5)  # let the claims of killed processes on articles run out
    summary, _ = run_once(env, tmp_path)
    assert summary["pending"] == 0 and summary["dead"] == 0, summary

    hooks = [request for request, _ in httpserver.log if request.path == "/hook"]
    sent = Counter(request.headers["webhook-id"] for request in hooks)
    assert len(sent) == KILL_ITEMS, f"{len(sent)} distinct alerts delivered, expected {KILL_ITEMS}"
    # A resend only happens when a process died after a send and before recording it:
    # at most once per kill for any one alert.
    assert max(sent.values()) <= KILLS + 1
    by_article: dict[str, set[str]] = {}
    for request in hooks:
        url = json.loads(request.get_data())["article"]["url"]
        by_article.setdefault(url, set()).add(request.headers["webhook-id"])
    assert_one_id_per_article(by_article, KILL_ITEMS)


# -- 4. SIGTERM with sends in flight -----------------------------------------------------

TERM_ITEMS = 20
TERM_GRACE = 0.2
#: How long after MONITOR_SHUTDOWN_GRACE the process may take to close its clients and exit.
EXIT_MARGIN = 1.5


def test_sigterm_mid_batch_exits_within_grace_and_restart_delivers_everything(
    tmp_path: Path, httpserver: HTTPServer, store_env: dict[str, str]
) -> None:
    """SIGTERM while a batch is being sent to a receiver slower than the grace: exit 0
    within the grace; after a restart every alert is delivered, a resend only under its own
    webhook-id and only of an alert the first process had already sent."""

    def slow(request: Request, attempt: int) -> Response:
        time.sleep(0.4)  # longer than the grace: sends are cut off by the shutdown
        return Response("", status=204)

    with webhook_receiver(slow) as receiver:
        env = fault_env(
            tmp_path,
            store_env,
            serve_feed(httpserver, matching_items(TERM_ITEMS)),
            receiver.url,
            MONITOR_DELIVERY_TIMEOUT="600ms",  # delivery lease: 11.2 s
            MONITOR_SHUTDOWN_GRACE=f"{int(TERM_GRACE * 1000)}ms",
            MONITOR_ONCE_DELIVERY_DEADLINE="30s",
        )
        with daemons(env, tmp_path) as (daemon,):
            assert receiver.wait_until(lambda hits: len(hits) > 0, timeout=20), daemon_log(tmp_path)
            daemon.send_signal(signal.SIGTERM)
            signalled = time.monotonic()
            code = daemon.wait(timeout=30)
            exited = time.monotonic()
        log = daemon_log(tmp_path)
        assert code == 0, log
        assert exited - signalled < TERM_GRACE + EXIT_MARGIN, log
        assert events(log, "shutdown"), log

        summary, _ = run_once(env, tmp_path)
        hits = receiver.hits

    assert summary["pending"] == 0 and summary["dead"] == 0, summary
    accepted = Counter(h.webhook_id for h in hits if h.accepted)
    assert len(accepted) == TERM_ITEMS, accepted
    assert_one_id_per_article(receiver.ids_by_article(), TERM_ITEMS)
    # The restarted run sends each alert at most once: a duplicate is a resend of an alert
    # whose first send was in flight when the first process stopped.
    after = Counter(h.webhook_id for h in hits if h.arrived > exited)
    assert set(after.values()) <= {1}, after
    for webhook_id, times in accepted.items():
        if times > 1:
            assert any(h.arrived < exited for h in hits_of(hits, webhook_id)), webhook_id


def test_sigterm_grace_covers_polls_and_sends_in_flight(
    tmp_path: Path, httpserver: HTTPServer
) -> None:
    """MONITOR_SHUTDOWN_GRACE is one budget for the polls *and* the sends in flight at
    SIGTERM: a poll that can finish within it does finish (its alert is enqueued), and with
    a poll and sends that cannot, the process still exits within the grace, not twice it.
    The store plays no part here, so this runs on SQLite only."""
    grace = 4.0
    late_item = matching_items(4)[3]  # not in the fast feed

    def feeds(request: Request, attempt: int) -> Response:
        if request.path == "/nearly":  # in flight at SIGTERM, done well within the grace
            time.sleep(2.5)
            return Response(rss([late_item]), content_type="application/rss+xml")
        time.sleep(15)  # "/stuck": outlasts the grace
        return Response(rss([]), content_type="application/rss+xml")

    def stuck_hook(request: Request, attempt: int) -> Response:
        time.sleep(15)
        return Response("", status=204)

    with webhook_receiver(stuck_hook) as hooks, webhook_receiver(feeds) as slow:
        base = slow.url.removesuffix("/hook")
        rules = tmp_path / "rules"
        rules.mkdir()
        (rules / "watch.yaml").write_text(
            "feeds:\n"
            f'  - {{id: fast, url: "{serve_feed(httpserver, matching_items(3))}", interval: 1h}}\n'
            f'  - {{id: nearly, url: "{base}/nearly", interval: 1h}}\n'
            f'  - {{id: stuck, url: "{base}/stuck", interval: 1h}}\n'
            "channels:\n"
            f'  siem: {{type: webhook, url: "{hooks.url}"}}\n'
            "rules:\n"
            "  - {id: drones, query: Iran AND drones}\n"
        )
        env = monitor_env(
            MONITOR_RULES_DIR=str(rules),
            MONITOR_DATA_DIR=str(tmp_path / "data"),
            MONITOR_LOG_FORMAT="json",
            MONITOR_DELIVERY_TIMEOUT="20s",
            MONITOR_FETCH_TIMEOUT="30s",
            MONITOR_SHUTDOWN_GRACE=f"{grace:g}s",
        )
        with daemons(env, tmp_path) as (daemon,):
            # Every first poll starts within 2 s of the start: SIGTERM once both slow polls
            # and a send are in flight (the "nearly" poll then has at most 2.5 s left).
            in_flight = hooks.wait_until(bool, timeout=20) and slow.wait_until(
                lambda hits: len(hits) == 2, timeout=20
            )
            assert in_flight, daemon_log(tmp_path)
            daemon.send_signal(signal.SIGTERM)
            signalled = time.monotonic()
            code = daemon.wait(timeout=60)
            took = time.monotonic() - signalled
        log = daemon_log(tmp_path)
    assert code == 0, log
    assert took < grace + EXIT_MARGIN, f"exited {took:.1f}s after SIGTERM, grace {grace:g}s"
    polled = [e for e in events(log, "poll") if e.get("feed") == "nearly"]
    assert [(e["status"], e["alerts"]) for e in polled] == [("ok", 1)], log


# -- 5. an alert that always fails --------------------------------------------------------

MAX_ATTEMPTS = 4


def test_always_failing_alert_is_dead_lettered_after_max_attempts(
    tmp_path: Path, httpserver: HTTPServer, store_env: dict[str, str]
) -> None:
    """A receiver that always answers 500 sees exactly MAX_ATTEMPTS requests, each retry
    after at least the backoff's lower bound (no busy loop), and ``news-monitor alerts``
    lists the alert as a dead letter with the last error."""

    def down(request: Request, attempt: int) -> Response:
        return Response("receiver down", status=500)

    with webhook_receiver(down) as receiver:
        env = fault_env(
            tmp_path,
            store_env,
            serve_feed(httpserver, matching_items(1)),
            receiver.url,
            MONITOR_DELIVERY_TIMEOUT="2s",
            MONITOR_DELIVERY_MAX_ATTEMPTS=str(MAX_ATTEMPTS),
            MONITOR_DELIVERY_BACKOFF_CAP="10s",
            MONITOR_ONCE_DELIVERY_DEADLINE="20s",
        )
        summary, _ = run_once(env, tmp_path)
        hits = receiver.hits

    assert summary["dead"] == 1 and summary["pending"] == 0, summary
    assert len(hits) == MAX_ATTEMPTS, hits
    (alert_id,) = {h.webhook_id for h in hits}
    for k in range(1, MAX_ATTEMPTS):
        # Failed attempt k waits a draw in [c/2, c], c = BACKOFF * 2**(k-1), after its answer.
        answered = hits[k - 1].answered
        assert answered is not None
        waited = hits[k].arrived - answered
        assert waited >= BACKOFF * 2 ** (k - 1) / 2 - CLOCK_SLACK, (k, waited)

    listing = subprocess.run(
        [*COMMAND, "alerts"], env=env, cwd=tmp_path, capture_output=True, text=True, timeout=30
    )
    assert listing.returncode == 0, listing.stderr
    sections = listing.stdout.split("\n\n")
    assert sections[0].startswith("pending (0)"), listing.stdout
    dead = next(s for s in sections if s.startswith("dead letters"))
    assert dead.startswith("dead letters (1)"), listing.stdout
    row = next(line for line in dead.splitlines() if alert_id in line)
    cells = re.split(r"\s{2,}", row.strip())
    assert cells[0] == alert_id and cells[3] == str(MAX_ATTEMPTS), row
    assert cells[-1] == "HTTP 500: receiver down", row


# -- 6. several daemons sharing one Redis ------------------------------------------------

SHARED_ITEMS = 30
DAEMONS = 3


@pytest.mark.redis
def test_daemons_sharing_redis_send_each_alert_once(
    tmp_path: Path, redis_server_url: str, redis_prefix: str
) -> None:
    """Three ``news-monitor run`` processes on one Redis, the same rules and feed: every alert
    arrives exactly once (nobody dies, so no resend is allowed).

    The shared schedule has one of them poll the feed (``tests/e2e/test_replicas.py`` holds
    the polling to account); the receiver is slow, so the three workers compete for the
    30 alerts in the outbox.
    """
    feed = rss(matching_items(SHARED_ITEMS))

    def feed_for_all(request: Request, attempt: int) -> Response:
        return Response(feed, content_type="application/rss+xml")

    def a_little_slow(request: Request, attempt: int) -> Response:
        time.sleep(0.2)
        return Response("", status=204)

    with webhook_receiver(feed_for_all) as feed_server, webhook_receiver(a_little_slow) as receiver:
        env = fault_env(
            tmp_path,
            {"MONITOR_REDIS_URL": redis_server_url, "MONITOR_REDIS_PREFIX": redis_prefix},
            feed_server.url,
            receiver.url,
            MONITOR_DELIVERY_TIMEOUT="5s",
            MONITOR_SHUTDOWN_GRACE="5s",
        )
        with daemons(env, tmp_path, DAEMONS) as processes:
            # All three are running (signal handlers installed) once the feed was answered.
            arrived = receiver.wait_until(
                lambda hits: len({h.webhook_id for h in hits if h.accepted}) >= SHARED_ITEMS,
                timeout=30,
            )
            for process in processes:
                process.send_signal(signal.SIGTERM)
            codes = [process.wait(timeout=30) for process in processes]
        hits = receiver.hits

    logs = [daemon_log(tmp_path, n) for n in range(DAEMONS)]
    assert arrived, logs
    assert codes == [0] * DAEMONS, logs
    sent = Counter(h.webhook_id for h in hits)
    assert len(sent) == SHARED_ITEMS, sent
    assert set(sent.values()) == {1}, {i: n for i, n in sent.items() if n > 1}
    assert all(h.accepted for h in hits), hits
    assert_one_id_per_article(receiver.ids_by_article(), SHARED_ITEMS)
    # Each delivery was recorded once, by the process that made it.
    recorded = [
        e["alert"] for log in logs for e in events(log, "deliver") if e["status"] == "delivered"
    ]
    assert sorted(recorded) == sorted(sent), recorded
