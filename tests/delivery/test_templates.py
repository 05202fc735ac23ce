"""Message templates: checking, the sandbox, the context, escaping per format, config errors,
and templated messages through the channels (Slack on a real local HTTP server, email on a
real local SMTP server)."""

from __future__ import annotations

import contextlib
import io
import json
import re
import textwrap
from pathlib import Path

import httpx
import pytest
from pydantic import SecretStr, ValidationError
from pytest_httpserver import HTTPServer

from monitor.config.load import load_config
from monitor.delivery.base import Channel
from monitor.delivery.channel_config import ChannelConfig
from monitor.delivery.channels import (
    ConsoleChannel,
    ConsoleChannelConfig,
    EmailChannel,
    EmailChannelConfig,
    SlackChannel,
    SlackChannelConfig,
    WebhookChannelConfig,
    build_channel,
)
from monitor.delivery.channels import console as console_mod
from monitor.delivery.channels import email as email_mod
from monitor.delivery.channels import slack as slack_mod
from monitor.delivery.templates import (
    HTML,
    LINE,
    TEXT,
    ChannelTemplates,
    Context,
    CoverageView,
    Format,
    TemplateRenderError,
    check_template,
    view_of,
)
from monitor.errors import ConfigError
from monitor.model import Alert, Coverage, DeliveryStatus
from monitor.settings import Settings
from tests.conftest import FrozenClock
from tests.factories import make_alert, make_settings, with_article, with_coverage
from tests.servers import smtp_sink

EVIL = "<!channel> *bold* _it_ ~s~ `code` <@U123> <https://evil.example|x> &"


def render(
    source: str, fmt: Format = TEXT, alerts: list[Alert] | None = None, digest: str | None = None
) -> str:
    templates = ChannelTemplates("ch", {"part": source}, {"part": fmt})
    return templates.render(
        "part", Context.of(alerts or [make_alert()], channel="ch", digest=digest)
    )


# --- checking ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("source", "message"),
    [
        ("line one\nline two\n{{ alert.title }", r"template 'body', line 3: unexpected '}'"),
        ("{% if count %}\nopen", r"template 'body', line 1: Unexpected end of template"),
        ("{{ alert.title | nosuchfilter }}", r"line 1: No filter named 'nosuchfilter'"),
        ("ok\n\n{{ aler.title }}", r"line 3: unknown variable 'aler' \(known: alert, alerts"),
    ],
)
def test_check_template_names_part_and_line(source: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        check_template(source, "body")


def test_check_template_accepts_locals_and_jinja_globals() -> None:
    check_template(
        "{% set n = namespace(k=0) %}{% for a in alerts %}{{ loop.index }} {{ a.title }}"
        "{% set n.k = n.k + 1 %}{% endfor %}{{ range(3) | list }} {{ count }} {{ channel }}"
        "{{ digest }} {{ link(alert.url, alert.title) }}"
    )


# --- context -----------------------------------------------------------------------------


def test_view_exposes_the_documented_fields_cleaned() -> None:
    alert = with_article(
        make_alert(), title="Drones\r\nover\x1b[31m Kyiv", url="javascript:alert(1)", author=""
    )
    view = view_of(alert)
    assert view.title == "Drones over[31m Kyiv"
    assert view.url == ""
    assert view.source == "aljazeera"
    assert view.published == "2026-01-05 14:03 UTC"
    assert view.rule == "iran-russia-drones"
    assert view.query == "Iran AND Russia AND drones"
    assert list(view.terms) == ["drones", "Iran", "Russia"]  # first seen: title, then text
    assert view.snippet.startswith("Tehran and Moscow") and "*" not in view.snippet
    assert view.author == ""
    assert view.id == alert.id


def test_view_lists_the_other_copies_cleaned_and_bounded() -> None:
    copies = (
        Coverage("bbc-world", "https://www.bbc.co.uk/news/1", "Drones\r\nover\x1b[31m Kyiv"),
        Coverage("reuters\u202e", "javascript:alert(1)", "x" * 5000),
        *(Coverage(f"o{i}" * 300, f"https://o{i}.example/", "") for i in range(30)),
    )
    view = view_of(with_coverage(make_alert(), *copies))
    assert view.also_in[:2] == (
        CoverageView("bbc-world", "https://www.bbc.co.uk/news/1", "Drones over[31m Kyiv"),
        CoverageView("reuters", "", "x" * 999 + "…"),
    )
    assert len(view.also_in) == 20 and view.also_in_count == 32
    assert all(len(c.source) <= 200 for c in view.also_in)
    assert view_of(make_alert()).also_in == () and view_of(make_alert()).also_in_count == 0


def test_templates_render_the_other_copies() -> None:
    alert = with_coverage(make_alert())
    out = render(
        "{% for c in alert.also_in %}{{ c.source }}={{ c.url }} {% endfor %}"
        "{{ alert.also_in_count }}",
        alerts=[alert],
    )
    assert out == (
        "bbc-world=https://www.bbc.co.uk/news/world-67890 "
        "reuters=https://www.reuters.com/world/iran-russia-drones/ 2"
    )
    # The examples in docs/templates.md.
    example = (
        "{% if alert.also_in %}Also reported by: {{ alert.also_in | map(attribute='source') "
        "| unique | join(', ') }}{% endif %}"
    )
    twice = with_coverage(make_alert(), *alert.also_in, Coverage("bbc-world", "", "update"))
    assert render(example, alerts=[twice]) == "Also reported by: bbc-world, reuters"
    assert render(example) == ""
    links = (
        "{% for c in alert.also_in %}{{ link(c.url, c.source) }}"
        "{% if not loop.last %}, {% endif %}{% endfor %}"
    )
    assert render(links, slack_mod.MRKDWN, [alert]) == (
        "<https://www.bbc.co.uk/news/world-67890|bbc-world>, "
        "<https://www.reuters.com/world/iran-russia-drones/|reuters>"
    )


def test_other_copies_stay_escaped_in_every_format() -> None:
    alert = with_coverage(make_alert(), Coverage(EVIL, "javascript:alert(1)", "<script>x</script>"))
    body = "{% for c in alert.also_in %}{{ link(c.url, c.source) }} {{ c.title }}{% endfor %}"
    slack = ChannelTemplates("s", {"body": body}, {"body": slack_mod.MRKDWN})
    out = slack.render("body", Context.of([alert], channel="s"))
    assert out == f"{slack_mod.escape(EVIL)} &lt;script&gt;x&lt;/script&gt;"
    html = render(body, HTML, [alert])
    assert "<script>" not in html and "javascript" not in html and "<!channel>" not in html
    assert html.startswith("&lt;!channel&gt;")


def test_context_variables() -> None:
    first, second = make_alert(id="a1"), make_alert(id="a2", rule_id="other")
    out = render(
        "{{ count }}|{{ channel }}|{{ alert.id }}|{{ alerts | map(attribute='rule') | join(',') }}"
        "|{{ digest }}|{{ alert.terms | join('+') }}",
        alerts=[first, second],
    )
    assert out == "2|ch|a1|iran-russia-drones,other||Iran+Russia+drones"
    assert render("{{ digest }}", digest="hourly") == "hourly"


def test_undefined_attribute_is_a_render_error_with_part_and_line() -> None:
    with pytest.raises(TemplateRenderError) as info:
        render("fine\n{{ alert.titel }}")
    assert info.value.part == "part" and info.value.line == 2
    assert str(info.value).startswith("channel 'ch': template 'part' failed at line 2:")
    assert "titel" in str(info.value)


@pytest.mark.parametrize(
    "source",
    [
        "{{ alert.__class__ }}",
        "{{ alert.title.__class__.__mro__ }}",
        "{{ alerts.append(1) }}",
        "{{ alert.title.format.__globals__ }}",
        "{{ 1 / 0 }}",
        "{{ link.__globals__ }}",
    ],
)
def test_sandbox_refusals_and_errors_become_render_errors(source: str) -> None:
    with pytest.raises(TemplateRenderError):
        render(source)


def test_templates_cannot_change_the_context_of_later_renders() -> None:
    templates = ChannelTemplates("ch", {"p": "{{ alerts | length }}"}, {"p": TEXT})
    alerts = [make_alert(), with_article(make_alert(id="b"), id="another-article")]
    context = Context.of(alerts, channel="ch")
    assert [templates.render("p", context, i) for i in range(2)] == ["2", "2"]


# --- formats -----------------------------------------------------------------------------


def test_html_autoescapes_values_but_not_the_template() -> None:
    alert = with_article(make_alert(), title="<script>alert(1)</script>")
    out = render("<b>{{ alert.title }}</b> {{ link(alert.url, alert.title) }}", HTML, [alert])
    assert out.startswith("<b>&lt;script&gt;alert(1)&lt;/script&gt;</b> <a href=")
    assert "<script>" not in out
    assert '<a href="https://www.aljazeera.com/news/2026/1/5/iran-russia-drones">&lt;script' in out


def test_html_link_refuses_non_http_urls() -> None:
    out = render('{{ link("javascript:alert(1)", "<x>") }}', HTML)
    assert out == "&lt;x&gt;"


def test_line_format_collapses_to_one_clean_line() -> None:
    alert = with_article(make_alert(), title="a\x1b[2J\r\nb\u202ec")
    assert render("{{ alert.rule }}\n\n  {{ alert.title }}\t!", LINE, [alert]) == (
        "iran-russia-drones a[2J bc !"
    )


def test_slack_format_escapes_every_value_and_keeps_template_markup() -> None:
    alert = with_article(make_alert(), title=EVIL)
    templates = ChannelTemplates(
        "s", {"body": "*{{ alert.title }}* <!here>"}, {"body": slack_mod.MRKDWN}
    )
    out = templates.render("body", Context.of([alert], channel="s"))
    assert out == f"*{slack_mod.escape(EVIL)}* <!here>"
    assert "<!channel>" not in out and "*bold*" not in out and "<@" not in out


def test_slack_link_escapes_label_and_url() -> None:
    out = render('{{ link("https://x.example/a|b?c=1&d=2", "<!channel> *x*") }}', slack_mod.MRKDWN)
    assert out == "<https://x.example/a%7Cb?c=1&amp;d=2|&lt;!channel&gt; ∗x∗>"
    # A link's output concatenated with other text is just text again: escaped.
    out = render('{{ link("https://x.example/", "l") ~ "" }}', slack_mod.MRKDWN)
    assert out == "&lt;https://x.example/|l&gt;"


# --- config --------------------------------------------------------------------------------


def write_config(directory: Path, text: str) -> None:
    (directory / "a.yaml").write_text(textwrap.dedent(text).lstrip("\n"), encoding="utf-8")


def config_errors(directory: Path) -> list[str]:
    settings = Settings(_env_file=None, rules_dir=directory)
    with pytest.raises(ConfigError) as info:
        load_config(settings, env={})
    return [str(issue) for issue in info.value.issues]


def test_bad_template_is_a_config_error_with_file_and_lines(tmp_path: Path) -> None:
    write_config(
        tmp_path,
        """
        channels:
          team:
            type: slack
            webhook_url: https://hooks.slack.com/services/T/B/x
            templates:
              title: "{{ count }} alerts"
              body: |
                *{{ alert.title }}*
                {{ alert.snippet }
        """,
    )
    (error,) = config_errors(tmp_path)
    assert re.fullmatch(
        r".*a\.yaml:6: 'templates': .*template 'body', line 2: unexpected '}'", error
    )


def test_unknown_template_part_is_a_config_error(tmp_path: Path) -> None:
    write_config(
        tmp_path,
        """
        channels:
          out:
            type: console
            templates: {line: "{{ alert.title }}", body: "x"}
        """,
    )
    (error,) = config_errors(tmp_path)
    assert re.fullmatch(r".*a\.yaml:4: .*unknown template part\(s\) body; .* has: line", error)


def test_webhook_has_no_template_parts() -> None:
    with pytest.raises(ValidationError, match="this channel type has: none"):
        WebhookChannelConfig(type="webhook", url="https://x.example/", templates={"body": "x"})


def test_unknown_variable_is_a_config_error() -> None:
    with pytest.raises(
        ValidationError, match=r"template 'subject', line 1: unknown variable 'rule'"
    ):
        EmailChannelConfig(type="email", to=["a@example.org"], templates={"subject": "{{ rule }}"})


def test_valid_templates_load(tmp_path: Path) -> None:
    write_config(
        tmp_path,
        """
        channels:
          out:
            type: console
            templates:
              line: "{{ alert.rule }}: {{ alert.title }}"
        """,
    )
    settings = Settings(_env_file=None, rules_dir=tmp_path)
    loaded = load_config(settings, env={})
    assert loaded.config.channels["out"].templates == {
        "line": "{{ alert.rule }}: {{ alert.title }}"
    }


async def test_build_channel_passes_templates_digest_and_capped_max_group(
    clock: FrozenClock,
) -> None:
    settings = make_settings(smtp_host="smtp.example.org")
    hook = "https://hooks.slack.com/services/T/B/x"
    async with httpx.AsyncClient() as http:

        def build(name: str, config: ChannelConfig) -> Channel:
            return build_channel(name, config, settings, http, clock)

        slack_default = build("s", SlackChannelConfig(type="slack", webhook_url=hook))
        slack_three = build("s", SlackChannelConfig(type="slack", webhook_url=hook, max_group=3))
        slack_many = build("s", SlackChannelConfig(type="slack", webhook_url=hook, max_group=999))
        mail = build("e", EmailChannelConfig(type="email", to=["a@example.org"]))
        digest = build("e", EmailChannelConfig(type="email", to=["a@x.org"], digest="daily"))
        mail_one = build("e", EmailChannelConfig(type="email", to=["a@x.org"], max_group=1))
        console = build(
            "c",
            ConsoleChannelConfig(type="console", max_group=5, templates={"line": "L {{ count }}"}),
        )
    assert [c.max_group for c in (slack_default, slack_three, slack_many)] == [10, 3, 10]
    assert [c.max_group for c in (mail, digest, mail_one, console)] == [50, 200, 1, 1]
    stream = io.StringIO()
    with contextlib.redirect_stdout(stream):  # the console writes to the sys.stdout of the moment
        assert (await console.send(make_alert())).status is DeliveryStatus.DELIVERED
    assert stream.getvalue() == "L 1\n"


def test_channels_refuse_a_bad_template_or_group_size(clock: FrozenClock) -> None:
    with pytest.raises(ValueError, match="template 'body', line 1"):
        SlackChannel(
            "s", SecretStr("https://h.example/x"), httpx.AsyncClient(), timeout=1, user_agent="x",
            clock=clock, templates={"body": "{{ x"},
        )  # fmt: skip
    with pytest.raises(ValueError, match="unknown template part"):
        ConsoleChannel("c", templates={"title": "x"})
    with pytest.raises(ValueError, match="1 to 50"):
        EmailChannel("e", ["a@x.org"], make_settings(), clock, max_group=51)
    assert EmailChannel("e", ["a@x.org"], make_settings(), clock, digest="hourly").max_group == 200


# --- templated messages --------------------------------------------------------------------


def test_console_line_template_is_one_clean_bounded_line() -> None:
    alert = with_article(make_alert(), title="Drones\n\x1b[31mred\x07" + "x" * 5000)
    stream = io.StringIO()
    channel = ConsoleChannel("c", stream, templates={"line": "{{ alert.rule }}\n{{ alert.title }}"})
    line = channel._line(alert)
    assert line.startswith("iran-russia-drones Drones [31mred")
    assert "\x1b" not in line and "\x07" not in line and "\n" not in line
    assert len(line) <= console_mod.LINE_LIMIT


async def test_console_template_error_is_permanent_and_prints_nothing() -> None:
    stream = io.StringIO()
    channel = ConsoleChannel("c", stream, templates={"line": "{{ alert.nope }}"})
    result = await channel.send(make_alert())
    assert result.status is DeliveryStatus.PERMANENT
    assert "channel 'c': template 'line' failed at line 1" in result.detail
    assert stream.getvalue() == ""


async def test_slack_templated_group_on_a_real_server(httpserver: HTTPServer) -> None:
    httpserver.expect_request("/services/T/B/tok", method="POST").respond_with_data("ok")
    alerts = [
        with_article(
            make_alert(id=f"id{i}", rule_id=f"rule-{i % 2}"), id=f"art-{i}", title=f"{EVIL} {i}"
        )
        for i in range(3)
    ]
    templates = {
        "title": "{{ count }} for {{ channel }}: {{ alert.title }}",
        "body": "*{{ link(alert.url, alert.title) }}* of {{ count }}",
    }
    async with httpx.AsyncClient() as http:
        channel = SlackChannel(
            "intel", SecretStr(httpserver.url_for("/services/T/B/tok")), http, timeout=5,
            user_agent="t", clock=FrozenClock(), templates=templates,
        )  # fmt: skip
        result = await channel.send_group(alerts)
    assert result.status is DeliveryStatus.DELIVERED and result.alert_id == "id0"
    ((request, _),) = httpserver.log
    payload = json.loads(request.get_data())
    header, *sections = payload["blocks"]
    assert header["text"] == {"type": "plain_text", "text": f"3 for intel: {EVIL} 0"}
    assert payload["text"] == slack_mod.escape(f"3 for intel: {EVIL} 0")
    assert len(sections) == 3
    for i, section in enumerate(sections):
        text = section["text"]["text"]
        assert text.endswith(f"{slack_mod.escape(EVIL)} {i}>* of 3")
        assert "<!channel>" not in text and "<@" not in text and "*bold*" not in text


async def test_slack_template_error_is_permanent_and_nothing_is_posted(
    httpserver: HTTPServer,
) -> None:
    async with httpx.AsyncClient() as http:
        channel = SlackChannel(
            "intel", SecretStr(httpserver.url_for("/hook")), http, timeout=5, user_agent="t",
            clock=FrozenClock(), templates={"body": "ok\n{{ alert.url.nope }}"},
        )  # fmt: skip
        result = await channel.send_group([make_alert(id="first"), make_alert(id="second")])
    assert result.status is DeliveryStatus.PERMANENT
    assert result.alert_id == "first"
    assert result.detail.startswith("channel 'intel': template 'body' failed at line 2:")
    assert httpserver.log == []


def mail(
    port: int, digest: str | None = None, templates: dict[str, str] | None = None
) -> EmailChannel:
    settings = make_settings(smtp_host="127.0.0.1", smtp_port=port, smtp_from="m@example.org")
    return EmailChannel(
        "desk", ["desk@example.org"], settings, FrozenClock(), digest=digest, templates=templates
    )


async def test_email_templates_render_the_whole_message_on_a_real_server() -> None:
    alerts = [
        with_article(make_alert(id="a1"), title="<script>x</script>\r\nBcc: victim@example.org"),
        make_alert(id="a2", rule_id="other"),
    ]
    templates = {
        "subject": "{{ digest }} digest of {{ count }}: {{ alert.title }}",
        "text": "{% for a in alerts %}{{ loop.index }}. {{ a.title }} <{{ a.url }}>\n{% endfor %}",
        "html": "<ul>{% for a in alerts %}<li>{{ link(a.url, a.title) }}</li>{% endfor %}</ul>",
    }
    with smtp_sink() as sink:
        result = await mail(sink.port, digest="daily", templates=templates).send_group(alerts)
    assert result.status is DeliveryStatus.DELIVERED, result.detail
    (message,) = sink.messages
    assert message["Bcc"] is None
    assert message["Subject"].strip() == (
        "daily digest of 2: <script>x</script> Bcc: victim@example.org"
    )
    text = message.get_body(("plain",))
    markup = message.get_body(("html",))
    assert text is not None and markup is not None
    assert text.get_content().splitlines()[1] == (
        "2. Iran and Russia agree to build drones together "
        "<https://www.aljazeera.com/news/2026/1/5/iran-russia-drones>"
    )
    html = markup.get_content()
    assert "<script>" not in html
    assert html.startswith(
        '<ul><li><a href="https://www.aljazeera.com/news/2026/1/5/iran-russia-drones">'
    )
    assert "&lt;script&gt;x&lt;/script&gt;" in html
    assert message["Message-ID"] == email_mod.group_message_id(alerts)


async def test_email_template_error_is_permanent_and_nothing_is_sent() -> None:
    with smtp_sink() as sink:
        channel = mail(sink.port, templates={"html": "{{ alerts[5].title }}"})
        result = await channel.send_group([make_alert(id="a1"), make_alert(id="a2")])
    assert result.status is DeliveryStatus.PERMANENT
    assert result.detail.startswith("channel 'desk': template 'html' failed at line 1:")
    assert sink.messages == []


def test_render_error_reason_is_one_bounded_line() -> None:
    alert = with_article(make_alert(), title="x\n" * 5000)
    with pytest.raises(TemplateRenderError) as info:
        render("{{ {}[alert.title] }}", TEXT, [alert])  # the error quotes the missing key
    assert "\n" not in str(info.value)
    assert len(str(info.value)) < 400
