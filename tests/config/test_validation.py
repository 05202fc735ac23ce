"""Config validation (issue 10): every problem in one pass, http(s) URLs with a host, the
nearest valid key or channel type suggested, and a rule's optional ``backfill``."""

from __future__ import annotations

import textwrap
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError

from monitor.config.load import load_config
from monitor.config.models import RuleConfig
from monitor.delivery.channel_config import host_name_problem, http_url_problem, url_preview
from monitor.delivery.channels import SlackChannelConfig, WebhookChannelConfig
from monitor.errors import ConfigError, nearest
from monitor.settings import Settings

SECRET = "T0AAAA/B0BBBB/s3cr3tT0k3n"


def write(directory: Path, name: str, text: str) -> Path:
    path = directory / name
    path.write_text(textwrap.dedent(text).lstrip("\n"), encoding="utf-8")
    return path


def settings_for(rules_dir: Path, **overrides: Any) -> Settings:
    return Settings(_env_file=None, rules_dir=rules_dir, **overrides)


def errors_of(rules_dir: Path, env: dict[str, str] | None = None, **overrides: Any) -> list[str]:
    with pytest.raises(ConfigError) as info:
        load_config(settings_for(rules_dir, **overrides), env=env or {})
    return [str(issue) for issue in info.value.issues]


def errors_in(tmp_path: Path, text: str, **overrides: Any) -> list[str]:
    """The errors of a one-file config, without the directory (``a.yaml:3: ...``)."""
    write(tmp_path, "a.yaml", text)
    return [e.removeprefix(f"{tmp_path}/") for e in errors_of(tmp_path, None, **overrides)]


# --- one pass ---------------------------------------------------------------------------------


def test_every_problem_of_every_file_and_stage_is_reported_in_one_pass(tmp_path: Path) -> None:
    write(
        tmp_path,
        "1-feeds.yaml",
        """
        feeds:
          - id: bbc
            url: https://feeds.bbci.co.uk/news/world/rss.xml
            intervall: 2m
          - id: aljazeera
            url: https://www.aljazeera.com/xml/rss/all.xml
          - id: bbc
            url: https://example.org/rss.xml
        """,
    )
    write(tmp_path, "2-broken.yaml", "channels:\n  ops: {type: console\n")
    write(
        tmp_path,
        "3-watch.yaml",
        f"""
        channels:
          team:
            type: slack
            webhook_url: hooks.slack.com/services/{SECRET}
          desk: {{type: console}}
        rules:
          - id: r1
            query: Iran AND
            notify: [desk]
          - id: r2
            query: drones
            notify: [tema]
            feeds: [bbc, cnn]
          - id: r1
            query: drones
        """,
    )
    errors = [e.removeprefix(f"{tmp_path}/") for e in errors_of(tmp_path)]
    assert errors == [
        "1-feeds.yaml:4: unknown key 'intervall' in feed 'bbc'; did you mean 'interval'?",
        "1-feeds.yaml:7: duplicate feed id 'bbc'",
        "2-broken.yaml:3: invalid YAML: expected ',' or '}', but got '<stream end>'",
        "3-watch.yaml:4: 'webhook_url' must start with http:// or https://, got 'hooks.slack.com…'",
        "3-watch.yaml:8: rule 'r1': bad query: expected a term, phrase, wildcard, entity or "
        "'(' after AND\n  Iran AND\n          ^",
        "3-watch.yaml:12: rule 'r2' notifies unknown channel 'tema'; did you mean 'team'? "
        "(channels: desk, team; not counting 2-broken.yaml, which could not be loaded)",
        "3-watch.yaml:13: rule 'r2' names unknown feed 'cnn' "
        "(not counting 2-broken.yaml, which could not be loaded)",
        "3-watch.yaml:14: duplicate rule id 'r1'",
    ]
    assert not any(SECRET in e for e in errors)


def test_an_invalid_entry_still_counts_for_the_cross_checks(tmp_path: Path) -> None:
    # The feed and the channel do not validate, but they exist: the rule naming them is fine,
    # and the rule's own bad key does not stop its query from being checked.
    errors = errors_in(
        tmp_path,
        """
        feeds:
          - {id: one, url: "http://127.0.0.1/1", colour: red}
        channels:
          out: {type: console, max_group: 0}
        rules:
          - {id: r, query: "(drones", feeds: [one], notify: [out], notfy: [out]}
        """,
    )
    assert errors == [
        "a.yaml:2: unknown key 'colour' in feed 'one' (valid keys: id, url, interval, name, "
        "silent_after, allow_private_addresses, headers, user_agent, cookies, auth, proxy, "
        "fulltext, fulltext_min_chars, fulltext_max_per_poll, language)",
        "a.yaml:4: 'max_group': Input should be greater than or equal to 1",
        "a.yaml:6: unknown key 'notfy' in rule 'r'; did you mean 'notify'?",
        "a.yaml:6: rule 'r': bad query: unclosed '('\n  (drones\n  ^",
    ]


def test_an_unset_variable_is_reported_once(tmp_path: Path) -> None:
    errors = errors_in(
        tmp_path,
        """
        channels:
          hook: {type: webhook, url: "${HOOK_URL}"}
          team: {type: slack, webhook_url: "${SLACK_HOOK}/services/x"}
        rules:
          - {id: r, query: drones, notify: ["${CHANNEL}"]}
        """,
    )
    assert errors == [
        "a.yaml:2: environment variable HOOK_URL is not set "
        "(set it, or write ${HOOK_URL:-default})",
        "a.yaml:3: environment variable SLACK_HOOK is not set "
        "(set it, or write ${SLACK_HOOK:-default})",
        "a.yaml:5: environment variable CHANNEL is not set (set it, or write ${CHANNEL:-default})",
    ]


def test_problems_are_sorted_by_file_and_line(tmp_path: Path) -> None:
    write(tmp_path, "b.yaml", "rules:\n  - {id: r, query: drones, notify: [x]}\nruels: []\n")
    write(tmp_path, "a.yaml", "feeds:\n  - {id: f, url: 'gopher://h.example/'}\n")
    errors = [e.removeprefix(f"{tmp_path}/") for e in errors_of(tmp_path)]
    assert [e.split(": ", 1)[0] for e in errors] == ["a.yaml:2", "b.yaml:2", "b.yaml:3"]


# --- URLs -------------------------------------------------------------------------------------

URL_CASES = [
    pytest.param(f"ftp://hooks.example.org/{SECRET}", "must start with http:// or https://, "
                 "got 'ftp://hooks.example.org…'", id="scheme"),
    pytest.param(f"hooks.slack.com/services/{SECRET}", "must start with http:// or https://, "
                 "got 'hooks.slack.com…'", id="no-scheme"),
    pytest.param(SECRET.replace("/", ""), "must start with http:// or https:// (the value is "
                 "not shown: it may be secret)", id="bare-token"),
    pytest.param(f"https:///{SECRET}", "has no valid host, got 'https://…'", id="no-host"),
    pytest.param("http://", "has no valid host, got 'http://'", id="nothing-after-scheme"),
    pytest.param(f"https://h.example:99999/{SECRET}", "is not a valid URL (a bad port or "
                 "address), got 'https://h.example:99999…'", id="bad-port"),
    pytest.param("https://user:pw@h.example:8/x", None, id="ok-with-user-info"),
    pytest.param("HTTP://h.example", None, id="ok-upper-case-scheme"),
]  # fmt: skip


@pytest.mark.parametrize(("url", "problem"), URL_CASES)
def test_http_url_problem(url: str, problem: str | None) -> None:
    assert http_url_problem(url) == problem


@pytest.mark.parametrize(
    ("channel", "field"),
    [("{type: slack, webhook_url: 'URL'}", "webhook_url"), ("{type: webhook, url: 'URL'}", "url")],
)
def test_channel_urls_name_the_field_and_only_scheme_and_host(
    tmp_path: Path, channel: str, field: str
) -> None:
    errors = errors_in(
        tmp_path, "channels:\n  out: " + channel.replace("URL", f"ftp://h.example/{SECRET}")
    )
    assert errors == [
        f"a.yaml:2: '{field}' must start with http:// or https://, got 'ftp://h.example…'"
    ]


def test_feed_url_must_be_http_with_a_host(tmp_path: Path) -> None:
    errors = errors_in(
        tmp_path,
        """
        feeds:
          - {id: a, url: "feeds.bbci.co.uk/news/rss.xml"}
          - {id: b, url: "https:///rss.xml"}
          - {id: c, url: "https://feeds.example.org/rss.xml"}
        """,
    )
    assert errors == [
        "a.yaml:2: 'url' must start with http:// or https://, got 'feeds.bbci.co.uk…'",
        "a.yaml:3: 'url' has no valid host, got 'https://…'",
    ]


def test_channel_models_check_their_urls_and_keep_the_input_out_of_errors() -> None:
    with pytest.raises(ValidationError) as info:
        WebhookChannelConfig(type="webhook", url=f"https:///{SECRET}")
    assert [(e["type"], e["loc"]) for e in info.value.errors()] == [("http_url", ("url",))]
    assert SECRET not in str(info.value)
    with pytest.raises(ValidationError) as info:
        SlackChannelConfig(type="slack", webhook_url=f"x/{SECRET}")
    assert SECRET not in str(info.value)


@pytest.mark.parametrize(
    ("value", "preview"),
    [
        ("https://hooks.slack.com/services/T/B/x", "https://hooks.slack.com…"),
        ("https://u:pw@h.example:8080/x?token=1", "https://h.example:8080…"),
        ("http://h.example", "http://h.example"),
        ("hooks.slack.com/services/T/B/x", "hooks.slack.com…"),
        ("sometoken", "…"),
        ("not a url://x", "…"),
        ("https://[::1]:80/x", "https://[::1]:80…"),
    ],
)
def test_url_preview_shows_scheme_and_host_only(value: str, preview: str) -> None:
    assert url_preview(value) == preview


@pytest.mark.parametrize(
    ("host", "problem"),
    [
        ("smtp.example.org", None),
        ("mail", None),
        ("10.0.0.5", None),
        ("::1", None),
        ("smtp://mail.example.org", "got 'smtp://mail.example.org'"),
        ("smtp.example.org:587", "got 'smtp.example.org:587'"),
        ("smtp .example.org", "got '…'"),
        ("-bad-.example.org", "got '-bad-.example.org'"),
    ],
)
def test_host_name_problem(host: str, problem: str | None) -> None:
    found = host_name_problem(host)
    if problem is None:
        assert found is None
    else:
        assert found == f"must be a host name such as smtp.example.org, {problem}"


@pytest.mark.parametrize(
    ("host", "message"),
    [
        (
            "smtp://user:pw@mail.example.org",
            "email channel 'mail': MONITOR_SMTP_HOST must be a host name such as "
            "smtp.example.org, got 'smtp://mail.example.org…'",
        ),
        (
            "mail.example.org:465",
            "email channel 'mail': MONITOR_SMTP_HOST must be a host name such as "
            "smtp.example.org, got 'mail.example.org:465' (the port goes in MONITOR_SMTP_PORT)",
        ),
    ],
)
def test_email_channel_checks_the_smtp_host(tmp_path: Path, host: str, message: str) -> None:
    text = "channels:\n  mail: {type: email, to: [a@example.org]}\n"
    assert errors_in(tmp_path, text, smtp_host=host) == [f"a.yaml:2: {message}"]


def test_a_plain_smtp_host_is_fine(tmp_path: Path) -> None:
    write(tmp_path, "a.yaml", "channels:\n  mail: {type: email, to: [a@example.org]}\n")
    load_config(settings_for(tmp_path, smtp_host="smtp.example.org"), env={})


# --- did you mean -----------------------------------------------------------------------------

TYPO_CASES = [
    pytest.param(
        "feeds: []\nruels: []\n",
        "a.yaml:2: unknown top-level key 'ruels'; did you mean 'rules'?",
        id="section",
    ),
    pytest.param(
        "chanels: {}\nfoo: 1\n",
        "a.yaml:1: unknown top-level key 'chanels'; did you mean 'channels'?\n"
        "a.yaml:2: unknown top-level key 'foo' (valid top-level keys: feeds, channels, rules, "
        "entities, feed_health)",
        id="section-without-a-near-one",
    ),
    pytest.param(
        "feeds:\n  - id: bbc\n    url: http://h.example/rss\n    intervall: 2m\n",
        "a.yaml:4: unknown key 'intervall' in feed 'bbc'; did you mean 'interval'?",
        id="feed-key",
    ),
    pytest.param(
        "feeds:\n  - {url: http://h.example/rss, nmae: BBC}\n",
        "a.yaml:2: missing required key 'id' in this feed\n"
        "a.yaml:2: unknown key 'nmae' in this feed; did you mean 'name'?",
        id="feed-key-without-id",
    ),
    pytest.param(
        "rules:\n  - id: r\n    qeury: drones\n",
        "a.yaml:3: unknown key 'qeury' in rule 'r'; did you mean 'query'?",
        id="rule-key-instead-of-a-required-one",
    ),
    pytest.param(
        "channels:\n  team:\n    type: slack\n    webhook: http://h.example/x\n",
        "a.yaml:4: unknown key 'webhook' in channel 'team'; did you mean 'webhook_url'?",
        id="channel-key",
    ),
    pytest.param(
        "channels:\n  out:\n    type: console\n    colour: red\n",
        "a.yaml:4: unknown key 'colour' in channel 'out' (valid keys: type, group_wait, "
        "group_interval, rate_limit, max_group, templates)",
        id="channel-key-without-a-near-one",
    ),
    pytest.param(
        "channels:\n  team:\n    type: slak\n    webhook_url: http://h.example/x\n",
        "a.yaml:3: unknown channel type 'slak' in channel 'team'; did you mean 'slack'?",
        id="channel-type",
    ),
    pytest.param(
        "channels:\n  team:\n    type: pigeon\n",
        "a.yaml:3: unknown channel type 'pigeon' in channel 'team' (valid types: slack, email, "
        "webhook, console, apprise)",
        id="channel-type-without-a-near-one",
    ),
    pytest.param(
        "channels:\n  team:\n    typ: console\n",
        "a.yaml:3: unknown key 'typ' in channel 'team'; did you mean 'type'?",
        id="channel-type-key",
    ),
    pytest.param(
        "channels:\n  ops: {type: console}\nfeed_health:\n  notfy: [ops]\n",
        "a.yaml:4: unknown key 'notfy' in feed_health; did you mean 'notify'?",
        id="feed-health-key",
    ),
    pytest.param(
        "entities:\n  Acme: [{txt: ACME, case_sensitive: true}]\n",
        "a.yaml:2: unknown key 'txt' in entity 'Acme'; did you mean 'text'?",
        id="entity-alias-key",
    ),
    pytest.param(
        "channels:\n  team: {type: console}\nrules:\n  - {id: r, query: x, notify: [taem]}\n",
        "a.yaml:4: rule 'r' notifies unknown channel 'taem'; did you mean 'team'? (channels: team)",
        id="channel-reference",
    ),
    pytest.param(
        "feeds:\n  - {id: bbc-world, url: 'http://h.example/'}\n"
        "rules:\n  - {id: r, query: x, feeds: [bbc-wrold]}\n",
        "a.yaml:4: rule 'r' names unknown feed 'bbc-wrold'; did you mean 'bbc-world'?",
        id="feed-reference",
    ),
]


@pytest.mark.parametrize(("text", "expected"), TYPO_CASES)
def test_typos_get_the_nearest_valid_name(tmp_path: Path, text: str, expected: str) -> None:
    assert "\n".join(errors_in(tmp_path, text)) == expected


def test_other_entry_errors_name_the_entry(tmp_path: Path) -> None:
    errors = errors_in(
        tmp_path,
        """
        feeds:
          - "http://h.example/rss"
          - {id: "bad id", url: "http://h.example/rss"}
        channels:
          "my team": {type: console}
          pager: slack
          mail: {type: email, to: [a@example.org], digest_at: "7:30"}
        """,
        smtp_host="smtp.example.org",
    )
    assert errors == [
        "a.yaml:2: a feed must be a mapping (keys: id, url, interval, name, silent_after, "
        "allow_private_addresses, headers, user_agent, cookies, auth, proxy, fulltext, "
        "fulltext_min_chars, fulltext_max_per_poll, language), got a string",
        "a.yaml:3: 'id' may only contain letters, digits, '_', '.' and '-', and start with a "
        "letter or digit, got 'bad id'",
        "a.yaml:5: channel name 'my team' may only contain letters, digits, '_', '.' and '-', "
        "and start with a letter or digit",
        "a.yaml:6: channel 'pager' must be a mapping with a 'type' (one of: slack, email, "
        "webhook, console, apprise), got a string",
        "a.yaml:7: 'digest_at' must be a time of day HH:MM (UTC), got '7:30'",
    ]


def test_nearest() -> None:
    assert nearest("intervall", ["id", "url", "interval", "name"]) == "interval"
    assert nearest("colour", ["id", "url", "interval", "name"]) is None


# --- backfill ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "expected"),
    [("24h", timedelta(hours=24)), ("30m", timedelta(minutes=30)), ("0", timedelta(0)),
     (0, timedelta(0)), (None, None)],
)  # fmt: skip
def test_rule_backfill_is_an_optional_duration(value: object, expected: timedelta | None) -> None:
    data = {"id": "r", "query": "drones"} | ({} if value is None else {"backfill": value})
    assert RuleConfig.model_validate(data).backfill == expected


def test_rule_backfill_loads_from_yaml(tmp_path: Path) -> None:
    write(tmp_path, "a.yaml", "rules:\n  - {id: r, query: drones, backfill: 2h}\n")
    loaded = load_config(settings_for(tmp_path), env={})
    assert loaded.config.rules[0].backfill == timedelta(hours=2)


def test_bad_rule_backfill_is_an_error(tmp_path: Path) -> None:
    errors = errors_in(
        tmp_path,
        """
        rules:
          - {id: a, query: drones, backfill: -60}
          - {id: b, query: drones, backfill: soon}
        """,
    )
    assert errors == [
        "a.yaml:2: 'backfill': Value error, must be 0 or more",
        "a.yaml:3: 'backfill': Value error, expected a duration like 30s, 5m, 2h or 1d, got 'soon'",
    ]
