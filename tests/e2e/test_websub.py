"""End to end: ``news-monitor run`` with ``MONITOR_PUBLIC_URL`` as a subprocess, a local
WebSub hub serving the feed, and a webhook receiver. The daemon discovers the hub in the
feed, subscribes, answers the verification; a signed push alerts within a second, a push
with a bad signature is discarded (and counted), and SIGTERM still stops it cleanly."""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest
from werkzeug import Response

from tests.conftest import free_port
from tests.servers import Item, monitor_env, webhook_receiver
from tests.websub_hub import local_hub, watch

pytestmark = pytest.mark.e2e


def wait_for(check: Callable[[], bool], within: float, daemon: subprocess.Popen[str]) -> None:
    deadline = time.monotonic() + within
    while not check():
        assert daemon.poll() is None, daemon.communicate()[1]
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.02)


def test_the_daemon_takes_signed_pushes_from_a_hub(tmp_path: Path) -> None:
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    rules = tmp_path / "rules"
    rules.mkdir()
    with local_hub() as hub, webhook_receiver(lambda r, n: Response(status=204)) as receiver:
        watch(rules, hub, receiver.url)
        env = monitor_env(
            MONITOR_RULES_DIR=str(rules),
            MONITOR_DATA_DIR=str(tmp_path / "data"),
            MONITOR_HTTP_ADDR=f"127.0.0.1:{port}",
            MONITOR_PUBLIC_URL=base,
            MONITOR_WEBSUB_LEASE="1h",
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
            wait_for(lambda: hub.confirmed() == 1, 30, daemon)
            assert hub.requests[0]["hub.lease_seconds"] == "3600"

            now = datetime.now(UTC)
            item = Item("Iran launches drones", "https://n.example/p1", "Iran drones.", now, "p1")
            forged = hub.feed([Item("Iran drones, forged", "https://n.example/f", "x", now, "f")])
            assert hub.publish(forged, secret="guessed") == 202
            started = time.monotonic()
            assert hub.publish(hub.feed([item])) == 202
            wait_for(lambda: len(receiver.hits) >= 1, 5, daemon)
            assert receiver.hits[0].arrived - started < 1.0
            assert [h.article_url for h in receiver.hits] == ["https://n.example/p1"]

            metrics = httpx.get(f"{base}/metrics", timeout=5).text
            assert 'news_monitor_websub_pushes_total{outcome="accepted"} 1.0' in metrics
            assert 'news_monitor_websub_pushes_total{outcome="bad_signature"} 1.0' in metrics
            assert "news_monitor_websub_subscriptions 1.0" in metrics

            daemon.send_signal(signal.SIGTERM)
            _, stderr = daemon.communicate(timeout=20)
        finally:
            if daemon.poll() is None:
                daemon.kill()
                daemon.wait()
    assert daemon.returncode == 0, stderr
    assert "websub_verify" in stderr and "bad_signature" in stderr
    secret = hub.requests[0]["hub.secret"]
    token = hub.requests[0]["hub.callback"].rsplit("/", 1)[1]
    assert secret not in stderr and token not in stderr
