"""Every channel says when an alert matched in the full article (its web page, read for a
feed with ``fulltext``), and only then: not for a feed's own text, not for an article read
in full whose rule matched its title alone."""

from __future__ import annotations

import io

import pytest

from monitor.delivery.channels import ConsoleChannel
from monitor.delivery.channels import apprise as apprise_mod
from monitor.delivery.channels import email as email_mod
from monitor.delivery.channels import slack as slack_mod
from monitor.delivery.channels import webhook as webhook_mod
from monitor.delivery.channels.console import format_line
from monitor.delivery.render import FULLTEXT_NOTE, entry_of, from_full_text, matched_label
from monitor.delivery.templates import view_of
from monitor.model import Alert, Hit
from tests.factories import TITLE, make_alert, make_article, with_coverage

NOTE = "(in the full article)"


def full_text_alert() -> Alert:
    return make_alert(article=make_article(fulltext=True))


def title_only_alert() -> Alert:
    """Read in full, but its rule matched the title alone."""
    return make_alert(
        article=make_article(fulltext=True), hits=(Hit("title", 0, 4, "Iran"),), terms=("Iran",)
    )


def test_which_alerts_matched_in_the_full_article() -> None:
    assert FULLTEXT_NOTE == NOTE
    assert from_full_text(full_text_alert())
    assert not from_full_text(make_alert()), "the feed's own text"
    assert not from_full_text(title_only_alert())
    assert from_full_text(entry_of([full_text_alert()]))
    assert matched_label(full_text_alert()) == f"Iran, Russia, drones {NOTE}"
    assert matched_label(make_alert()) == "Iran, Russia, drones"


#: Another article's alert, from the feed's own text: a group's second entry.
OTHER = with_coverage(make_alert(id="b", article=make_article(id="other", url="https://o.test/")))


def slack_texts(alert: Alert) -> str:
    return repr(slack_mod.build_payload(alert))


@pytest.mark.parametrize(
    "render",
    [
        slack_texts,
        lambda alert: slack_mod.group_section(entry_of([alert])),
        email_mod.text_body,
        email_mod.html_body,
        lambda alert: apprise_mod.default_body([alert]),
        lambda alert: apprise_mod.default_body([alert, OTHER]),
    ],
    ids=["slack", "slack-group", "email-text", "email-html", "apprise", "apprise-group"],
)
def test_the_messages_say_so(render: object) -> None:
    assert callable(render)
    assert NOTE in render(full_text_alert())
    assert NOTE not in render(make_alert())
    assert NOTE not in render(title_only_alert())


def test_the_slack_matched_field_and_group_line() -> None:
    fields = slack_mod.build_payload(full_text_alert())["blocks"][2]["fields"]
    assert {"type": "mrkdwn", "text": f"*Matched*\nIran, Russia, drones {NOTE}"} in fields
    section = slack_mod.group_section(entry_of([full_text_alert()]))
    assert f"matched: Iran, Russia, drones {NOTE}" in section
    assert len(section) <= slack_mod.SECTION_LIMIT


def test_the_email_matched_row() -> None:
    assert f"Matched:   Iran, Russia, drones {NOTE}" in email_mod.text_body(full_text_alert())
    row = f"Matched</th><td>Iran, Russia, drones {NOTE}</td>"
    assert row in email_mod.html_body(full_text_alert())


def test_the_console_line() -> None:
    line = format_line(full_text_alert())
    assert " terms=Iran,Russia,drones fulltext=true " in line
    assert "fulltext" not in format_line(make_alert())
    assert "fulltext" not in format_line(title_only_alert())


def test_templates_see_it() -> None:
    assert view_of(full_text_alert()).fulltext
    assert not view_of(make_alert()).fulltext
    stream = io.StringIO()
    channel = ConsoleChannel(
        "c",
        stream,
        templates={"line": "{{ alert.title }}{% if alert.fulltext %} [full]{% endif %}"},
    )
    assert channel._line(full_text_alert()) == f"{TITLE} [full]"
    assert channel._line(make_alert()) == TITLE


def test_the_webhook_article_says_where_its_text_came_from() -> None:
    assert webhook_mod.build_payload(full_text_alert())["article"]["fulltext"] is True
    assert webhook_mod.build_payload(make_alert())["article"]["fulltext"] is False
