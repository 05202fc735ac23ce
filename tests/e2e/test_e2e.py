"""End to end: ``news-monitor run --once`` as a subprocess against real local servers.

A local HTTP server serves a feed carrying the seed article and receives the
Slack and webhook posts; aiosmtpd receives the email; the store is real Redis
or the embedded SQLite file. ``Iran AND Russia AND drones`` must alert exactly
once on each channel, a second run must alert nothing, and no secret may
appear in the logs.
"""

from __future__ import annotations

import json
import re
import signal
import subprocess
import sys
import textwrap
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from pytest_httpserver import HTTPServer
from standardwebhooks import Webhook
from werkzeug import Request, Response

from tests.servers import (
    Item,
    SmtpSink,
    monitor_env,
    report_text,
    rss,
    smtp_sink,
    webhook_watch_dir,
)

pytestmark = pytest.mark.e2e

SECRET_TOKEN = "SECRETTOKEN0123456789"
SIGNING_SECRET = "whsec_c2VjcmV0LXNpZ25pbmcta2V5LWZvci10ZXN0cw=="
SEED_TITLE = "Iran shrugs off Western criticism of its rapprochement with Russia"


@pytest.fixture
def smtp() -> Iterator[SmtpSink]:
    with smtp_sink() as sink:
        yield sink


def seed_feed(shared_data: Path) -> str:
    seed = (shared_data / "articles" / "seed-iran-russia.txt").read_text(encoding="utf-8")
    now = datetime.now(UTC)
    return rss(
        [
            Item(
                SEED_TITLE,
                "https://news.example.org/iran-russia?utm_source=rss",
                seed,
                now - timedelta(minutes=5),
                guid="seed-1",
            ),
            # Matches too, but is older than MONITOR_MAX_AGE: recorded as seen, no alert.
            Item(
                "Old: Iran, Russia and drones",
                "https://news.example.org/old",
                seed,
                now - timedelta(days=3),
                guid="old-1",
            ),
            Item(
                "Weather in Lisbon",
                "https://news.example.org/weather",
                "Sunny, 25 degrees.",
                now - timedelta(minutes=1),
                guid="weather-1",
            ),
        ]
    )


def write_rules(rules_dir: Path, feed_url: str) -> None:
    rules_dir.mkdir()
    (rules_dir / "watch.yaml").write_text(
        textwrap.dedent(f"""
        feeds:
          - id: local
            url: {feed_url}
        channels:
          intel:
            type: slack
            webhook_url: ${{SLACK_WEBHOOK_URL}}
          analysts:
            type: email
            to: [analysts@example.org]
          siem:
            type: webhook
            url: ${{ALERT_WEBHOOK_URL}}
            secret: ${{ALERT_WEBHOOK_SECRET}}
          stdout:
            type: console
        rules:
          - id: iran-russia-drones
            query: Iran AND Russia AND drones
            notify: [intel, analysts, siem, stdout]
            feeds: [local]
        """)
    )


@pytest.fixture(params=["sqlite", "redis"])
def store_env(request: pytest.FixtureRequest, tmp_path: Path) -> dict[str, str]:
    if request.param == "sqlite":
        return {"MONITOR_DATA_DIR": str(tmp_path / "data")}
    url = request.getfixturevalue("redis_server_url")
    prefix = request.getfixturevalue("redis_prefix")
    return {"MONITOR_REDIS_URL": url, "MONITOR_REDIS_PREFIX": prefix}


def all_channels_env(
    tmp_path: Path, httpserver: HTTPServer, smtp: SmtpSink, store_env: dict[str, str]
) -> dict[str, str]:
    return monitor_env(
        **store_env,
        MONITOR_RULES_DIR=str(tmp_path / "rules"),
        MONITOR_SMTP_HOST=smtp.host,
        MONITOR_SMTP_PORT=str(smtp.port),
        MONITOR_SMTP_STARTTLS="false",
        MONITOR_ONCE_DELIVERY_DEADLINE="10s",
        SLACK_WEBHOOK_URL=httpserver.url_for(f"/services/T0/B0/{SECRET_TOKEN}"),
        ALERT_WEBHOOK_URL=httpserver.url_for("/hook"),
        ALERT_WEBHOOK_SECRET=SIGNING_SECRET,
    )


def run_once(env: dict[str, str], cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "monitor", "run", "--once"],
        env=env,
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=60,
    )


def posts(httpserver: HTTPServer, path: str) -> list[Request]:
    return [req for req, _ in httpserver.log if req.path == path and req.method == "POST"]


def test_run_once_alerts_once_per_channel(
    tmp_path: Path,
    httpserver: HTTPServer,
    smtp: SmtpSink,
    store_env: dict[str, str],
    shared_data: Path,
) -> None:
    httpserver.expect_request("/feed.xml").respond_with_data(
        seed_feed(shared_data), content_type="application/rss+xml"
    )
    httpserver.expect_request(f"/services/T0/B0/{SECRET_TOKEN}").respond_with_data("ok")
    httpserver.expect_request("/hook").respond_with_data("", status=204)
    write_rules(tmp_path / "rules", httpserver.url_for("/feed.xml"))
    env = all_channels_env(tmp_path, httpserver, smtp, store_env)

    first = run_once(env, tmp_path)
    assert first.returncode == 0, first.stderr

    slack = posts(httpserver, f"/services/T0/B0/{SECRET_TOKEN}")
    hooks = posts(httpserver, "/hook")
    alert_lines = [line for line in first.stdout.splitlines() if line.strip()]
    assert len(slack) == 1, first.stderr
    assert len(hooks) == 1, first.stderr
    assert len(smtp.messages) == 1, first.stderr
    assert len(alert_lines) == 1, first.stdout

    # The Slack message links the seed article, tracking parameters stripped.
    slack_body = slack[0].get_data(as_text=True)
    assert "https://news.example.org/iran-russia" in slack_body
    assert "utm_source" not in slack_body
    # The webhook is signed per Standard Webhooks, and says which rule matched.
    hook = hooks[0]
    payload = Webhook(SIGNING_SECRET).verify(hook.get_data(as_text=True), dict(hook.headers))
    assert payload["rule"]["id"] == "iran-russia-drones"
    assert payload["article"]["title"] == SEED_TITLE
    assert {t.lower() for t in payload["matched_terms"]} == {"iran", "russia", "drones"}
    # The email went to the analysts and names the rule and the title.
    assert smtp.recipients == [["analysts@example.org"]]
    assert "iran-russia-drones" in smtp.messages[0]["Subject"]
    assert SEED_TITLE in alert_lines[0]
    # No secret in any log line.
    for secret in (SECRET_TOKEN, SIGNING_SECRET, "c2VjcmV0LXNpZ25pbmc"):
        assert secret not in first.stderr

    second = run_once(env, tmp_path)
    assert second.returncode == 0, second.stderr
    assert len(posts(httpserver, f"/services/T0/B0/{SECRET_TOKEN}")) == 1
    assert len(posts(httpserver, "/hook")) == 1
    assert len(smtp.messages) == 1
    assert not second.stdout.strip()


def test_sigterm_loses_nothing_and_restart_sends_no_duplicate(
    tmp_path: Path,
    httpserver: HTTPServer,
    smtp: SmtpSink,
    shared_data: Path,
) -> None:
    seed = (shared_data / "articles" / "seed-iran-russia.txt").read_text(encoding="utf-8")
    now = datetime.now(UTC)
    items = [
        Item(
            f"Report {i}: Iran, Russia and drones",
            f"https://news.example.org/{i}",
            report_text(i, words=400) + " " + seed,  # five distinct stories, five alerts
            now - timedelta(minutes=i),
            guid=f"r-{i}",
        )
        for i in range(5)
    ]
    httpserver.expect_request("/feed.xml").respond_with_data(
        rss(items), content_type="application/rss+xml"
    )

    def slow_receiver(request: Request) -> Response:
        time.sleep(1.0)  # keep deliveries in flight when SIGTERM arrives
        return Response("", status=204)

    httpserver.expect_request("/hook").respond_with_handler(slow_receiver)
    rules = webhook_watch_dir(
        tmp_path / "rules",
        httpserver.url_for("/feed.xml"),
        httpserver.url_for("/hook"),
        interval="1h",
    )
    env = monitor_env(
        MONITOR_RULES_DIR=str(rules),
        MONITOR_DATA_DIR=str(tmp_path / "data"),
        MONITOR_SHUTDOWN_GRACE="10s",
        MONITOR_LOG_FORMAT="json",
    )
    daemon = subprocess.Popen(
        [sys.executable, "-m", "monitor", "run"],
        env=env,
        cwd=tmp_path,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        deadline = time.monotonic() + 20
        while not posts(httpserver, "/hook") and time.monotonic() < deadline:
            time.sleep(0.05)
        # The log records a request only once it is answered: sends are in flight now or done.
        daemon.send_signal(signal.SIGTERM)
        started = time.monotonic()
        _, stderr = daemon.communicate(timeout=20)
        assert time.monotonic() - started < 12
    finally:
        if daemon.poll() is None:
            daemon.kill()
            daemon.wait()
    assert daemon.returncode == 0, stderr
    assert any(
        json.loads(line).get("event") == "shutdown"
        for line in stderr.splitlines()
        if line.startswith("{")
    )

    again = run_once(env, tmp_path)
    assert again.returncode == 0, again.stderr
    ids = [req.headers["webhook-id"] for req in posts(httpserver, "/hook")]
    assert len(ids) == 5, again.stderr
    assert len(set(ids)) == 5


def test_a_burst_to_slack_goes_out_grouped_at_one_message_per_second(
    tmp_path: Path, httpserver: HTTPServer
) -> None:
    """15 alerts at once: Slack's default pacing (1 message/s, 10 alerts a message) sends
    two grouped messages a second apart, not 15 messages; the email digest keeps its
    alerts queued for the top of the hour."""
    now = datetime.now(UTC)
    items = [
        Item(
            f"Report {i}: Iran, Russia and drones",
            f"https://news.example.org/{i}",
            report_text(i),
            now - timedelta(minutes=i),
            guid=f"r-{i}",
        )
        for i in range(15)
    ]
    httpserver.expect_request("/feed.xml").respond_with_data(
        rss(items), content_type="application/rss+xml"
    )
    arrivals: list[float] = []

    def slack(request: Request) -> Response:
        arrivals.append(time.monotonic())
        return Response("ok", status=200)

    httpserver.expect_request("/slack").respond_with_handler(slack)
    rules = tmp_path / "rules"
    rules.mkdir()
    (rules / "watch.yaml").write_text(
        textwrap.dedent(f"""
        feeds:
          - id: local
            url: {httpserver.url_for("/feed.xml")}
        channels:
          intel:
            type: slack
            webhook_url: {httpserver.url_for("/slack")}
          desk:
            type: email
            to: [desk@example.org]
            digest: hourly
        rules:
          - id: drones
            query: Iran AND Russia AND drones
        """)
    )
    env = monitor_env(
        MONITOR_RULES_DIR=str(rules),
        MONITOR_DATA_DIR=str(tmp_path / "data"),
        MONITOR_SMTP_HOST="127.0.0.1",
        MONITOR_ONCE_DELIVERY_DEADLINE="20s",
    )
    result = run_once(env, tmp_path)
    assert result.returncode == 0, result.stderr

    messages = [req.get_data(as_text=True) for req in posts(httpserver, "/slack")]
    linked = [set(re.findall(r"news\.example\.org/(\d+)", m)) for m in messages]
    assert [len(ids) for ids in linked] == [10, 5]  # oldest first, every alert once
    assert set.union(*linked) == {str(i) for i in range(15)}
    assert arrivals[1] - arrivals[0] >= 0.9  # the second waited for the next slot
    listing = subprocess.run(
        [sys.executable, "-m", "monitor", "alerts"],
        env=env,
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert "pending (15)" in listing.stdout, listing.stdout  # the digest's, until the hour
