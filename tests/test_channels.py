"""Unit tests of the channels and their shared rendering, on httpx.MockTransport.

Real servers (HTTP, SMTP) are in test_channels_integration.py.
"""

from __future__ import annotations

import email
import email.policy
import io
import json
import re
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from email.message import EmailMessage
from typing import Any

import httpx
import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import SecretStr
from standardwebhooks import Webhook
from standardwebhooks.webhooks import WebhookVerificationError

from monitor.config_models import (
    ConsoleChannelConfig,
    EmailChannelConfig,
    SlackChannelConfig,
    WebhookChannelConfig,
)
from monitor.delivery.channels import (
    ConsoleChannel,
    EmailChannel,
    SlackChannel,
    WebhookChannel,
    build_channel,
)
from monitor.delivery.channels import slack as slack_mod
from monitor.delivery.channels import webhook as webhook_mod
from monitor.delivery.channels.console import format_line
from monitor.delivery.channels.email import build_message
from monitor.delivery.render import (
    clean,
    published_label,
    safe_url,
    snippet,
    snippet_of,
)
from monitor.types import DeliveryStatus, Hit
from tests.conftest import FrozenClock
from tests.factories import TEXT, make_alert, make_article, make_settings, with_article

SLACK_URL = "https://hooks.slack.com/services/T000/B000/XXXXXXXXXXXXXXXXXXXXXXXX"
HOOK_URL = "https://receiver.example/hooks/alerts?token=SECRETTOKEN123"
WHSEC = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
EVIL_TITLE = "<!channel> *bold* <http://evil.com|click>"


class Receiver:
    """A scripted HTTP receiver for httpx.MockTransport that records every request."""

    def __init__(self, *responses: httpx.Response | Exception) -> None:
        self.responses = list(responses)
        self.requests: list[httpx.Request] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        answer = self.responses.pop(0) if len(self.responses) > 1 else self.responses[0]
        if isinstance(answer, Exception):
            raise answer
        return answer

    def client(self) -> httpx.AsyncClient:
        return httpx.AsyncClient(transport=httpx.MockTransport(self))


def slack(receiver: Receiver, clock: FrozenClock, url: str = SLACK_URL) -> SlackChannel:
    return SlackChannel(
        "team-slack",
        SecretStr(url),
        receiver.client(),
        timeout=5.0,
        user_agent="news-monitor-test/1.0",
        clock=clock,
    )


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


def strings(value: Any) -> Iterator[str]:
    """Every string anywhere inside a JSON-like value."""
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for item in value.values():
            yield from strings(item)
    elif isinstance(value, list):
        for item in value:
            yield from strings(item)


# --- render ------------------------------------------------------------------------------


def test_snippet_centres_on_the_first_text_hit_and_marks_cuts() -> None:
    text = "Filler words here. " * 30 + "Then Iran announced drones. " + "More filler. " * 30
    alert = make_alert(article=make_article(text=text))
    out = snippet(alert, width=120)
    assert len(out) <= 120
    assert "Iran announced drones" in out
    assert out.startswith("…")
    assert out.endswith("…")


def test_snippet_cuts_between_words() -> None:
    text = "alpha beta gamma delta " * 40 + "Iran " + "epsilon zeta eta theta " * 40
    out = snippet(make_alert(article=make_article(text=text)), width=100)
    words = set(text.split())
    assert all(word in words for word in out.strip("…").split())


def test_snippet_without_text_hit_starts_at_the_beginning() -> None:
    text = "The ministry published a report. " * 20
    alert = make_alert(article=make_article(title="Iran Russia drones", text=text))
    assert all(h.field == "title" for h in alert.hits)
    out = snippet(alert, width=80)
    assert out.startswith("The ministry published a report.")
    assert out.endswith("…")
    assert len(out) <= 80


def test_short_text_is_the_whole_snippet_whitespace_collapsed() -> None:
    alert = make_alert(article=make_article(text="  Iran\n\nand  Russia\tdrones  "))
    assert snippet(alert) == "Iran and Russia drones"


def test_snippet_of_splits_out_matched_terms() -> None:
    parts = snippet_of(make_alert(), width=300).parts
    marked = [text for text, hit in parts if hit]
    assert marked[:3] == ["drones", "Iran", "Russia"]  # text order, as they appear in TEXT
    rendered = snippet_of(make_alert()).render(mark=lambda s: f"[{s}]")
    assert "[Iran] will supply designs while [Russia] builds" in rendered


def test_snippet_ignores_hits_outside_the_text() -> None:
    bad = (Hit("text", 5, 10_000, "x"), Hit("text", -3, 2, "y"), Hit("text", 9, 4, "z"))
    alert = make_alert(hits=bad)
    assert all(not hit for _, hit in snippet_of(alert).parts)
    assert snippet(alert).startswith("Tehran and Moscow")


@given(
    words=st.lists(
        st.sampled_from(["Iran", "and", "the", "drones", "\n", "  ", "x" * 30, "é", "\x1b"]),
        max_size=300,
    ),
    width=st.integers(min_value=60, max_value=400),
)
def test_snippet_is_bounded_and_shows_the_first_hit(words: list[str], width: int) -> None:
    alert = make_alert(article=make_article(text=" ".join(words)), terms=("Iran", "drones"))
    excerpt = snippet_of(alert, width)
    rendered = excerpt.render()
    assert len(rendered) <= width
    assert "\x1b" not in rendered and "\n" not in rendered
    if any(h.field == "text" for h in alert.hits):
        assert any(hit for _, hit in excerpt.parts)


def test_clean_removes_controls_and_bidi_overrides() -> None:
    assert clean("a\x1b[31mred\x00 \u202eevil\u202c\r\nend") == "a[31mred evil end"


def test_published_label() -> None:
    assert published_label(make_alert()) == "2026-01-05 14:03 UTC"
    assert published_label(make_alert(article=make_article(published=None))) == "unknown"


@pytest.mark.parametrize(
    ("url", "ok"),
    [
        ("https://example.org/a?b=c", True),
        ("http://example.org", True),
        ("javascript:alert(1)", False),
        ("data:text/html,<script>", False),
        ("https://exa mple.org/", False),
        ("//example.org/x", False),
        ("", False),
    ],
)
def test_safe_url(url: str, ok: bool) -> None:
    assert (safe_url(url) is not None) is ok


# --- console -----------------------------------------------------------------------------


def test_console_line_reads_like_a_sentence() -> None:
    assert format_line(make_alert()) == (
        "ALERT rule=iran-russia-drones feed=aljazeera terms=Iran,Russia,drones "
        '"Iran and Russia agree to build drones together" '
        "https://www.aljazeera.com/news/2026/1/5/iran-russia-drones"
    )


def test_console_line_neutralizes_terminal_escapes_and_quotes() -> None:
    alert = with_article(make_alert(), title='Evil \x1b[2J"quoted"\nnext', url="javascript:x")
    line = format_line(alert)
    assert "\x1b" not in line and "\n" not in line
    assert line.endswith('"Evil [2J\\"quoted\\" next"')  # no URL: javascript: is not printed


async def test_console_send_writes_one_line_to_the_stream() -> None:
    stream = io.StringIO()
    result = await ConsoleChannel("console", stream).send(make_alert())
    assert result.status is DeliveryStatus.DELIVERED
    assert stream.getvalue() == format_line(make_alert()) + "\n"


async def test_console_closed_stream_is_permanent() -> None:
    stream = io.StringIO()
    stream.close()
    result = await ConsoleChannel("console", stream).send(make_alert())
    assert result.status is DeliveryStatus.PERMANENT


# --- slack -------------------------------------------------------------------------------


def test_slack_payload_shape() -> None:
    payload = slack_mod.build_payload(make_alert())
    blocks = payload["blocks"]
    assert [b["type"] for b in blocks] == ["header", "section", "section", "section", "context"]
    assert blocks[0]["text"] == {"type": "plain_text", "text": "news-monitor: iran-russia-drones"}
    assert blocks[1]["text"]["text"] == (
        "*<https://www.aljazeera.com/news/2026/1/5/iran-russia-drones"
        "|Iran and Russia agree to build drones together>*"
    )
    fields = [f["text"] for f in blocks[2]["fields"]]
    assert fields == [
        "*Source*\naljazeera",
        "*Published*\n2026-01-05 14:03 UTC",
        "*Matched*\nIran, Russia, drones",
        "*Rule*\niran-russia-drones",
    ]
    quote = blocks[3]["text"]["text"]
    assert quote.startswith("> Tehran and Moscow")
    assert "*Iran* will supply designs while *Russia* builds" in quote
    assert blocks[4]["elements"][0]["text"] == "Query: Iran AND Russia AND drones"
    assert payload["text"] == (
        "[iran-russia-drones] Iran and Russia agree to build drones together "
        "https://www.aljazeera.com/news/2026/1/5/iran-russia-drones"
    )


def test_slack_feed_text_cannot_mention_link_or_format() -> None:
    alert = with_article(
        make_alert(terms=("Iran",)),
        title=EVIL_TITLE,
        text="Iran <@U123> and <!here|here> said `rm -rf` ~strike~ _it_ <https://evil.example|x> &",
        author="<!everyone>",
    )
    payload = slack_mod.build_payload(alert)
    texts = list(strings(payload))
    joined = "\n".join(texts)
    for bad in ("<!", "<@", "<http://evil", "<https://evil", "*bold*", "`rm", "~strike~", "_it_"):
        assert bad not in joined, bad
    # The only angle-bracket markup in the message is our own link to the article.
    tokens = set(re.findall(r"<[^>]*>", joined))
    assert tokens == {"<https://www.aljazeera.com/news/2026/1/5/iran-russia-drones|"
                      "&lt;!channel&gt; ∗bold∗ &lt;http://evil.com|click&gt;>"}  # fmt: skip
    assert "&amp;" in joined  # a bare & is escaped too
    assert "*Iran*" in joined  # our own bold survives


def test_slack_refuses_to_link_a_javascript_url() -> None:
    payload = slack_mod.build_payload(with_article(make_alert(), url="javascript:alert(1)"))
    assert "javascript" not in json.dumps(payload)
    assert (
        payload["blocks"][1]["text"]["text"] == "*Iran and Russia agree to build drones together*"
    )


def test_slack_url_cannot_break_out_of_the_link() -> None:
    alert = with_article(make_alert(), url="https://example.org/a|b>c?x=1&y=2")
    link = slack_mod.build_payload(alert)["blocks"][1]["text"]["text"]
    assert link.startswith("*<https://example.org/a%7Cb&gt;c?x=1&amp;y=2|")


def test_slack_respects_block_kit_limits_for_huge_input() -> None:
    huge = "&<>" * 5000
    article = make_article(title=huge, text=huge + " Iran " + huge, feed_id="f" * 3000)
    alert = make_alert(
        article=article, rule_id="r" * 400, query="Iran AND " + huge, terms=("Iran", "&<" * 900)
    )
    payload = slack_mod.build_payload(alert)
    header, title, fields, quote, context = payload["blocks"]
    assert len(header["text"]["text"]) <= slack_mod.HEADER_LIMIT
    assert len(title["text"]["text"]) <= slack_mod.SECTION_LIMIT
    assert all(len(f["text"]) <= slack_mod.FIELD_LIMIT for f in fields["fields"])
    assert len(quote["text"]["text"]) <= slack_mod.SECTION_LIMIT
    assert len(context["elements"][0]["text"]) <= slack_mod.SECTION_LIMIT
    assert len(payload["text"]) <= slack_mod.SECTION_LIMIT
    # Cut between entities, never inside one.
    assert not re.search(r"&(?!amp;|lt;|gt;)", title["text"]["text"])


@given(st.text(), st.integers(min_value=1, max_value=200))
def test_slack_escape_is_inert_and_bounded(text: str, limit: int) -> None:
    out = slack_mod.escape(text, limit)
    assert len(out) <= limit
    assert not set(out) & set("<>*_~`")
    assert not re.search(r"&(?!amp;|lt;|gt;)", out)
    if len(text) * 5 <= limit:
        assert out == slack_mod.escape(text)  # short input is never cut


async def test_slack_posts_json_with_user_agent(clock: FrozenClock) -> None:
    receiver = Receiver(httpx.Response(200, text="ok"))
    result = await slack(receiver, clock).send(make_alert())
    assert result.status is DeliveryStatus.DELIVERED
    assert result.detail == "HTTP 200"
    (request,) = receiver.requests
    assert request.method == "POST"
    assert str(request.url) == SLACK_URL
    assert request.headers["content-type"] == "application/json"
    assert request.headers["user-agent"] == "news-monitor-test/1.0"
    assert json.loads(request.content) == slack_mod.build_payload(make_alert())


@pytest.mark.parametrize(
    ("response", "status", "retry_after"),
    [
        (httpx.Response(500, text="rollup_error"), DeliveryStatus.RETRY, None),
        (httpx.Response(503, headers={"Retry-After": "12"}), DeliveryStatus.RETRY, 12.0),
        (httpx.Response(429, headers={"Retry-After": "30"}), DeliveryStatus.RETRY, 30.0),
        (httpx.Response(404, text="no_service"), DeliveryStatus.PERMANENT, None),
        (httpx.Response(403, text="invalid_token"), DeliveryStatus.PERMANENT, None),
        (httpx.Response(200, text="<html>captive portal</html>"), DeliveryStatus.PERMANENT, None),
    ],
)
async def test_slack_classifies_answers(
    clock: FrozenClock, response: httpx.Response, status: DeliveryStatus, retry_after: float | None
) -> None:
    result = await slack(Receiver(response), clock).send(make_alert())
    assert result.status is status
    assert result.retry_after == retry_after
    assert result.detail.startswith(f"HTTP {response.status_code}")
    assert result.alert_id == make_alert().id and result.channel == "team-slack"


async def test_slack_error_detail_quotes_the_answer(clock: FrozenClock) -> None:
    result = await slack(Receiver(httpx.Response(404, text="no_service")), clock).send(make_alert())
    assert result.detail == "HTTP 404: no_service"


async def test_slack_json_ok_answer_is_delivered(clock: FrozenClock) -> None:
    receiver = Receiver(httpx.Response(200, json={"ok": True}))
    assert (await slack(receiver, clock).send(make_alert())).status is DeliveryStatus.DELIVERED
    receiver = Receiver(httpx.Response(200, json={"ok": False, "error": "invalid_blocks"}))
    result = await slack(receiver, clock).send(make_alert())
    assert result.status is DeliveryStatus.PERMANENT
    assert "invalid_blocks" in result.detail


@pytest.mark.parametrize(
    "error",
    [
        httpx.ConnectError("[Errno 111] Connection refused"),
        httpx.ReadTimeout("timed out"),
        httpx.ConnectTimeout("timed out"),
        httpx.RemoteProtocolError("Server disconnected without sending a response."),
    ],
)
async def test_slack_transport_errors_are_retried(clock: FrozenClock, error: Exception) -> None:
    result = await slack(Receiver(error), clock).send(make_alert())
    assert result.status is DeliveryStatus.RETRY
    assert type(error).__name__ in result.detail


async def test_slack_unsupported_url_is_permanent(clock: FrozenClock) -> None:
    channel = SlackChannel(
        "s",
        SecretStr("ftp://hooks.example/SECRETTOKEN"),
        httpx.AsyncClient(),
        timeout=1.0,
        user_agent="x",
        clock=clock,
    )
    result = await channel.send(make_alert())
    assert result.status is DeliveryStatus.PERMANENT
    assert "SECRETTOKEN" not in result.detail


async def test_slack_detail_redacts_a_url_echoed_by_the_receiver(clock: FrozenClock) -> None:
    echo = httpx.Response(400, text=f"bad request to {SLACK_URL} (token XXXXXXXXXXXXXXXXXXXXXXXX)")
    result = await slack(Receiver(echo), clock).send(make_alert())
    assert result.status is DeliveryStatus.PERMANENT
    assert "XXXXXXXXXXXXXXXXXXXXXXXX" not in result.detail
    assert "[redacted]" in result.detail


async def test_slack_does_not_follow_redirects(clock: FrozenClock) -> None:
    receiver = Receiver(httpx.Response(302, headers={"Location": "https://elsewhere.example/"}))
    result = await slack(receiver, clock).send(make_alert())
    assert result.status is DeliveryStatus.PERMANENT
    assert len(receiver.requests) == 1
    assert "redirect" in result.detail


# --- webhook -----------------------------------------------------------------------------


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
            "url": "https://www.aljazeera.com/news/2026/1/5/iran-russia-drones",
            "title": "Iran and Russia agree to build drones together",
            "published": "2026-01-05T14:03:00Z",
            "author": "Al Jazeera Staff",
            "snippet": snippet(make_alert()),
        },
        "matched_terms": ["Iran", "Russia", "drones"],
        "hits": [
            {"field": h.field, "start": h.start, "end": h.end, "term": h.term}
            for h in make_alert().hits
        ],
        "created_at": "2026-01-05T14:05:00Z",
    }
    first_text_hit = next(h for h in payload["hits"] if h["field"] == "text")
    assert TEXT[first_text_hit["start"] : first_text_hit["end"]] == "drones"


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


# --- email (message building; sending is in the integration tests) -------------------------


def parse(message: EmailMessage) -> EmailMessage:
    parsed = email.message_from_bytes(message.as_bytes(), policy=email.policy.default)
    assert isinstance(parsed, EmailMessage)
    return parsed


def test_email_message_is_multipart_with_stable_headers() -> None:
    message = parse(
        build_message(make_alert(), sender="monitor@example.org", to=["a@example.org"], now=1.8e9)
    )
    assert message.get_content_type() == "multipart/alternative"
    text = message.get_body(("plain",))
    html = message.get_body(("html",))
    assert text is not None and html is not None
    assert message["Subject"] == (
        "[news-monitor] iran-russia-drones: Iran and Russia agree to build drones together"
    )
    assert message["Message-ID"] == "<3f9a1c0e7b2d4c58a6e1f0b9d8c7a6e5@news-monitor>"
    assert message["Date"].datetime == datetime.fromtimestamp(1.8e9, UTC)
    assert message["Auto-Submitted"] == "auto-generated"
    plain = text.get_content()
    assert "https://www.aljazeera.com/news/2026/1/5/iran-russia-drones" in plain
    assert "Matched:   Iran, Russia, drones" in plain
    markup = html.get_content()
    assert "<mark>Iran</mark> will supply designs while <mark>Russia</mark>" in markup
    assert '<a href="https://www.aljazeera.com/news/2026/1/5/iran-russia-drones">' in markup


def test_email_headers_cannot_be_injected() -> None:
    alert = with_article(make_alert(), title="Drones\r\nBcc: victim@example.org\r\n\r\nbody")
    built = build_message(alert, sender="m@example.org", to=["a@example.org"], now=1.8e9)
    raw = built.as_bytes()
    message = parse(built)
    assert message["Bcc"] is None
    assert b"\nBcc:" not in raw
    # strip(): Python folds this 80-character value onto a continuation line and its
    # parser keeps the fold's leading space; the value itself is one line.
    subject = message["Subject"].strip()
    assert subject == "[news-monitor] iran-russia-drones: Drones Bcc: victim@example.org body"


def test_email_html_escapes_feed_text_and_refuses_javascript_links() -> None:
    alert = with_article(
        make_alert(), title="<script>alert(1)</script> Iran", url="javascript:alert(1)"
    )
    markup = build_message(alert, sender="m@x.org", to=["a@x.org"], now=0).get_body(("html",))
    assert markup is not None
    content = markup.get_content()
    assert "<script>" not in content
    assert "&lt;script&gt;alert(1)&lt;/script&gt; Iran" in content
    assert "javascript:" not in content


def test_email_message_id_is_sanitized() -> None:
    message = build_message(make_alert(id="a b<c>@d"), sender="m@x.org", to=["a@x.org"], now=0)
    assert message["Message-ID"] == "<a-b-c--d@news-monitor>"


async def test_email_without_smtp_host_is_permanent(clock: FrozenClock) -> None:
    channel = EmailChannel("mail", ["a@example.org"], make_settings(smtp_host=None), clock)
    result = await channel.send(make_alert())
    assert result.status is DeliveryStatus.PERMANENT
    assert result.detail == "MONITOR_SMTP_HOST is not set"


# --- factory -----------------------------------------------------------------------------


async def test_build_channel_maps_every_config_type(clock: FrozenClock) -> None:
    settings = make_settings(smtp_host="smtp.example.org")
    async with httpx.AsyncClient() as http:
        built = {
            "s": build_channel(
                "s", SlackChannelConfig(type="slack", webhook_url=SLACK_URL), settings, http, clock
            ),
            "w": build_channel(
                "w", WebhookChannelConfig(type="webhook", url=HOOK_URL, secret=WHSEC),
                settings, http, clock,
            ),
            "e": build_channel(
                "e", EmailChannelConfig(type="email", to=["a@example.org"]), settings, http, clock
            ),
            "c": build_channel("c", ConsoleChannelConfig(type="console"), settings, http, clock),
        }  # fmt: skip
    assert isinstance(built["s"], SlackChannel)
    assert isinstance(built["w"], WebhookChannel)
    assert isinstance(built["e"], EmailChannel)
    assert isinstance(built["c"], ConsoleChannel)
    assert [c.name for c in built.values()] == ["s", "w", "e", "c"]
    for channel in built.values():
        assert "XXXXXXXX" not in repr(channel) and "SECRETTOKEN" not in repr(channel)
        assert "MfKQ9r8" not in repr(channel)
