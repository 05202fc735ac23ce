"""Alert content across channels: a grouped message shows one entry per article, listing
every rule that matched it (``render.group_entries``), and every channel names the feed
by its display name (``Alert.feed_name``, else the feed id)."""

from __future__ import annotations

import email
import email.policy
import io
import re
from dataclasses import replace
from email.message import EmailMessage

from monitor.delivery.channels import ConsoleChannel
from monitor.delivery.channels import email as email_mod
from monitor.delivery.channels import slack as slack_mod
from monitor.delivery.channels import webhook as webhook_mod
from monitor.delivery.channels.apprise import default_body, default_title
from monitor.delivery.channels.console import format_line
from monitor.delivery.render import entry_of, feed_label, group_entries
from monitor.delivery.templates import TEXT, ChannelTemplates, Context, check_template, view_of
from monitor.model import Alert, Coverage, DeliveryStatus, FeedState
from monitor.polling.health import HealthChange, health_alerts
from tests.delivery.support import HOSTILE_COPIES, strings
from tests.factories import make_alert, with_article

NAME = "Al Jazeera English"


def rule_alert(alert_id: str, rule: str, query: str, *terms: str, **article: str) -> Alert:
    """An alert of ``rule`` (matching ``terms``) on the default article, or on the article
    with ``article`` fields replaced; its feed is named ``NAME``."""
    alert = make_alert(id=alert_id, rule_id=rule, query=query, terms=terms)
    if article:
        alert = with_article(alert, **article)
    return replace(alert, feed_name=NAME)


def mixed_group() -> list[Alert]:
    """Three alerts about two articles: the default article matched by two rules, and another
    article (another feed, no name) between them."""
    return [
        rule_alert("alrt_1", "iran-russia", "Iran AND Russia", "Iran", "Russia"),
        replace(
            rule_alert(
                "alrt_2", "drones", "drones", "drones",
                id="bbc:1", feed_id="bbc-world", title="Drone plant planned",
                url="https://www.bbc.co.uk/news/1",
            ),
            feed_name="",
        ),
        rule_alert("alrt_3", "drones", "drones", "drones"),
    ]  # fmt: skip


def parse(message: EmailMessage) -> EmailMessage:
    parsed = email.message_from_bytes(message.as_bytes(), policy=email.policy.default)
    assert isinstance(parsed, EmailMessage)
    return parsed


# --- grouping --------------------------------------------------------------------------------


def test_alerts_about_one_article_are_one_entry_in_order_of_first_appearance() -> None:
    alerts = mixed_group()
    entries = group_entries(alerts)
    assert [e.ids for e in entries] == [("alrt_1", "alrt_3"), ("alrt_2",)]
    first = entries[0]
    assert [(r.rule_id, r.query, r.via) for r in first.rules] == [
        ("iran-russia", "Iran AND Russia", ""),
        ("drones", "drones", ""),
    ]
    assert first.matched_terms == ("Iran", "Russia", "drones")
    # The article shown carries every rule's highlights, once each.
    assert first.alert.matched_terms == ("Iran", "Russia", "drones")
    assert len(set(first.alert.hits)) == len(first.alert.hits)
    assert first.alert.id == "alrt_1" and first.alert.article == alerts[0].article
    # Every alert is in exactly one entry: no id lost, none twice.
    assert sorted(i for e in entries for i in e.ids) == sorted(a.id for a in alerts)


def test_one_alert_is_an_entry_showing_exactly_it() -> None:
    alert = make_alert()
    entry = entry_of([alert])
    assert entry.alert is alert and entry.ids == (alert.id,)
    assert [r.rule_id for r in entry.rules] == [alert.rule_id]


def test_the_same_article_id_in_two_feeds_is_two_entries() -> None:
    here = make_alert(id="a")
    there = with_article(make_alert(id="b", rule_id="other"), feed_id="elsewhere")
    assert len(group_entries([here, there])) == 2


def test_alerts_of_one_story_are_one_entry_naming_the_copy_a_rule_matched() -> None:
    lead = replace(rule_alert("s1", "iran", "Iran", "Iran"), story_id="story-1")
    copy = replace(
        rule_alert(
            "s2", "drones", "drones", "drones",
            id="reuters:9", feed_id="reuters", title="Drone deal", url="https://reuters.example/9",
        ),
        story_id="story-1", feed_name="Reuters",
    )  # fmt: skip
    (entry,) = group_entries([lead, copy])
    assert [(r.rule_id, r.via) for r in entry.rules] == [("iran", ""), ("drones", "Reuters")]
    # The copy's highlights are in another text: not marked in this article's snippet.
    assert entry.alert.hits == lead.hits
    assert entry.matched_terms == ("Iran", "drones")
    assert Coverage("reuters", "https://reuters.example/9", "Drone deal") in entry.alert.also_in


def test_an_alert_tying_two_entries_together_merges_them() -> None:
    by_article = rule_alert("x1", "a", "a", "Iran")  # no story
    by_story = replace(rule_alert("x2", "b", "b", "drones", id="other"), story_id="st")
    both = replace(
        rule_alert("x3", "c", "c", "Russia"), story_id="st"
    )  # article of x1, story of x2
    later = rule_alert("x4", "d", "d", "Iran", id="unrelated")
    entries = group_entries([by_article, by_story, both, later])
    assert [e.ids for e in entries] == [("x1", "x2", "x3"), ("x4",)]


def test_feed_label_is_the_name_else_the_id() -> None:
    assert feed_label(replace(make_alert(), feed_name=NAME)) == NAME
    assert feed_label(make_alert()) == "aljazeera"
    assert feed_label(replace(make_alert(), feed_name=" \n ")) == "aljazeera"
    assert feed_label(replace(make_alert(), feed_name="A\x1b[2J\nB")) == "A[2J B"


# --- Slack -----------------------------------------------------------------------------------


def test_slack_group_shows_each_article_once_with_every_rule() -> None:
    payload = slack_mod.build_group_payload(mixed_group())
    header, *sections = payload["blocks"]
    assert header["text"]["text"] == "news-monitor: 2 articles · iran-russia, drones"
    assert len(sections) == 2
    first = sections[0]["text"]["text"]
    assert first.count("Iran and Russia agree to build drones together") == 1
    _, meta, rules, quote = first.split("\n")
    assert meta == f"{NAME} · 2026-01-05 14:03 UTC · matched: Iran, Russia, drones"
    assert rules == "Rules: iran-russia (Iran AND Russia); drones (drones)"
    # Every rule's terms are bold in the one snippet.
    assert "*drones*" in quote and "*Iran*" in quote and "*Russia*" in quote
    second = sections[1]["text"]["text"]
    assert "\nbbc-world · " in second and "\nRule: drones (drones)\n" in second
    joined = "\n".join(strings(payload))
    assert joined.count("Drone plant planned") == 1


def test_slack_single_alert_names_the_feed() -> None:
    payload = slack_mod.build_payload(replace(make_alert(), feed_name=NAME))
    assert f"*Source*\n{NAME}" in strings(payload)
    hostile = replace(make_alert(), feed_name="<!channel> *x*")
    assert "*Source*\n&lt;!channel&gt; ∗x∗" in strings(slack_mod.build_payload(hostile))


def test_slack_entry_of_ten_hostile_rules_stays_within_block_kit_limits() -> None:
    huge = "<!channel> &*_~`" * 200
    article = {
        "title": huge,
        "text": huge + " Iran " + huge,
        "url": "https://e.example/?" + "&" * 700,
    }
    alerts = [
        replace(
            rule_alert(f"r{i}", f"rule-{i}-{huge}", f"Iran AND {huge}", "Iran", **article),
            feed_name=huge, also_in=HOSTILE_COPIES * 20, story_id="st",
        )
        for i in range(slack_mod.MAX_GROUP)
    ]  # fmt: skip
    payload = slack_mod.build_group_payload(alerts)
    header, section = payload["blocks"]
    assert header["text"]["text"] == "news-monitor: 1 article · 10 rules"  # ids too long
    text = section["text"]["text"]
    assert len(text) <= slack_mod.SECTION_LIMIT
    assert not re.search(r"&(?!amp;|lt;|gt;)", text), "raw & or half an entity"
    assert "<!" not in text and "*_" not in text
    assert re.search(r"\nRules: rule-0-.*\(\+\d+ more\)", text)


def test_slack_body_template_renders_once_per_article() -> None:
    templates = {
        "body": "{{ entry.alert.title }} [{{ entry.rules | map(attribute='id') | join(', ') }}]"
        " {{ entry.alert.feed }} {{ alert.id }}"
    }
    compiled = ChannelTemplates("s", templates, slack_mod.TEMPLATE_FORMATS)
    payload = slack_mod.build_group_payload(mixed_group(), compiled, channel="s")
    assert [b["text"]["text"] for b in payload["blocks"][1:]] == [
        f"Iran and Russia agree to build drones together [iran-russia, drones] {NAME} alrtˍ1",
        "Drone plant planned [drones] bbc-world alrtˍ2",  # "_" escaped to a look-alike
    ]


# --- email -----------------------------------------------------------------------------------


def test_email_group_shows_each_article_once_with_every_rule() -> None:
    message = parse(email_mod.build_group_message(mixed_group(), sender="m", to=["a"], now=0))
    assert message["Subject"] == "[news-monitor] 2 articles: iran-russia, drones"
    text, markup = message.get_body(("plain",)), message.get_body(("html",))
    assert text is not None and markup is not None
    plain = text.get_content()
    assert plain.startswith("news-monitor: 2 articles (iran-russia, drones)\n")
    assert plain.count("\nIran and Russia agree to build drones together\n") == 1
    assert "--- 1 of 2 ---" in plain and "--- 2 of 2 ---" in plain and "of 3" not in plain
    assert (
        "\nRules:     iran-russia (Iran AND Russia)\n"
        "           drones (drones)\n"
        f"Source:    {NAME}\n"
    ) in plain
    assert "\nMatched:   Iran, Russia, drones\n" in plain
    assert "\nnews-monitor alerts alrt_1, alrt_3\n" in plain
    assert "\nRule:      drones (drones)\nSource:    bbc-world\n" in plain
    assert "\nnews-monitor alert alrt_2\n" in plain
    html = markup.get_content()
    assert html.count("<h2>") == 2
    assert (
        '<th align="left" style="padding-right:1em">Rules</th><td>iran-russia '
        "<code>Iran AND Russia</code><br>drones <code>drones</code></td>"
    ) in html
    assert f"<td>{NAME}</td>" in html
    section = html.split("<hr>")[0]
    for term in ("Iran", "Russia", "drones"):
        assert f"<mark>{term}</mark>" in section
    # The Message-ID still covers every alert of the message.
    assert message["Message-ID"] == email_mod.group_message_id(mixed_group())


def test_email_digest_counts_articles() -> None:
    built = email_mod.build_group_message(
        mixed_group(), sender="m", to=["a"], now=0, digest="daily"
    )
    assert built["Subject"] == "[news-monitor] Daily digest: 2 articles"


def test_email_single_alert_names_the_feed_in_text_and_html() -> None:
    alert = replace(make_alert(), feed_name="<b>Al & Co</b>")
    message = parse(email_mod.build_message(alert, sender="m", to=["a"], now=0))
    text, markup = message.get_body(("plain",)), message.get_body(("html",))
    assert text is not None and markup is not None
    assert "\nSource:    <b>Al & Co</b>\n" in text.get_content()
    assert "<td>&lt;b&gt;Al &amp; Co&lt;/b&gt;</td>" in markup.get_content()
    assert "\nRule:      iran-russia-drones (Iran AND Russia AND drones)\n" in text.get_content()


# --- webhook, console, apprise ---------------------------------------------------------------


def test_webhook_payload_names_the_feed_and_stays_one_per_alert() -> None:
    alerts = mixed_group()
    payloads = [webhook_mod.build_payload(a) for a in alerts]
    assert [p["alert_id"] for p in payloads] == ["alrt_1", "alrt_2", "alrt_3"]
    assert [p["article"]["feed_name"] for p in payloads] == [NAME, "bbc-world", NAME]
    assert [p["article"]["feed_id"] for p in payloads] == ["aljazeera", "bbc-world", "aljazeera"]
    assert payloads[0]["rule"] == {"id": "iran-russia", "query": "Iran AND Russia"}


async def test_console_line_names_the_feed() -> None:
    stream = io.StringIO()
    result = await ConsoleChannel("c", stream).send(replace(make_alert(), feed_name=NAME))
    assert result.status is DeliveryStatus.DELIVERED
    assert ' feed=aljazeera feed_name="Al Jazeera English" terms=' in stream.getvalue()
    assert "feed_name" not in format_line(make_alert())  # no name: the id alone, as before
    assert "feed_name" not in format_line(replace(make_alert(), feed_name="aljazeera"))
    assert "\x1b" not in format_line(replace(make_alert(), feed_name="x\x1b[2J"))


def test_apprise_group_lists_each_article_once_with_every_rule() -> None:
    alerts = mixed_group()
    assert default_title(alerts) == "news-monitor: 2 articles (iran-russia, drones)"
    body = default_body(alerts)
    assert body.count("Iran and Russia agree to build drones together") == 1
    assert f"   Source: {NAME} | Published: " in body
    assert "   Matched: Iran, Russia, drones | Rules: iran-russia, drones\n" in body
    assert "\n\n2. Drone plant planned\n" in body and "\n\n3. " not in body
    assert f"Source: {NAME} | " in default_body(alerts[:1])
    assert "@" not in default_body([replace(make_alert(), feed_name="@everyone")])


# --- templates -------------------------------------------------------------------------------


def test_templates_see_the_feed_name_and_the_entries() -> None:
    for source in ("{{ entries }}", "{{ entry.rules }}", "{{ alert.feed }}{{ alert.feed_name }}"):
        check_template(source)
    view = view_of(replace(make_alert(), feed_name=NAME))
    assert (view.source, view.feed, view.feed_name) == ("aljazeera", NAME, NAME)
    plain = view_of(make_alert())
    assert (plain.source, plain.feed, plain.feed_name) == ("aljazeera", "aljazeera", "")
    source = (
        "{{ count }} alerts, {{ entries | length }} articles\n"
        "{% for e in entries %}{{ e.alert.title }} ({{ e.alert.feed }}): "
        "{% for r in e.rules %}{{ r.id }}={{ r.query }};{% endfor %} "
        "{{ e.alert.terms | join('+') }} {{ e.ids | join(',') }}\n{% endfor %}"
    )
    out = ChannelTemplates("ch", {"p": source}, {"p": TEXT}).render(
        "p", Context.of(mixed_group(), channel="ch")
    )
    assert out == (
        "3 alerts, 2 articles\n"
        f"Iran and Russia agree to build drones together ({NAME}): "
        "iran-russia=Iran AND Russia;drones=drones; Iran+Russia+drones alrt_1,alrt_3\n"
        "Drone plant planned (bbc-world): drones=drones; drones alrt_2\n"
    )


# --- health alerts ---------------------------------------------------------------------------


def test_health_alerts_still_render_with_their_label_in_every_channel() -> None:
    change = HealthChange("down", "failing", 1.8e9)
    state = FeedState(consecutive_failures=4, last_error="HTTP 503")
    alerts = [
        health_alerts(
            change, state, feed_id=f"feed-{i}", feed_name=f"Feed {i}",
            url=f"https://f{i}.example/rss", channels=["ops"], now=1.8e9 + 600,
        )[0]
        for i in range(2)
    ]  # fmt: skip
    assert len(group_entries(alerts)) == 2  # two incidents, never merged
    slack_text = "\n".join(strings(slack_mod.build_group_payload(alerts)))
    assert "news-monitor: 2 articles · feed-health" in slack_text
    assert "Feed 0 (feed-0) has failed 4 poll(s)" in slack_text
    plain = email_mod.group_text_body(alerts)
    # The feed's display name is the source, as for any other alert.
    assert "Source:    Feed 1\n" in plain and "Feed 1 (feed-1) has failed" in plain
    assert webhook_mod.build_payload(alerts[0])["article"]["feed_name"] == "Feed 0"
