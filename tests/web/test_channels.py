"""Channels a receiver's 410 disabled, in the console and the API: listed with their
alerts waiting, shown on the overview, enabled with a form or a POST (as ``news-monitor
channels enable``), a mark recorded for an earlier URL ignored."""

from __future__ import annotations

from pathlib import Path

import httpx

from monitor.model import DisabledChannel, OutboxEntry
from monitor.store.memory import MemoryStore
from monitor.web import service
from tests.web.console_support import DEAD, HOUR, NOW, Console, fill, load_watch
from tests.web.test_pages import csrf_of

REASON = "HTTP 410: endpoint deleted"


async def disable_siem(console: Console, target: str | None = None) -> None:
    """Record the 410 a daemon heard from siem's receiver (as configured now, by default)."""
    mark = DisabledChannel(
        "siem",
        NOW - 2 * HOUR,
        REASON,
        console.channels["siem"].target if target is None else target,
    )
    await console.store.disable_channel(mark)


async def test_the_api_lists_each_channel_with_its_state_and_alerts(
    client: httpx.AsyncClient, console: Console
) -> None:
    await disable_siem(console)
    answer = await client.get("/api/v1/channels")
    assert answer.status_code == 200, answer.text
    channels = {c["name"]: c for c in answer.json()["channels"]}
    assert list(channels) == ["ops", "siem"]  # config order
    assert channels["ops"] == {
        "name": "ops",
        "type": "console",
        "status": "ok",
        "disabled_since": None,
        "disabled_reason": "",
        "queued": len([e for e in await console.store.pending() if e.alert.channel == "ops"]),
        "dead_letters": 0,
    }
    siem = channels["siem"]
    assert (siem["type"], siem["status"], siem["disabled_reason"]) == (
        "webhook",
        "disabled",
        REASON,
    )
    assert siem["disabled_since"] == "2027-01-15T06:00:00Z"
    assert siem["dead_letters"] == 1  # DEAD
    assert siem["queued"] >= 1  # the hostile alert, queued


async def test_a_mark_for_an_earlier_url_does_not_disable_the_channel(
    client: httpx.AsyncClient, console: Console
) -> None:
    await disable_siem(console, target="0123456789abcdef")  # another URL's digest
    channels = {c["name"]: c for c in (await client.get("/api/v1/channels")).json()["channels"]}
    assert channels["siem"]["status"] == "ok"
    enable = await client.post("/api/v1/channels/siem/enable")
    assert enable.status_code == 409
    assert "not disabled" in enable.json()["detail"]


async def test_the_api_enables_a_disabled_channel(
    client: httpx.AsyncClient, console: Console
) -> None:
    await disable_siem(console)
    woken = console.woken
    answer = await client.post("/api/v1/channels/siem/enable")
    assert answer.status_code == 200, answer.text
    assert answer.json()["status"] == "ok"
    assert answer.json()["dead_letters"] == 1  # dead letters stay until retried
    assert await console.store.disabled_channels() == []
    assert console.woken == woken + 1  # its queued alerts are due now
    again = await client.post("/api/v1/channels/siem/enable")
    assert again.status_code == 409
    unknown = await client.post("/api/v1/channels/nope/enable")
    assert unknown.status_code == 404
    assert "channels: ops, siem" in unknown.json()["detail"]


async def test_the_overview_shows_a_disabled_channel_with_an_enable_button(
    client: httpx.AsyncClient, console: Console
) -> None:
    page = (await client.get("/")).text
    assert "Channels disabled" not in page
    await disable_siem(console)
    page = (await client.get("/")).text
    section = page[page.index("<h2>Channels disabled</h2>") :]
    section = section[: section.index("</section>")]
    assert 'href="/channels#channel-siem"' in section
    assert REASON in section
    assert "1 alert in the dead-letter list" in section
    assert 'action="/channels/siem/enable"' in section
    assert "ops" not in section


class ListingStore(MemoryStore):
    """A memory store that records each listing of its outbox and dead letters."""

    def __init__(self) -> None:
        super().__init__()
        self.listed: list[str] = []

    async def pending(self) -> list[OutboxEntry]:
        self.listed.append("pending")
        return await super().pending()

    async def dead_letters(self) -> list[OutboxEntry]:
        self.listed.append("dead_letters")
        return await super().dead_letters()


async def test_the_overview_lists_dead_letters_only_for_a_disabled_channel(
    tmp_path: Path,
) -> None:
    """The overview counts the outbox without listing it; the dead letters are listed only
    when a disabled channel shows how many of them are its own."""
    store = ListingStore()
    await fill(store)
    console = Console(load_watch(tmp_path), store)
    queued, dead = len(await store.pending()), len(await store.dead_letters())
    store.listed.clear()

    summary = await service.overview(console.context())
    assert (summary.outbox_pending, summary.dead_letters) == (queued, dead) == (1, 1)
    assert summary.channels_disabled == []
    assert store.listed == []

    await disable_siem(console)
    summary = await service.overview(console.context())
    assert [(r.name, r.dead) for r in summary.channels_disabled] == [("siem", 1)]
    assert store.listed == ["dead_letters"]


async def test_the_channels_page_enables_a_channel_with_its_form(
    client: httpx.AsyncClient, console: Console
) -> None:
    await disable_siem(console)
    page = (await client.get("/channels")).text
    ops = page[page.index('id="channel-ops"') :]
    ops = ops[: ops.index("</tr>")]
    assert "s-ok" in ops and "Enable</button>" not in ops
    siem = page[page.index('id="channel-siem"') :]
    siem = siem[: siem.index("</tr>")]
    assert "s-disabled" in siem and REASON in siem and "since 2h ago" in siem
    assert '<a href="/dead-letters">1</a>' in siem
    done = await client.post(
        "/channels/siem/enable", data={"csrf_token": csrf_of(page), "back": "/channels"}
    )
    assert done.status_code == 303
    assert done.headers["location"] == "/channels"
    after = (await client.get("/channels")).text
    assert "Channel siem is enabled" in after
    assert "1 of its alerts is in the dead-letter list until retried" in after
    assert "s-disabled" not in after
    assert await console.store.disabled_channels() == []
    assert DEAD.id in {e.alert.id for e in await console.store.dead_letters()}


async def test_enabling_needs_the_csrf_token_and_says_when_nothing_was_disabled(
    client: httpx.AsyncClient, console: Console
) -> None:
    await disable_siem(console)
    refused = await client.post("/channels/siem/enable", data={"back": "/channels"})
    assert refused.status_code == 403
    assert len(await console.store.disabled_channels()) == 1
    token = csrf_of((await client.get("/channels")).text)
    ok = await client.post("/channels/ops/enable", data={"csrf_token": token})
    assert ok.status_code == 303
    assert "Channel ops is not disabled" in (await client.get("/channels")).text
    await client.post("/channels/nope/enable", data={"csrf_token": token})
    assert "Cannot enable: no channel" in (await client.get("/channels")).text
