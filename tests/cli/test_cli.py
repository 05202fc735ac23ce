"""The command line: check and match, their output and exit codes."""

from __future__ import annotations

import io
import re
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

import pytest

from monitor.cli.main import main
from tests.servers import Item, rss

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(autouse=True)
def _clean_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.chdir(tmp_path)  # no stray .env is read
    monkeypatch.delenv("MONITOR_RULES_DIR", raising=False)
    monkeypatch.delenv("MONITOR_SMTP_HOST", raising=False)


def test_check_shipped_rules(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["check", "--rules-dir", str(ROOT / "rules")]) == 0
    out = capsys.readouterr().out
    assert re.match(r"ok: 3 file\(s\), \d+ feed\(s\), \d+ channel\(s\), \d+ rule\(s\)", out), out


def test_check_broken_file_prints_file_line_and_exits_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    rules = tmp_path / "rules"
    rules.mkdir()
    (rules / "good.yaml").write_text("channels:\n  out: {type: console}\n")
    (rules / "bad.yaml").write_text("rules:\n  - id: r\n    query: drones\n    notify: [nope]\n")
    assert main(["check", "--rules-dir", str(rules)]) == 2
    err = capsys.readouterr().err
    assert f"{rules / 'bad.yaml'}:4: rule 'r' notifies unknown channel 'nope'" in err
    assert "nothing started" in err


def test_check_warns_about_lowercase_operators(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "r.yaml").write_text("rules:\n  - {id: r, query: iran and drones}\n")
    assert main(["check", "--rules-dir", str(tmp_path)]) == 0
    assert "lowercase 'and'" in capsys.readouterr().err


def test_bad_setting_is_a_clear_error(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("MONITOR_POLL_INTERVAL", "often")
    assert main(["check", "--rules-dir", str(ROOT / "rules")]) == 2
    assert "MONITOR_POLL_INTERVAL" in capsys.readouterr().err


def test_match_seed_article_shows_the_three_hits(
    shared_data: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    seed = shared_data / "articles" / "seed-iran-russia.txt"
    assert main(["match", "--color=never", "Iran AND Russia AND drones", str(seed)]) == 0
    out = capsys.readouterr().out
    for term in ("[Iran]", "[Russia]", "[drones]"):
        assert term in out
    assert re.search(r"Iran ×\d+, Russia ×\d+, drones ×2", out), out


def test_match_no_match_exits_1(shared_data: Path, capsys: pytest.CaptureFixture[str]) -> None:
    seed = shared_data / "articles" / "seed-iran-russia.txt"
    assert main(["match", "Iran AND NOT Russia", str(seed)]) == 1
    assert "no match" in capsys.readouterr().err


def test_match_bad_query_exits_2_with_caret(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["match", "Iran AND (drones", "-"]) == 2
    err = capsys.readouterr().err
    assert "bad query" in err and "^" in err


def test_match_reads_stdin(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(b"A drone over Kyiv\n")))
    assert main(["match", "--color=always", "drone", "-"]) == 0
    assert "\x1b[1;31mdrone\x1b[0m" in capsys.readouterr().out


def test_match_feed_file_entry_by_entry(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    now = datetime.now(UTC)
    feed = tmp_path / "feed.xml"
    feed.write_text(
        rss(
            [
                Item("Drones over Kyiv", "https://x.org/1", "Russia launched drones.", now),
                Item("Weather", "https://x.org/2", "Sunny.", now),
            ]
        )
    )
    assert main(["match", "--color=never", "drones AND Russia", str(feed)]) == 0
    out = capsys.readouterr().out
    assert "[Drones] over Kyiv" in out
    assert "1 of 2 entries match" in out


def test_match_explain(shared_data: Path, capsys: pytest.CaptureFixture[str]) -> None:
    seed = shared_data / "articles" / "seed-iran-russia.txt"
    assert main(["match", "--explain", "Iran AND China", str(seed)]) == 1
    out = capsys.readouterr().out
    assert "✗ China" in out and "✓ Iran" in out


def test_missing_file_exits_2(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["match", "x", "/nonexistent/file.txt"]) == 2
    assert "cannot read" in capsys.readouterr().err


def test_console_script_is_installed() -> None:
    script = Path(sys.executable).with_name("news-monitor")
    result = subprocess.run([str(script), "--version"], capture_output=True, text=True, check=False)
    assert result.returncode == 0 and "news-monitor" in result.stdout


def test_run_with_unreachable_redis_exits_1_without_leaking_the_password(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from tests.conftest import free_port

    monkeypatch.setenv("MONITOR_REDIS_URL", f"redis://:hunter2secret@127.0.0.1:{free_port()}/0")
    monkeypatch.setenv("MONITOR_STORE_WAIT", "1s")
    started = time.monotonic()
    assert main(["run", "--once", "--rules-dir", str(ROOT / "rules")]) == 1
    # It waited for the store (MONITOR_STORE_WAIT), then gave up.
    assert 1.0 <= time.monotonic() - started < 10
    captured = capsys.readouterr()
    assert "state store unavailable" in captured.err
    assert "hunter2secret" not in captured.err + captured.out


def test_match_new_constructs_on_stdin(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    text = b"Tehran supplied Moscow with drones.\nThe US said nothing.\n"
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(text)))
    query = "@Iran NEAR/3 @Russia AND drone* AND case:US"
    assert main(["match", "--color=never", query, "-"]) == 0
    out = capsys.readouterr().out
    assert "1: [Tehran] supplied [Moscow] with [drones]." in out
    assert "2: The [US] said nothing." in out
    assert "@Iran ×1, @Russia ×1, drone* ×1, US ×1" in out


def test_match_explain_shows_new_constructs(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(b"give us drones")))
    assert main(["match", "--explain", "case:US OR @Iran NEAR/2 drone*", "-"]) == 1
    out = capsys.readouterr().out
    assert out.splitlines() == [
        "✗ OR",
        "  ✗ case:US",
        "  ✗ NEAR/2",
        "    ✗ @Iran",
        "    ✓ drone* ×1",
    ]


def test_match_unknown_entity_exits_2(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["match", "drones AND @Atlantis", "-"]) == 2
    err = capsys.readouterr().err
    assert "unknown entity @Atlantis" in err and "^" in err


def test_match_title_field_on_a_feed(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    now = datetime.now(UTC)
    feed = tmp_path / "feed.xml"
    feed.write_text(
        rss(
            [
                Item("Drones over Kyiv", "https://x.org/1", "Nothing here.", now),
                Item("Weather", "https://x.org/2", "Drones again.", now),
            ]
        )
    )
    assert main(["match", "--color=never", "title:drone", str(feed)]) == 0
    out = capsys.readouterr().out
    assert "[Drones] over Kyiv" in out and "1 of 2 entries match" in out


def test_check_reports_rules_that_cannot_be_indexed(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "r.yaml").write_text(
        "rules:\n  - {id: quiet, query: NOT sports}\n  - {id: loud, query: drones}\n"
    )
    assert main(["check", "--rules-dir", str(tmp_path)]) == 0
    err = capsys.readouterr().err
    assert "rule 'quiet' cannot be indexed" in err
    assert "rule 'loud' cannot" not in err


def test_readme_library_example_runs(capsys: pytest.CaptureFixture[str]) -> None:
    """The README's "As a library" example must run and print a match."""
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    section = readme[readme.index("### As a library") :]
    code = re.search(r"```python\n(.*?)```", section, re.S)
    assert code is not None
    exec(compile(code.group(1), "README.md", "exec"), {})
    out = capsys.readouterr().out
    assert out.startswith("drones ('@Iran', '@Russia', 'drone*')")
