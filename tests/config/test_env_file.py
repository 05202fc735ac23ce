"""The env file (``.env`` or ``$MONITOR_ENV_FILE``): settings, ``${VAR}`` in the rules YAML,
the real environment winning, and unknown ``MONITOR_*`` names reported with a did-you-mean."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest

from monitor.cli.main import main
from monitor.config.load import load_config
from monitor.settings import Settings, config_environ, unknown_setting_warnings

HOOK = "https://hooks.slack.com/services/T000/B000/FROMFILE"


@pytest.fixture(autouse=True)
def _clean_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.chdir(tmp_path)
    for name in ("MONITOR_RULES_DIR", "MONITOR_ENV_FILE", "MONITOR_POLL_INTERVAL"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.delenv("SLACK_WEBHOOK_URL", raising=False)


def slack_rules(tmp_path: Path) -> Path:
    rules = tmp_path / "rules"
    rules.mkdir()
    (rules / "watch.yaml").write_text(
        "feeds:\n"
        "  - {id: local, url: 'https://example.org/feed.xml'}\n"
        "channels:\n"
        "  intel: {type: slack, webhook_url: '${SLACK_WEBHOOK_URL}'}\n"
        "rules:\n"
        "  - {id: drones, query: Iran AND drones}\n"
    )
    return rules


def test_check_reads_a_yaml_variable_from_dot_env(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    rules = slack_rules(tmp_path)
    (tmp_path / ".env").write_text(f"SLACK_WEBHOOK_URL={HOOK}\n")
    assert main(["check", "--rules-dir", str(rules)]) == 0, capsys.readouterr().err
    assert "not set" not in capsys.readouterr().err


def test_without_the_file_the_variable_is_not_set(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    rules = slack_rules(tmp_path)
    assert main(["check", "--rules-dir", str(rules)]) == 2
    assert "SLACK_WEBHOOK_URL is not set" in capsys.readouterr().err


def test_monitor_env_file_names_another_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    slack_rules(tmp_path)
    env_file = tmp_path / "conf" / "monitor.env"
    env_file.parent.mkdir()
    env_file.write_text(f"SLACK_WEBHOOK_URL={HOOK}\nMONITOR_RULES_DIR={tmp_path / 'rules'}\n")
    (tmp_path / ".env").write_text("MONITOR_RULES_DIR=elsewhere\n")  # not read
    monkeypatch.setenv("MONITOR_ENV_FILE", str(env_file))
    assert Settings().rules_dir == tmp_path / "rules"
    assert main(["check"]) == 0, capsys.readouterr().err


def test_the_real_environment_wins_over_the_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    rules = slack_rules(tmp_path)
    (tmp_path / ".env").write_text(f"SLACK_WEBHOOK_URL={HOOK}\nMONITOR_POLL_INTERVAL=1m\n")
    monkeypatch.setenv("SLACK_WEBHOOK_URL", "https://hooks.slack.com/services/T/B/FROMENV")
    monkeypatch.setenv("MONITOR_POLL_INTERVAL", "2m")
    settings = Settings()
    assert settings.poll_interval == timedelta(minutes=2)
    assert config_environ()["SLACK_WEBHOOK_URL"].endswith("FROMENV")
    loaded = load_config(settings.model_copy(update={"rules_dir": rules}))
    assert loaded.secret_values() == ["https://hooks.slack.com/services/T/B/FROMENV"]


def test_a_typo_in_the_environment_warns_with_the_nearest_setting(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    rules = slack_rules(tmp_path)
    monkeypatch.setenv("SLACK_WEBHOOK_URL", HOOK)
    monkeypatch.setenv("MONITOR_POLL_INTERVALL", "1m")
    assert main(["check", "--rules-dir", str(rules)]) == 0
    err = capsys.readouterr().err
    assert "warning: unknown setting MONITOR_POLL_INTERVALL" in err
    assert "did you mean MONITOR_POLL_INTERVAL?" in err


def test_a_typo_in_the_env_file_warns_too(tmp_path: Path) -> None:
    (tmp_path / ".env").write_text("MONITOR_POLL_INTERVALL=1m\nMONITOR_POLL_INTERVAL=2m\n")
    warnings = unknown_setting_warnings({})
    assert warnings == [
        "unknown setting MONITOR_POLL_INTERVALL (in .env) is ignored; "
        "did you mean MONITOR_POLL_INTERVAL?"
    ]


def test_known_names_and_other_variables_do_not_warn(tmp_path: Path) -> None:
    (tmp_path / "x.env").write_text("OTHER=1\n")
    environ = {"MONITOR_LOG_LEVEL": "INFO", "MONITOR_ENV_FILE": "x.env", "HOME": "/root"}
    assert unknown_setting_warnings(environ) == []
    far = unknown_setting_warnings({"MONITOR_ZZZ": "1"})
    assert far == ["unknown setting MONITOR_ZZZ (in environment) is ignored"]


def test_a_missing_env_file_named_explicitly_warns(tmp_path: Path) -> None:
    warnings = unknown_setting_warnings({"MONITOR_ENV_FILE": str(tmp_path / "nope.env")})
    assert len(warnings) == 1 and "nope.env" in warnings[0] and "not a file" in warnings[0]
