"""Watch config loading: merge, ${VAR}, and file:line errors for every kind of mistake."""

from __future__ import annotations

import re
import textwrap
from pathlib import Path

import pytest

from monitor.config.load import load_config
from monitor.delivery.channels import SlackChannelConfig, WebhookChannelConfig
from monitor.errors import ConfigError
from monitor.settings import Settings

ROOT = Path(__file__).resolve().parents[2]


def write(directory: Path, name: str, text: str) -> Path:
    path = directory / name
    path.write_text(textwrap.dedent(text).lstrip("\n"), encoding="utf-8")
    return path


def settings_for(rules_dir: Path, **overrides: object) -> Settings:
    return Settings(_env_file=None, rules_dir=rules_dir, **overrides)  # type: ignore[call-arg]


def errors_of(rules_dir: Path, env: dict[str, str] | None = None, **overrides: object) -> list[str]:
    with pytest.raises(ConfigError) as info:
        load_config(settings_for(rules_dir, **overrides), env=env or {})
    return [str(issue) for issue in info.value.issues]


ISSUE_EXAMPLE = """
feeds:
  - id: aljazeera
    url: https://www.aljazeera.com/xml/rss/all.xml
    interval: 2m            # optional, default MONITOR_POLL_INTERVAL
channels:
  intel:
    type: slack
    webhook_url: ${SLACK_WEBHOOK_URL}
  analysts:
    type: email
    to: [analysts@example.org]
  siem:
    type: webhook
    url: ${ALERT_WEBHOOK_URL}
    secret: ${ALERT_WEBHOOK_SECRET}   # optional: sign requests
  stdout:
    type: console
rules:
  - id: iran-russia-drones
    query: Iran AND Russia AND drones
    notify: [intel, analysts, siem]
    feeds: [aljazeera]      # optional: default all feeds
"""

EXAMPLE_ENV = {
    "SLACK_WEBHOOK_URL": "https://hooks.slack.com/services/T0/B0/tok",
    "ALERT_WEBHOOK_URL": "https://siem.example.org/hook",
    "ALERT_WEBHOOK_SECRET": "whsec_c2VjcmV0",
}


def test_issue_example_loads_as_written(tmp_path: Path) -> None:
    write(tmp_path, "watch.yaml", ISSUE_EXAMPLE)
    loaded = load_config(settings_for(tmp_path, smtp_host="localhost"), env=EXAMPLE_ENV)
    config = loaded.config
    assert [f.id for f in config.feeds] == ["aljazeera"]
    assert config.feeds[0].interval is not None
    assert config.feeds[0].interval.total_seconds() == 120
    assert sorted(config.channels) == ["analysts", "intel", "siem", "stdout"]
    slack = config.channels["intel"]
    assert isinstance(slack, SlackChannelConfig)
    assert slack.webhook_url.get_secret_value() == EXAMPLE_ENV["SLACK_WEBHOOK_URL"]
    assert config.rules[0].notify == ["intel", "analysts", "siem"]
    assert set(loaded.secret_values()) == set(EXAMPLE_ENV.values())


def test_readme_example_is_valid(tmp_path: Path) -> None:
    """The complete example in the README's configuration section must load."""
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    block = re.search(r"<!-- example-config -->\s*```yaml\n(.*?)```", readme, re.S)
    assert block, "README lost its <!-- example-config --> YAML block"
    write(tmp_path, "all.yaml", block.group(1))
    loaded = load_config(settings_for(tmp_path, smtp_host="localhost"), env=EXAMPLE_ENV)
    assert loaded.config.rules and loaded.config.feeds and loaded.config.channels


@pytest.mark.parametrize("doc", ["README.md", ".env.example"])
def test_every_setting_is_documented(doc: str) -> None:
    """The configuration reference and .env.example name every MONITOR_* setting."""
    text = (ROOT / doc).read_text(encoding="utf-8")
    missing = [
        f"MONITOR_{name.upper()}"
        for name in Settings.model_fields
        if not re.search(rf"\bMONITOR_{name.upper()}\b", text)
    ]
    assert missing == [], f"{doc} does not document {missing}"


def test_shipped_rules_are_valid() -> None:
    loaded = load_config(settings_for(ROOT / "rules"), env={})
    assert any(r.query == "Iran AND Russia AND drones" for r in loaded.config.rules)


def test_files_are_merged(tmp_path: Path) -> None:
    write(
        tmp_path,
        "a.yaml",
        """
        feeds:
          - {id: one, url: "http://127.0.0.1/one.xml"}
        channels:
          out: {type: console}
    """,
    )
    write(
        tmp_path,
        "b.yml",
        """
        feeds:
          - {id: two, url: "http://127.0.0.1/two.xml"}
        rules:
          - {id: r, query: "drones", feeds: [one, two]}
    """,
    )
    write(tmp_path, "notes.txt", "not: yaml: at all: [")
    loaded = load_config(settings_for(tmp_path), env={})
    assert [f.id for f in loaded.config.feeds] == ["one", "two"]
    assert [p.name for p in loaded.files] == ["a.yaml", "b.yml"]


def test_default_value_syntax(tmp_path: Path) -> None:
    write(
        tmp_path,
        "a.yaml",
        """
        feeds:
          - {id: one, url: "${FEED_BASE:-http://127.0.0.1:8080}/feed.xml"}
    """,
    )
    loaded = load_config(settings_for(tmp_path), env={})
    assert loaded.config.feeds[0].url == "http://127.0.0.1:8080/feed.xml"


def test_no_channels_means_console(tmp_path: Path) -> None:
    write(
        tmp_path,
        "a.yaml",
        """
        rules:
          - {id: r, query: drones}
    """,
    )
    loaded = load_config(settings_for(tmp_path), env={})
    assert list(loaded.config.channels) == ["console"]
    assert any("console" in str(w) for w in loaded.warnings)


BROKEN_CASES = [
    pytest.param(
        """
        feeds:
          - id: one
            url: http://127.0.0.1/feed.xml
            intervall: 2m
        """,
        r"a\.yaml:4: unknown key 'intervall'",
        id="unknown-key",
    ),
    pytest.param(
        """
        feeds:
          - {id: one, url: "http://127.0.0.1/1"}
          - {id: one, url: "http://127.0.0.1/2"}
        """,
        r"a\.yaml:3: duplicate feed id 'one'",
        id="duplicate-feed",
    ),
    pytest.param(
        """
        rules:
          - {id: r, query: drones}
          - {id: r, query: drones}
        """,
        r"a\.yaml:3: duplicate rule id 'r'",
        id="duplicate-rule",
    ),
    pytest.param(
        """
        channels:
          out: {type: console}
        rules:
          - id: r
            query: drones
            notify: [out, slack]
        """,
        r"a\.yaml:6: rule 'r' notifies unknown channel 'slack' \(channels: out\)",
        id="missing-channel",
    ),
    pytest.param(
        """
        rules:
          - id: r
            query: drones
            feeds: [nope]
        """,
        r"a\.yaml:4: rule 'r' names unknown feed 'nope'",
        id="missing-feed",
    ),
    pytest.param(
        """
        rules:
          - id: r
            query: Iran AND
        """,
        r"a\.yaml:3: rule 'r': bad query: .*\n.*Iran AND\n.*\^",
        id="bad-query",
    ),
    pytest.param(
        """
        channels:
          hook:
            type: webhook
            url: ${HOOK_URL}
        """,
        r"a\.yaml:4: environment variable HOOK_URL is not set",
        id="missing-var",
    ),
    pytest.param(
        """
        channels:
          hook:
            type: pigeon
        """,
        r"a\.yaml:3: unknown channel type",
        id="bad-channel-type",
    ),
    pytest.param(
        """
        feeds:
          - {id: one, url: "ftp://127.0.0.1/feed.xml"}
        """,
        r"a\.yaml:2: 'url' must start with http",
        id="bad-url",
    ),
    pytest.param(
        """
        feeds:
          - {id: one, url: "http://127.0.0.1/1", interval: soon}
        """,
        r"a\.yaml:2: 'interval': .*duration",
        id="bad-interval",
    ),
    pytest.param(
        """
        feeds: []
        ruels: []
        """,
        r"a\.yaml:2: unknown top-level key 'ruels'",
        id="unknown-section",
    ),
    pytest.param(
        """
        feeds:
          - {id: one, url: "http://127.0.0.1/1"
        """,
        r"a\.yaml:\d+: invalid YAML",
        id="invalid-yaml",
    ),
    pytest.param(
        """
        channels:
          hook:
            type: webhook
            url: http://127.0.0.1/hook
            secret: whsec_not*base64!
        """,
        r"a\.yaml:5: 'secret': .*must be base64",
        id="bad-webhook-secret",
    ),
    pytest.param(
        """
        channels:
          mail: {type: email, to: [a@example.org]}
        """,
        r"a\.yaml:2: email channel 'mail' needs MONITOR_SMTP_HOST",
        id="email-without-smtp",
    ),
]


@pytest.mark.parametrize(("text", "expected"), BROKEN_CASES)
def test_errors_name_file_and_line(tmp_path: Path, text: str, expected: str) -> None:
    write(tmp_path, "a.yaml", text)
    errors = "\n".join(errors_of(tmp_path))
    assert re.search(expected, errors), errors


def test_errors_in_second_file_point_to_that_file(tmp_path: Path) -> None:
    write(
        tmp_path,
        "a.yaml",
        """
        feeds:
          - {id: one, url: "http://127.0.0.1/1"}
          - {id: two, url: "http://127.0.0.1/2"}
    """,
    )
    write(
        tmp_path,
        "b.yaml",
        """
        # comment
        feeds:
          - {id: three, url: "http://127.0.0.1/3", colour: red}
    """,
    )
    errors = errors_of(tmp_path)
    assert any(e.startswith(f"{tmp_path / 'b.yaml'}:3: unknown key 'colour'") for e in errors), (
        errors
    )


def test_every_problem_is_reported_at_once(tmp_path: Path) -> None:
    write(
        tmp_path,
        "a.yaml",
        """
        channels:
          out: {type: console}
        rules:
          - {id: r1, query: "(drones", notify: [out]}
          - {id: r2, query: drones, notify: [gone]}
    """,
    )
    errors = errors_of(tmp_path)
    assert len(errors) == 2, errors


def test_webhook_secret_is_optional(tmp_path: Path) -> None:
    write(
        tmp_path,
        "a.yaml",
        """
        channels:
          hook: {type: webhook, url: "http://127.0.0.1/hook"}
    """,
    )
    channel = load_config(settings_for(tmp_path), env={}).config.channels["hook"]
    assert isinstance(channel, WebhookChannelConfig)
    assert channel.secret is None


def test_missing_rules_dir(tmp_path: Path) -> None:
    errors = errors_of(tmp_path / "nope")
    assert "rules directory not found" in errors[0]


def test_entities_add_and_override(tmp_path: Path) -> None:
    write(
        tmp_path,
        "a.yaml",
        """
        entities:
          Acme: [Acme Corp, {text: ACME, case_sensitive: true}]
          Iran: [Tehran, Islamic Republic]
    """,
    )
    catalog = load_config(settings_for(tmp_path), env={}).catalog
    acme = catalog.get("Acme")
    assert acme is not None
    assert {(a.text, a.case_sensitive) for a in acme.aliases} >= {
        ("Acme Corp", False),
        ("ACME", True),
    }
    iran = catalog.get("Iran")
    assert iran is not None and "Iranian" not in {a.text for a in iran.aliases}


def test_bad_entity_override_names_file_and_line(tmp_path: Path) -> None:
    write(
        tmp_path,
        "a.yaml",
        """
        entities:
          Acme: [Acme Corp]
          USA: [Yankees]
    """,
    )
    errors = "\n".join(errors_of(tmp_path))
    assert re.search(r"a\.yaml:3: entities: .*'USA' is an alias of 'United States'", errors), errors


def test_unknown_entity_is_a_config_error(tmp_path: Path) -> None:
    write(
        tmp_path,
        "a.yaml",
        """
        rules:
          - id: r
            query: "@Atlantis AND drones"
    """,
    )
    errors = "\n".join(errors_of(tmp_path))
    assert re.search(r"a\.yaml:3: rule 'r': bad query: .*Atlantis", errors), errors


def test_configured_entity_can_be_used_in_a_rule(tmp_path: Path) -> None:
    write(
        tmp_path,
        "a.yaml",
        """
        entities:
          Atlantis: [Atlantis, Atlantean]
        rules:
          - {id: r, query: "@Atlantis AND drones"}
    """,
    )
    assert load_config(settings_for(tmp_path), env={}).config.rules[0].id == "r"


def test_max_group_on_a_one_alert_channel_is_a_warning(tmp_path: Path) -> None:
    write(
        tmp_path,
        "a.yaml",
        """
        channels:
          siem:
            type: webhook
            url: https://hooks.example.org/x
            max_group: 5
          team:
            type: slack
            webhook_url: https://hooks.slack.com/services/T/B/X
            max_group: 5
        """,
    )
    loaded = load_config(settings_for(tmp_path), env={})
    assert [str(w) for w in loaded.warnings if "max_group has" in str(w)] == [
        f"{tmp_path / 'a.yaml'}:5: channel 'siem': max_group has no effect, "
        "a webhook channel sends one message per alert"
    ]
