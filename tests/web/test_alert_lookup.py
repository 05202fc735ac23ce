"""One alert's page, its API answer and its retry look the alert up by id: they never list
the outbox or the dead letters (with 50,000 alerts queued, a listing takes seconds and
holds Redis), and answer exactly what they answered when they did."""

from __future__ import annotations

import re
from dataclasses import replace
from pathlib import Path

import httpx

from monitor.model import Attempt, OutboxEntry
from monitor.store.memory import MemoryStore
from tests.web.conftest import client_for
from tests.web.console_support import (
    DEAD,
    DRONES,
    DRONES_SIEM,
    GRID,
    HOSTILE_ALERT,
    NOW,
    Console,
    fill,
    load_watch,
)

#: Queued with no history entry (as with history off): shown from its outbox entry alone.
ONLY_QUEUED = replace(DRONES, id="alrt_only_queued")
#: Found in the outbox (queued, dead, neither) or only in the history, and unknown.
LOOKED_UP = [DRONES_SIEM.id, DEAD.id, HOSTILE_ALERT.id, ONLY_QUEUED.id, GRID.id, "alrt_nope"]


class UnlistableStore(MemoryStore):
    """A memory store that refuses to list its outbox: what finding one alert must never need."""

    async def pending(self) -> list[OutboxEntry]:
        raise AssertionError("the outbox was listed")

    async def dead_letters(self) -> list[OutboxEntry]:
        raise AssertionError("the dead letters were listed")


def page_of(answer: httpx.Response) -> tuple[int, str]:
    """An alert page's status and HTML, its CSRF token (drawn per console) left out."""
    return answer.status_code, re.sub(r'name="csrf_token" value="[^"]+"', "", answer.text)


async def answers(store: MemoryStore, tmp_path: Path) -> list[object]:
    """Every answer of the alert views and both retries, over a filled ``store``."""
    await fill(store)
    await store.enqueue([ONLY_QUEUED], NOW - 60)
    console = Console(load_watch(tmp_path), store)
    got: list[object] = []
    async with client_for(console) as client:
        for alert_id in LOOKED_UP:
            api = await client.get(f"/api/v1/alerts/{alert_id}")
            got.append((api.status_code, api.json()))
            got.append(page_of(await client.get(f"/alerts/{alert_id}")))
        for alert_id in (GRID.id, HOSTILE_ALERT.id, "alrt_nope"):  # not dead letters: 404
            retry = await client.post(f"/api/v1/alerts/{alert_id}/retry")
            got.append((retry.status_code, retry.json()))
        retry = await client.post(f"/api/v1/alerts/{DEAD.id}/retry")
        got.append((retry.status_code, retry.json()))
        again = await client.post(f"/api/v1/alerts/{DEAD.id}/retry")
        got.append((again.status_code, again.json()))
        got.append((await client.get(f"/api/v1/alerts/{DEAD.id}")).json())
        entry = await store.history_entry(DEAD.id)
        assert entry is not None
        got.append((entry.status, entry.events[-1]))
        got.append(console.woken)
    return got


async def test_alert_views_and_retries_answer_without_listing_the_outbox(
    tmp_path: Path,
) -> None:
    unlistable = UnlistableStore()
    got = await answers(unlistable, tmp_path)
    assert got == await answers(MemoryStore(), tmp_path)  # the same, to the last field
    assert got[-2] == ("pending", Attempt(NOW, "requeued", "by api"))
    queued = [e.alert.id for e in await MemoryStore.pending(unlistable)]
    assert DEAD.id in queued and ONLY_QUEUED.id in queued
    assert await MemoryStore.dead_letters(unlistable) == []


async def test_the_retry_form_requeues_without_listing_the_dead_letters(tmp_path: Path) -> None:
    store = UnlistableStore()
    await fill(store)
    async with client_for(Console(load_watch(tmp_path), store)) as client:
        page = (await client.get(f"/alerts/{DEAD.id}")).text
        assert f'action="/alerts/{DEAD.id}/retry"' in page
        found = re.search(r'name="csrf_token" value="([^"]+)"', page)
        assert found is not None
        done = await client.post(
            f"/alerts/{DEAD.id}/retry", data={"csrf_token": found.group(1), "back": "/"}
        )
        assert done.status_code == 303
    entry = await store.history_entry(DEAD.id)
    assert entry is not None and entry.events[-1] == Attempt(NOW, "requeued", "by web")
    assert await MemoryStore.dead_letters(store) == []
