"""``news-monitor check`` shows every problem of a config in one run (issue 10)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from monitor.cli.main import main

TOKEN = "T0AAAA/B0BBBB/s3cr3tT0k3n"


@pytest.fixture(autouse=True)
def _clean_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.chdir(tmp_path)  # no stray .env is read
    for name in [n for n in os.environ if n.startswith("MONITOR_")]:  # MONITOR_TEST_REDIS_URL too
        monkeypatch.delenv(name)


def test_check_reports_every_problem_at_once_and_exits_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    rules = tmp_path / "rules"
    rules.mkdir()
    (rules / "broken.yaml").write_text("feeds:\n  - {id: x, url: 'http://h.example/'\n")
    (rules / "feeds.yaml").write_text(
        "feeds:\n"
        "  - id: bbc\n"
        "    url: https://feeds.bbci.co.uk/news/world/rss.xml\n"
        "    intervall: 2m\n"
        "  - {id: bbc, url: 'https://example.org/rss'}\n"
    )
    (rules / "watch.yaml").write_text(
        "channels:\n"
        "  siem:\n"
        "    type: webhok\n"
        f"    url: https://siem.example.org/{TOKEN}\n"
        "  team:\n"
        "    type: slack\n"
        f"    webhook_url: ftp://hooks.slack.com/services/{TOKEN}\n"
        "rules:\n"
        "  - {id: r1, query: 'Iran AND', notify: [team]}\n"
        "  - {id: r2, query: drones, notify: [siem, pager], feeds: [bbc, x]}\n"
        "ruels: []\n"
    )
    assert main(["check", "--rules-dir", str(rules)]) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    assert TOKEN not in captured.err
    note = "not counting broken.yaml, which could not be loaded"
    assert captured.err.replace(f"{rules}/", "").splitlines() == [
        "broken.yaml:3: invalid YAML: expected ',' or '}', but got '<stream end>'",
        "feeds.yaml:4: unknown key 'intervall' in feed 'bbc'; did you mean 'interval'?",
        "feeds.yaml:5: duplicate feed id 'bbc'",
        "watch.yaml:3: unknown channel type 'webhok' in channel 'siem'; did you mean 'webhook'?",
        "watch.yaml:7: 'webhook_url' must start with http:// or https://, "
        "got 'ftp://hooks.slack.com…'",
        "watch.yaml:9: rule 'r1': bad query: expected a term, phrase, wildcard, entity or '(' "
        "after AND",
        "  Iran AND",
        "          ^",
        f"watch.yaml:10: rule 'r2' notifies unknown channel 'pager' (channels: siem, team; {note})",
        f"watch.yaml:10: rule 'r2' names unknown feed 'x' ({note})",
        "watch.yaml:11: unknown top-level key 'ruels'; did you mean 'rules'?",
        "error: invalid config (9 problem(s)); nothing started",
    ]


def test_check_accepts_a_rule_backfill(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "a.yaml").write_text(
        "feeds:\n  - {id: f, url: 'https://h.example/rss'}\n"
        "rules:\n"
        "  - {id: r, query: drones, backfill: 24h}\n"
        "  - {id: s, query: drones, backfill: 0}\n"
    )
    assert main(["check", "--rules-dir", str(tmp_path)]) == 0
    assert capsys.readouterr().out.startswith("ok: 1 file(s), 1 feed(s), 1 channel(s), 2 rule(s)")
