"""End to end: ``news-monitor run --once`` as a subprocess exits 3 when a feed fails, with
its one-line account and the problems line on standard error."""

from __future__ import annotations

import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

import pytest
from pytest_httpserver import HTTPServer

from tests.servers import Item, monitor_env, rss

pytestmark = pytest.mark.e2e


def test_run_once_with_a_failing_feed_exits_3(tmp_path: Path, httpserver: HTTPServer) -> None:
    now = datetime.now(UTC)
    httpserver.expect_request("/good.xml").respond_with_data(
        rss([Item("Iran sends drones", "https://example.org/a", "Iran drones.", now)]),
        content_type="application/rss+xml",
    )
    httpserver.expect_request("/broken.xml").respond_with_data("oops", status=500)
    rules = tmp_path / "rules"
    rules.mkdir()
    (rules / "watch.yaml").write_text(
        "feeds:\n"
        f'  - {{id: good, url: "{httpserver.url_for("/good.xml")}"}}\n'
        f'  - {{id: broken, url: "{httpserver.url_for("/broken.xml")}"}}\n'
        "channels:\n"
        "  stdout: {type: console}\n"
        "rules:\n"
        "  - {id: drones, query: Iran AND drones}\n"
    )
    env = monitor_env(
        MONITOR_RULES_DIR=str(rules),
        MONITOR_DATA_DIR=str(tmp_path / "data"),
        MONITOR_ONCE_DELIVERY_DEADLINE="10s",
    )
    result = subprocess.run(
        [sys.executable, "-m", "monitor", "run", "--once"],
        env=env,
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 3, result.stderr
    assert "Iran sends drones" in result.stdout  # the good feed still alerted
    lines = result.stderr.splitlines()
    assert any(
        line.startswith("run: 2 feed(s) polled, 1 new article(s)") and "1 sent" in line
        for line in lines
    ), result.stderr
    assert (
        "problems: 1 feed(s) failed (broken), 0 alert(s) dead (see news-monitor alerts), "
        "0 alert(s) still pending after failing (retried next run)"
    ) in lines, result.stderr
