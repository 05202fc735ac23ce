"""A webhook receiver answering 410 Gone disables its channel, against a real server.

Per Standard Webhooks a 410 means "send no more". The channel reports it (a PERMANENT
result with ``gone`` set) and keeps no state; the outbox worker records the channel as
disabled in the store, so later alerts make no request. pytest-httpserver (a real
werkzeug server on loopback) answers; its request log proves which alerts made a request
and which did not. The store side across replicas is in test_worker_gone.py.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime

import httpx
import pytest
from pydantic import SecretStr
from pytest_httpserver import HTTPServer
from structlog.testing import capture_logs

from monitor.delivery.channels import WebhookChannel
from monitor.delivery.worker import OutboxWorker
from monitor.model import DeliveryStatus, DisabledChannel
from monitor.store.memory import MemoryStore
from tests.conftest import FrozenClock
from tests.factories import make_alert

GONE_AT = datetime(2026, 11, 27, 20, 1, 2, tzinfo=UTC)
DISABLED = (
    "channel disabled since 2026-11-27T20:01:02Z: its receiver answered HTTP 410: "
    "unsubscribed; fix its URL or run 'news-monitor channels enable siem', "
    "then 'news-monitor alerts retry --all'"
)
TOKEN = "s3cr3t-hook-token-1234"


@pytest.fixture
async def http() -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient() as client:
        yield client


@pytest.fixture
def clock() -> FrozenClock:
    return FrozenClock(GONE_AT.timestamp() + 0.75)  # a fraction: the detail shows whole seconds


def webhook(name: str, url: str, http: httpx.AsyncClient, clock: FrozenClock) -> WebhookChannel:
    return WebhookChannel(
        name, SecretStr(url), http, secret=None, timeout=5.0, user_agent="nm-test", clock=clock
    )


def worker(channel: WebhookChannel, store: MemoryStore, clock: FrozenClock) -> OutboxWorker:
    return OutboxWorker(
        store=store,
        channels={channel.name: channel},
        attempt_timeout=5,
        max_attempts=5,
        retention=3600,
        clock=clock,
    )


async def test_410_is_permanent_and_gone_and_the_channel_keeps_no_state(
    httpserver: HTTPServer, http: httpx.AsyncClient, clock: FrozenClock
) -> None:
    httpserver.expect_request("/hook").respond_with_data("unsubscribed", status=410)
    channel = webhook("siem", httpserver.url_for("/hook"), http, clock)
    results = [await channel.send(make_alert(id=f"a{i}")) for i in (1, 2)]
    assert [(r.status, r.gone, r.detail) for r in results] == [
        (DeliveryStatus.PERMANENT, True, "HTTP 410: unsubscribed")
    ] * 2
    # `send-test` goes straight through the channel: it still asks the receiver.
    assert len(httpserver.log) == 2


async def test_410_disables_the_channel_and_later_alerts_make_no_request(
    httpserver: HTTPServer, http: httpx.AsyncClient, clock: FrozenClock
) -> None:
    path = f"/hooks/{TOKEN}"
    httpserver.expect_request(path, method="POST").respond_with_data("unsubscribed", status=410)
    channel = webhook("siem", httpserver.url_for(path), http, clock)
    store = MemoryStore()
    with capture_logs() as events:
        await store.enqueue([make_alert(id="a1", channel="siem")], clock.now)
        assert (await worker(channel, store, clock).deliver_due()).dead == 1
        clock.advance(60)
        await store.enqueue([make_alert(id=f"a{i}", channel="siem") for i in (2, 3)], clock.now)
        assert (await worker(channel, store, clock).deliver_due()).dead == 2

    dead = {e.alert.id: e.last_error for e in await store.dead_letters()}
    assert dead == {"a1": f"HTTP 410: unsubscribed; {DISABLED}", "a2": DISABLED, "a3": DISABLED}
    assert all(TOKEN not in error for error in dead.values())
    assert len(httpserver.log) == 1  # only the first alert reached the receiver
    disabled = [e for e in events if e["event"] == "channel_disabled"]
    assert disabled == [
        {
            "event": "channel_disabled",
            "log_level": "error",
            "channel": "siem",
            "detail": f"HTTP 410: unsubscribed; {DISABLED}",
        }
    ]
    assert await store.disabled_channels() == [
        DisabledChannel("siem", clock.now - 60, "HTTP 410: unsubscribed", channel.target)
    ]


async def test_another_webhook_channel_is_unaffected(
    httpserver: HTTPServer, http: httpx.AsyncClient, clock: FrozenClock
) -> None:
    httpserver.expect_request("/gone", method="POST").respond_with_data("", status=410)
    httpserver.expect_request("/live", method="POST").respond_with_data("", status=204)
    gone = webhook("old", httpserver.url_for("/gone"), http, clock)
    live = webhook("new", httpserver.url_for("/live"), http, clock)
    store = MemoryStore()
    both = OutboxWorker(
        store=store,
        channels={"old": gone, "new": live},
        attempt_timeout=5,
        max_attempts=5,
        retention=3600,
        clock=clock,
    )
    await store.enqueue([make_alert(id="a1", channel="old")], clock.now)
    assert (await both.deliver_due()).dead == 1
    await store.enqueue([make_alert(id=f"b{i}", channel="new") for i in range(3)], clock.now)
    assert (await both.deliver_due()).delivered == 3
    assert [r.channel for r in await store.disabled_channels()] == ["old"]
    assert [req.path for req, _ in httpserver.log] == ["/gone", "/live", "/live", "/live"]


async def test_410_disables_even_with_retry_after(
    httpserver: HTTPServer, http: httpx.AsyncClient, clock: FrozenClock
) -> None:
    # Another 4xx with Retry-After is retried as a rate limit; Gone is final anyway.
    httpserver.expect_request("/hook").respond_with_data("", 410, {"Retry-After": "30"})
    channel = webhook("siem", httpserver.url_for("/hook"), http, clock)
    result = await channel.send(make_alert())
    assert (result.status, result.gone, result.retry_after) == (
        DeliveryStatus.PERMANENT,
        True,
        None,
    )


async def test_other_permanent_answers_do_not_disable(
    httpserver: HTTPServer, http: httpx.AsyncClient, clock: FrozenClock
) -> None:
    httpserver.expect_request("/hook").respond_with_data("no such hook", status=404)
    channel = webhook("siem", httpserver.url_for("/hook"), http, clock)
    store = MemoryStore()
    await store.enqueue([make_alert(id=f"a{i}", channel="siem") for i in (1, 2)], clock.now)
    assert (await worker(channel, store, clock).deliver_due()).dead == 2
    assert all("disabled" not in e.last_error for e in await store.dead_letters())
    assert len(httpserver.log) == 2
    assert await store.disabled_channels() == []


async def test_a_new_url_sends_again_and_the_target_does_not_reveal_it(
    httpserver: HTTPServer, http: httpx.AsyncClient, clock: FrozenClock
) -> None:
    # The mark belongs to the URL it was heard from: fixing the URL in the config (a
    # reload, or a restart) sends again without `channels enable`.
    httpserver.expect_request("/old").respond_with_data("", status=410)
    httpserver.expect_request("/new").respond_with_data("", status=204)
    old = webhook("siem", httpserver.url_for(f"/old?token={TOKEN}"), http, clock)
    store = MemoryStore()
    await store.enqueue([make_alert(id="a1", channel="siem")], clock.now)
    await worker(old, store, clock).deliver_due()
    fixed = webhook("siem", httpserver.url_for("/new"), http, clock)
    await store.enqueue([make_alert(id="a2", channel="siem")], clock.now)
    assert (await worker(fixed, store, clock).deliver_due()).delivered == 1
    assert old.target != fixed.target
    assert len(old.target) == 16 and TOKEN not in old.target
    # The same URL again: the same target, so a restart with the old URL stays disabled.
    assert webhook("siem", httpserver.url_for(f"/old?token={TOKEN}"), http, clock).target == (
        old.target
    )
