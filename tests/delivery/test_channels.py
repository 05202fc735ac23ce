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
from dataclasses import replace
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

from monitor.config.models import (
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
from monitor.delivery.channels import console as console_mod
from monitor.delivery.channels import email as email_mod
from monitor.delivery.channels import slack as slack_mod
from monitor.delivery.channels import webhook as webhook_mod
from monitor.delivery.channels.console import format_line
from monitor.delivery.channels.email import build_message
from monitor.delivery.render import (
    clean,
    join_within,
    other_outlets,
    published_label,
    safe_url,
    snippet,
    snippet_of,
)
from monitor.delivery.templates import ChannelTemplates
from monitor.model import Alert, Coverage, DeliveryStatus, Hit
from tests.conftest import FrozenClock
from tests.factories import (
    TEXT,
    make_alert,
    make_article,
    make_settings,
    with_article,
    with_coverage,
)
from tests.servers import smtp_sink

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


# --- slack: groups and templates ------------------------------------------------------------


def group_of(count: int) -> list[Alert]:
    """``count`` alerts of two rules with distinct ids and titles."""
    return [
        with_article(
            make_alert(id=f"alert-{i}", rule_id="rule-a" if i % 3 else "rule-b"),
            title=f"Story {i} about drones",
        )
        for i in range(count)
    ]


def hostile_alert(i: int) -> Alert:
    """Every field huge and full of mrkdwn; the snippet a run of bolded ``&``s (worst case)."""
    huge = "&<>*_~`" * 2000 + EVIL_TITLE
    # Even alerts: a URL just inside the link budget (755 ``&amp;`` + prefix); odd: far over.
    url = "https://evil.example/?" + ("&" * 150 if i % 2 == 0 else "&a=<b>|" * 500)
    text = "&" * 3000 + " " + huge
    article = make_article(
        id=f"hostile-{i}", title=huge, text=text, feed_id="f&<" * 1000, author=huge, url=url
    )
    hits = tuple(Hit("text", k, k + 1, "&<" * 900 if k % 2 else f"*{k}*") for k in range(3000))
    return make_alert(
        id=f"hostile-{i}", article=article, hits=hits, rule_id=f"r{i}-" + "r" * 400,
        query="Iran AND " + huge,
    )  # fmt: skip


def assert_within_block_kit(payload: dict[str, Any]) -> None:
    blocks = payload["blocks"]
    assert len(blocks) <= slack_mod.BLOCK_LIMIT
    assert blocks[0]["type"] == "header"
    assert 1 <= len(blocks[0]["text"]["text"]) <= slack_mod.HEADER_LIMIT
    for block in blocks[1:]:
        if "text" in block:
            assert 1 <= len(block["text"]["text"]) <= slack_mod.SECTION_LIMIT
        for field in block.get("fields", []) + block.get("elements", []):
            assert len(field["text"]) <= slack_mod.FIELD_LIMIT
    assert len(payload["text"]) <= slack_mod.SECTION_LIMIT
    # Every mrkdwn text (not the plain_text header) has whole entities only: feed text's
    # "&" always escaped, and no cut inside an "&amp;".
    for text in [payload["text"], *strings(blocks[1:])]:
        assert not re.search(r"&(?!amp;|lt;|gt;)", text), "raw & or half an entity"


def test_slack_group_payload_shape() -> None:
    alerts = group_of(3)
    payload = slack_mod.build_group_payload(alerts)
    header, *sections = payload["blocks"]
    assert header["text"] == {
        "type": "plain_text", "text": "news-monitor: 3 alerts · rule-b, rule-a",
    }  # fmt: skip
    assert payload["text"] == "news-monitor: 3 alerts · rule-b, rule-a"
    assert [s["type"] for s in sections] == ["section"] * 3
    title, meta, quote = sections[1]["text"]["text"].split("\n")
    assert title == (
        "*<https://www.aljazeera.com/news/2026/1/5/iran-russia-drones|Story 1 about drones>*"
    )
    assert meta == "aljazeera · 2026-01-05 14:03 UTC · rule rule-a · matched: drones, Iran, Russia"
    assert quote.startswith("> …") and "*Iran* will supply" in quote
    assert len(quote) <= 3 + slack_mod.GROUP_SNIPPET_WIDTH + 2 * 3  # three terms bolded


def test_slack_group_of_ten_hostile_alerts_stays_within_block_kit_limits() -> None:
    alerts = [hostile_alert(i) for i in range(slack_mod.MAX_GROUP)]
    payload = slack_mod.build_group_payload(alerts)
    assert len(payload["blocks"]) == 1 + slack_mod.MAX_GROUP
    assert_within_block_kit(payload)
    joined = "\n".join(strings(payload))
    for bad in ("<!", "<@", "<http://evil", "<https://evil.example|", "*bold*", "`", "~s~"):
        assert bad not in joined, bad
    # The only angle-bracket markup: our links to the (linkable, even) articles' URLs.
    links = re.findall(r"<([^|>]*)\|", joined)
    assert links == ["https://evil.example/?" + "&amp;" * 150] * (slack_mod.MAX_GROUP // 2)
    # The budgets hold by construction; the section that comes nearest shows the margin.
    longest = max(len(b["text"]["text"]) for b in payload["blocks"][1:])
    assert 2000 < longest <= slack_mod.SECTION_LIMIT


def test_slack_group_header_names_what_fits() -> None:
    alerts = [make_alert(id=f"a{i}", rule_id=f"rule-{i}-" + "x" * 40) for i in range(10)]
    header = slack_mod.build_group_payload(alerts)["blocks"][0]["text"]["text"]
    assert len(header) <= slack_mod.HEADER_LIMIT
    assert header.startswith("news-monitor: 10 alerts · rule-0-")
    assert re.search(r", \+\d more$", header)


def test_slack_templates_keep_every_limit_with_hostile_text() -> None:
    body = (
        "{% for _ in range(20) %}*{{ alert.title }}* {{ link(alert.url, alert.author) }} "
        "{{ alert.snippet }} {{ alert.terms | join(', ') }}{% endfor %}"
    )
    templates = ChannelTemplates(
        "s",
        {"title": "{% for a in alerts %}{{ a.title }}{% endfor %}", "body": body},
        slack_mod.TEMPLATE_FORMATS,
    )
    alerts = [hostile_alert(i) for i in range(slack_mod.MAX_GROUP)]
    payload = slack_mod.build_group_payload(alerts, templates, channel="s")
    assert_within_block_kit(payload)
    for block in payload["blocks"][1:]:
        text = block["text"]["text"]
        assert text.endswith("…")  # cut by clip_mrkdwn ...
        assert text.rfind("<") < text.rfind(">") or "<" not in text  # ... never inside a link
    joined = "\n".join(strings(payload["blocks"][1:]))
    assert "<!" not in joined and "<@" not in joined and "*bold*" not in joined


def test_slack_template_output_cannot_inject_through_feed_text() -> None:
    alert = with_article(
        make_alert(terms=("Iran",)),
        title=EVIL_TITLE,
        text="Iran <@U123> and <!here|here> said `rm -rf` ~strike~ _it_ &",
        author="<!everyone>",
    )
    templates = ChannelTemplates(
        "s",
        {
            "title": "New: {{ alert.title }}",
            "body": "*{{ alert.title }}* by {{ alert.author }}\n> {{ alert.snippet }} "
            "_{{ alert.terms | join(', ') }}_ {{ alert.source }} <!here>",
        },
        slack_mod.TEMPLATE_FORMATS,
    )
    payload = slack_mod.build_group_payload([alert], templates, channel="s")
    header, body = payload["blocks"]
    # A plain_text header shows text as written: no markup is parsed there.
    assert header["text"] == {"type": "plain_text", "text": f"New: {EVIL_TITLE}"}
    assert payload["text"] == slack_mod.escape(f"New: {EVIL_TITLE}")  # notifications parse it
    text = body["text"]["text"]
    for bad in ("<!channel>", "<@", "<!everyone>", "<http://evil", "*bold*", "`rm", "~strike~"):
        assert bad not in text, bad
    assert text.startswith("*&lt;!channel&gt; ∗bold∗ &lt;http://evil.com|click&gt;* by ")
    assert text.endswith("_Iran_ aljazeera <!here>")  # the template's own markup is kept


def test_slack_title_template_alone_keeps_the_single_layout() -> None:
    templates = ChannelTemplates(
        "s", {"title": "{{ alert.rule | upper }}"}, slack_mod.TEMPLATE_FORMATS
    )
    payload = slack_mod.build_group_payload([make_alert()], templates, channel="s")
    today = slack_mod.build_payload(make_alert())
    assert payload["blocks"][1:] == today["blocks"][1:]
    assert payload["blocks"][0]["text"]["text"] == "IRAN-RUSSIA-DRONES"
    assert payload["text"] == "IRAN-RUSSIA-DRONES"


async def test_slack_group_is_one_post_answered_for_the_first_alert(clock: FrozenClock) -> None:
    receiver = Receiver(httpx.Response(200, text="ok"))
    alerts = group_of(4)
    result = await slack(receiver, clock).send_group(alerts)
    assert (result.status, result.alert_id) == (DeliveryStatus.DELIVERED, "alert-0")
    (request,) = receiver.requests
    assert json.loads(request.content) == slack_mod.build_group_payload(alerts, channel="x")


async def test_slack_max_group_one_is_todays_single_message(clock: FrozenClock) -> None:
    receiver = Receiver(httpx.Response(200, text="ok"))
    channel = SlackChannel(
        "s", SecretStr(SLACK_URL), receiver.client(), timeout=5.0, user_agent="u", clock=clock,
        max_group=1,
    )  # fmt: skip
    assert channel.max_group == 1
    await channel.send_group([make_alert()])
    await channel.send(make_alert())
    assert [json.loads(r.content) for r in receiver.requests] == [
        slack_mod.build_payload(make_alert())
    ] * 2
    with pytest.raises(ValueError, match="1 to 1 alerts"):
        await channel.send_group(group_of(2))


async def test_slack_template_error_is_permanent_and_names_channel_and_part(
    clock: FrozenClock,
) -> None:
    receiver = Receiver(httpx.Response(200, text="ok"))
    channel = SlackChannel(
        "team-slack", SecretStr(SLACK_URL), receiver.client(), timeout=5.0, user_agent="u",
        clock=clock, templates={"title": "{{ alerts[1].title }}"},
    )  # fmt: skip
    result = await channel.send(make_alert())
    assert result.status is DeliveryStatus.PERMANENT
    assert result.detail.startswith("channel 'team-slack': template 'title' failed at line 1:")
    assert receiver.requests == []


@pytest.mark.parametrize(
    ("code", "answer"),
    [
        (400, "invalid_payload"),
        (403, "invalid_token"),
        (404, "no_service"),
        (410, "channel_is_archived"),
    ],
)
async def test_slack_refusals_are_permanent_and_quote_slack(
    clock: FrozenClock, code: int, answer: str
) -> None:
    receiver = Receiver(httpx.Response(code, text=answer))
    result = await slack(receiver, clock).send_group(group_of(3))
    assert result.status is DeliveryStatus.PERMANENT
    assert result.detail == f"HTTP {code}: {answer}"
    assert result.retry_after is None


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


def boundaryless(message: EmailMessage) -> bytes:
    """The message's bytes with its random MIME boundaries replaced by a constant."""
    return re.sub(rb"=+\d+=+", b"BOUNDARY", message.as_bytes())


def test_email_group_of_one_is_todays_message() -> None:
    for alert in (make_alert(), with_article(make_alert(), title="a\r\nBcc: x", author="")):
        grouped = email_mod.build_group_message([alert], sender="m@x.org", to=["a@x.org"], now=0)
        single = build_message(alert, sender="m@x.org", to=["a@x.org"], now=0)
        assert boundaryless(grouped) == boundaryless(single)


def test_email_group_subject_parts_and_message_id() -> None:
    alerts = group_of(3)
    message = parse(
        email_mod.build_group_message(alerts, sender="m@x.org", to=["a@x.org"], now=1.8e9)
    )
    assert message["Subject"] == "[news-monitor] 3 alerts: rule-b, rule-a"
    assert re.fullmatch(r"<[0-9a-f]{32}@group\.news-monitor>", message["Message-ID"])
    assert message["Auto-Submitted"] == "auto-generated"
    text = message.get_body(("plain",))
    markup = message.get_body(("html",))
    assert text is not None and markup is not None
    plain = text.get_content()
    assert plain.startswith("news-monitor: 3 alerts (rule-b, rule-a)\n")
    for i, alert in enumerate(alerts):
        assert f"--- {i + 1} of 3 ---\nStory {i} about drones\n" in plain
        assert f"news-monitor alert {alert.id}" in plain
    assert plain.count("Matched:   drones, Iran, Russia") == 3
    html = markup.get_content()
    assert html.count("<h2>") == 3 and html.count("<hr>") == 2
    assert html.count("<mark>Iran</mark> will supply") == 3


@pytest.mark.parametrize(
    ("digest", "count", "expected"),
    [
        ("hourly", 7, "[news-monitor] Hourly digest: 7 alerts"),
        ("daily", 2, "[news-monitor] Daily digest: 2 alerts"),
        ("daily", 1, "[news-monitor] Daily digest: 1 alert"),
    ],
)
def test_email_digest_subject(digest: str, count: int, expected: str) -> None:
    alerts = group_of(count)
    message = email_mod.build_group_message(
        alerts, sender="m@x.org", to=["a@x.org"], now=0, digest=digest
    )
    assert message["Subject"] == expected
    body = message.get_body(("plain",))
    assert body is not None
    assert body.get_content().startswith(f"{digest} digest: {count} alert")
    single_id = f"<{alerts[0].id}@news-monitor>"
    assert (message["Message-ID"] == single_id) is (count == 1)


def test_email_group_message_id_is_stable_and_distinct() -> None:
    alerts = group_of(3)
    group_id = email_mod.group_message_id(alerts)
    assert email_mod.group_message_id(list(reversed(alerts))) == group_id  # order-independent
    assert email_mod.group_message_id(alerts[:2]) != group_id
    assert group_id not in {email_mod.message_id(a) for a in alerts}
    # An alert whose id looks like a group hash still gets a different Message-ID.
    lookalike = make_alert(id=group_id.strip("<>").split("@")[0])
    assert email_mod.message_id(lookalike) != group_id
    first = email_mod.build_group_message(alerts, sender="m@x.org", to=["a@x.org"], now=0)
    retry = email_mod.build_group_message(alerts, sender="m@x.org", to=["a@x.org"], now=99)
    assert first["Message-ID"] == retry["Message-ID"] == group_id


def test_email_group_headers_cannot_be_injected() -> None:
    alerts = [make_alert(id="a1", rule_id="r\r\nBcc: victim@example.org"), make_alert(id="a2")]
    templates = ChannelTemplates(
        "m", {"subject": "{{ alert.title }}\r\nBcc: {{ alert.rule }}"}, email_mod.TEMPLATE_FORMATS
    )
    for tpl in (None, templates):
        built = email_mod.build_group_message(
            alerts, sender="m@x.org", to=["a@x.org"], now=0, templates=tpl, channel="m"
        )
        assert b"\nBcc:" not in built.as_bytes()
        assert parse(built)["Bcc"] is None


def test_email_subject_template_is_one_line_and_bounded() -> None:
    alert = with_article(make_alert(), title="x" * 1000)
    templates = ChannelTemplates(
        "m", {"subject": "{{ alert.title }}\n{{ count }}"}, email_mod.TEMPLATE_FORMATS
    )
    built = email_mod.build_group_message(
        [alert], sender="m@x.org", to=["a@x.org"], now=0, templates=templates, channel="m"
    )
    assert len(built["Subject"]) == email_mod.SUBJECT_LIMIT
    assert built["Subject"].endswith("…")
    # A template that renders an empty subject gets the default one.
    empty = ChannelTemplates("m", {"subject": "{{ '' }}"}, email_mod.TEMPLATE_FORMATS)
    built = email_mod.build_group_message(
        [make_alert()], sender="m@x.org", to=["a@x.org"], now=0, templates=empty, channel="m"
    )
    assert built["Subject"] == email_mod.subject(make_alert())


async def test_email_group_is_delivered_as_one_message_on_a_real_server() -> None:
    alerts = group_of(5)
    settings = make_settings(smtp_host="127.0.0.1", smtp_from="m@example.org")
    with smtp_sink() as sink:
        settings = make_settings(smtp_host=sink.host, smtp_port=sink.port, smtp_from="m@x.org")
        channel = EmailChannel("mail", ["desk@example.org"], settings, FrozenClock())
        assert channel.max_group == email_mod.MAX_GROUP
        result = await channel.send_group(alerts)
        retry = await channel.send_group(alerts)
    assert (result.status, result.alert_id) == (DeliveryStatus.DELIVERED, "alert-0")
    assert retry.status is DeliveryStatus.DELIVERED
    first, second = sink.messages
    assert first["Subject"] == "[news-monitor] 5 alerts: rule-b, rule-a"
    assert first["Message-ID"] == second["Message-ID"] == email_mod.group_message_id(alerts)


async def test_email_max_group_one_sends_todays_message(clock: FrozenClock) -> None:
    with smtp_sink() as sink:
        settings = make_settings(smtp_host=sink.host, smtp_port=sink.port, smtp_from="m@x.org")
        channel = EmailChannel("mail", ["desk@example.org"], settings, clock, max_group=1)
        assert (await channel.send_group([make_alert()])).status is DeliveryStatus.DELIVERED
        with pytest.raises(ValueError, match="1 to 1 alerts"):
            await channel.send_group(group_of(2))
    (received,) = sink.messages
    expected = parse(
        build_message(make_alert(), sender="m@x.org", to=["desk@example.org"], now=clock())
    )
    for header in ("Subject", "From", "To", "Date", "Message-ID", "Auto-Submitted"):
        assert received[header] == expected[header], header
    for kind in ("plain", "html"):
        got, want = received.get_body((kind,)), expected.get_body((kind,))
        assert got is not None and want is not None
        # SMTP carries lines ending in CRLF.
        assert got.get_content().replace("\r\n", "\n") == want.get_content()


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


# --- story coverage: the other outlets of an alert's story (Alert.also_in) -----------------

BBC_URL = "https://www.bbc.co.uk/news/world-67890"
REUTERS_URL = "https://www.reuters.com/world/iran-russia-drones/"


def covered(*copies: Coverage) -> Alert:
    """The default alert in a story that ``copies`` (default: bbc-world, reuters) also carry."""
    return with_coverage(make_alert(), *copies)


def outlets(count: int) -> tuple[Coverage, ...]:
    return tuple(Coverage(f"outlet-{i}", f"https://o{i}.example/s", f"t{i}") for i in range(count))


#: Copies that must never become markup, a mention, a link or a terminal escape.
HOSTILE_COPIES = (
    Coverage("<!channel>", "javascript:alert(1)", "<script>alert(1)</script>"),
    Coverage("<@U123> *b* _i_ ~s~ `c`", "https://ok.example/a|b>c?x=1&y=2", "@everyone <b>"),
    Coverage("evil\x1b[2J\r\nBcc: victim@example.org", "data:text/html,x", "\u202eevil"),
)


def test_other_outlets_one_per_feed_without_the_alerts_own() -> None:
    alert = covered(
        Coverage("bbc-world", "https://bbc.example/1", "first"),
        Coverage("aljazeera", "https://aljazeera.example/2", "another copy from its own feed"),
        Coverage("bbc-world", "https://bbc.example/3", "second bbc copy"),
        Coverage("reuters\n", "javascript:alert(1)", "r"),
        Coverage(" \x00", "https://blank.example/", "no name"),
    )
    assert other_outlets(alert) == [
        Coverage("bbc-world", "https://bbc.example/1", "first"),
        Coverage("reuters", "", "r"),
    ]
    assert other_outlets(make_alert()) == []


@given(
    st.lists(st.lists(st.text(min_size=1, max_size=60), min_size=1, max_size=3), max_size=40),
    st.integers(min_value=0, max_value=300),
    st.integers(min_value=0, max_value=12),
)
def test_join_within_never_exceeds_its_budget(
    entries: list[list[str]], budget: int, shown: int
) -> None:
    out = join_within(entries, budget, max_shown=shown)
    assert len(out) <= budget
    if entries and budget >= 20:
        assert out  # at least the count of what was left out


def test_join_within_prefers_the_first_form_that_fits_and_counts_the_rest() -> None:
    entries = [("<long link|a>", "a"), ("b",), ("c",), ("d",)]
    assert join_within(entries, 100, max_shown=10) == "<long link|a>, b, c, d"
    assert join_within(entries, 100, max_shown=2) == "<long link|a>, b (+2 more)"
    assert join_within(entries, 16, max_shown=10) == "a, b (+2 more)"
    assert join_within(entries, 10, max_shown=10) == "(+4 more)"
    assert join_within([], 100, max_shown=10) == ""


def test_slack_single_lists_the_other_outlets_linked() -> None:
    payload = slack_mod.build_payload(covered())
    blocks = payload["blocks"]
    assert [b["type"] for b in blocks] == [
        "header", "section", "section", "context", "section", "context",
    ]  # fmt: skip
    assert blocks[3]["elements"] == [
        {
            "type": "mrkdwn",
            "text": f"Also reported by: <{BBC_URL}|bbc-world>, <{REUTERS_URL}|reuters>",
        }
    ]
    today = slack_mod.build_payload(make_alert())
    assert blocks[:3] + blocks[4:] == today["blocks"]
    assert payload["text"] == today["text"]


def test_slack_counts_the_outlets_it_does_not_name() -> None:
    alert = covered(*outlets(15))
    also = slack_mod.build_payload(alert)["blocks"][3]["elements"][0]["text"]
    assert also.startswith("Also reported by: <https://o0.example/s|outlet-0>, ")
    assert also.endswith(", <https://o9.example/s|outlet-9> (+5 more)")
    section = slack_mod.build_group_payload([alert, make_alert(id="b")])["blocks"][1]
    lines = section["text"]["text"].split("\n")
    assert lines[2] == (
        "Also reported by: "
        + ", ".join(f"<https://o{i}.example/s|outlet-{i}>" for i in range(5))
        + " (+10 more)"
    )
    assert lines[3].startswith("> ")


def test_slack_without_other_outlets_is_todays_message() -> None:
    in_a_story = replace(make_alert(), story_id="s-1")  # a story no other outlet carried (yet)
    assert slack_mod.build_payload(in_a_story) == slack_mod.build_payload(make_alert())
    only_own_feed = covered(Coverage("aljazeera", "https://aljazeera.example/b", "its own copy"))
    assert slack_mod.build_payload(only_own_feed) == slack_mod.build_payload(make_alert())
    group = [replace(a, story_id="s") for a in group_of(3)]
    assert slack_mod.build_group_payload(group) == slack_mod.build_group_payload(group_of(3))


def test_slack_other_outlets_cannot_mention_link_or_format() -> None:
    alert = covered(*HOSTILE_COPIES)
    for payload in (
        slack_mod.build_payload(alert),
        slack_mod.build_group_payload([alert, make_alert(id="b")]),
    ):
        joined = "\n".join(strings(payload))
        for bad in ("<!", "<@", "*b*", "_i_", "~s~", "`", "javascript", "data:", "\x1b", "\r"):
            assert bad not in joined, bad
        assert_within_block_kit(payload)
    also = slack_mod.also_mrkdwn(alert)
    assert also == (
        "Also reported by: &lt;!channel&gt;, "
        "<https://ok.example/a%7Cb&gt;c?x=1&amp;y=2|&lt;@U123&gt; ∗b∗ ˍiˍ ∼s∼ ˋcˋ>, "
        "evil[2J Bcc: victim@example.org"
    )


def huge_copies(count: int = 50) -> tuple[Coverage, ...]:
    """Copies with huge hostile names, titles and URLs; every other URL short enough to link."""
    huge = "&<>*_~`" * 2000 + EVIL_TITLE
    return tuple(
        Coverage(
            f"{i}-" + "f&<" * 1000,
            "https://evil.example/?" + ("&" * 30 if i % 2 else "&a=<b>|" * 500),
            huge,
        )
        for i in range(count)
    )


def test_slack_group_of_ten_with_fifty_huge_copies_each_stays_within_block_kit_limits() -> None:
    alerts = [with_coverage(hostile_alert(i), *huge_copies()) for i in range(slack_mod.MAX_GROUP)]
    payload = slack_mod.build_group_payload(alerts)
    assert len(payload["blocks"]) == 1 + slack_mod.MAX_GROUP  # no block added per alert
    assert_within_block_kit(payload)
    joined = "\n".join(strings(payload))
    for bad in ("<!", "<@", "<http://evil", "*bold*", "`", "~s~"):
        assert bad not in joined, bad
    for block in payload["blocks"][1:]:
        text = block["text"]["text"]
        assert "\nAlso reported by: " in text
        assert len(text) <= slack_mod.SECTION_LIMIT
        # With an "also" line the title's link budget shrinks: the 772-character URL of the
        # even alerts, linked without one, is not linked here.
        assert not text.startswith("*<")
    also_lines = [
        line for b in payload["blocks"][1:] for line in b["text"]["text"].split("\n")
        if line.startswith("Also reported by: ")
    ]  # fmt: skip
    assert all(len(line) <= slack_mod.GROUP_ALSO_BUDGET for line in also_lines)
    assert all(re.search(r" \(\+\d+ more\)$", line) for line in also_lines)
    # The single layout: one more context block, within limits too.
    single = slack_mod.build_payload(alerts[0])
    assert_within_block_kit(single)
    (context,) = [b for b in single["blocks"] if b["type"] == "context" and "Also" in str(b)]
    assert len(context["elements"][0]["text"]) <= slack_mod.ALSO_BUDGET


async def test_slack_posts_the_other_outlets(clock: FrozenClock) -> None:
    receiver = Receiver(httpx.Response(200, text="ok"))
    result = await slack(receiver, clock).send(covered())
    assert result.status is DeliveryStatus.DELIVERED
    (request,) = receiver.requests
    assert "Also reported by: <https://www.bbc.co.uk/" in request.content.decode()


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


def test_email_names_the_other_outlets_in_text_and_html() -> None:
    message = parse(build_message(covered(), sender="m@x.org", to=["a@x.org"], now=0))
    text, markup = message.get_body(("plain",)), message.get_body(("html",))
    assert text is not None and markup is not None
    plain = text.get_content()
    assert "Source:    aljazeera\nAlso in:   bbc-world, reuters\nPublished: " in plain
    html = markup.get_content()
    assert (
        '<tr><th align="left" style="padding-right:1em">Also in</th><td>'
        f'<a href="{BBC_URL}" title="Iran and Russia to build drones">bbc-world</a>, '
        f'<a href="{REUTERS_URL}" title="Drone plant deal">reuters</a></td></tr>'
    ) in html


def test_email_without_other_outlets_is_todays_message() -> None:
    for alert in (replace(make_alert(), story_id="s-1"), make_alert()):
        built = build_message(alert, sender="m@x.org", to=["a@x.org"], now=0)
        today = build_message(make_alert(), sender="m@x.org", to=["a@x.org"], now=0)
        assert boundaryless(built) == boundaryless(today)
    group = [replace(a, story_id="s") for a in group_of(3)]
    for digest in (None, "daily"):
        built = email_mod.build_group_message(group, sender="m", to=["a"], now=0, digest=digest)
        today = email_mod.build_group_message(
            group_of(3), sender="m", to=["a"], now=0, digest=digest
        )
        assert boundaryless(built) == boundaryless(today)


def test_email_other_outlets_are_escaped_and_bounded() -> None:
    alert = covered(*HOSTILE_COPIES, *outlets(20))
    built = build_message(alert, sender="m@x.org", to=["a@x.org"], now=0)
    message = parse(built)
    assert message["Bcc"] is None and b"\nBcc:" not in built.as_bytes()
    text, markup = message.get_body(("plain",)), message.get_body(("html",))
    assert text is not None and markup is not None
    (line,) = [ln for ln in text.get_content().splitlines() if ln.startswith("Also in:")]
    assert line == (
        "Also in:   <!channel>, <@U123> *b* _i_ ~s~ `c`, evil[2J Bcc: victim@example.org, "
        + ", ".join(f"outlet-{i}" for i in range(7))
        + " (+13 more)"
    )
    html = markup.get_content()
    for bad in ("<script>", "<!channel>", "<@U123>", "javascript:", "data:", "<b>", "\x1b"):
        assert bad not in html, bad
    assert "<td>&lt;!channel&gt;, " in html  # javascript: is not linked
    assert (
        '<a href="https://ok.example/a|b&gt;c?x=1&amp;y=2" title="@everyone &lt;b&gt;">'
        "&lt;@U123&gt; *b* _i_ ~s~ `c`</a>"
    ) in html


def test_email_group_and_digest_name_each_alerts_other_outlets() -> None:
    alerts = [with_coverage(a, *outlets(i + 1)) for i, a in enumerate(group_of(3))]
    for digest in (None, "hourly"):
        message = parse(
            email_mod.build_group_message(alerts, sender="m", to=["a"], now=0, digest=digest)
        )
        text, markup = message.get_body(("plain",)), message.get_body(("html",))
        assert text is not None and markup is not None
        plain = text.get_content()
        assert "Also in:   outlet-0\n" in plain
        assert "Also in:   outlet-0, outlet-1\n" in plain
        assert "Also in:   outlet-0, outlet-1, outlet-2\n" in plain
        assert markup.get_content().count(">Also in</th>") == 3


def test_console_line_ends_with_the_other_outlets() -> None:
    assert format_line(covered()) == format_line(make_alert()) + " (also: bbc-world, reuters)"
    assert format_line(covered(*outlets(8))).endswith(
        " (also: outlet-0, outlet-1, outlet-2, outlet-3, outlet-4, +3 more)"
    )
    assert format_line(replace(make_alert(), story_id="s-1")) == format_line(make_alert())


def test_console_other_outlets_cannot_move_the_cursor() -> None:
    line = format_line(covered(*HOSTILE_COPIES, *huge_copies(3)))
    assert "\x1b" not in line and "\n" not in line and "\r" not in line
    suffix = line[len(format_line(make_alert())) :]
    assert suffix.startswith(" (also: <!channel>, <@U123> *b* _i_ ~s~ `c`, evil[2J Bcc: ")
    assert len(suffix) <= len(" (also: )") + console_mod.ALSO_LIMIT


async def test_console_prints_the_other_outlets() -> None:
    stream = io.StringIO()
    await ConsoleChannel("console", stream).send(covered())
    assert stream.getvalue().endswith(" (also: bbc-world, reuters)\n")
