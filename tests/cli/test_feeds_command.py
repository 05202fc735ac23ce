"""``news-monitor feeds`` (the health table), ``feeds enable``, and the ``feed_health`` config.

The table and enable run on a MemoryStore with a frozen clock; the CLI
tests run ``main`` on a rules directory with the embedded SQLite store.
"""

from __future__ import annotations

import asyncio
import io
from pathlib import Path

import pytest

from monitor.cli.feeds import enable_feeds, list_feeds
from monitor.cli.main import main
from monitor.config.load import load_config
from monitor.config.models import FeedConfig, FeedHealthConfig
from monitor.errors import ConfigError
from monitor.model import FeedState
from monitor.store.memory import MemoryStore
from monitor.store.sqlite import FILE_NAME, SqliteStore
from tests.conftest import FrozenClock
from tests.factories import make_settings

OK = FeedConfig(id="ok", url="https://ok.example/rss")
FAILING = FeedConfig(id="failing", url="https://failing.example/rss?token=s3cret")
GONE = FeedConfig(id="gone", url="https://gone.example/rss")
QUIET = FeedConfig(id="quiet", url="https://quiet.example/rss")
MOVED = FeedConfig(id="moved", url="https://old.example/rss")
NEW = FeedConfig(id="new", url="https://new.example/rss")
FEEDS = [OK, FAILING, GONE, QUIET, MOVED, NEW]
HEALTH = FeedHealthConfig(notify=["ops"], silent_after="3d")


async def seeded(clock: FrozenClock) -> MemoryStore:
    now = clock.now
    store = MemoryStore()
    await store.put_feed_state(
        "ok",
        FeedState(
            url=OK.url,
            first_polled_at=now - 86400,
            last_success_at=now - 120,
            last_new_item_at=now - 3 * 3600,
            items_seen=42,
            next_poll_at=now + 180,
        ),
    )
    await store.put_feed_state(
        "failing",
        FeedState(
            url=FAILING.url,
            first_polled_at=now - 86400,
            last_success_at=now - 7200,
            consecutive_failures=4,
            failing_since=now - 7000,
            last_error="feed failing: https://failing.example/rss: HTTP 503 Service Unavailable",
            items_seen=3,
            next_poll_at=now + 1800,
        ),
    )
    await store.put_feed_state(
        "gone",
        FeedState(
            url=GONE.url,
            first_polled_at=now - 86400,
            last_success_at=now - 86400,
            consecutive_failures=1,
            failing_since=now - 3600,
            last_error="feed gone: https://gone.example/rss: HTTP 410 Gone",
            disabled_reason="HTTP 410 Gone",
            disabled_at=now - 3600,
        ),
    )
    await store.put_feed_state(
        "quiet",
        FeedState(
            url=QUIET.url,
            first_polled_at=now - 9 * 86400,
            last_success_at=now - 60,
            last_new_item_at=now - 4 * 86400,
            items_seen=7,
            # The daemon has not been running for a while.
            next_poll_at=now - 7200,
        ),
    )
    await store.put_feed_state(
        "moved",
        FeedState(
            url=MOVED.url,
            moved_to="https://new-home.example/feed?key=abc",
            first_polled_at=now - 600,
            last_success_at=now,
            last_new_item_at=now,
            items_seen=1,
            next_poll_at=now + 300,
        ),
    )
    return store


async def test_the_table_shows_each_feed_state(clock: FrozenClock) -> None:
    out = io.StringIO()
    await list_feeds(await seeded(clock), FEEDS, clock.now, feed_health=HEALTH, out=out)
    lines = out.getvalue().splitlines()
    header, *rows = lines[:7]
    assert header.split("  ")[0] == "FEED"
    for column in ("STATE", "LAST SUCCESS", "LAST NEW ITEM", "ITEMS", "NEXT POLL"):
        assert column in header
    # Aligned: every column starts at the same offset on every line.
    starts = [header.index(c) for c in ("STATE", "LAST SUCCESS", "LAST NEW ITEM")]
    by_id = {row.split()[0]: row for row in rows}
    assert by_id["ok"][starts[0] :].startswith("ok ")
    assert by_id["ok"][starts[1] :].startswith("2m ago")
    assert by_id["ok"][starts[2] :].startswith("3h ago")
    assert by_id["ok"].rstrip().endswith("42  in 3m")
    assert (
        "failing since 2027-01-15 06:03 UTC (4 failure(s): HTTP 503 Service Unavailable)"
        in by_id["failing"]
    )
    assert "in 30m" in by_id["failing"]
    assert "disabled since 2027-01-15 07:00 UTC (HTTP 410 Gone)" in by_id["gone"]
    assert by_id["gone"].rstrip().endswith("not polled")
    assert "silent since 2027-01-11 08:00 UTC" in by_id["quiet"]
    assert by_id["quiet"].rstrip().endswith("overdue 2h")
    assert "never polled" in by_id["new"] and by_id["new"].rstrip().endswith("0  -")
    notes = "\n".join(lines[7:])
    assert (
        "moved: moved permanently to https://new-home.example/feed and polled there; "
        "the watch config still says https://old.example/rss (update it to match)" in notes
    )
    assert "gone: not polled since it answered HTTP 410 Gone" in notes
    assert "news-monitor feeds enable gone" in notes
    assert "s3cret" not in out.getvalue() and "key=abc" not in out.getvalue()


async def test_without_feed_health_a_quiet_feed_is_just_ok(clock: FrozenClock) -> None:
    out = io.StringIO()
    await list_feeds(await seeded(clock), [QUIET], clock.now, feed_health=None, out=out)
    assert out.getvalue().splitlines()[1].split()[1] == "ok"


async def test_marks_for_an_edited_url_are_not_shown(clock: FrozenClock) -> None:
    store = await seeded(clock)
    edited = [FeedConfig(id="gone", url="https://gone.example/v2/rss")]
    out = io.StringIO()
    await list_feeds(store, edited, clock.now, feed_health=None, out=out)
    assert "disabled" not in out.getvalue()
    assert "failing since 2027-01-15 07:00 UTC (1 failure(s): HTTP 410 Gone)" in out.getvalue()


async def test_no_feeds(clock: FrozenClock) -> None:
    out = io.StringIO()
    await list_feeds(MemoryStore(), [], clock.now, feed_health=None, out=out)
    assert out.getvalue() == "no feeds configured\n"


async def test_enable_clears_the_410_mark(clock: FrozenClock) -> None:
    store = await seeded(clock)
    out, err = io.StringIO(), io.StringIO()
    assert await enable_feeds(store, FEEDS, ["gone"], out, err) == 0
    assert "enabled gone" in out.getvalue()
    state = await store.get_feed_state("gone")
    assert state is not None and not state.disabled and state.disabled_at is None
    assert state.consecutive_failures == 1, "the next success resets it"
    assert await enable_feeds(store, FEEDS, ["gone", "ok"], out, err) == 1
    assert "gone is not disabled" in err.getvalue() and "ok is not disabled" in err.getvalue()


async def test_enable_refuses_unknown_feeds_and_changes_nothing(clock: FrozenClock) -> None:
    store = await seeded(clock)
    err = io.StringIO()
    assert await enable_feeds(store, FEEDS, ["gone", "nope"], io.StringIO(), err) == 2
    assert "unknown feed(s) nope" in err.getvalue()
    state = await store.get_feed_state("gone")
    assert state is not None and state.disabled


# -- the command line -----------------------------------------------------------------


@pytest.fixture
def rules_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)  # no stray .env
    for name in ("MONITOR_RULES_DIR", "MONITOR_REDIS_URL", "MONITOR_SMTP_HOST"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("MONITOR_DATA_DIR", str(tmp_path / "data"))
    rules = tmp_path / "rules"
    rules.mkdir()
    (rules / "watch.yaml").write_text(
        "feeds:\n"
        "  - {id: gone, url: https://gone.example/rss}\n"
        "  - {id: fresh, url: https://fresh.example/rss}\n"
        "channels:\n"
        "  ops: {type: console}\n"
        "feed_health:\n"
        "  notify: [ops]\n"
        "  failing_after: 30m\n"
    )
    return rules


def test_feeds_and_enable_from_the_command_line(
    rules_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    async def seed() -> None:
        (tmp_path / "data").mkdir()
        store = await SqliteStore.open(tmp_path / "data" / FILE_NAME)
        await store.put_feed_state(
            "gone",
            FeedState(
                url="https://gone.example/rss",
                disabled_reason="HTTP 410 Gone",
                disabled_at=1_800_000_000.0,
                consecutive_failures=1,
            ),
        )
        await store.close()

    asyncio.run(seed())

    def run(*argv: str) -> int:
        return main(["feeds", "--rules-dir", str(rules_dir), *argv])

    assert run() == 0
    out = capsys.readouterr().out
    assert "disabled since 2027-01-15 08:00 UTC (HTTP 410 Gone)" in out
    assert "never polled" in out
    assert run("enable", "gone") == 0
    assert run("enable", "gone") == 1
    assert run("enable", "nope") == 2
    assert "unknown feed(s) nope" in capsys.readouterr().err
    assert run() == 0
    assert "disabled" not in capsys.readouterr().out
    # --rules-dir after the action works too.
    assert main(["feeds", "enable", "--rules-dir", str(rules_dir), "fresh"]) == 1


def test_an_invalid_config_exits_2(rules_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (rules_dir / "watch.yaml").write_text("feed_health:\n  notify: [pager]\n")
    assert main(["feeds", "--rules-dir", str(rules_dir)]) == 2
    err = capsys.readouterr().err
    assert f"{rules_dir / 'watch.yaml'}:2: feed_health notifies unknown channel 'pager'" in err


def test_an_unreachable_store_exits_1(
    rules_dir: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from tests.conftest import free_port

    monkeypatch.setenv("MONITOR_REDIS_URL", f"redis://127.0.0.1:{free_port()}/0")
    assert main(["feeds", "--rules-dir", str(rules_dir)]) == 1
    assert "state store unavailable" in capsys.readouterr().err


# -- the feed_health config -----------------------------------------------------------


def load(rules: Path, **files: str) -> list[str]:
    rules.mkdir(exist_ok=True)
    for name, text in files.items():
        (rules / f"{name}.yaml").write_text(text)
    try:
        loaded = load_config(make_settings(rules_dir=rules), env={})
    except ConfigError as e:
        return [str(issue) for issue in e.issues]
    return [f"warning: {w}" for w in loaded.warnings]


CHANNELS = "channels:\n  ops: {type: console}\n"


def test_a_valid_feed_health_section_loads(tmp_path: Path) -> None:
    rules = tmp_path / "rules"
    text = (
        CHANNELS
        + "feeds:\n  - {id: a, url: https://a.example/rss, silent_after: 12h}\n"
        + "feed_health:\n  notify: [ops]\n  failing_after: 2h\n  silent_after: 3d\n"
    )
    assert load(rules, watch=text) == []
    config = load_config(make_settings(rules_dir=rules), env={}).config
    assert config.feed_health is not None
    assert config.feed_health.failing_after.total_seconds() == 7200
    assert config.feed_health.silent_after is not None
    assert config.feeds[0].silent_after is not None


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("feed_health:\n  notify: [pager]\n", "4: feed_health notifies unknown channel 'pager'"),
        ("feed_health:\n  notify: []\n", "4: 'notify': List should have at least 1 item"),
        ("feed_health:\n  failing_after: 1h\n", "missing required key 'notify'"),
        ("feed_health:\n  notify: [ops]\n  failing_after: soon\n", "5: 'failing_after': Value"),
        ("feed_health:\n  notify: [ops]\n  silent_after: 0s\n", "5: 'silent_after': Value error"),
        ("feed_health:\n  notify: [ops]\n  notfy: [x]\n", "5: unknown key 'notfy'"),
        ("feed_health: [ops]\n", "3: 'feed_health': Input should be a valid dictionary"),
    ],
)
def test_feed_health_errors_name_file_and_line(tmp_path: Path, text: str, message: str) -> None:
    issues = load(tmp_path / "rules", watch=CHANNELS + text)
    assert any(message in issue for issue in issues), issues
    assert all("watch.yaml" in issue for issue in issues)


def test_feed_health_may_be_set_in_one_file_only(tmp_path: Path) -> None:
    rules = tmp_path / "rules"
    issues = load(
        rules,
        a=CHANNELS + "feed_health:\n  notify: [ops]\n",
        b="feed_health:\n  notify: [ops]\n",
    )
    # Lines of the sections' content, as for every section.
    assert issues == [f"{rules / 'b.yaml'}:2: 'feed_health' is already set at {rules / 'a.yaml'}:4"]


def test_silent_after_without_feed_health_is_a_warning(tmp_path: Path) -> None:
    warnings = load(
        tmp_path / "rules",
        watch=CHANNELS
        + "feeds:\n  - id: a\n    url: https://a.example/rss\n    silent_after: 1d\n",
    )
    assert warnings == [
        f"warning: {tmp_path / 'rules' / 'watch.yaml'}:6: feed 'a': silent_after has no effect "
        "without a feed_health section naming the channels to notify"
    ]
