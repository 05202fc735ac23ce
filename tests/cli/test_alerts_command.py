"""``news-monitor alerts`` and ``alerts retry``: the printed sections and the requeue semantics.

The listing and retry functions run on a MemoryStore with the frozen clock;
one test drives the CLI wiring (parser plus ``cmd_alerts``) end to end on a
SqliteStore in a temporary directory.
"""

from __future__ import annotations

import argparse
import asyncio
import io
from pathlib import Path

import pytest

from monitor.cli.alerts import (
    EXIT_NOT_FOUND,
    EXIT_OK,
    add_alerts_parser,
    ago,
    cmd_alerts,
    due_in,
    list_alerts,
    retry_alerts,
)
from monitor.model import Alert, Attempt, OutboxEntry
from monitor.store.base import StateStore
from monitor.store.memory import MemoryStore
from monitor.store.sqlite import FILE_NAME, SqliteStore
from tests.conftest import FrozenClock
from tests.factories import make_alert, make_article, make_settings

DAY = 86_400.0
LONG_TITLE = "Iran and Russia agree to build drones together in a new Tatarstan plant"


def alert(n: int, channel: str = "ops", title: str = "Drones over Kyiv") -> Alert:
    return make_alert(id=f"alert-{n}", channel=channel, article=make_article(title=title))


async def listing(store: MemoryStore, clock: FrozenClock, limit: int = 20) -> str:
    out = io.StringIO()
    await list_alerts(store, clock.now, limit=limit, out=out)
    return out.getvalue()


async def retry(
    store: MemoryStore, clock: FrozenClock, ids: list[str], all_: bool = False
) -> tuple[int, str]:
    out = io.StringIO()
    code = await retry_alerts(store, clock.now, ids, all_, out)
    return code, out.getvalue()


async def dead_store(clock: FrozenClock, *ns: int) -> MemoryStore:
    """A store whose alerts ``ns`` were dead-lettered after two attempts."""
    store = MemoryStore()
    await store.enqueue([alert(n) for n in ns], clock.now)
    for entry in await store.claim_due(clock.now, lease=30, limit=100):
        await store.retry_later(entry.alert.id, clock.now, "HTTP 503", claim=entry.claim)
    for entry in await store.claim_due(clock.now, lease=30, limit=100):
        await store.dead_letter(entry.alert.id, clock.now, "HTTP 410 Gone", claim=entry.claim)
    return store


async def claim_all(store: StateStore, clock: FrozenClock, limit: int = 100) -> dict[str, str]:
    """Claim what is due; each claimed alert's claim token, by id."""
    return {e.alert.id: e.claim for e in await store.claim_due(clock.now, 30, limit)}


# -- listing ----------------------------------------------------------------------


async def test_empty_store_lists_three_empty_sections(clock: FrozenClock) -> None:
    assert await listing(MemoryStore(), clock) == (
        "pending (0)\n  (none)\n\ndead letters (0)\n  (none)\n\nrecent deliveries\n  (none)\n"
    )


async def test_sections_as_aligned_tables(clock: FrozenClock) -> None:
    store = MemoryStore()
    await store.enqueue(
        [alert(1, "slack-news", LONG_TITLE), alert(2), alert(3, "mail"), alert(4)], clock.now
    )
    claims = await claim_all(store, clock)
    error = "HTTP 503\n  Service down"
    await store.retry_later("alert-1", clock.now + 3600 + 180, error, claim=claims["alert-1"])
    await store.dead_letter("alert-2", clock.now, error="HTTP 404", claim=claims["alert-2"])
    await store.ack("alert-3", clock.now, detail="250 2.0.0 OK queued", retention=DAY)
    clock.advance(3600)
    # alert-4 stays claimed by a worker that died: its lease ended an hour ago.

    assert await listing(store, clock) == (
        "pending (2)\n"
        "  ID       CHANNEL     RULE                ATTEMPTS  DUE    TITLE"
        "                                     LAST ERROR\n"
        "  alert-4  ops         iran-russia-drones         0  now    Drones over Kyiv\n"
        "  alert-1  slack-news  iran-russia-drones         1  in 3m  Iran and Russia agree"
        " to build drones t…  HTTP 503 Service down\n"
        "\n"
        "dead letters (1)\n"
        "  ID       CHANNEL  RULE                ATTEMPTS  WHEN    TITLE             LAST ERROR\n"
        "  alert-2  ops      iran-russia-drones         1  1h ago  Drones over Kyiv  HTTP 404\n"
        "\n"
        "recent deliveries\n"
        "  ID       CHANNEL  RULE                ATTEMPTS  WHEN    TITLE             DETAIL\n"
        "  alert-3  mail     iran-russia-drones         1  1h ago  Drones over Kyiv"
        "  250 2.0.0 OK queued\n"
    )


async def test_long_errors_are_cut_to_one_short_line(clock: FrozenClock) -> None:
    store = MemoryStore()
    await store.enqueue([alert(1)], clock.now)
    claims = await claim_all(store, clock)
    await store.dead_letter("alert-1", clock.now, "HTTP 400\n" + "x" * 500, claim=claims["alert-1"])
    [row] = [line for line in (await listing(store, clock)).splitlines() if "alert-1" in line]
    assert row.endswith("HTTP 400 " + "x" * 50 + "…")


async def test_limit_applies_to_each_section_and_says_what_is_left_out(
    clock: FrozenClock,
) -> None:
    store = MemoryStore()
    await store.enqueue([alert(n) for n in range(1, 10)], clock.now)
    claims = await claim_all(store, clock, limit=6)
    for n in (1, 2, 3):
        await store.dead_letter(f"alert-{n}", clock.now, error="gone", claim=claims[f"alert-{n}"])
        clock.advance(1)
    for n in (4, 5, 6):
        await store.ack(f"alert-{n}", clock.now, detail="ok", retention=DAY)
        clock.advance(1)

    text = await listing(store, clock, limit=2)
    rows = [line.split()[0] for line in text.splitlines() if line.startswith("  alert-")]
    assert rows == ["alert-7", "alert-8", "alert-3", "alert-2", "alert-6", "alert-5"]
    assert "pending (3)" in text and "dead letters (3)" in text
    assert text.count("… and 1 more (raise --limit to see them)") == 2
    assert text.endswith("  … older deliveries not shown (raise --limit to see them)\n")
    assert "more" not in await listing(store, clock, limit=3)
    with pytest.raises(ValueError, match="at least 1"):
        await listing(store, clock, limit=0)


@pytest.mark.parametrize(
    ("delta", "due", "since"),
    [
        (0, "now", "just now"),
        (0.5, "now", "just now"),
        (42, "in 42s", "42s ago"),
        (179.9, "in 2m", "2m ago"),
        (3 * 3600 + 59, "in 3h", "3h ago"),
        (2 * DAY + 5, "in 2d", "2d ago"),
    ],
)
def test_human_times(delta: float, due: str, since: str) -> None:
    now = 1_800_000_000.0
    assert due_in(now + delta, now) == due
    assert ago(now - delta, now) == since
    if delta:
        assert due_in(now - delta, now) == "now"  # overdue is due now


# -- retry ------------------------------------------------------------------------


async def test_retry_requeues_named_dead_letters(clock: FrozenClock) -> None:
    store = await dead_store(clock, 1, 2, 3)
    clock.advance(600)
    assert await retry(store, clock, ["alert-3", "alert-1", "alert-3"]) == (
        EXIT_OK,
        "requeued alert-3\nrequeued alert-1\n",
    )
    assert [e.alert.id for e in await store.dead_letters()] == ["alert-2"]
    assert await store.pending() == [
        OutboxEntry(alert(1), attempts=0, due_at=clock.now, last_error="HTTP 410 Gone"),
        OutboxEntry(alert(3), attempts=0, due_at=clock.now, last_error="HTTP 410 Gone"),
    ]
    assert [e.alert.id for e in await store.claim_due(clock.now, 30, 10)] == ["alert-1", "alert-3"]


async def test_retry_names_ids_that_are_not_dead_letters(clock: FrozenClock) -> None:
    store = await dead_store(clock, 1)
    await store.enqueue([alert(2), alert(3)], clock.now)
    await store.claim_due(clock.now, lease=30, limit=10)
    await store.ack("alert-3", clock.now, detail="ok", retention=DAY)
    pending_before = await store.pending()

    code, text = await retry(store, clock, ["alert-2", "alert-1", "alert-3", "nope"])
    assert code == EXIT_NOT_FOUND
    assert text == "requeued alert-1\nnot in the dead-letter list: alert-2 alert-3 nope\n"
    assert await store.pending() == sorted(
        [*pending_before, OutboxEntry(alert(1), 0, clock.now, "HTTP 410 Gone")],
        key=lambda e: (e.due_at, e.alert.id),
    )
    assert await store.is_delivered("alert-3", clock.now)  # a delivered alert is not resent


async def test_retry_all(clock: FrozenClock) -> None:
    store = await dead_store(clock, 1, 2)
    assert await retry(store, clock, [], all_=True) == (EXIT_OK, "requeued 2 dead letter(s)\n")
    assert await store.dead_letters() == []
    assert {e.alert.id for e in await store.pending()} == {"alert-1", "alert-2"}
    assert await retry(store, clock, [], all_=True) == (EXIT_OK, "requeued 0 dead letter(s)\n")


@pytest.mark.parametrize("all_", [False, True])
async def test_retry_records_each_requeue_in_the_history(clock: FrozenClock, all_: bool) -> None:
    store = await dead_store(clock, 1, 2)
    for n in (1, 2):
        await store.record_history([(alert(n), "dead", Attempt(clock.now, "dead", "410"))], DAY)
    clock.advance(60)
    await retry(store, clock, [] if all_ else ["alert-1", "nope"], all_=all_)
    requeued = ["alert-1", "alert-2"] if all_ else ["alert-1"]
    for n in (1, 2):
        entry = await store.history_entry(f"alert-{n}")
        assert entry is not None
        if f"alert-{n}" in requeued:
            assert (entry.status, entry.events[-1]) == ("pending", Attempt(clock.now, "requeued"))
        else:
            assert (entry.status, len(entry.events)) == ("dead", 1)


async def test_retry_with_history_off_records_nothing(clock: FrozenClock) -> None:
    store = await dead_store(clock, 1)
    out = io.StringIO()
    assert await retry_alerts(store, clock.now, ["alert-1"], False, out, history_retention=0) == 0
    assert await store.history_entry("alert-1") is None


@pytest.mark.parametrize(("ids", "all_"), [([], False), (["alert-1"], True)])
async def test_retry_wants_ids_or_all(clock: FrozenClock, ids: list[str], all_: bool) -> None:
    store = await dead_store(clock, 1)
    with pytest.raises(ValueError, match="not both or neither"):
        await retry(store, clock, ids, all_)
    assert len(await store.dead_letters()) == 1


# -- CLI wiring -------------------------------------------------------------------


def parser() -> argparse.ArgumentParser:
    root = argparse.ArgumentParser(prog="news-monitor")
    add_alerts_parser(root.add_subparsers(dest="command", required=True))
    return root


@pytest.mark.parametrize(
    ("argv", "expected"),
    [
        (["alerts"], {"limit": 20, "alerts_action": None}),
        (["alerts", "--limit", "5"], {"limit": 5, "alerts_action": None}),
        (["alerts", "retry", "a", "b"], {"alerts_action": "retry", "ids": ["a", "b"]}),
        (["alerts", "retry", "--all"], {"alerts_action": "retry", "ids": [], "all_": True}),
    ],
)
def test_parser_accepts(argv: list[str], expected: dict[str, object]) -> None:
    args = vars(parser().parse_args(argv))
    assert {k: args[k] for k in expected} == expected


@pytest.mark.parametrize(
    "argv",
    [
        ["alerts", "retry"],
        ["alerts", "retry", "a", "--all"],
        ["alerts", "--limit", "0"],
        ["alerts", "--limit", "x"],
    ],
)
def test_parser_rejects(argv: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as info:
        parser().parse_args(argv)
    assert info.value.code == 2
    assert "error" in capsys.readouterr().err


def test_cmd_alerts_lists_and_retries_on_the_configured_store(
    tmp_path: Path, clock: FrozenClock
) -> None:
    async def seed() -> None:
        store = await SqliteStore.open(tmp_path / FILE_NAME)
        try:
            await store.enqueue([alert(1), alert(2)], clock.now)
            [entry] = await store.claim_due(clock.now, lease=30, limit=1)
            await store.dead_letter("alert-1", clock.now, error="HTTP 404", claim=entry.claim)
        finally:
            await store.close()

    asyncio.run(seed())
    settings = make_settings(data_dir=tmp_path, redis_url=None)

    def run(*argv: str) -> tuple[int, str]:
        out = io.StringIO()
        code = cmd_alerts(parser().parse_args(argv), settings=settings, out=out, clock=clock)
        return code, out.getvalue()

    code, text = run("alerts")
    assert code == EXIT_OK
    assert "pending (1)" in text and "dead letters (1)" in text
    assert run("alerts", "retry", "alert-1", "alert-9") == (
        EXIT_NOT_FOUND,
        "requeued alert-1\nnot in the dead-letter list: alert-9\n",
    )
    code, text = run("alerts", "--limit", "1")
    assert "pending (2)" in text and "dead letters (0)" in text
    assert "… and 1 more" in text
