"""How each feed is read, on the feeds page and in ``GET /api/v1/feeds``: its WebSub push
state (judged by ``service.push_status`` from the stored subscription), and its full-text
setting; nothing of WebSub when it is off."""

from __future__ import annotations

import html
import re
from dataclasses import replace
from pathlib import Path

import httpx
import pytest

from monitor.store.websub import UNSUBSCRIBE, Subscription
from monitor.web import service
from tests.app.test_websub import running, until
from tests.web.conftest import client_for
from tests.web.console_support import (
    DAY,
    HOSTILE_HUB,
    HOUR,
    NOW,
    SUBSCRIPTIONS,
    Console,
    push_console,
    subscription,
)

RAW = "<script>alert(1)</script>"
ESCAPED = "&lt;script&gt;alert(1)&lt;/script&gt;"
#: Each feed of PUSH_WATCH and the push status it shows.
EXPECTED = {sub.feed_id: status for status, sub in SUBSCRIPTIONS.items()} | {"quiet": "none"}


# -- the judging -----------------------------------------------------------------------

VERIFIED = subscription(
    "f", pending=False, requested_at=NOW - DAY, expires_at=NOW + DAY, lease_seconds=2 * DAY
)


@pytest.mark.parametrize(
    ("record", "expected"),
    [
        (None, "none"),
        (VERIFIED, "pushed"),
        # A renewal sent, not verified yet: the lease still runs.
        (replace(VERIFIED, pending=True, requested_at=NOW - 60), "pushed"),
        # The lease ends at expires_at.
        (replace(VERIFIED, expires_at=NOW), "expired"),
        (replace(VERIFIED, expires_at=NOW - HOUR), "expired"),
        # Over, its renewal sent and not verified.
        (replace(VERIFIED, expires_at=NOW - HOUR, pending=True), "expired"),
        # A renewal failing while the lease runs: pushed, but going to stop.
        (replace(VERIFIED, pending=True, failures=2, last_error="HTTP 500"), "failing"),
        (replace(VERIFIED, expires_at=NOW - HOUR, failures=1, last_error="HTTP 500"), "failing"),
        # A first request sent and accepted, never verified.
        (subscription("f", requested_at=NOW - 60), "pending"),
        # A first request the hub did not take.
        (subscription("f", failures=4, last_error="no answer within 10s"), "failing"),
        # Denied (a denial never leaves a lease), also after failed requests.
        (subscription("f", pending=False, last_error="denied by the hub: no"), "denied"),
        (subscription("f", pending=False, failures=1, last_error="denied by the hub"), "denied"),
        # Asked again after a denial: pending, or failing, like any request.
        (subscription("f", pending=True, requested_at=NOW, last_error="denied"), "pending"),
        (replace(VERIFIED, mode=UNSUBSCRIBE, pending=True), "unsubscribing"),
        (subscription("f", mode=UNSUBSCRIBE, failures=2, last_error="HTTP 500"), "unsubscribing"),
    ],
)
def test_push_status_judges_a_record(record: Subscription | None, expected: str) -> None:
    assert expected in service.PUSH_STATUSES
    assert service.push_status(record, NOW) == expected


# -- the page --------------------------------------------------------------------------


@pytest.fixture
async def pushing(tmp_path: Path) -> Console:
    return await push_console(tmp_path)


def row_of(page: str, feed_id: str) -> str:
    found = re.search(rf'<tr id="feed-{feed_id}">(.*?)</tr>', page, re.S)
    assert found, f"no row of {feed_id}"
    return found.group(1)


def push_cell(page: str, feed_id: str) -> str:
    found = re.search(r'<td class="push">(.*?)</td>', row_of(page, feed_id), re.S)
    assert found, f"no push cell for {feed_id}"
    return " ".join(found.group(1).split())


async def test_the_feeds_page_shows_each_push_state(pushing: Console) -> None:
    async with client_for(pushing) as client:
        page = (await client.get("/feeds")).text
    assert "<th>Push</th>" in page
    for feed_id, status in EXPECTED.items():
        cell = push_cell(page, feed_id)
        if status == "none":
            assert "not subscribed" in cell and "badge" not in cell
        else:
            assert f'<span class="badge s-{status}">{status}</span>' in cell, cell
    assert push_cell(page, "aljazeera").endswith(
        '">lease ends in 5d</span> <span class="note">pubsubhubbub.appspot.com</span>'
    )
    assert push_cell(page, "bbc-world").endswith(
        '">HTTP 503: Service Unavailable (3 in a row); lease ends in 2h; next request in 4m'
        '</span> <span class="note">pubsubhubbub.appspot.com</span>'
    )
    assert '">requested 5m ago, not verified yet</span>' in push_cell(page, "wire")
    assert '">lease ended 3h ago; next request due now</span>' in push_cell(page, "desk")
    assert '">unsubscribe sent 2m ago</span>' in push_cell(page, "blog")
    denied = push_cell(page, "reuters")
    assert f"denied by the hub: {ESCAPED} not allowed; next request in 20h</span>" in denied
    assert '<span class="note">hub.example.org</span>' in denied
    # The hub's whole URL (redacted) is in the detail's title.
    assert 'title="hub https://hub.example.org/&lt;script&gt;' in denied
    assert 'title="hub https://pubsubhubbub.appspot.com/, topic https://aljazeera' in page


async def test_the_feeds_page_keeps_hostile_values_inert(pushing: Console) -> None:
    async with client_for(pushing) as client:
        page = (await client.get("/feeds")).text
    assert RAW not in page
    assert html.escape(HOSTILE_HUB, quote=True) in page
    # Neither a callback token nor a hub.secret is ever shown.
    assert "never-shown" not in page


async def test_the_feeds_page_notes_full_text(pushing: Console) -> None:
    async with client_for(pushing) as client:
        page = (await client.get("/feeds")).text
    wire = row_of(page, "wire")
    assert "full text: auto, texts under 800 characters</span>" in wire
    assert "full text: every article</span>" in row_of(page, "desk")
    assert "language: es</span>" in row_of(page, "desk")
    assert "language:" not in wire
    assert "full text" not in row_of(page, "aljazeera")


async def test_without_websub_the_feeds_page_has_no_push_column(client: httpx.AsyncClient) -> None:
    page = (await client.get("/feeds")).text
    assert "<th>Push</th>" not in page
    assert 'class="push"' not in page and "not subscribed" not in page


async def test_the_overview_does_not_read_subscriptions(pushing: Console) -> None:
    rows = await service.feed_rows(pushing.context())
    assert {row.push for row in rows} == {None}
    assert {row.subscription for row in rows} == {None}


# -- the API ---------------------------------------------------------------------------


async def test_the_api_gives_each_push_state(pushing: Console) -> None:
    async with client_for(pushing) as client:
        answer = await client.get("/api/v1/feeds")
    assert answer.status_code == 200
    assert "never-shown" not in answer.text
    feeds = {f["id"]: f for f in answer.json()["feeds"]}
    assert {feed_id: f["push"]["status"] for feed_id, f in feeds.items()} == EXPECTED
    assert feeds["aljazeera"]["push"] == {
        "status": "pushed",
        "active": True,
        "hub": "https://pubsubhubbub.appspot.com/",
        "topic": "https://aljazeera.example.org/topic",
        "requested_at": "2027-01-13T08:00:00Z",
        "unverified_since": None,
        "expires_at": "2027-01-20T08:00:00Z",
        "next_request_at": "2027-01-19T08:00:00Z",
        "failures": 0,
        "last_error": "",
    }
    # A record without its first try (an earlier version's): its last request stands in.
    assert feeds["wire"]["push"]["unverified_since"] == feeds["wire"]["push"]["requested_at"]
    failing = feeds["bbc-world"]["push"]
    assert failing["active"] is True and failing["failures"] == 3
    assert failing["last_error"] == "HTTP 503: Service Unavailable"
    denied = feeds["reuters"]["push"]
    assert denied["active"] is False and denied["expires_at"] is None
    assert denied["hub"] == HOSTILE_HUB  # JSON carries it as it is; no page renders it raw
    assert denied["last_error"].startswith("denied by the hub: <script>")
    assert feeds["desk"]["push"]["active"] is False
    assert feeds["desk"]["push"]["expires_at"] == "2027-01-15T05:00:00Z"
    assert feeds["quiet"]["push"] == {
        "status": "none",
        "active": False,
        "hub": "",
        "topic": "",
        "requested_at": None,
        "unverified_since": None,
        "expires_at": None,
        "next_request_at": None,
        "failures": 0,
        "last_error": "",
    }


async def test_a_request_retried_unverified_shows_since_when(pushing: Console) -> None:
    # Unverified since the first try two hours ago; the last retry went out 5 minutes ago.
    wire = SUBSCRIPTIONS["pending"]
    await pushing.store.put_subscription(replace(wire, pending_since=NOW - 2 * HOUR))
    async with client_for(pushing) as client:
        page = (await client.get("/feeds")).text
        feeds = {f["id"]: f for f in (await client.get("/api/v1/feeds")).json()["feeds"]}
    cell = push_cell(page, "wire")
    assert '">not verified since 2h ago (last request 5m ago)</span>' in cell, cell
    assert feeds["wire"]["push"]["unverified_since"] == "2027-01-15T06:00:00Z"
    assert feeds["wire"]["push"]["requested_at"] == "2027-01-15T07:55:00Z"
    assert feeds["reuters"]["push"]["unverified_since"] is None  # denied: nothing awaits


async def test_the_api_gives_full_text_settings(pushing: Console) -> None:
    async with client_for(pushing) as client:
        feeds = {f["id"]: f for f in (await client.get("/api/v1/feeds")).json()["feeds"]}
    assert (feeds["wire"]["fulltext"], feeds["wire"]["fulltext_min_chars"]) == ("auto", 800)
    assert (feeds["desk"]["fulltext"], feeds["desk"]["fulltext_min_chars"]) == (True, None)
    assert (feeds["quiet"]["fulltext"], feeds["quiet"]["fulltext_min_chars"]) == (False, None)
    assert (feeds["desk"]["language"], feeds["wire"]["language"]) == ("es", None)


async def test_without_websub_the_api_has_no_push_state(client: httpx.AsyncClient) -> None:
    feeds = (await client.get("/api/v1/feeds")).json()["feeds"]
    assert feeds and all(f["push"] is None for f in feeds)


async def test_the_openapi_document_describes_the_new_fields(client: httpx.AsyncClient) -> None:
    schemas = (await client.get("/api/v1/openapi.json")).json()["components"]["schemas"]
    feed = schemas["FeedOut"]["properties"]
    assert {"fulltext", "fulltext_min_chars", "push"} <= set(feed)
    assert all(feed[name].get("description") for name in ("fulltext", "push"))
    push = schemas["PushOut"]["properties"]
    assert all(field.get("description") for field in push.values())
    assert set(push["status"]["enum"]) == set(service.PUSH_STATUSES)


# -- the daemon --------------------------------------------------------------------------


async def test_the_daemon_shows_a_verified_subscription(tmp_path: Path) -> None:
    """The composition root hands the console the WebSub manager's store: a real
    subscription at a local hub, verified, shows as pushed."""
    async with running(tmp_path) as run:
        await until(lambda: run.sample("news_monitor_websub_subscriptions") == 1)
        stored = await run.monitor.store.get_subscription("wire")
        assert stored is not None and stored.expires_at is not None
        async with httpx.AsyncClient(base_url=run.base) as http:
            feeds = {f["id"]: f for f in (await http.get("/api/v1/feeds")).json()["feeds"]}
            page = (await http.get("/feeds")).text
        assert feeds["wire"]["push"]["status"] == "pushed"
        assert feeds["wire"]["push"]["hub"] == run.hub.hub_url
        assert feeds["other"]["push"]["status"] == "none"
        assert '<span class="badge s-pushed">pushed</span>' in page
