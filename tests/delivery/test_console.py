"""The console channel: one clean line per alert, terminal escapes neutralized."""

from __future__ import annotations

import io
from dataclasses import replace

from monitor.delivery.channels import ConsoleChannel
from monitor.delivery.channels import console as console_mod
from monitor.delivery.channels.console import format_line
from monitor.model import DeliveryStatus
from tests.delivery.support import HOSTILE_COPIES, covered, huge_copies, outlets
from tests.factories import make_alert, with_article


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


# --- story coverage: the other outlets of an alert's story (Alert.also_in) -----------------


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
