"""Command-line hygiene: output into a closed pipe ends quietly (exit 141, no traceback),
``alerts`` takes ``--rules-dir``, and ``match`` warns once about lowercase operators."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from monitor.cli.common import EXIT_BROKEN_PIPE
from monitor.cli.main import _parser, main
from tests.servers import monitor_env


@pytest.fixture(autouse=True)
def _clean_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.chdir(tmp_path)  # no stray .env is read
    for name in ("MONITOR_RULES_DIR", "MONITOR_SMTP_HOST", "MONITOR_REDIS_URL", "MONITOR_ENV_FILE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("MONITOR_DATA_DIR", str(tmp_path / "data"))


def first_line_then_close(args: list[str], cwd: Path, env: dict[str, str]) -> tuple[str, str, int]:
    """Run ``python -m monitor ARGS``, read one line of its output and close the pipe, like
    ``| head -1``; its first line, standard error and exit code."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "monitor", *args],
        cwd=cwd,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert proc.stdout is not None and proc.stderr is not None
    first = proc.stdout.readline()
    proc.stdout.close()
    err = proc.stderr.read()
    return first, err, proc.wait(timeout=60)


def assert_quiet(err: str) -> None:
    for noise in ("Traceback", "BrokenPipeError", "Exception ignored"):
        assert noise not in err, err


def test_match_into_a_closed_pipe_ends_quietly(tmp_path: Path) -> None:
    # Well past a pipe's buffer (64 KiB), with few hits per line so matching stays quick.
    (tmp_path / "big.txt").write_text(("Iran sends drones again" + " padding" * 30 + "\n") * 1_500)
    first, err, code = first_line_then_close(
        ["match", "Iran AND drones", "big.txt", "--color", "never"], tmp_path, monitor_env()
    )
    assert first.startswith("1: [Iran] sends [drones]")
    assert_quiet(err)
    assert code == EXIT_BROKEN_PIPE == 141


def test_feeds_into_a_closed_pipe_ends_quietly(tmp_path: Path) -> None:
    rules = tmp_path / "rules"
    rules.mkdir()
    feeds = "".join(
        f'  - {{id: feed-{n:04d}, url: "https://example.org/{n}.xml"}}\n' for n in range(2_000)
    )
    (rules / "feeds.yaml").write_text("feeds:\n" + feeds)
    env = monitor_env(MONITOR_DATA_DIR=str(tmp_path / "data"))
    first, err, code = first_line_then_close(["feeds", "--rules-dir", str(rules)], tmp_path, env)
    assert first.strip()
    assert_quiet(err)
    assert code == 141


class ClosedPipe:
    """A standard output whose reader has gone: every write fails like a closed pipe."""

    def write(self, text: str) -> int:
        raise BrokenPipeError(32, "Broken pipe")

    def flush(self) -> None:
        raise BrokenPipeError(32, "Broken pipe")

    def isatty(self) -> bool:
        return False

    def __getattr__(self, name: str) -> Any:
        raise AttributeError(name)


def test_alerts_into_a_closed_pipe_ends_quietly(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr(sys, "stdout", ClosedPipe())
    assert main(["alerts"]) == 141
    assert_quiet(capsys.readouterr().err)


def test_alerts_takes_rules_dir(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    args = _parser().parse_args(["alerts", "--rules-dir", "elsewhere", "--limit", "3"])
    assert args.rules_dir == Path("elsewhere") and args.limit == 3
    retry = _parser().parse_args(["alerts", "--rules-dir", "elsewhere", "retry", "--all"])
    assert retry.rules_dir == Path("elsewhere") and retry.all_
    assert main(["alerts", "--rules-dir", str(tmp_path)]) == 0
    assert "pending (0)" in capsys.readouterr().out


def test_match_warns_about_a_lowercase_operator_once(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "a.txt").write_text("Iran and drones\n")
    assert main(["match", "iran and drones and kyiv", "a.txt"]) == 1
    err = capsys.readouterr().err
    assert err.count("warning: lowercase 'and' is matched as a word; write AND") == 1, err


def test_match_without_remarks_warns_nothing(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    # Variables of the test run itself (MONITOR_TEST_REDIS_URL under .ci/run) are rightly
    # reported as unknown settings; this test is about the query's remarks only.
    for name in [n for n in os.environ if n.startswith("MONITOR_")]:
        monkeypatch.delenv(name)
    (tmp_path / "a.txt").write_text("Iran and drones\n")
    assert main(["match", "Iran AND drones", "a.txt"]) == 0
    assert "warning" not in capsys.readouterr().err
