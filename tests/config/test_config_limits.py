"""Config bombs (issue 17, item 2): a rules file cannot exhaust memory, recurse without end
or keep ``check`` busy for minutes, and every YAML error is a ``file:line`` message."""

from __future__ import annotations

import time
import tracemalloc
from pathlib import Path

import pytest

from monitor.cli.main import main
from monitor.config import load, reading
from monitor.config.load import load_config
from monitor.errors import ConfigError
from monitor.settings import Settings

#: The classic "billion laughs": nine levels of nine aliases, 10^9 strings once expanded.
BILLION_LAUGHS = (
    'a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]\n'
    + "".join(
        f"{b}: &{b} [{','.join([f'*{a}'] * 9)}]\n"
        for a, b in zip("abcdefgh", "bcdefghi", strict=True)
    )
    + "rules: *i\n"
)


def errors_of(rules_dir: Path) -> list[str]:
    settings = Settings(_env_file=None, rules_dir=rules_dir)  # type: ignore[call-arg]
    with pytest.raises(ConfigError) as info:
        load_config(settings, env={})
    return [str(issue).replace(f"{rules_dir}/", "") for issue in info.value.issues]


def write(directory: Path, name: str, text: str) -> Path:
    path = directory / name
    path.write_text(text, encoding="utf-8")
    return path


def test_limits_are_the_documented_ones() -> None:
    assert reading.MAX_FILE_BYTES == 5 * 1024 * 1024
    assert reading.MAX_NODES == 1_000_000
    assert reading.MAX_ALIAS_NODES == 100_000
    assert reading.MAX_DEPTH == 100
    assert (load.MAX_RULES, load.MAX_FEEDS, load.MAX_CHANNELS) == (100_000, 100_000, 1_000)


def test_billion_laughs_is_refused_quickly_in_little_memory(tmp_path: Path) -> None:
    write(tmp_path, "a.yaml", BILLION_LAUGHS)
    assert len(BILLION_LAUGHS) < 1100
    tracemalloc.start()
    started = time.monotonic()
    try:
        errors = errors_of(tmp_path)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert errors == [
        "a.yaml:6: YAML aliases expand to more than 100,000 nodes in one file (at alias '*e'); "
        "write the values out, or use fewer aliases"
    ]
    assert peak < 50_000_000, f"peak {peak:,} bytes"
    assert time.monotonic() - started < 20


def test_recursive_alias_is_an_error_not_a_recursion_error(tmp_path: Path) -> None:
    write(tmp_path, "a.yaml", "feeds: []\nrules: &x [*x]\n")
    assert errors_of(tmp_path) == [
        "a.yaml:2: recursive alias '*x': it is inside the value of '&x' it refers to"
    ]


def test_recursive_alias_in_a_mapping(tmp_path: Path) -> None:
    write(tmp_path, "a.yaml", "channels:\n  c: &c\n    type: console\n    again: *c\n")
    assert errors_of(tmp_path) == [
        "a.yaml:4: recursive alias '*c': it is inside the value of '&c' it refers to"
    ]


def test_oversized_file_is_not_read(tmp_path: Path) -> None:
    big = write(tmp_path, "big.yaml", "feeds: []\n" + "#" * (5 * 1024 * 1024) + "\n")
    assert big.stat().st_size > reading.MAX_FILE_BYTES
    write(tmp_path, "ok.yaml", "rules:\n  - {id: r, query: drones}\n")
    started = time.monotonic()
    assert errors_of(tmp_path) == [
        "big.yaml: file is larger than 5 MB (5,242,880 bytes), the most a config file may be; "
        "split it into several files"
    ]
    assert time.monotonic() - started < 5


def test_a_file_of_exactly_the_limit_is_read(tmp_path: Path) -> None:
    text = "rules: []\n"
    write(tmp_path, "a.yaml", text + "#" * (reading.MAX_FILE_BYTES - len(text) - 1) + "\n")
    settings = Settings(_env_file=None, rules_dir=tmp_path)  # type: ignore[call-arg]
    assert load_config(settings, env={}).config.rules == []


def test_too_many_rules_all_files_together(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(load, "MAX_RULES", 3)
    write(tmp_path, "a.yaml", "rules:\n  - {id: r1, query: a}\n  - {id: r2, query: b}\n")
    write(
        tmp_path,
        "b.yaml",
        "rules:\n  - {id: r3, query: c}\n  - {id: r4, query: d}\n  - {id: r5, query: e}\n",
    )
    assert errors_of(tmp_path) == [
        "b.yaml:3: too many rules: at most 3 may be configured, all files together; "
        "the rules from here on are not loaded"
    ]


def test_too_many_feeds_and_channels(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(load, "MAX_FEEDS", 1)
    monkeypatch.setattr(load, "MAX_CHANNELS", 2)
    write(
        tmp_path,
        "a.yaml",
        "feeds:\n"
        "  - {id: a, url: 'https://a.example/'}\n"
        "  - {id: b, url: 'https://b.example/'}\n"
        "channels:\n"
        "  one: {type: console}\n"
        "  two: {type: console}\n"
        "  three: {type: console}\n",
    )
    assert errors_of(tmp_path) == [
        "a.yaml:3: too many feeds: at most 1 may be configured, all files together; "
        "the feeds from here on are not loaded",
        "a.yaml:7: too many channels: at most 2 may be configured, all files together; "
        "the channels from here on are not loaded",
    ]


def test_the_rule_limit_itself_is_enforced(tmp_path: Path) -> None:
    """100,001 rules through one alias-free flow list: refused at the 100,001st, the rules
    beyond the cap are never validated."""
    rules = ",".join(f"{{id: r{i}, query: x}}" for i in range(load.MAX_RULES + 1))
    write(tmp_path, "a.yaml", f"rules: [{rules}]\n")
    with pytest.raises(ConfigError) as info:
        load_config(Settings(_env_file=None, rules_dir=tmp_path), env={})  # type: ignore[call-arg]
    messages = [issue.message for issue in info.value.issues]
    assert messages == [
        "too many rules: at most 100,000 may be configured, all files together; "
        "the rules from here on are not loaded"
    ]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            "feeds:\n  - id: a\n    url: !!python/object:os.system x\n",
            "a.yaml:3: unknown tag '!!python/object:os.system' (only plain YAML values are read)",
        ),
        (
            "feeds:\n  - id: a\n    url: https://a.example/\n    interval: !!int abc\n",
            "a.yaml:4: 'abc' is not a valid !!int",
        ),
        ("rules: !!timestamp nope\n", "a.yaml:1: 'nope' is not a valid !!timestamp"),
        ("rules: !!bool maybe\n", "a.yaml:1: 'maybe' is not a valid !!bool"),
        (
            "rules: !!python/object/apply:os.system [ls]\n",
            "a.yaml:1: unknown tag '!!python/object/apply:os.system' "
            "(only plain lists and mappings are read)",
        ),
        (
            'feeds:\n  - id: "\x07"\n',
            "a.yaml:2: invalid YAML: character U+0007 is not allowed in YAML (a control character)",
        ),
        (
            "rules: *nope\n",
            "a.yaml:1: invalid YAML: alias '*nope' refers to no anchor '&nope' above it",
        ),
        (
            "feeds: &x []\nrules: &x []\n",
            "a.yaml:2: invalid YAML: anchor '&x' is defined twice (first at line 1)",
        ),
        (
            "feeds: []\n---\nrules: []\n",
            "a.yaml:2: invalid YAML: a second document ('---'); a config file holds one",
        ),
        (
            "rules: " + "[" * 101 + "]" * 101 + "\n",
            "a.yaml:1: lists and mappings nested more than 100 levels deep",
        ),
        (
            "base: &b {type: console}\nchannels:\n  c:\n    <<: *b\n",
            "a.yaml:4: merge keys ('<<') are not supported; write the keys out",
        ),
    ],
)
def test_yaml_constructor_and_composer_errors_are_file_line_messages(
    tmp_path: Path, text: str, expected: str
) -> None:
    write(tmp_path, "a.yaml", text)
    assert expected in errors_of(tmp_path)


def test_aliases_nested_past_the_depth_limit(tmp_path: Path) -> None:
    levels = "".join(f"  l{i}: &l{i} [*l{i - 1}]\n" for i in range(1, 120))
    write(tmp_path, "a.yaml", "entities:\n  l0: &l0 [[]]\n" + levels)
    # l{i} holds i + 2 levels; l97 (line 99), under the document and entities:, would make 101.
    assert "a.yaml:99: lists and mappings nested more than 100 levels deep" in errors_of(tmp_path)


def test_deep_nesting_of_a_large_file_is_refused_quickly(tmp_path: Path) -> None:
    depth = 1_000_000  # 2 MB: libyaml reads it, and stops at its own nesting limit
    write(tmp_path, "a.yaml", "rules: " + "[" * depth + "]" * depth + "\n")
    started = time.monotonic()
    (error,) = errors_of(tmp_path)
    assert error.startswith("a.yaml:1: invalid YAML: ")
    assert time.monotonic() - started < 10


def test_too_many_nodes_in_one_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(reading, "MAX_NODES", 50)
    write(
        tmp_path, "a.yaml", "rules:\n" + "".join(f"  - {{id: r{i}, query: x}}\n" for i in range(20))
    )
    assert errors_of(tmp_path) == [
        "a.yaml:11: more than 50 YAML nodes (keys, values and list items, aliases expanded) in "
        "one file; split it into several files"
    ]


def test_plain_aliases_still_work_and_errors_point_at_the_alias(tmp_path: Path) -> None:
    write(
        tmp_path,
        "a.yaml",
        "channels:\n"
        "  a: {type: console}\n"
        "  b: {type: console}\n"
        "rules:\n"
        "  - {id: r1, query: drones, notify: &both [a, b]}\n"
        "  - {id: r2, query: Iran, notify: *both}\n"
        "  - id: r3\n"
        "    query: Russia\n"
        "    notify: &bad [a, nope]\n"
        "  - id: r4\n"
        "    query: Russia\n"
        "    notify: *bad\n",
    )
    errors = errors_of(tmp_path)
    assert errors == [
        "a.yaml:9: rule 'r3' notifies unknown channel 'nope' (channels: a, b)",
        "a.yaml:12: rule 'r4' notifies unknown channel 'nope' (channels: a, b)",
    ]


def test_check_prints_yaml_errors_without_a_traceback(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    rules = tmp_path / "rules"
    rules.mkdir()
    write(rules, "a.yaml", "rules: &x [*x]\n")
    write(rules, "b.yaml", BILLION_LAUGHS.replace("rules:", "feeds:"))
    write(rules, "c.yaml", "feeds:\n  - id: a\n    url: !!python/object/new:os.system [x]\n")
    assert main(["check", "--rules-dir", str(rules)]) == 2
    err = capsys.readouterr().err.replace(f"{rules}/", "")
    assert "Traceback" not in err
    assert err.splitlines() == [
        "a.yaml:1: recursive alias '*x': it is inside the value of '&x' it refers to",
        "b.yaml:6: YAML aliases expand to more than 100,000 nodes in one file (at alias '*e'); "
        "write the values out, or use fewer aliases",
        "c.yaml:3: unknown tag '!!python/object/new:os.system' "
        "(only plain lists and mappings are read)",
        "error: invalid config (3 problem(s)); nothing started",
    ]
