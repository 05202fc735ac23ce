"""End to end: ``news-monitor run`` refuses to serve the console on a non-loopback
address without ``MONITOR_HTTP_TOKEN`` (exit 2, naming both settings), before anything
is polled or bound."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from tests.servers import monitor_env

pytestmark = pytest.mark.e2e


def test_a_public_address_without_a_token_is_exit_2(tmp_path: Path) -> None:
    rules = tmp_path / "rules"
    rules.mkdir()
    (rules / "watch.yaml").write_text(
        "feeds:\n"
        '  - {id: local, url: "http://127.0.0.1:9/feed.xml"}\n'
        "channels:\n"
        "  ops: {type: console}\n"
        "rules:\n"
        "  - {id: drones, query: Iran AND drones}\n"
    )
    done = subprocess.run(
        [sys.executable, "-m", "monitor", "run"],
        env=monitor_env(
            MONITOR_RULES_DIR=str(rules),
            MONITOR_DATA_DIR=str(tmp_path / "data"),
            MONITOR_HTTP_ADDR="0.0.0.0:0",
        ),
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 2, done.stderr
    assert "MONITOR_HTTP_ADDR: 0.0.0.0 is not a loopback address" in done.stderr
    assert "MONITOR_HTTP_TOKEN" in done.stderr
    assert "poll" not in done.stderr  # refused before the first poll
