"""End to end: ``news-monitor run`` serves /healthz, /readyz and /metrics on
MONITOR_HTTP_ADDR, and SIGTERM stops it cleanly; an address in use is exit 1."""

from __future__ import annotations

import contextlib
import signal
import socket
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest
from pytest_httpserver import HTTPServer

from tests.conftest import free_port
from tests.servers import Item, monitor_env, rss, webhook_watch_dir

pytestmark = pytest.mark.e2e


def daemon_env(tmp_path: Path, httpserver: HTTPServer, addr: str) -> dict[str, str]:
    now = datetime.now(UTC)
    feed = rss(
        [
            Item("Iran and drones", "https://news.example.org/1", "Iran drones.", now, "g-1"),
            Item("Old", "https://news.example.org/2", "Old.", now - timedelta(days=3), "g-2"),
        ]
    )
    httpserver.expect_request("/feed.xml").respond_with_data(
        feed, content_type="application/rss+xml"
    )
    httpserver.expect_request("/hook").respond_with_data("", status=204)
    rules = webhook_watch_dir(
        tmp_path / "rules", httpserver.url_for("/feed.xml"), httpserver.url_for("/hook"), "1h"
    )
    return monitor_env(
        MONITOR_RULES_DIR=str(rules),
        MONITOR_DATA_DIR=str(tmp_path / "data"),
        MONITOR_HTTP_ADDR=addr,
        MONITOR_LOG_FORMAT="json",
    )


def test_the_daemon_serves_health_readiness_and_metrics(
    tmp_path: Path, httpserver: HTTPServer
) -> None:
    addr = f"127.0.0.1:{free_port()}"
    env = daemon_env(tmp_path, httpserver, addr)
    daemon = subprocess.Popen(
        [sys.executable, "-m", "monitor", "run"],
        env=env,
        cwd=tmp_path,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    base = f"http://{addr}"
    polled = 'news_monitor_polls_total{feed="local",status="ok"} 1.0'
    delivered = 'news_monitor_alerts_total{channel="siem",outcome="delivered"} 1.0'
    try:
        metrics = ""
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and daemon.poll() is None:
            with contextlib.suppress(httpx.TransportError):  # not listening yet
                metrics = httpx.get(f"{base}/metrics", timeout=5).text
            if polled in metrics and delivered in metrics:
                break
            time.sleep(0.1)
        assert polled in metrics, metrics
        assert delivered in metrics, metrics
        assert 'news_monitor_articles_total{outcome="new"} 1.0' in metrics
        assert 'news_monitor_articles_total{outcome="too_old"} 1.0' in metrics
        assert 'news_monitor_matches_total{rule="drones"} 1.0' in metrics
        assert "news_monitor_fetch_duration_seconds_count 1.0" in metrics
        assert "news_monitor_feeds_down 0.0" in metrics
        assert "news_monitor_rules 1.0" in metrics

        health = httpx.get(f"{base}/healthz", timeout=5)
        assert health.status_code == 200
        assert health.json() == {
            "status": "ok",
            "event_loop": True,
            "scheduler": True,
            "worker": True,
        }
        ready = httpx.get(f"{base}/readyz", timeout=5)
        assert ready.status_code == 200, ready.text

        daemon.send_signal(signal.SIGTERM)
        _, stderr = daemon.communicate(timeout=20)
    finally:
        if daemon.poll() is None:
            daemon.kill()
            daemon.wait()
    assert daemon.returncode == 0, stderr
    with pytest.raises(httpx.ConnectError):
        httpx.get(f"{base}/healthz", timeout=2)


def test_an_http_address_in_use_is_exit_1_naming_it(tmp_path: Path, httpserver: HTTPServer) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        addr = f"127.0.0.1:{taken.getsockname()[1]}"
        done = subprocess.run(
            [sys.executable, "-m", "monitor", "run"],
            env=daemon_env(tmp_path, httpserver, addr),
            cwd=tmp_path,
            capture_output=True,
            text=True,
            timeout=60,
        )
    assert done.returncode == 1, done.stderr
    assert addr in done.stderr
    assert "MONITOR_HTTP_ADDR" in done.stderr
