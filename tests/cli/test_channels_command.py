"""``news-monitor channels`` (each channel's state) and ``channels enable``.

The table and enable run on a MemoryStore; the command-line tests run ``main`` on a rules
directory with the embedded SQLite store, and one drives an outbox worker on that same
file, so the command is seen to re-enable a channel a daemon disabled.
"""

from __future__ import annotations

import asyncio
import io
from pathlib import Path

import pytest
from pydantic import SecretStr

from monitor.cli.channels import enable_channels, list_channels
from monitor.cli.main import main
from monitor.delivery.channels import ConsoleChannel, WebhookChannel
from monitor.delivery.gone import target_digest
from monitor.delivery.worker import OutboxWorker
from monitor.model import Alert, DeliveryResult, DeliveryStatus, DisabledChannel
from monitor.store.memory import MemoryStore
from monitor.store.sqlite import FILE_NAME, SqliteStore
from tests.conftest import FrozenClock, free_port
from tests.factories import make_alert

HOOK = "https://siem.example/hooks/s3cr3t-token"
SINCE = 1_800_000_000.0  # 2027-01-15 08:00 UTC


def hook(name: str = "siem", url: str = HOOK) -> WebhookChannel:
    return WebhookChannel(
        name, SecretStr(url), None, secret=None, timeout=1, user_agent="t", clock=lambda: 0.0
    )  # type: ignore[arg-type]  # never sends: no client needed


def channels() -> dict[str, WebhookChannel | ConsoleChannel]:
    return {"ops": ConsoleChannel("ops"), "siem": hook(), "backup": hook("backup")}


TYPES = {"ops": "console", "siem": "webhook", "backup": "webhook"}


async def disabled_store(*names: str, url: str = HOOK) -> MemoryStore:
    store = MemoryStore()
    for name in names:
        mark = DisabledChannel(name, SINCE, "HTTP 410: unsubscribed", target_digest(url))
        await store.disable_channel(mark)
    return store


async def test_the_table_shows_each_channel_state_and_a_note_per_disabled_one() -> None:
    store = await disabled_store("siem")
    await store.enqueue([make_alert(id="a1", channel="siem")], SINCE)
    [entry] = await store.claim_due(SINCE, 60, 10)
    await store.dead_letter("a1", SINCE, "HTTP 410", claim=entry.claim)
    out = io.StringIO()
    await list_channels(store, channels(), TYPES, out)
    assert out.getvalue().splitlines() == [
        "CHANNEL  TYPE     STATE",
        "ops      console  ok",
        "siem     webhook  disabled since 2027-01-15 08:00 UTC (HTTP 410: unsubscribed)",
        "backup   webhook  ok",
        "",
        "siem: sends nothing since its receiver answered HTTP 410: unsubscribed (1 alert(s) in "
        "the dead-letter list); to send again, fix its url in the watch config or run "
        "`news-monitor channels enable siem`, then `news-monitor alerts retry --all`",
    ]
    assert "s3cr3t" not in out.getvalue()


async def test_a_mark_of_an_earlier_url_is_not_shown_and_cannot_be_enabled() -> None:
    store = await disabled_store("siem", url="https://old.example/hook")
    out, err = io.StringIO(), io.StringIO()
    await list_channels(store, channels(), TYPES, out)
    assert "disabled" not in out.getvalue()
    assert await enable_channels(store, channels(), ["siem"], out, err) == 1
    assert err.getvalue() == "siem is not disabled\n"


async def test_no_channels() -> None:
    out = io.StringIO()
    await list_channels(MemoryStore(), {}, {}, out)
    assert out.getvalue() == "no channels configured\n"


async def test_enable_removes_the_mark() -> None:
    store = await disabled_store("siem", "backup")
    out, err = io.StringIO(), io.StringIO()
    assert await enable_channels(store, channels(), ["siem", "siem"], out, err) == 0
    assert out.getvalue() == (
        "enabled siem: every daemon sends to it again from its next delivery pass; its 0 "
        "dead-lettered alert(s) stay there until `news-monitor alerts retry`\n"
    )
    assert [r.channel for r in await store.disabled_channels()] == ["backup"]
    # One not disabled among them: the others are enabled, the exit code says 1.
    assert await enable_channels(store, channels(), ["ops", "backup"], out, err) == 1
    assert err.getvalue() == "ops is not disabled\n"
    assert await store.disabled_channels() == []


async def test_enable_refuses_unknown_channels_and_changes_nothing() -> None:
    store = await disabled_store("siem")
    out, err = io.StringIO(), io.StringIO()
    assert await enable_channels(store, channels(), ["siem", "nope"], out, err) == 2
    assert err.getvalue() == "error: unknown channel(s) nope (channels: ops, siem, backup)\n"
    assert [r.channel for r in await store.disabled_channels()] == ["siem"]


# -- the command line -----------------------------------------------------------------


@pytest.fixture
def rules_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)  # no stray .env
    for name in ("MONITOR_RULES_DIR", "MONITOR_REDIS_URL", "MONITOR_SMTP_HOST"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("MONITOR_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("SIEM_URL", HOOK)
    rules = tmp_path / "rules"
    rules.mkdir()
    (rules / "watch.yaml").write_text(
        "feeds:\n"
        "  - {id: f, url: https://f.example/rss}\n"
        "channels:\n"
        "  ops: {type: console}\n"
        "  siem: {type: webhook, url: '${SIEM_URL}'}\n"
        "rules:\n"
        "  - {id: r, query: drones}\n"
    )
    return rules


class GoneOrNot(WebhookChannel):
    """The configured webhook as a daemon builds it, answering without a network."""

    gone = True
    sent: list[str]

    async def send(self, alert: Alert) -> DeliveryResult:
        self.sent.append(alert.id)
        status = DeliveryStatus.PERMANENT if self.gone else DeliveryStatus.DELIVERED
        return DeliveryResult(alert.id, self.name, status, "HTTP 410: bye", gone=self.gone)


def test_a_daemon_disables_and_the_command_enables(
    rules_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "data" / FILE_NAME
    path.parent.mkdir()
    channel = GoneOrNot(
        "siem", SecretStr(HOOK), None, secret=None, timeout=1, user_agent="t", clock=lambda: SINCE
    )  # type: ignore[arg-type]
    channel.sent = []
    clock = FrozenClock(SINCE)

    async def deliver(*ids: str) -> None:
        store = await SqliteStore.open(path)
        try:
            await store.enqueue([make_alert(id=i, channel="siem") for i in ids], clock.now)
            worker = OutboxWorker(
                store=store,
                channels={"siem": channel},
                attempt_timeout=1,
                max_attempts=3,
                retention=3600,
                clock=clock,
            )
            await worker.deliver_due()
        finally:
            await store.close()

    def run(*argv: str) -> int:
        return main(["channels", "--rules-dir", str(rules_dir), *argv])

    asyncio.run(deliver("a1"))  # the receiver is gone: a1 disables the channel ...
    asyncio.run(deliver("a2"))  # ... so a2 is refused without a request
    assert channel.sent == ["a1"]
    assert run() == 0
    out = capsys.readouterr().out
    assert "siem     webhook  disabled since 2027-01-15 08:00 UTC (HTTP 410: bye)" in out
    assert "(2 alert(s) in the dead-letter list)" in out
    assert "s3cr3t" not in out

    channel.gone = False
    assert run("enable", "siem") == 0
    assert "enabled siem" in capsys.readouterr().out
    asyncio.run(deliver("a3"))
    assert channel.sent == ["a1", "a3"]  # sent again, without a restart
    assert run("enable", "siem") == 1
    assert "siem is not disabled" in capsys.readouterr().err
    assert run("enable", "nope") == 2
    assert "unknown channel(s) nope" in capsys.readouterr().err
    assert main(["channels", "enable", "--rules-dir", str(rules_dir), "ops"]) == 1
    assert run() == 0
    assert "disabled" not in capsys.readouterr().out


def test_an_invalid_config_exits_2(rules_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (rules_dir / "watch.yaml").write_text("channels:\n  siem: {type: webhook}\n")
    assert main(["channels", "--rules-dir", str(rules_dir)]) == 2
    assert "invalid config" in capsys.readouterr().err


def test_an_unreachable_store_exits_1(
    rules_dir: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("MONITOR_REDIS_URL", f"redis://:pw-s3cret@127.0.0.1:{free_port()}/0")
    assert main(["channels", "--rules-dir", str(rules_dir)]) == 1
    assert main(["channels", "enable", "siem", "--rules-dir", str(rules_dir)]) == 1
    err = capsys.readouterr().err
    assert "state store unavailable" in err
    assert "pw-s3cret" not in err
