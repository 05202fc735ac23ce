"""Console channel: one human-readable line per alert on standard output.

    ALERT rule=iran-russia-drones feed=aljazeera terms=Iran,Russia,drones "Drone deal" https://...

When the feed has a display name (``name:`` in the watch config) other than its id,
``feed_name="Al Jazeera English"`` follows ``feed=``; when the terms matched in the full
article (its page, read for a feed with ``fulltext``), ``fulltext=true`` follows
``terms=``. When other outlets carried the same story, the line ends with them:
`` (also: bbc-world, reuters, +3 more)`` (at most ``ALSO_SHOWN`` names).

Feed text is untrusted and terminals interpret escape sequences, so the title
and terms are cleaned of control characters (ANSI escapes included) before
they are written. A ``line`` template (``monitor.delivery.templates``) replaces
the line; its output is collapsed to one clean line the same way and cut at
``LINE_LIMIT``. One alert per line, so no grouping (``max_group`` 1). The
stream is injectable for tests; by default it is the ``sys.stdout`` of the
moment of writing.
"""

from __future__ import annotations

import sys
from collections.abc import Mapping
from typing import ClassVar, Literal, Self, TextIO

import httpx

from monitor.delivery.base import Channel
from monitor.delivery.channel_config import ChannelConfig
from monitor.delivery.render import (
    from_full_text,
    join_within,
    one_line,
    other_outlets,
    safe_url,
    truncate,
)
from monitor.delivery.templates import (
    LINE,
    Context,
    Format,
    TemplateRenderError,
    compile_channel_templates,
)
from monitor.model import Alert, Clock, DeliveryResult, DeliveryStatus
from monitor.settings import Settings

TITLE_LIMIT = 200
#: Longest line a ``line`` template may print: a log line, not an article.
LINE_LIMIT = 2000
#: The " (also: ...)" suffix: at most this many outlets named, each cut to ALSO_NAME_LIMIT,
#: the list to ALSO_LIMIT characters.
ALSO_SHOWN = 5
ALSO_NAME_LIMIT = 50
ALSO_LIMIT = 300
#: Template parts and their formats.
TEMPLATE_FORMATS: dict[str, Format] = {"line": LINE}


def _value(text: str) -> str:
    """A ``key=value`` value: cleaned, quoted when it contains spaces, quotes or nothing."""
    text = one_line(text)
    if text and not any(c.isspace() or c in "\"'=" for c in text):
        return text
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def format_line(alert: Alert) -> str:
    """The line printed for ``alert`` (without the newline)."""
    article = alert.article
    terms = ",".join(one_line(t) for t in alert.matched_terms)
    title = truncate(one_line(article.title), TITLE_LIMIT)
    parts = [
        "ALERT",
        f"rule={_value(alert.rule_id)}",
        f"feed={_value(article.feed_id)}",
    ]
    if (name := one_line(alert.feed_name)) and name != one_line(article.feed_id):
        parts.append(f"feed_name={_value(truncate(name, TITLE_LIMIT))}")
    parts.append(f"terms={_value(terms)}")
    if from_full_text(alert):
        parts.append("fulltext=true")
    parts += [
        '"' + title.replace("\\", "\\\\").replace('"', '\\"') + '"',
    ]
    if url := safe_url(article.url):
        parts.append(url)
    line = " ".join(parts)
    if also := also_suffix(alert):
        line += f" (also: {also})"
    return line


def _more(count: int) -> str:
    return f", +{count} more"


def also_suffix(alert: Alert) -> str:
    """``bbc-world, reuters, +3 more``: the other outlets of the alert's story; or ""."""
    entries = [(truncate(o.feed_id, ALSO_NAME_LIMIT),) for o in other_outlets(alert)]
    return join_within(entries, ALSO_LIMIT, max_shown=ALSO_SHOWN, more=_more)


class ConsoleChannelConfig(ChannelConfig):
    """One line per alert on standard output."""

    TEMPLATE_PARTS: ClassVar[tuple[str, ...]] = tuple(TEMPLATE_FORMATS)
    ONE_ALERT_PER_MESSAGE: ClassVar[bool] = True

    type: Literal["console"]


class ConsoleChannel(Channel):
    """Writes one line per alert to a text stream (standard output by default)."""

    def __init__(
        self,
        name: str,
        stream: TextIO | None = None,
        *,
        templates: Mapping[str, str] | None = None,
    ) -> None:
        """``templates``: ``{"line": source}`` or nothing; compiled here (ValueError if bad)."""
        super().__init__(name)
        self._stream = stream
        self._templates = compile_channel_templates(name, templates, TEMPLATE_FORMATS)

    @classmethod
    def from_config(
        cls,
        name: str,
        config: ConsoleChannelConfig,
        settings: Settings,
        http: httpx.AsyncClient,
        clock: Clock,
    ) -> Self:
        """The channel ``name`` as ``config`` describes it (the registry's factory): one
        alert per line, so ``max_group`` does not apply."""
        return cls(name, templates=config.templates)

    def _line(self, alert: Alert) -> str:
        if self._templates is None or "line" not in self._templates:
            return format_line(alert)
        context = Context.of([alert], channel=self.name)
        return truncate(self._templates.render("line", context), LINE_LIMIT)

    async def send(self, alert: Alert) -> DeliveryResult:
        try:
            line = self._line(alert)
        except TemplateRenderError as exc:
            return DeliveryResult(alert.id, self.name, DeliveryStatus.PERMANENT, str(exc))
        stream = self._stream if self._stream is not None else sys.stdout
        try:
            stream.write(line + "\n")
            stream.flush()
        except OSError as exc:  # a full disk or a blocked pipe may clear
            return DeliveryResult(alert.id, self.name, DeliveryStatus.RETRY, f"write failed: {exc}")
        except ValueError as exc:  # the stream is closed and will stay closed
            return DeliveryResult(
                alert.id, self.name, DeliveryStatus.PERMANENT, f"write failed: {exc}"
            )
        return DeliveryResult(alert.id, self.name, DeliveryStatus.DELIVERED, "printed")
