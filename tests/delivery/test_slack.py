"""The Slack channel: Block Kit payloads (single, grouped, templated, with the story's other
outlets), escaping of hostile feed text, and delivery on httpx.MockTransport.

Real servers are in test_channels_integration.py."""

from __future__ import annotations

import json
import re
from dataclasses import replace
from typing import Any

import httpx
import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import SecretStr

from monitor.delivery.channels import SlackChannel
from monitor.delivery.channels import slack as slack_mod
from monitor.delivery.templates import ChannelTemplates
from monitor.model import Alert, Coverage, DeliveryStatus, Hit
from tests.conftest import FrozenClock
from tests.delivery.support import (
    BBC_URL,
    EVIL_TITLE,
    HOSTILE_COPIES,
    REUTERS_URL,
    SLACK_URL,
    Receiver,
    covered,
    group_of,
    huge_copies,
    outlets,
    strings,
)
from tests.factories import make_alert, make_article, with_article, with_coverage


def slack(receiver: Receiver, clock: FrozenClock, url: str = SLACK_URL) -> SlackChannel:
    return SlackChannel(
        "team-slack",
        SecretStr(url),
        receiver.client(),
        timeout=5.0,
        user_agent="news-monitor-test/1.0",
        clock=clock,
    )


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


# --- groups and templates ----------------------------------------------------------------


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
        "type": "plain_text", "text": "news-monitor: 3 articles · rule-b, rule-a",
    }  # fmt: skip
    assert payload["text"] == "news-monitor: 3 articles · rule-b, rule-a"
    assert [s["type"] for s in sections] == ["section"] * 3
    title, meta, rules, quote = sections[1]["text"]["text"].split("\n")
    assert title == (
        "*<https://www.aljazeera.com/news/2026/1/5/iran-russia-drones|Story 1 about drones>*"
    )
    assert meta == "aljazeera · 2026-01-05 14:03 UTC · matched: drones, Iran, Russia"
    assert rules == "Rule: rule-a (Iran AND Russia AND drones)"
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
    alerts = [
        with_article(make_alert(id=f"a{i}", rule_id=f"rule-{i}-" + "x" * 40), id=f"art-{i}")
        for i in range(10)
    ]
    header = slack_mod.build_group_payload(alerts)["blocks"][0]["text"]["text"]
    assert len(header) <= slack_mod.HEADER_LIMIT
    assert header.startswith("news-monitor: 10 articles · rule-0-")
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


# --- story coverage: the other outlets of an alert's story (Alert.also_in) -----------------


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
    other = with_article(make_alert(id="b"), id="another-article")
    section = slack_mod.build_group_payload([alert, other])["blocks"][1]
    lines = section["text"]["text"].split("\n")
    assert lines[2] == "Rule: iran-russia-drones (Iran AND Russia AND drones)"
    assert lines[3] == (
        "Also reported by: "
        + ", ".join(f"<https://o{i}.example/s|outlet-{i}>" for i in range(5))
        + " (+10 more)"
    )
    assert lines[4].startswith("> ")


def test_slack_without_other_outlets_is_todays_message() -> None:
    in_a_story = replace(make_alert(), story_id="s-1")  # a story no other outlet carried (yet)
    assert slack_mod.build_payload(in_a_story) == slack_mod.build_payload(make_alert())
    only_own_feed = covered(Coverage("aljazeera", "https://aljazeera.example/b", "its own copy"))
    assert slack_mod.build_payload(only_own_feed) == slack_mod.build_payload(make_alert())
    group = [replace(a, story_id=f"s{i}") for i, a in enumerate(group_of(3))]
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


def test_slack_group_of_ten_with_fifty_huge_copies_each_stays_within_block_kit_limits() -> None:
    alerts = [
        with_coverage(hostile_alert(i), *huge_copies(), story_id=f"story-{i}")
        for i in range(slack_mod.MAX_GROUP)
    ]
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
