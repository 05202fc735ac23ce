"""``news-monitor check`` renders every template once with a sample alert and reports what
fails as ``file:line`` errors (issue 17, item 3); ``send-test`` refuses such a config
instead of hanging."""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest

from monitor.cli.main import main

CONFIG = """\
channels:
  stdout:
    type: console
    templates:
      line: "{{ 'a' * 1000000000 }}"
  team:
    type: slack
    webhook_url: https://hooks.slack.com/services/T/B/x
    templates:
      body: |
        {% for i in range(100000) %}{% for j in range(100000) %}{% endfor %}{% endfor %}
      title: "{{ alert.titel }}"
rules:
  - {id: r, query: drones}
"""


@pytest.fixture(autouse=True)
def _clean_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.chdir(tmp_path)  # no stray .env is read
    for name in [n for n in os.environ if n.startswith("MONITOR_")]:
        monkeypatch.delenv(name)


@pytest.fixture
def rules(tmp_path: Path) -> Path:
    directory = tmp_path / "rules"
    directory.mkdir()
    (directory / "watch.yaml").write_text(CONFIG, encoding="utf-8")
    return directory


def test_check_reports_templates_that_fail_on_a_sample_alert(
    rules: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    started = time.monotonic()
    assert main(["check", "--rules-dir", str(rules)]) == 2
    assert time.monotonic() - started < 10
    captured = capsys.readouterr()
    assert captured.out == "" and "Traceback" not in captured.err
    assert captured.err.replace(f"{rules}/", "").splitlines() == [
        "watch.yaml:5: channel 'stdout': template 'line' failed at line 1: '*' would make a "
        "value of 1,000,000,000 characters or items; at most 1,000,000 are allowed "
        "(rendering a sample alert)",
        "watch.yaml:10: channel 'team': template 'body' failed at line 1: stopped after "
        "1,000,000 operations (loop steps, lookups, calls), the limit of one render "
        "(rendering a sample alert)",
        "watch.yaml:12: channel 'team': template 'title' failed at line 1: UndefinedError: "
        "'monitor.delivery.templates.AlertView object' has no attribute 'titel' "
        "(rendering a sample alert)",
        "error: invalid config (3 problem(s)); nothing started",
    ]


def test_send_test_refuses_the_config_instead_of_hanging(
    rules: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    started = time.monotonic()
    assert main(["send-test", "stdout", "--rules-dir", str(rules)]) == 2
    assert time.monotonic() - started < 10
    err = capsys.readouterr().err
    assert "channel 'stdout': template 'line' failed at line 1: '*' would make a value" in err
    assert "Traceback" not in err


def test_check_passes_templates_that_render(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    rules = tmp_path / "ok"
    rules.mkdir()
    (rules / "watch.yaml").write_text(
        "channels:\n"
        "  stdout:\n"
        "    type: console\n"
        "    templates:\n"
        '      line: "{{ alert.rule }}: {{ alert.title | safe }} {{ alert.url }}"\n'
        "rules:\n"
        "  - {id: r, query: drones}\n",
        encoding="utf-8",
    )
    assert main(["check", "--rules-dir", str(rules)]) == 0
    assert capsys.readouterr().out.startswith("ok: 1 file(s), 0 feed(s), 1 channel(s), 1 rule(s)")
