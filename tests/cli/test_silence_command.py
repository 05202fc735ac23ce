"""``news-monitor silence add|list|expire``: the functions on a MemoryStore with a frozen
clock, and the command line on a rules directory with the embedded SQLite store."""

from __future__ import annotations

import asyncio
import io
import re
from pathlib import Path

import pytest

from monitor.cli.main import main
from monitor.cli.silence import add_silence, expire_silence, list_silences, new_silence_id
from monitor.model import Silence
from monitor.store.memory import MemoryStore
from monitor.store.sqlite import FILE_NAME, SqliteStore
from tests.conftest import FrozenClock

HOUR = 3600.0
ID = re.compile(r"sil_[0-9a-f]{16}")


def test_ids() -> None:
    ids = {new_silence_id() for _ in range(100)}
    assert len(ids) == 100 and all(ID.fullmatch(i) for i in ids)


async def test_add_prints_the_new_id_and_stores_the_silence(clock: FrozenClock) -> None:
    store, out, err = MemoryStore(), io.StringIO(), io.StringIO()
    code = await add_silence(
        store,
        "rule",
        "iran-drones",
        2 * HOUR,
        clock.now,
        comment="  noisy\nduring   the summit ",
        known=["iran-drones", "markets"],
        out=out,
        err=err,
    )
    assert code == 0
    silence_id = out.getvalue().strip()
    assert ID.fullmatch(silence_id)
    assert err.getvalue() == "silenced rule iran-drones until 2027-01-15 10:00 UTC (2h)\n"
    assert await store.list_silences(clock.now) == [
        Silence(
            silence_id,
            "rule",
            "iran-drones",
            clock.now,
            clock.now + 2 * HOUR,
            "noisy during the summit",
            "cli",
        )
    ]


@pytest.mark.parametrize(
    ("kind", "target", "duration", "message"),
    [
        (
            "rule",
            "iran-drone",
            HOUR,
            "error: unknown rule 'iran-drone'; did you mean 'iran-drones'? "
            "(rules: iran-drones, markets)",
        ),
        ("channel", "zzz", HOUR, "error: unknown channel 'zzz' (channels: ops)"),
        ("rule", "markets", 0, "error: --for must be more than 0 seconds, not 0"),
        ("story", " ", HOUR, "error: the story to silence is empty"),
    ],
)
async def test_add_refuses_what_it_cannot_silence(
    clock: FrozenClock, kind: str, target: str, duration: float, message: str
) -> None:
    store, out, err = MemoryStore(), io.StringIO(), io.StringIO()
    known = ["iran-drones", "markets"] if kind == "rule" else ["ops"]
    code = await add_silence(
        store, kind, target, duration, clock.now, known=known, out=out, err=err
    )
    assert (code, out.getvalue(), err.getvalue().strip()) == (2, "", message)
    assert await store.list_silences(clock.now) == []


async def test_list_marks_active_pending_and_expired(clock: FrozenClock) -> None:
    now = clock.now
    store = MemoryStore()
    empty = io.StringIO()
    await list_silences(store, now, out=empty)
    assert empty.getvalue() == "no silences (active, pending or ended in the last 24h)\n"
    await store.add_silence(
        Silence("sil_000000000000000a", "rule", "iran-drones", now - HOUR, now + 5400, "summit")
    )
    await store.add_silence(
        Silence("sil_000000000000000b", "channel", "ops", now - 2 * HOUR, now - 300)
    )
    await store.add_silence(
        Silence("sil_000000000000000c", "story", "urn:x", now + HOUR, now + 2 * HOUR)
    )
    await store.add_silence(
        Silence("sil_000000000000000d", "channel", "ops", now - 3 * 86_400, now - 2 * 86_400)
    )
    out = io.StringIO()
    await list_silences(store, now, out=out)
    lines = out.getvalue().splitlines()
    ended, ends = "2027-01-15 07:55 UTC (5m ago)", "2027-01-15 09:30 UTC (in 1h30m)"
    later = "2027-01-15 10:00 UTC (in 2h)"
    assert {line.index("2027") for line in lines[1:]} == {lines[0].index("STARTS")}  # aligned
    assert [re.split(r" {2,}", line) for line in lines] == [
        ["ID", "STATE", "KIND", "TARGET", "STARTS", "ENDS", "COMMENT"],
        ["sil_000000000000000b", "expired", "channel", "ops", "2027-01-15 06:00 UTC", ended],
        [
            "sil_000000000000000a",
            "active",
            "rule",
            "iran-drones",
            "2027-01-15 07:00 UTC",
            ends,
            "summit",
        ],
        ["sil_000000000000000c", "pending", "story", "urn:x", "2027-01-15 09:00 UTC", later],
    ]


async def test_expire(clock: FrozenClock) -> None:
    store = MemoryStore()
    silence = Silence("sil_000000000000000a", "rule", "r", clock.now - HOUR, clock.now + HOUR)
    await store.add_silence(silence)
    out, err = io.StringIO(), io.StringIO()
    assert await expire_silence(store, silence.id, clock.now, out=out, err=err) == 0
    assert (
        out.getvalue() == f"expired {silence.id}: its alerts are sent again from the next match\n"
    )
    [ended] = await store.list_silences(clock.now)
    assert ended.ends_at == clock.now and not ended.active(clock.now)
    assert await expire_silence(store, "sil_nope", clock.now, out=out, err=err) == 1
    assert "error: no silence 'sil_nope'" in err.getvalue()


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
        "channels:\n"
        "  ops: {type: console}\n"
        "rules:\n"
        "  - {id: iran-drones, query: 'Iran AND drones', notify: [ops]}\n"
    )
    return rules


def test_silence_from_the_command_line(
    rules_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    def run(*argv: str) -> int:
        return main(["silence", *argv, "--rules-dir", str(rules_dir)])

    assert run("list") == 0
    assert "no silences" in capsys.readouterr().out
    assert run("add", "--rule", "iran-drones", "--for", "2h", "--comment", "summit") == 0
    captured = capsys.readouterr()
    silence_id = captured.out.strip()
    assert ID.fullmatch(silence_id) and "silenced rule iran-drones until" in captured.err
    assert run("add", "--channel", "ops", "--for", "30m") == 0
    capsys.readouterr()
    assert main(["silence", "--rules-dir", str(rules_dir)]) == 0  # no action: the list
    listing = capsys.readouterr().out
    assert re.search(rf"{silence_id}  active +rule +iran-drones", listing)
    assert "summit" in listing

    async def stored() -> list[Silence]:
        store = await SqliteStore.open(tmp_path / "data" / FILE_NAME)
        try:
            return await store.list_silences(0.0, expired_for=1e12)
        finally:
            await store.close()

    assert {s.kind for s in asyncio.run(stored())} == {"rule", "channel"}
    assert run("expire", silence_id) == 0
    assert run("expire", "sil_0000000000000000") == 1
    assert "no silence" in capsys.readouterr().err
    listing = (run("list"), capsys.readouterr().out)[1]
    assert re.search(rf"{silence_id}  expired", listing)


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["add", "--rule", "iran-drone", "--for", "1h"], "did you mean 'iran-drones'?"),
        (["add", "--channel", "opz", "--for", "1h"], "did you mean 'ops'?"),
        (["add", "--rule", "iran-drones", "--for", "0"], "must be more than 0"),
        (["add", "--rule", "iran-drones", "--for", "soon"], "expected a duration"),
        (["add", "--for", "1h"], "one of the arguments --rule --story --channel is required"),
        (["add", "--rule", "a", "--story", "b", "--for", "1h"], "not allowed with"),
        (["add", "--rule", "iran-drones"], "--for"),
    ],
)
def test_usage_errors_exit_2(
    rules_dir: Path, capsys: pytest.CaptureFixture[str], argv: list[str], message: str
) -> None:
    try:
        code = main(["silence", *argv, "--rules-dir", str(rules_dir)])
    except SystemExit as e:  # argparse
        code = int(e.code or 0)
    assert code == 2
    assert message in capsys.readouterr().err


def test_an_unreachable_store_exits_1(
    rules_dir: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from tests.conftest import free_port

    monkeypatch.setenv("MONITOR_REDIS_URL", f"redis://127.0.0.1:{free_port()}/0")
    assert main(["silence", "list", "--rules-dir", str(rules_dir)]) == 1
    assert "state store unavailable" in capsys.readouterr().err
