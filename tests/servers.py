"""Real local servers for integration tests: an SMTP sink (aiosmtpd) and feed builders."""

from __future__ import annotations

import email
import email.policy
import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.message import EmailMessage
from email.utils import format_datetime
from pathlib import Path
from typing import Any
from xml.sax.saxutils import escape

from aiosmtpd.controller import Controller

from tests.conftest import free_port


@dataclass
class SmtpSink:
    """Collects every message a real SMTP server on loopback receives."""

    host: str
    port: int
    messages: list[EmailMessage] = field(default_factory=list)
    recipients: list[list[str]] = field(default_factory=list)

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        message = email.message_from_bytes(envelope.content, policy=email.policy.default)
        assert isinstance(message, EmailMessage)
        self.messages.append(message)
        self.recipients.append(list(envelope.rcpt_tos))
        return "250 OK"


@contextmanager
def smtp_sink() -> Iterator[SmtpSink]:
    """Start an aiosmtpd server on a free loopback port for the duration of the block."""
    sink = SmtpSink("127.0.0.1", free_port())
    controller = Controller(sink, hostname=sink.host, port=sink.port)
    controller.start()
    try:
        yield sink
    finally:
        controller.stop()


@dataclass(frozen=True)
class Item:
    """One item of a generated RSS feed."""

    title: str
    link: str
    description: str
    published: datetime
    guid: str | None = None


def rss(items: list[Item], title: str = "Test feed") -> str:
    """An RSS 2.0 document carrying ``items``."""
    parts = [
        '<?xml version="1.0" encoding="utf-8"?>',
        '<rss version="2.0"><channel>',
        f"<title>{escape(title)}</title><link>http://127.0.0.1/</link>",
        "<description>generated for tests</description>",
    ]
    for item in items:
        parts.append("<item>")
        parts.append(f"<title>{escape(item.title)}</title>")
        parts.append(f"<link>{escape(item.link)}</link>")
        parts.append(f"<description>{escape(item.description)}</description>")
        parts.append(f"<pubDate>{format_datetime(item.published.astimezone(UTC))}</pubDate>")
        if item.guid:
            parts.append(f'<guid isPermaLink="false">{escape(item.guid)}</guid>')
        parts.append("</item>")
    parts.append("</channel></rss>")
    return "\n".join(parts)


def webhook_watch_dir(directory: Path, feed_url: str, hook_url: str, interval: str = "5m") -> Path:
    """A rules directory: one feed, one webhook channel, the rule ``Iran AND drones``."""
    directory.mkdir()
    (directory / "watch.yaml").write_text(
        "feeds:\n"
        f'  - {{id: local, url: "{feed_url}", interval: {interval}}}\n'
        "channels:\n"
        f'  siem: {{type: webhook, url: "{hook_url}"}}\n'
        "rules:\n"
        "  - {id: drones, query: Iran AND drones}\n"
    )
    return directory


def monitor_env(**settings: str) -> dict[str, str]:
    """This process's environment without any MONITOR_* variable, plus ``settings``."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("MONITOR_")}
    env.update(settings)
    return env
