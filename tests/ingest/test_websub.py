"""WebSub's pure parts: hub discovery (Link headers, Atom and RSS links, JSON Feed),
signatures, callback URLs, lease and retry math; and the hub request against a mock hub."""

from __future__ import annotations

import hashlib
import hmac
from urllib.parse import parse_qs

import httpx
import pytest

from monitor.ingest import build_http_client
from monitor.ingest.websub import (
    HubLinks,
    callback_url,
    discover_hub,
    hub_form,
    renew_at,
    retry_delay,
    send_hub_request,
    sign,
    verify_signature,
)
from monitor.settings import Settings

FEED = "https://news.example.org/feed.xml"

ATOM = b"""<?xml version="1.0" encoding="utf-8"?>
<feed xmlns="http://www.w3.org/2005/Atom">
  <title>News</title>
  <link rel="alternate" href="https://news.example.org/"/>
  <link href="https://pubsubhubbub.example.com/" rel="hub" />
  <link rel='self' href='https://news.example.org/atom?a=1&amp;b=2'/>
  <entry><title>One</title><link rel="hub" href="https://entry.example/hub"/></entry>
</feed>"""

RSS = b"""<?xml version="1.0"?>
<rss version="2.0" xmlns:atom="http://www.w3.org/2005/Atom">
<channel>
  <title>News</title>
  <link>https://news.example.org/</link>
  <atom:link rel="hub" href="/hub"/>
  <atom:link rel="self" type="application/rss+xml" href="https://news.example.org/rss"/>
  <item><title>One</title></item>
</channel></rss>"""


def test_an_atom_feed_names_its_hub_and_self() -> None:
    assert discover_hub(ATOM, {}, FEED) == HubLinks(
        "https://pubsubhubbub.example.com/", "https://news.example.org/atom?a=1&b=2"
    )


def test_rss_atom_links_resolve_against_the_feed_url() -> None:
    assert discover_hub(RSS, {}, FEED) == HubLinks(
        "https://news.example.org/hub", "https://news.example.org/rss"
    )


def test_link_headers_win_over_the_body() -> None:
    headers = {
        "Link": '<https://hub.example/a>; rel="hub", <https://news.example.org/topic>; rel=self'
    }
    assert discover_hub(ATOM, headers, FEED) == HubLinks(
        "https://hub.example/a", "https://news.example.org/topic"
    )


def test_a_header_hub_with_the_body_self() -> None:
    headers = {"link": '<https://hub.example/a>; rel="hub"'}
    found = discover_hub(RSS, headers, FEED)
    assert found == HubLinks("https://hub.example/a", "https://news.example.org/rss")


def test_without_self_the_topic_is_the_feed_url() -> None:
    body = b'<rss><channel><atom:link rel="hub" href="https://hub.example/"/></channel></rss>'
    assert discover_hub(body, {}, FEED) == HubLinks("https://hub.example/", FEED)


def test_a_rel_with_several_tokens_counts() -> None:
    body = b'<feed><link rel="hub  alternate" href="https://hub.example/"/></feed>'
    assert discover_hub(body, {}, FEED) == HubLinks("https://hub.example/", FEED)


def test_links_inside_entries_do_not_count() -> None:
    body = (
        b"<feed><title>x</title><entry><link rel='hub' href='https://h.example/'/></entry></feed>"
    )
    assert discover_hub(body, {}, FEED) is None


def test_a_feed_without_a_hub_names_none() -> None:
    body = b'<feed><link rel="self" href="https://news.example.org/atom"/></feed>'
    assert discover_hub(body, {"link": '<https://x.example/>; rel="next"'}, FEED) is None


def test_a_non_http_hub_is_ignored() -> None:
    body = b'<feed><link rel="hub" href="javascript:alert(1)"/></feed>'
    assert discover_hub(body, {}, FEED) is None


def test_a_json_feed_lists_its_hubs() -> None:
    body = (
        b'{"version": "https://jsonfeed.org/version/1.1", "feed_url": "https://n.example/f.json",'
        b' "hubs": [{"type": "rssCloud", "url": "https://cloud.example/"},'
        b' {"type": "WebSub", "url": "https://hub.example/"}], "items": []}'
    )
    assert discover_hub(body, {}, FEED) == HubLinks(
        "https://hub.example/", "https://n.example/f.json"
    )


def test_signatures_are_verified_in_every_spec_method() -> None:
    body = b"<feed>pushed</feed>"
    for method in ("sha1", "sha256", "sha384", "sha512"):
        assert verify_signature(sign(body, "s3cret", method), body, "s3cret") == ""
    digest = hmac.new(b"s3cret", body, hashlib.sha256).hexdigest()
    assert verify_signature(f"sha256={digest.upper()}", body, "s3cret") == ""


@pytest.mark.parametrize(
    ("header", "reason"),
    [
        (None, "missing"),
        ("", "missing"),
        ("sha256", "malformed"),
        ("sha256=", "malformed"),
        ("md5=abc", "unsupported method 'md5'"),
        ("sha256=" + "0" * 64, "mismatch"),
        ("sha256=zz\u00e9", "mismatch"),
    ],
)
def test_a_bad_signature_says_why(header: str | None, reason: str) -> None:
    assert verify_signature(header, b"body", "s3cret") == reason


def test_a_signature_with_another_secret_or_body_fails() -> None:
    body = b"<feed/>"
    assert verify_signature(sign(body, "other"), body, "s3cret") == "mismatch"
    assert verify_signature(sign(body + b" ", "s3cret"), body, "s3cret") == "mismatch"


def test_callback_url_quotes_the_feed_id() -> None:
    assert callback_url("https://m.example/base/", "a.b-c", "tok") == (
        "https://m.example/base/websub/a.b-c/tok"
    )
    assert callback_url("https://m.example", "x/y", "t") == "https://m.example/websub/x%2Fy/t"


def test_hub_form_and_lease_math() -> None:
    form = hub_form("subscribe", "https://t", "https://c", secret="s", lease_seconds=600)
    assert form == {
        "hub.mode": "subscribe",
        "hub.topic": "https://t",
        "hub.callback": "https://c",
        "hub.secret": "s",
        "hub.lease_seconds": "600",
    }
    assert "hub.secret" not in hub_form("unsubscribe", "https://t", "https://c")
    assert renew_at(1000.0, 100.0) == pytest.approx(1085.0)
    assert [retry_delay(n) for n in (1, 2, 3, 7, 50)] == [60, 120, 240, 3600, 3600]


async def test_the_hub_request_is_a_form_post() -> None:
    seen: list[httpx.Request] = []

    def hub(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(202)

    async with httpx.AsyncClient(transport=httpx.MockTransport(hub)) as client:
        answer = await send_hub_request(
            client, "https://hub.example/", {"hub.mode": "subscribe"}, deadline=5
        )
    assert answer.accepted and answer.status == 202
    assert seen[0].method == "POST"
    assert parse_qs(seen[0].content.decode()) == {"hub.mode": ["subscribe"]}


async def test_a_hub_refusal_or_failure_is_a_value() -> None:
    def refuse(request: httpx.Request) -> httpx.Response:
        return httpx.Response(400, text="hub.topic   not\nallowed")

    async with httpx.AsyncClient(transport=httpx.MockTransport(refuse)) as client:
        answer = await send_hub_request(client, "https://hub.example/", {}, deadline=5)
    assert not answer.accepted
    assert answer.error == "HTTP 400: hub.topic not allowed"

    def down(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("connection refused")

    async with httpx.AsyncClient(transport=httpx.MockTransport(down)) as client:
        answer = await send_hub_request(client, "https://hub.example/", {}, deadline=5)
    assert not answer.accepted and answer.status is None
    assert "connection refused" in answer.error


async def test_a_redirect_is_not_followed() -> None:
    def moved(request: httpx.Request) -> httpx.Response:
        return httpx.Response(302, headers={"location": "https://elsewhere.example/"})

    async with httpx.AsyncClient(transport=httpx.MockTransport(moved)) as client:
        answer = await send_hub_request(client, "https://hub.example/", {}, deadline=5)
    assert not answer.accepted and answer.status == 302


async def test_hub_requests_go_through_the_address_policy() -> None:
    settings = Settings(_env_file=None, allow_private_addresses=False)
    async with build_http_client(settings) as client:
        refused = await send_hub_request(client, "http://127.0.0.1:9/hub", {}, deadline=5)
        # The feed's allow_private_addresses lets its hub through (nothing listens there).
        allowed = await send_hub_request(
            client, "http://127.0.0.1:9/hub", {}, deadline=5, allow_private=True
        )
    assert not refused.accepted
    assert refused.error.startswith("refused:") and "loopback" in refused.error
    assert not allowed.accepted and not allowed.error.startswith("refused:")
