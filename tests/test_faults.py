"""Fault tests: the daemon killed with SIGKILL at random moments loses no alert.

``news-monitor run --once`` is started and SIGKILLed again and again while it
polls, matches and delivers to a real local webhook receiver; a last run is
left to finish. Every alert must then have been delivered, and a duplicate
may only be a resend of the same alert (same ``webhook-id``) by a process that
died between the receiver's answer and recording it.
"""

from __future__ import annotations

import json
import random
import signal
import subprocess
import sys
import time
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from pytest_httpserver import HTTPServer
from werkzeug import Request, Response

from tests.servers import Item, monitor_env, rss, webhook_watch_dir

pytestmark = pytest.mark.e2e

ITEMS = 12
KILLS = 6


def test_sigkill_at_random_moments_loses_no_alert(
    tmp_path: Path, httpserver: HTTPServer, shared_data: Path
) -> None:
    seed = (shared_data / "articles" / "seed-iran-russia.txt").read_text(encoding="utf-8")
    now = datetime.now(UTC)
    items = [
        Item(
            f"Report {i}: Iran and drones",
            f"https://news.example.org/{i}",
            seed,
            now - timedelta(minutes=i),
            guid=f"https://news.example.org/{i}",
        )
        for i in range(ITEMS)
    ]
    httpserver.expect_request("/feed.xml").respond_with_data(
        rss(items), content_type="application/rss+xml"
    )

    def receiver(request: Request) -> Response:
        time.sleep(0.3)  # a slow receiver (requests are served one at a time): kills land mid-send
        return Response("", status=204)

    httpserver.expect_request("/hook").respond_with_handler(receiver)
    rules = webhook_watch_dir(
        tmp_path / "rules", httpserver.url_for("/feed.xml"), httpserver.url_for("/hook")
    )
    env = monitor_env(
        MONITOR_RULES_DIR=str(rules),
        MONITOR_DATA_DIR=str(tmp_path / "data"),
        MONITOR_DELIVERY_TIMEOUT="1s",  # delivery lease: 12 s
        MONITOR_CLAIM_LEASE="2s",
        MONITOR_ONCE_DELIVERY_DEADLINE="30s",
        MONITOR_LOG_FORMAT="json",
    )
    command = [sys.executable, "-m", "monitor", "run", "--once"]
    rng = random.Random(20261127)
    for _ in range(KILLS):
        process = subprocess.Popen(
            command, env=env, cwd=tmp_path, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )
        time.sleep(rng.uniform(0.5, 2.5))
        process.send_signal(signal.SIGKILL)
        process.wait(timeout=10)

    time.sleep(2.5)  # let the claims of killed processes on articles run out
    final = subprocess.run(
        command, env=env, cwd=tmp_path, capture_output=True, text=True, timeout=60
    )
    assert final.returncode == 0, final.stderr
    summary = [json.loads(line) for line in final.stderr.splitlines() if line.startswith("{")]
    (run_once,) = [event for event in summary if event["event"] == "run_once"]
    assert run_once["pending"] == 0 and run_once["dead"] == 0, final.stderr

    sent = Counter(
        request.headers["webhook-id"] for request, _ in httpserver.log if request.path == "/hook"
    )
    assert len(sent) == ITEMS, f"{len(sent)} distinct alerts delivered, expected {ITEMS}"
    # A resend only happens when a process died after a send and before recording it:
    # at most once per kill for any one alert.
    assert max(sent.values()) <= KILLS + 1
