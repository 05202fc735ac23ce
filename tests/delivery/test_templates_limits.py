"""Bounded templates (issue 17, item 3): no template can hang a render, exhaust memory or
print without end; feed text reaches HTML templates escaped, so ``|safe`` cannot undo it;
a template that fails is a permanent delivery failure with a clear message; and the config
check renders every template once with a sample alert."""

from __future__ import annotations

import io
import time
import tracemalloc
from pathlib import Path

import httpx
import pytest
from pydantic import SecretStr
from pytest_httpserver import HTTPServer

from monitor.cli.send_test import send_test
from monitor.config.load import LoadedConfig, load_config
from monitor.config.models import WatchConfig
from monitor.delivery import template_sandbox as sandbox
from monitor.delivery.channels import (
    ConsoleChannel,
    ConsoleChannelConfig,
    EmailChannel,
    SlackChannel,
)
from monitor.delivery.channels import slack as slack_mod
from monitor.delivery.templates import (
    HTML,
    LINE,
    TEXT,
    ChannelTemplates,
    Context,
    Format,
    TemplateRenderError,
    check_template,
    sample_alert,
    trial_render,
)
from monitor.delivery.worker import OutboxWorker
from monitor.errors import ConfigError
from monitor.model import Alert, DeliveryStatus
from monitor.settings import Settings
from monitor.store.memory import MemoryStore
from tests.conftest import FrozenClock
from tests.factories import make_alert, make_settings, with_article
from tests.servers import smtp_sink

SCRIPT = '<script>alert("x")</script> & <b>bold</b>'
SCRIPT_HTML = "&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt; &amp; &lt;b&gt;bold&lt;/b&gt;"
LIMIT = "the limit of one render"


def render(source: str, fmt: Format = TEXT, alerts: list[Alert] | None = None) -> str:
    templates = ChannelTemplates("ch", {"part": source}, {"part": fmt})
    return templates.render("part", Context.of(alerts or [make_alert()], channel="ch"))


def render_error(source: str, fmt: Format = TEXT, alerts: list[Alert] | None = None) -> str:
    with pytest.raises(TemplateRenderError) as info:
        render(source, fmt, alerts)
    return str(info.value)


def test_limits_are_the_documented_ones() -> None:
    assert sandbox.MAX_OPERATIONS == 1_000_000
    assert sandbox.MAX_RENDER_SECONDS == 1.0
    assert sandbox.MAX_OUTPUT_CHARS == 1_000_000
    assert sandbox.MAX_WRITTEN_CHARS == 4_000_000
    assert sandbox.MAX_VALUE_CHARS == 1_000_000
    assert sandbox.MAX_ITEMS == 100_000
    assert sandbox.MAX_INT_BITS == 4096


# --- time and size --------------------------------------------------------------------------


def test_a_gigabyte_string_is_refused_before_it_is_made() -> None:
    source = "{{ 'a'*1000000000 }}"
    tracemalloc.start()
    started = time.monotonic()
    try:
        check_template(source, "line")  # compiling must not fold it into a constant either
        error = render_error(source)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert error == (
        "channel 'ch': template 'part' failed at line 1: '*' would make a value of "
        "1,000,000,000 characters or items; at most 1,000,000 are allowed"
    )
    assert peak < 50_000_000, f"peak {peak:,} bytes"
    assert time.monotonic() - started < 5


def test_nested_loops_are_cut_off_by_the_operation_limit() -> None:
    started = time.monotonic()
    error = render_error(
        "{% for i in range(100000) %}\n{% for j in range(100000) %}{% endfor %}{% endfor %}"
    )
    assert time.monotonic() - started < 10
    assert error == (
        "channel 'ch': template 'part' failed at line 2: stopped after 1,000,000 operations "
        f"(loop steps, lookups, calls), {LIMIT}"
    )


def test_a_slow_render_is_cut_off_by_the_clock(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sandbox, "MAX_OPERATIONS", 10**12)
    monkeypatch.setattr(sandbox, "MAX_RENDER_SECONDS", 0.3)
    started = time.monotonic()
    error = render_error(
        "{% for i in range(100000) %}{% for j in range(100000) %}{% endfor %}{% endfor %}"
    )
    assert 0.3 <= time.monotonic() - started < 5
    assert error.endswith("stopped after 0.3 s, the longest one render may take")


def test_recursive_loops_count_too(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sandbox, "MAX_RENDER_SECONDS", 60.0)
    error = render_error(
        "{% for x in range(2) recursive %}{% if loop.depth < 60 %}{{ loop(range(2)) }}"
        "{% endif %}{% endfor %}"
    )
    assert "stopped after 1,000,000 operations" in error


def test_output_is_capped_while_it_streams() -> None:
    error = render_error("{% for i in range(100000) %}{{ alert.title }}{% endfor %}")
    assert error == (
        f"channel 'ch': template 'part' failed: output longer than 1,000,000 characters, {LIMIT}"
    )


def test_what_captured_blocks_print_counts_too() -> None:
    error = render_error(
        "{% set x %}{% for i in range(100000) %}{{ 'y' * 100000 }}{% endfor %}{% endset %}"
        "{{ x | length }}"
    )
    assert error.endswith(
        f"printed more than 4,000,000 characters (captured blocks and macros included), {LIMIT}"
    )


@pytest.mark.parametrize(
    ("source", "reason"),
    [
        (
            "{{ 'x' | center(1000000000) }}",
            "the 'center' filter would make a value of 1,000,000,000",
        ),
        ("{{ 'x'.ljust(1000000000) }}", "str.ljust() would make a value of 1,000,000,000"),
        ("{{ '{:>1000000000}'.format(1) }}", "a format width of 1000000000 is too large"),
        ("{{ '{:>{w}}'.format(1, w=10**9) }}", "a format width of 1000000000 is too large"),
        ("{{ '%1000000000s' % 'x' }}", "a % width of 1000000000 is too large"),
        ("{{ '%*s' % (10**9, 'x') }}", "'%*' widths are not allowed in templates"),
        ("{{ [0] * 10**9 }}", "'*' would make a value of 1,000,000,000"),
        ("{{ 2 ** 100000 }}", "'**' would make a number over 4,096 bits"),
        ("{{ range(100000) | join('x' * 100000) }}", "the 'join' filter would make a value of"),
        ("{{ alert.title | replace('', 'x' * 100000) }}", "the 'replace' filter would make"),
        ("{{ alert.title.replace('', 'x' * 100000) }}", "str.replace() would make a value of"),
        ("{{ ('x' * 1000) | indent(1000000) }}", "the 'indent' filter would make a value of"),
        ("{{ [1] | slice(1000000000) | list }}", "the 'slice' filter would make over 100,000"),
        ("{{ range(100000) | batch(1) | sum(start=[]) }}", "the 'sum' filter adds numbers only"),
        (
            "{% set ns = namespace(s='x') %}{% for i in range(64) %}"
            "{% set ns.s = ns.s ~ ns.s %}{% endfor %}",
            "'~' would make a value of 1,048,576 characters",
        ),
        (
            "{% set ns = namespace(s='x') %}{% for i in range(64) %}"
            "{% set ns.s = ns.s + ns.s %}{% endfor %}",
            "'+' would make a value of 1,048,576 characters",
        ),
        ("{{ alert.title.translate({}) }}", "access to attribute 'translate' of 'str'"),
        ("{{ (1).to_bytes(10**9, 'big') }}", "access to attribute 'to_bytes' of 'int'"),
        ("{{ alert.title.encode() }}", "access to attribute 'encode' of 'str'"),
        ("{% for x in range(1000000) %}{% endfor %}", "Range too big"),
    ],
)
def test_operations_that_would_make_huge_values_are_refused(source: str, reason: str) -> None:
    started = time.monotonic()
    assert reason in render_error(source)
    assert time.monotonic() - started < 5


def test_lipsum_is_not_available() -> None:
    with pytest.raises(ValueError, match="unknown variable 'lipsum'"):
        check_template("{{ lipsum(1000000) }}")


def test_a_huge_template_source_is_refused() -> None:
    with pytest.raises(ValueError, match=r"template 'body' is 100,001 characters long"):
        check_template("x" * 100_001, "body")


def test_ordinary_templates_still_work() -> None:
    alerts = [make_alert(id=f"a{i}") for i in range(50)]
    source = (
        "{% for a in alerts %}{{ loop.index }}/{{ loop.length }} {{ a.title | upper }} "
        "{{ '{:>8}'.format(a.rule[:8]) }} {{ '%05.1f' % 3.14159 }} {{ a.terms | join(', ') }}"
        "{% if not loop.last %}\n{% endif %}{% endfor %}"
    )
    out = render(source, TEXT, alerts)
    assert len(out.splitlines()) == 50
    assert out.splitlines()[0] == (
        "1/50 IRAN AND RUSSIA AGREE TO BUILD DRONES TOGETHER iran-rus 003.1 Iran, Russia, drones"
    )


# --- escaping -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "source",
    [
        "{{ alert.title | safe }}",
        "{% autoescape false %}{{ alert.title }}{% endautoescape %}",
        "{% autoescape false %}{{ alert.title.unescape() }}{% endautoescape %}",
        "{{ alert.title.unescape() | safe }}",
        "{{ alert.title | striptags | safe }}",
        "{{ (alert.title ~ '') | safe }}",
        "{% filter safe %}{{ alert.title }}{% endfilter %}",
        "{% set t %}{{ alert.title }}{% endset %}{{ t | safe }}",
        "{{ {'title': alert.title.unescape()} | xmlattr }}",
        "{{ link(alert.url, alert.title.unescape()) }}",
    ],
)
def test_html_templates_cannot_unescape_feed_text(source: str) -> None:
    alert = with_article(make_alert(), title=SCRIPT)
    out = render(source, HTML, [alert])
    assert "<script>" not in out and "<b>" not in out
    assert "&lt;script&gt;" in out


def test_html_templates_keep_their_own_markup_and_links() -> None:
    alert = with_article(make_alert(), title=SCRIPT, url="https://x.example/a?b=1&c=2")
    out = render(
        "{% macro m(t) %}<li>{{ t }}</li>{% endmacro %}<ul>{{ m(alert.title) }}</ul>"
        '<a href="{{ alert.url }}">x</a> {{ link(alert.url, alert.title) }} {{ digest }}',
        HTML,
        [alert],
    )
    assert out == (
        f'<ul><li>{SCRIPT_HTML}</li></ul><a href="https://x.example/a?b=1&amp;c=2">x</a> '
        f'<a href="https://x.example/a?b=1&amp;c=2">{SCRIPT_HTML}</a> '
    )
    # Literal markup through |safe is escaped too: the template's own text is the way to write it.
    assert render("{{ '<hr>' | safe }}<hr>", HTML) == "&lt;hr&gt;<hr>"


def test_plain_text_formats_are_not_escaped_twice() -> None:
    alert = with_article(make_alert(), title=SCRIPT)
    assert render("{{ alert.title }}|{{ alert.title | safe }}", TEXT, [alert]) == (
        f"{SCRIPT}|{SCRIPT}"
    )
    assert render("{{ alert.title }}", LINE, [alert]) == SCRIPT
    slack = render("{{ alert.title | safe }}", slack_mod.MRKDWN, [alert])
    assert slack == slack_mod.escape(SCRIPT) and "&amp;amp;" not in slack


async def test_email_html_part_stays_escaped_and_text_part_plain() -> None:
    alert = with_article(make_alert(), title=SCRIPT)
    settings = make_settings(smtp_host="127.0.0.1", smtp_from="m@example.org")
    templates = {"html": "<h1>{{ alert.title | safe }}</h1>", "text": "{{ alert.title }}"}
    with smtp_sink() as sink:
        settings = make_settings(
            smtp_host="127.0.0.1", smtp_port=sink.port, smtp_from="m@example.org"
        )
        channel = EmailChannel(
            "desk", ["d@example.org"], settings, FrozenClock(), templates=templates
        )
        result = await channel.send_group([alert])
    assert result.status is DeliveryStatus.DELIVERED, result.detail
    (message,) = sink.messages
    html = message.get_body(("html",)).get_content()
    text = message.get_body(("plain",)).get_content()
    assert "<script>" not in html and html.startswith(f"<h1>{SCRIPT_HTML}</h1>")
    assert text.strip() == SCRIPT


# --- failures at delivery ----------------------------------------------------------------------

#: Fine for one alert (the sample the config check renders), too large for two.
BIG_FOR_GROUPS = "{{ 'x' * (count * 600000) }}"


async def test_slack_template_over_a_limit_is_permanent_and_posts_nothing(
    httpserver: HTTPServer,
) -> None:
    async with httpx.AsyncClient() as http:
        channel = SlackChannel(
            "intel", SecretStr(httpserver.url_for("/hook")), http, timeout=5, user_agent="t",
            clock=FrozenClock(), templates={"body": BIG_FOR_GROUPS},
        )  # fmt: skip
        result = await channel.send_group([make_alert(id="a1"), make_alert(id="a2")])
    assert result.status is DeliveryStatus.PERMANENT
    assert result.detail == (
        "channel 'intel': template 'body' failed at line 1: '*' would make a value of "
        "1,200,000 characters or items; at most 1,000,000 are allowed"
    )
    assert httpserver.log == []
    assert trial_render("intel", {"body": BIG_FOR_GROUPS}, slack_mod.TEMPLATE_FORMATS) == {}


async def test_a_template_over_a_limit_goes_to_the_dead_letters_once(clock: FrozenClock) -> None:
    stream = io.StringIO()
    channel = ConsoleChannel("out", stream, templates={"line": "{{ 'a' * 1000000000 }}"})
    worker = OutboxWorker(
        store=MemoryStore(),
        channels={"out": channel},
        attempt_timeout=5,
        max_attempts=5,
        retention=3600,
        clock=clock,
    )
    await worker.store.enqueue([make_alert(channel="out")], clock())
    started = time.monotonic()
    counts = await worker.deliver_due()
    assert time.monotonic() - started < 5
    assert counts.dead == 1 and counts.attempted == 1
    (dead,) = await worker.store.dead_letters()
    assert dead.attempts == 1
    assert dead.last_error == (
        "channel 'out': template 'line' failed at line 1: '*' would make a value of "
        "1,000,000,000 characters or items; at most 1,000,000 are allowed"
    )
    assert not await worker.store.pending() and stream.getvalue() == ""


async def test_send_test_reports_a_template_bomb_without_hanging() -> None:
    config = ConsoleChannelConfig(type="console", templates={"line": "{{ 'a' * 1000000000 }}"})
    loaded = LoadedConfig(config=WatchConfig(channels={"out": config}), files=[])
    out = io.StringIO()
    started = time.monotonic()
    code = await send_test(make_settings(), loaded, "out", out=out)
    assert time.monotonic() - started < 5
    assert code == 1
    assert out.getvalue() == (
        "out (console): failed (permanent, would not be retried): channel 'out': template "
        "'line' failed at line 1: '*' would make a value of 1,000,000,000 characters or "
        "items; at most 1,000,000 are allowed\n"
    )


# --- the config check renders every template once ------------------------------------------


def write_config(directory: Path, text: str) -> None:
    (directory / "a.yaml").write_text(text, encoding="utf-8")


def config_errors(directory: Path, **settings: object) -> list[str]:
    with pytest.raises(ConfigError) as info:
        load_config(Settings(_env_file=None, rules_dir=directory, **settings), env={})  # type: ignore[call-arg]
    return [str(issue).replace(f"{directory}/", "") for issue in info.value.issues]


def test_config_check_renders_every_template_with_a_sample_alert(tmp_path: Path) -> None:
    write_config(
        tmp_path,
        "channels:\n"
        "  team:\n"
        "    type: slack\n"
        "    webhook_url: https://hooks.slack.com/services/T/B/x\n"
        "    templates:\n"
        '      title: "{{ count }} alerts"\n'
        "      body: |\n"
        "        *{{ alert.title }}*\n"
        "        {{ alert.titel }}\n"
        "  out:\n"
        "    type: console\n"
        "    templates:\n"
        "      line: \"{{ 'a' * 1000000000 }}\"\n"
        "  mail:\n"
        "    type: email\n"
        "    to: [a@example.org]\n"
        "    digest: hourly\n"
        "    templates:\n"
        '      subject: "{{ digest }} digest"\n'
        "      html: |\n"
        "        {{ alert.title.unescape() }}\n"
        "        {% for i in range(100000) %}{% for j in range(100000) %}{% endfor %}{% endfor %}\n"
        '      text: "{{ alert.title.unescape() }}"\n',
    )
    started = time.monotonic()
    errors = config_errors(tmp_path, smtp_host="smtp.example.org")
    assert time.monotonic() - started < 10
    sample = " (rendering a sample alert)"
    assert errors == [
        "a.yaml:7: channel 'team': template 'body' failed at line 2: UndefinedError: "
        "'monitor.delivery.templates.AlertView object' has no attribute 'titel'" + sample,
        "a.yaml:13: channel 'out': template 'line' failed at line 1: '*' would make a value "
        "of 1,000,000,000 characters or items; at most 1,000,000 are allowed" + sample,
        "a.yaml:20: channel 'mail': template 'html' failed at line 2: stopped after "
        f"1,000,000 operations (loop steps, lookups, calls), {LIMIT}" + sample,
        # In the html part values are escaped Markup (with unescape()); in text, plain str.
        "a.yaml:23: channel 'mail': template 'text' failed at line 1: UndefinedError: "
        "'str object' has no attribute 'unescape'" + sample,
    ]


def test_templates_that_render_pass_the_check(tmp_path: Path) -> None:
    write_config(
        tmp_path,
        "channels:\n"
        "  out:\n"
        "    type: console\n"
        "    templates:\n"
        '      line: "{{ alert.rule }}: {{ alert.title }} {% for c in alert.also_in %}'
        '{{ c.source }}{% endfor %}"\n',
    )
    loaded = load_config(Settings(_env_file=None, rules_dir=tmp_path), env={})  # type: ignore[call-arg]
    assert "out" in loaded.config.channels


def test_trial_render_uses_the_sample_alert_of_send_test() -> None:
    alert = sample_alert("ch", 1767621780.0)
    assert alert.rule_id == "send-test" and alert.article.title.startswith("news-monitor test")
    failures = trial_render(
        "ch",
        {"ok": "{{ alert.rule }}", "bad": "{{ alerts[1].title }}", "broken": "{{ x"},
        {"ok": TEXT, "bad": TEXT, "broken": TEXT},
    )
    assert failures == {
        "bad": "channel 'ch': template 'bad' failed at line 1: UndefinedError: list object has "
        "no element 1"
    }
