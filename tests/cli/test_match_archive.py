"""``news-monitor match QUERY --archive``: the archived articles of the configured store.

Each test fills a SqliteStore in ``MONITOR_DATA_DIR`` through ``archive_articles`` (real
time: the command reads the clock) and drives the CLI in-process through ``main``.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path

import pytest

from monitor.cli.main import main
from monitor.matching.highlight import clip
from monitor.model import ArchivedArticle, Article, Hit
from monitor.store.redis import RedisStore
from monitor.store.sqlite import FILE_NAME, SqliteStore
from tests.conftest import free_port
from tests.store.support import delete_prefix

HOUR, DAY = 3600.0, 86_400.0
CONFIG = """\
feeds:
  - {id: bbc, url: "https://feeds.bbci.co.uk/news/world/rss.xml", name: BBC News}
  - {id: reuters, url: "https://example.com/reuters.xml"}
channels:
  out: {type: console}
entities:
  Acme: [Acme Corp]
"""


@pytest.fixture(autouse=True)
def _env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.chdir(tmp_path)  # no stray .env is read
    for name in (
        "MONITOR_REDIS_URL",
        "MONITOR_ARCHIVE_RETENTION",
        "MONITOR_ARCHIVE_MAX_ARTICLES",
        "MONITOR_LOG_FORMAT",
    ):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("MONITOR_DATA_DIR", str(tmp_path / "data"))
    rules = tmp_path / "rules"
    rules.mkdir()
    (rules / "watch.yaml").write_text(CONFIG)
    monkeypatch.setenv("MONITOR_RULES_DIR", str(rules))


def article(n: int, title: str, text: str = "", feed: str = "bbc", **more: object) -> Article:
    published = more.get("published", datetime(2027, 1, 2, 3, 4, tzinfo=UTC))
    assert published is None or isinstance(published, datetime)
    return Article(
        id=f"art-{n}",
        feed_id=feed,
        url=f"https://example.com/{n}",
        title=title,
        text=text,
        published=published,
    )


def archive(tmp_path: Path, entries: Sequence[tuple[Article, float]]) -> None:
    """Archive each article as archived ``age`` seconds ago, in the store of the settings."""

    async def fill() -> None:
        (tmp_path / "data").mkdir(exist_ok=True)
        store = await SqliteStore.open(tmp_path / "data" / FILE_NAME)
        now = time.time()
        try:
            await store.archive_articles(
                [ArchivedArticle(a, now - age) for a, age in entries], now, 7 * DAY, 100_000
            )
        finally:
            await store.close()

    asyncio.run(fill())


def three(tmp_path: Path) -> None:
    archive(
        tmp_path,
        [
            (article(1, "Drones over Kyiv", "Russia launched drones at night."), 2 * HOUR),
            (article(2, "Markets rally", "Stocks rose."), 1 * HOUR),
            (
                article(3, "Drone strike", "More drones.", feed="reuters", published=None),
                3 * DAY,
            ),
        ],
    )


def test_prints_each_match_oldest_first_then_a_count(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    three(tmp_path)
    assert main(["match", "--color=never", "drones", "--archive"]) == 0
    out = capsys.readouterr().out
    assert out.splitlines() == [
        "[Drone] strike",
        "  reuters · no date",
        "  https://example.com/3",
        "  1: More [drones].",
        "  match: 2 hit(s): drones ×2",
        "[Drones] over Kyiv",
        "  BBC News (bbc) · 2027-01-02 03:04 UTC",
        "  https://example.com/1",
        "  1: Russia launched [drones] at night.",
        "  match: 2 hit(s): drones ×2",
        "2 of 3 archived articles match (since 7d)",
    ]


def test_since_looks_back_less_far(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    three(tmp_path)
    assert main(["match", "--color=never", "drones", "--archive", "--since", "24h"]) == 0
    out = capsys.readouterr().out
    assert "Drone strike" not in out and "[Drones] over Kyiv" in out
    assert out.splitlines()[-1] == "1 of 2 archived articles match (since 24h)"


def test_count_line_groups_thousands(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    filler = [(article(n, f"Weather report {n}", "Sunny."), HOUR) for n in range(100, 1301)]
    drones = [(article(n, "Drones again", "drones"), HOUR) for n in range(3)]
    archive(tmp_path, filler + drones)
    assert main(["match", "drones", "--archive", "--since=1d"]) == 0
    assert capsys.readouterr().out.splitlines()[-1] == (
        "3 of 1,204 archived articles match (since 1d)"
    )


def test_entities_come_from_the_config(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    archive(tmp_path, [(article(1, "Acme Corp buys a rival", ""), HOUR)])
    assert main(["match", "--color=never", "@Acme", "--archive"]) == 0
    assert "[Acme Corp] buys a rival" in capsys.readouterr().out


def test_no_match_exits_1(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    three(tmp_path)
    assert main(["match", "volcano", "--archive"]) == 1
    captured = capsys.readouterr()
    assert captured.out == "0 of 3 archived articles match (since 7d)\n"
    assert "no match" in captured.err


def test_an_empty_archive_matches_nothing(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["match", "drones", "--archive"]) == 1
    assert capsys.readouterr().out == "0 of 0 archived articles match (since 7d)\n"


def test_long_lines_are_cut_around_their_hits(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    text = "word " * 1000 + "drones " + "word " * 1000
    archive(tmp_path, [(article(1, "Long read", text), HOUR)])
    assert main(["match", "--color=never", "drones", "--archive"]) == 0
    [line] = [x for x in capsys.readouterr().out.splitlines() if x.startswith("  1: ")]
    assert line.startswith("  1: …") and line.endswith("…")
    assert "[drones]" in line and len(line) < 200


@pytest.mark.parametrize("since", ["soon", "0", "-1h"])
def test_bad_since_exits_2(since: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["match", "drones", "--archive", f"--since={since}"]) == 2
    assert "--since" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["match", "--since", "24h", "drones", "-"], "--since needs --archive"),
        (["match", "--archive", "drones", "file.txt"], "not a FILE"),
        (["match", "drones", "--archive", "--explain"], "--explain"),
    ],
)
def test_usage_errors_exit_2(
    argv: list[str], message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(argv) == 2
    assert message in capsys.readouterr().err


@pytest.mark.parametrize("query", ["drones AND (", "@Atlantis"])
def test_bad_query_exits_2(query: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["match", query, "--archive"]) == 2
    assert "bad query" in capsys.readouterr().err


def test_unreachable_store_is_one_error_line_and_exit_1(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("MONITOR_REDIS_URL", f"redis://:hunter2@127.0.0.1:{free_port()}/0")
    assert main(["match", "drones", "--archive"]) == 1
    captured = capsys.readouterr()
    assert captured.out == ""
    # (The test run's own MONITOR_TEST_* variables are warned about as unknown settings.)
    [error] = [x for x in captured.err.splitlines() if not x.startswith("warning: unknown")]
    assert error.startswith("error: state store unavailable: ")
    assert "hunter2" not in error


def test_rules_dir_option_names_the_config(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("MONITOR_RULES_DIR", str(tmp_path / "missing"))
    archive(tmp_path, [(article(1, "Acme Corp buys a rival", ""), HOUR)])
    argv = ["match", "@Acme", "--archive", "--rules-dir", str(tmp_path / "rules")]
    assert main(argv) == 0
    assert main(["match", "@Acme", "--archive"]) == 2  # the config of MONITOR_RULES_DIR
    assert "rules directory not found" in capsys.readouterr().err


def test_clip_keeps_the_parts_around_the_hits() -> None:
    line = "a" * 50 + "X" + "b" * 50 + "Y" + "c" * 50
    hits = [Hit("text", 50, 51, "x"), Hit("text", 101, 102, "y")]
    shown, moved = clip(line, hits, 5)
    assert shown == "…aaaaaXbbbbb … bbbbbYccccc…"
    assert [shown[h.start : h.end] for h in moved] == ["X", "Y"]
    assert clip("short X", [Hit("text", 6, 7, "x")], 80) == ("short X", [Hit("text", 6, 7, "x")])


@pytest.mark.redis
def test_reads_the_archive_of_a_redis_store(
    redis_server_url: str,
    redis_prefix: str,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setenv("MONITOR_REDIS_URL", redis_server_url)
    monkeypatch.setenv("MONITOR_REDIS_PREFIX", redis_prefix)

    async def fill() -> None:
        store = RedisStore.from_url(redis_server_url, redis_prefix)
        now = time.time()
        try:
            entries = [ArchivedArticle(article(1, "Drones over Kyiv"), now - HOUR, "story-1")]
            await store.archive_articles(entries, now, 7 * DAY, 100_000)
        finally:
            await store.close()

    asyncio.run(fill())
    try:
        assert main(["match", "--color=never", "drones", "--archive", "--since", "2h"]) == 0
        out = capsys.readouterr().out
        assert out.splitlines()[0] == "[Drones] over Kyiv"
        assert out.splitlines()[-1] == "1 of 1 archived articles match (since 2h)"
    finally:
        asyncio.run(delete_prefix(redis_server_url, redis_prefix))
