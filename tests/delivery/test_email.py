"""The email channel: message building (single, grouped, digests, the story's other outlets),
header injection and HTML escaping; sending mostly in the integration tests."""

from __future__ import annotations

import email
import email.policy
import re
from dataclasses import replace
from datetime import UTC, datetime
from email.message import EmailMessage

import pytest

from monitor.delivery.channels import EmailChannel
from monitor.delivery.channels import email as email_mod
from monitor.delivery.channels.email import build_message
from monitor.delivery.templates import ChannelTemplates
from monitor.model import DeliveryStatus
from tests.conftest import FrozenClock
from tests.delivery.support import BBC_URL, HOSTILE_COPIES, REUTERS_URL, covered, group_of, outlets
from tests.factories import make_alert, make_settings, with_article, with_coverage
from tests.servers import smtp_sink


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
    assert message["Subject"] == "[news-monitor] 3 articles: rule-b, rule-a"
    assert re.fullmatch(r"<[0-9a-f]{32}@group\.news-monitor>", message["Message-ID"])
    assert message["Auto-Submitted"] == "auto-generated"
    text = message.get_body(("plain",))
    markup = message.get_body(("html",))
    assert text is not None and markup is not None
    plain = text.get_content()
    assert plain.startswith("news-monitor: 3 articles (rule-b, rule-a)\n")
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
        ("hourly", 7, "[news-monitor] Hourly digest: 7 articles"),
        ("daily", 2, "[news-monitor] Daily digest: 2 articles"),
        ("daily", 1, "[news-monitor] Daily digest: 1 article"),
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
    assert body.get_content().startswith(f"{digest} digest: {count} article")
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
    assert first["Subject"] == "[news-monitor] 5 articles: rule-b, rule-a"
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


# --- story coverage: the other outlets of an alert's story (Alert.also_in) -----------------


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
    group = [replace(a, story_id=f"s{i}") for i, a in enumerate(group_of(3))]
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
    alerts = [
        with_coverage(a, *outlets(i + 1), story_id=f"s{i}") for i, a in enumerate(group_of(3))
    ]
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
