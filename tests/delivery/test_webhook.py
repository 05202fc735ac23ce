"""The webhook channel: the versioned JSON payload, Standard Webhooks signatures and how
answers are classified, on httpx.MockTransport.

Real servers are in test_channels_integration.py; 410 Gone in test_webhook_gone.py."""

from __future__ import annotations

import email
import email.policy
import json
import time
from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, datetime

import httpx
import pytest
from pydantic import SecretStr
from standardwebhooks import Webhook
from standardwebhooks.webhooks import WebhookVerificationError

from monitor.delivery.channels import WebhookChannel
from monitor.delivery.channels import webhook as webhook_mod
from monitor.delivery.render import snippet
from monitor.model import DeliveryStatus
from tests.conftest import FrozenClock
from tests.delivery.support import (
    BBC_URL,
    HOOK_URL,
    HOSTILE_COPIES,
    REUTERS_URL,
    WHSEC,
    Receiver,
    covered,
    outlets,
)
from tests.factories import TEXT, make_alert, make_article, with_article


def webhook(
    receiver: Receiver, clock: Callable[[], float], secret: str | None = WHSEC
) -> WebhookChannel:
    return WebhookChannel(
        "ops-hook",
        SecretStr(HOOK_URL),
        receiver.client(),
        secret=SecretStr(secret) if secret is not None else None,
        timeout=5.0,
        user_agent="news-monitor-test/1.0",
        clock=clock,
    )


def test_webhook_payload_schema() -> None:
    payload = webhook_mod.build_payload(make_alert())
    assert payload == {
        "version": 1,
        "type": "alert.matched",
        "alert_id": "3f9a1c0e7b2d4c58a6e1f0b9d8c7a6e5",
        "rule": {"id": "iran-russia-drones", "query": "Iran AND Russia AND drones"},
        "channel": "ops",
        "article": {
            "id": "aljazeera:2026-01-05-iran-russia-drones",
            "feed_id": "aljazeera",
            "feed_name": "aljazeera",  # no name: the feed id
            "url": "https://www.aljazeera.com/news/2026/1/5/iran-russia-drones",
            "title": "Iran and Russia agree to build drones together",
            "published": "2026-01-05T14:03:00Z",
            "author": "Al Jazeera Staff",
            "snippet": snippet(make_alert()),
            "fulltext": False,  # the feed's own text
            "language": "",  # unknown
        },
        "story": None,
        "matched_terms": ["Iran", "Russia", "drones"],
        "hits": [
            {"field": h.field, "start": h.start, "end": h.end, "term": h.term}
            for h in make_alert().hits
        ],
        "created_at": "2026-01-05T14:05:00Z",
    }
    first_text_hit = next(h for h in payload["hits"] if h["field"] == "text")
    assert TEXT[first_text_hit["start"] : first_text_hit["end"]] == "drones"


def test_webhook_payload_says_the_text_came_from_the_full_article() -> None:
    """A feed with ``fulltext``: the article's text (and the hits in it) is its page's."""
    alert = make_alert(article=make_article(fulltext=True))
    payload = json.loads(webhook_mod.encode_payload(alert))
    assert payload["article"]["fulltext"] is True
    assert payload["version"] == 1, "a new field, not a new version"


def test_webhook_payload_without_publication_date() -> None:
    payload = webhook_mod.build_payload(with_article(make_alert(), published=None))
    assert payload["article"]["published"] is None


async def test_webhook_signature_verifies_with_standardwebhooks() -> None:
    receiver = Receiver(httpx.Response(204))
    # Real time: the verifier rejects timestamps more than 5 minutes from now.
    result = await webhook(receiver, time.time).send(make_alert())
    assert result.status is DeliveryStatus.DELIVERED
    (request,) = receiver.requests
    headers = dict(request.headers)
    payload = Webhook(WHSEC).verify(request.content, headers)
    assert payload == webhook_mod.build_payload(make_alert())
    assert headers["webhook-id"] == make_alert().id
    assert headers["content-type"] == "application/json"
    assert headers["user-agent"] == "news-monitor-test/1.0"
    with pytest.raises(WebhookVerificationError):
        Webhook(WHSEC).verify(request.content.replace(b"Iran", b"Iraq"), headers)
    with pytest.raises(WebhookVerificationError):
        Webhook("whsec_" + "QUFBQUFBQUFBQUFBQUFBQQ==").verify(request.content, headers)


async def test_webhook_plain_secret_signs_with_its_utf8_bytes() -> None:
    receiver = Receiver(httpx.Response(200))
    await webhook(receiver, time.time, secret="correct horse battery staple").send(make_alert())
    (request,) = receiver.requests
    Webhook(b"correct horse battery staple").verify(request.content, dict(request.headers))


async def test_webhook_id_is_stable_across_retries_timestamp_is_not(clock: FrozenClock) -> None:
    receiver = Receiver(httpx.Response(503), httpx.Response(200))
    channel = webhook(receiver, clock)
    first = await channel.send(make_alert())
    clock.advance(37)
    second = await channel.send(make_alert())
    assert (first.status, second.status) == (DeliveryStatus.RETRY, DeliveryStatus.DELIVERED)
    one, two = receiver.requests
    assert one.headers["webhook-id"] == two.headers["webhook-id"] == make_alert().id
    assert one.content == two.content
    assert int(one.headers["webhook-timestamp"]) == int(clock.now) - 37
    assert int(two.headers["webhook-timestamp"]) == int(clock.now)
    assert one.headers["webhook-signature"] != two.headers["webhook-signature"]


async def test_unsigned_webhook_still_sends_its_id(clock: FrozenClock) -> None:
    receiver = Receiver(httpx.Response(200))
    await webhook(receiver, clock, secret=None).send(make_alert())
    (request,) = receiver.requests
    assert request.headers["webhook-id"] == make_alert().id
    assert "webhook-signature" not in request.headers


@pytest.mark.parametrize("code", [301, 302, 307, 308])
async def test_webhook_redirect_is_permanent_and_not_followed(
    clock: FrozenClock, code: int
) -> None:
    receiver = Receiver(httpx.Response(code, headers={"Location": "https://attacker.example/"}))
    result = await webhook(receiver, clock).send(make_alert())
    assert result.status is DeliveryStatus.PERMANENT
    assert [str(r.url) for r in receiver.requests] == [HOOK_URL]


@pytest.mark.parametrize(
    ("url", "problem"),
    [
        ("http://127.0.0.1:99999/hook", "is not a valid URL (a bad port or address)"),
        ("htps://hooks.example.org/hook", "must start with http:// or https://"),
    ],
)
async def test_a_url_that_cannot_work_is_a_permanent_failure_without_a_request(
    clock: FrozenClock, url: str, problem: str
) -> None:
    receiver = Receiver(httpx.Response(204))
    channel = WebhookChannel(
        "ops-hook",
        SecretStr(url),
        receiver.client(),
        secret=None,
        timeout=5.0,
        user_agent="news-monitor-test/1.0",
        clock=clock,
    )
    result = await channel.send(make_alert())
    assert result.status is DeliveryStatus.PERMANENT  # never retried as if the receiver were down
    assert problem in result.detail
    assert receiver.requests == []


@pytest.mark.parametrize("code", [408, 425, 429, 500, 502])
async def test_webhook_retryable_codes(clock: FrozenClock, code: int) -> None:
    result = await webhook(Receiver(httpx.Response(code)), clock).send(make_alert())
    assert result.status is DeliveryStatus.RETRY


async def test_webhook_retry_after_http_date(clock: FrozenClock) -> None:
    when = email.utils.format_datetime(datetime.fromtimestamp(clock.now + 120, UTC), usegmt=True)
    receiver = Receiver(httpx.Response(429, headers={"Retry-After": when}))
    result = await webhook(receiver, clock).send(make_alert())
    assert result.retry_after == pytest.approx(120.0)


def test_webhook_bad_whsec_secret_fails_without_quoting_it() -> None:
    with pytest.raises(ValueError, match="base64") as info:
        webhook(Receiver(httpx.Response(200)), time.time, secret="whsec_not*base64!SECRETPART")
    assert "SECRETPART" not in str(info.value)


def test_webhook_signing_key_accepts_unpadded_whsec() -> None:
    assert webhook_mod.signing_key("whsec_QUJD") == b"ABC"
    assert webhook_mod.signing_key("whsec_QUI") == b"AB"  # "QUI=" without its padding
    assert webhook_mod.signing_key("plain") == b"plain"


# --- story coverage: the other outlets of an alert's story (Alert.also_in) -----------------


def test_webhook_payload_carries_the_story() -> None:
    payload = webhook_mod.build_payload(covered())
    assert payload["story"] == {
        "id": "aljazeera:2026-01-05-iran-russia-drones",
        "also_in": [
            {"feed_id": "bbc-world", "url": BBC_URL, "title": "Iran and Russia to build drones"},
            {"feed_id": "reuters", "url": REUTERS_URL, "title": "Drone plant deal"},
        ],
        "also_in_total": 2,
    }
    rest = {k: v for k, v in payload.items() if k != "story"}
    assert rest == {
        k: v for k, v in webhook_mod.build_payload(make_alert()).items() if k != "story"
    }
    # In a story that no other outlet carried (yet): the id, and an empty list.
    alone = webhook_mod.build_payload(replace(make_alert(), story_id="s-1"))["story"]
    assert alone == {"id": "s-1", "also_in": [], "also_in_total": 0}


def test_webhook_story_lists_at_most_twenty_copies_as_they_are() -> None:
    copies = (*HOSTILE_COPIES, *outlets(30))
    story = webhook_mod.build_payload(covered(*copies))["story"]
    assert len(story["also_in"]) == webhook_mod.ALSO_IN_LIMIT == 20
    assert story["also_in_total"] == 33
    # Data, not markup: the receiver gets the copies as the feeds gave them (like article.*).
    assert story["also_in"][0] == {
        "feed_id": "<!channel>", "url": "javascript:alert(1)", "title": "<script>alert(1)</script>",
    }  # fmt: skip
    body = webhook_mod.encode_payload(covered(*copies))
    assert json.loads(body)["story"] == story  # ASCII JSON, lone control characters escaped


async def test_webhook_posts_the_story_signed() -> None:
    receiver = Receiver(httpx.Response(204))
    # Real time: the verifier rejects timestamps more than 5 minutes from now.
    result = await webhook(receiver, time.time).send(covered())
    assert result.status is DeliveryStatus.DELIVERED
    (request,) = receiver.requests
    verified = Webhook(WHSEC).verify(request.content, dict(request.headers))
    assert verified["story"]["also_in"][0]["feed_id"] == "bbc-world"
