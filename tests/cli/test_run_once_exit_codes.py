"""``run --once``: the one-line account on standard error and the exit codes
(0 all well, 3 finished with problems, 2 invalid config, 1 could not run)."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest
from pytest_httpserver import HTTPServer

from monitor.app import RunSummary
from monitor.cli.main import main
from monitor.cli.run import describe_problems, describe_run, once_exit_code
from monitor.delivery.worker import DeliveryCounts
from monitor.polling.poller import PollReport
from tests.conftest import free_port
from tests.servers import Item, rss


@pytest.fixture(autouse=True)
def _clean_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.chdir(tmp_path)  # no stray .env is read
    for name in ("MONITOR_RULES_DIR", "MONITOR_SMTP_HOST", "MONITOR_REDIS_URL", "MONITOR_ENV_FILE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("MONITOR_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("MONITOR_ONCE_DELIVERY_DEADLINE", "5s")


def summary(
    *polls: PollReport, delivered: int = 0, dead: int = 0, pending: int = 0, failing: int = 0
) -> RunSummary:
    return RunSummary(polls, DeliveryCounts(delivered=delivered, dead=dead), pending, failing)


def test_all_well_is_0_and_one_line() -> None:
    s = summary(
        PollReport("a", "ok", entries=5, new=4, too_old=1, alerts=2),
        PollReport("b", "not_modified"),
        delivered=2,
    )
    assert once_exit_code(s) == 0
    assert describe_problems(s) is None
    line = describe_run(s)
    assert "\n" not in line
    assert line == (
        "run: 2 feed(s) polled, 4 new article(s) (1 too old to alert: older than "
        "MONITOR_MAX_AGE), 2 alert(s) queued, 2 sent, 0 dead, 0 still queued"
    )


def test_alerts_held_on_purpose_are_not_a_problem() -> None:
    held = summary(PollReport("a", "ok", alerts=3), delivered=1, pending=2)  # a digest
    assert once_exit_code(held) == 0
    assert describe_run(held).endswith("1 sent, 0 dead, 2 still queued")


@pytest.mark.parametrize(
    ("run", "expected"),
    [
        (
            summary(PollReport("a", "ok"), PollReport("b", "error", error="timeout")),
            "problems: 1 feed(s) failed (b), 0 alert(s) dead (see news-monitor alerts), "
            "0 alert(s) still pending after failing (retried next run)",
        ),
        (
            summary(PollReport("a", "ok", alerts=2), delivered=1, dead=1),
            "problems: 0 feed(s) failed, 1 alert(s) dead (see news-monitor alerts), "
            "0 alert(s) still pending after failing (retried next run)",
        ),
        (
            summary(PollReport("a", "ok", alerts=2), pending=2, failing=1),
            "problems: 0 feed(s) failed, 0 alert(s) dead (see news-monitor alerts), "
            "1 alert(s) still pending after failing (retried next run)",
        ),
        (
            summary(PollReport("a", "disabled", error="410 Gone")),
            "problems: 0 feed(s) failed, 1 feed(s) disabled (a), 0 alert(s) dead "
            "(see news-monitor alerts), 0 alert(s) still pending after failing (retried next run)",
        ),
    ],
)
def test_problems_are_3_with_a_line_naming_the_counts(run: RunSummary, expected: str) -> None:
    assert once_exit_code(run) == 3
    assert describe_problems(run) == expected


def write_rules(tmp_path: Path, feed_url: str) -> Path:
    rules = tmp_path / "rules"
    rules.mkdir()
    (rules / "watch.yaml").write_text(
        "feeds:\n"
        f'  - {{id: local, url: "{feed_url}"}}\n'
        "channels:\n"
        "  stdout: {type: console}\n"
        "rules:\n"
        "  - {id: drones, query: Iran AND drones}\n"
    )
    return rules


def test_run_once_polls_delivers_and_exits_0(
    tmp_path: Path, httpserver: HTTPServer, capsys: pytest.CaptureFixture[str]
) -> None:
    now = datetime.now(UTC)
    httpserver.expect_request("/feed.xml").respond_with_data(
        rss([Item("Iran sends drones", "https://example.org/a", "Iran drones.", now)]),
        content_type="application/rss+xml",
    )
    rules = write_rules(tmp_path, httpserver.url_for("/feed.xml"))
    assert main(["run", "--once", "--rules-dir", str(rules)]) == 0
    captured = capsys.readouterr()
    assert "Iran sends drones" in captured.out
    assert "run: 1 feed(s) polled, 1 new article(s) (0 too old" in captured.err
    assert "1 alert(s) queued, 1 sent, 0 dead, 0 still queued" in captured.err
    assert "problems:" not in captured.err


def test_run_once_with_a_failing_feed_exits_3(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    rules = write_rules(tmp_path, f"http://127.0.0.1:{free_port()}/feed.xml")
    assert main(["run", "--once", "--rules-dir", str(rules)]) == 3
    err = capsys.readouterr().err
    assert "run: 1 feed(s) polled, 0 new article(s)" in err
    assert "problems: 1 feed(s) failed (local)" in err


def test_run_once_with_an_invalid_config_exits_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    rules = tmp_path / "rules"
    rules.mkdir()
    (rules / "watch.yaml").write_text("rules:\n  - {id: x, query: 'Iran AND'}\n")
    assert main(["run", "--once", "--rules-dir", str(rules)]) == 2
    assert "invalid config" in capsys.readouterr().err
