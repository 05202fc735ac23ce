"""The multilingual case table through ``news-monitor match`` and through a YAML rules
file (``check``, then the daemon's rule set); ``match --explain`` shows the language and
the folded forms."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
import yaml

from monitor.app import build_ruleset
from monitor.cli.main import main
from monitor.config.load import load_config
from monitor.model import Article
from monitor.settings import Settings
from tests.matching.multilingual_cases import CASES

LANGUAGE_CASES = [case for case in CASES if case[0]]


@pytest.fixture(autouse=True)
def _clean_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.chdir(tmp_path)  # no stray .env is read
    for name in [n for n in os.environ if n.startswith("MONITOR_")]:
        monkeypatch.delenv(name)


@pytest.mark.parametrize(("language", "text", "query", "expected"), LANGUAGE_CASES)
def test_case_table_through_match(
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    language: str,
    text: str,
    query: str,
    expected: bool,
) -> None:
    source = tmp_path / "article.txt"
    source.write_text(text, encoding="utf-8")
    code = main(["match", "--color=never", "--lang", language, query, str(source)])
    assert code == (0 if expected else 1), capsys.readouterr()


def test_match_detects_the_language_of_a_text(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    source = tmp_path / "article.txt"
    source.write_text(
        "El Gobierno anunció el martes nuevas sanciones contra Teherán por el envío de drones.",
        encoding="utf-8",
    )
    assert main(["match", "--color=never", "--explain", "sanción AND @Iran", str(source)]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[:4] == [
        "# language: es",
        "✓ AND",
        "  ✓ sanción ×1 [es sancion: sanciones ×1]",
        "  ✓ @Iran ×1 (Teherán ×1)",
    ]


def test_match_reads_a_feeds_declared_language(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    feed = tmp_path / "feed.xml"
    feed.write_text(
        '<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel><title>x</title>'
        "<language>ru</language><item><title>Санкции</title>"
        "<description>Новые санкции против Ирана.</description><guid>1</guid></item>"
        "</channel></rss>",
        encoding="utf-8",
    )
    assert main(["match", "--color=never", "санкция AND @Iran AND lang:ru", str(feed)]) == 0
    assert "1 of 1 entries match" in capsys.readouterr().out


def test_bad_lang_option(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["match", "--lang", "spanish", "x", "-"]) == 2
    assert "--lang" in capsys.readouterr().err


def write_rules(rules: Path) -> None:
    rules.mkdir()
    (rules / "feeds.yaml").write_text("feeds:\n  - {id: f, url: 'https://example.org/rss'}\n")
    watch = {
        "channels": {"out": {"type": "console"}},
        "rules": [{"id": f"r{i}", "query": case[2]} for i, case in enumerate(CASES)],
    }
    (rules / "watch.yaml").write_text(yaml.safe_dump(watch, allow_unicode=True), "utf-8")


def test_case_table_through_a_yaml_rules_file(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    rules = tmp_path / "rules"
    write_rules(rules)
    assert main(["check", "--rules-dir", str(rules)]) == 0
    err = capsys.readouterr().err
    assert "note: rule 'r3' names lang:es: its terms fold as es (Snowball spanish)" in err
    ruleset = build_ruleset(load_config(Settings(rules_dir=rules)))
    for i, (language, text, _, expected) in enumerate(CASES):
        item = Article(id="a", feed_id="f", url="", title="", text=text, language=language)
        assert (f"r{i}" in {m.rule_id for m in ruleset.match(item)}) is expected, text
