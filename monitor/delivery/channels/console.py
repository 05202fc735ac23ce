"""Console channel: one human-readable line per alert on standard output.

    ALERT rule=iran-russia-drones feed=aljazeera terms=Iran,Russia,drones "Drone deal" https://...

Feed text is untrusted and terminals interpret escape sequences, so the title
and terms are cleaned of control characters (ANSI escapes included) before
they are written. The stream is injectable for tests; by default it is the
``sys.stdout`` of the moment of writing.
"""

from __future__ import annotations

import sys
from typing import TextIO

from monitor.delivery.base import Channel
from monitor.delivery.render import one_line, safe_url, truncate
from monitor.types import Alert, DeliveryResult, DeliveryStatus

TITLE_LIMIT = 200


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
        f"terms={_value(terms)}",
        '"' + title.replace("\\", "\\\\").replace('"', '\\"') + '"',
    ]
    if url := safe_url(article.url):
        parts.append(url)
    return " ".join(parts)


class ConsoleChannel(Channel):
    """Writes one line per alert to a text stream (standard output by default)."""

    def __init__(self, name: str, stream: TextIO | None = None) -> None:
        super().__init__(name)
        self._stream = stream

    async def send(self, alert: Alert) -> DeliveryResult:
        stream = self._stream if self._stream is not None else sys.stdout
        try:
            stream.write(format_line(alert) + "\n")
            stream.flush()
        except OSError as exc:  # a full disk or a blocked pipe may clear
            return DeliveryResult(alert.id, self.name, DeliveryStatus.RETRY, f"write failed: {exc}")
        except ValueError as exc:  # the stream is closed and will stay closed
            return DeliveryResult(
                alert.id, self.name, DeliveryStatus.PERMANENT, f"write failed: {exc}"
            )
        return DeliveryResult(alert.id, self.name, DeliveryStatus.DELIVERED, "printed")
