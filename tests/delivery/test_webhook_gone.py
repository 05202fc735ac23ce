"""A webhook receiver answering 410 Gone disables its channel, against a real server.

Per Standard Webhooks a 410 means "send no more". pytest-httpserver (a real
werkzeug server on loopback) answers; its request log proves which alerts
made a request and which did not.
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
from monitor.model import DeliveryStatus
from tests.conftest import FrozenClock
from tests.factories import make_alert

GONE_AT = datetime(2026, 11, 27, 20, 1, 2, tzinfo=UTC)
DISABLED = (
    "endpoint disabled: it answered 410 Gone at 2026-11-27T20:01:02Z; "
    "fix the URL and restart, then 'news-monitor alerts retry --all'"
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


async def test_410_disables_the_channel_and_later_alerts_make_no_request(
    httpserver: HTTPServer, http: httpx.AsyncClient, clock: FrozenClock
) -> None:
    path = f"/hooks/{TOKEN}"
    httpserver.expect_request(path, method="POST").respond_with_data("unsubscribed", status=410)
    channel = webhook("siem", httpserver.url_for(path), http, clock)
    with capture_logs() as events:
        first = await channel.send(make_alert(id="a1"))
        clock.advance(60)
        later = [await channel.send(make_alert(id=f"a{i}")) for i in (2, 3)]

    assert first.status is DeliveryStatus.PERMANENT
    assert first.detail == f"HTTP 410: unsubscribed; {DISABLED}"
    assert TOKEN not in first.detail
    assert [(r.alert_id, r.status, r.detail) for r in later] == [
        ("a2", DeliveryStatus.PERMANENT, DISABLED),
        ("a3", DeliveryStatus.PERMANENT, DISABLED),
    ]
    assert len(httpserver.log) == 1  # only the first alert reached the receiver
    disabled = [e for e in events if e["event"] == "channel_disabled"]
    assert disabled == [
        {
            "event": "channel_disabled",
            "log_level": "error",
            "channel": "siem",
            "status": 410,
            "detail": DISABLED,
        }
    ]
    assert channel.disabled == DISABLED


async def test_another_webhook_channel_is_unaffected(
    httpserver: HTTPServer, http: httpx.AsyncClient, clock: FrozenClock
) -> None:
    httpserver.expect_request("/gone", method="POST").respond_with_data("", status=410)
    httpserver.expect_request("/live", method="POST").respond_with_data("", status=204)
    gone = webhook("old", httpserver.url_for("/gone"), http, clock)
    live = webhook("new", httpserver.url_for("/live"), http, clock)

    assert (await gone.send(make_alert(id="a1"))).status is DeliveryStatus.PERMANENT
    results = [await live.send(make_alert(id=f"b{i}")) for i in range(3)]

    assert [r.status for r in results] == [DeliveryStatus.DELIVERED] * 3
    assert live.disabled is None
    assert [req.path for req, _ in httpserver.log] == ["/gone", "/live", "/live", "/live"]


async def test_410_disables_even_with_retry_after(
    httpserver: HTTPServer, http: httpx.AsyncClient, clock: FrozenClock
) -> None:
    # Another 4xx with Retry-After is retried as a rate limit; Gone is final anyway.
    httpserver.expect_request("/hook").respond_with_data("", 410, {"Retry-After": "30"})
    channel = webhook("siem", httpserver.url_for("/hook"), http, clock)
    result = await channel.send(make_alert())
    assert result.status is DeliveryStatus.PERMANENT
    assert result.detail.endswith(DISABLED)
    assert (await channel.send(make_alert(id="a2"))).detail == DISABLED
    assert len(httpserver.log) == 1


async def test_other_permanent_answers_do_not_disable(
    httpserver: HTTPServer, http: httpx.AsyncClient, clock: FrozenClock
) -> None:
    httpserver.expect_request("/hook").respond_with_data("no such hook", status=404)
    channel = webhook("siem", httpserver.url_for("/hook"), http, clock)
    for alert_id in ("a1", "a2"):
        result = await channel.send(make_alert(id=alert_id))
        assert result.status is DeliveryStatus.PERMANENT
        assert "disabled" not in result.detail
    assert len(httpserver.log) == 2
    assert channel.disabled is None


async def test_a_new_process_tries_the_url_again(
    httpserver: HTTPServer, http: httpx.AsyncClient, clock: FrozenClock
) -> None:
    # A restart builds the channel anew: the disabled state was this object's only.
    httpserver.expect_oneshot_request("/hook").respond_with_data("", status=410)
    httpserver.expect_request("/hook").respond_with_data("", status=204)
    first = webhook("siem", httpserver.url_for("/hook"), http, clock)
    assert (await first.send(make_alert())).status is DeliveryStatus.PERMANENT
    restarted = webhook("siem", httpserver.url_for("/hook"), http, clock)
    assert (await restarted.send(make_alert())).status is DeliveryStatus.DELIVERED
    assert len(httpserver.log) == 2
