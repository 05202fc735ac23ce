"""``news-monitor send-test CHANNEL``: send one sample alert and say what the receiver answered.

The sample goes straight through the channel, once, without the outbox or
retries, so what is printed is exactly the receiver's answer (status code and
body, SMTP reply) or the error. Each sample has a fresh alert id, so a
receiver that drops duplicates by ``webhook-id`` still shows it.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import time
import uuid
from datetime import UTC, datetime
from typing import TextIO

from monitor.cli.common import SubParsers, add_rules_dir, prepare
from monitor.config.load import LoadedConfig
from monitor.model import Alert, Article, DeliveryStatus, Hit
from monitor.settings import Settings

_TITLE = "news-monitor test alert: Iran, Russia and drones"
_TEXT = (
    "This is a test alert sent by news-monitor send-test. If you can read it, the channel "
    "works. Sample text: Iran supplied Russia with drones, officials said."
)


def sample_alert(channel: str, now: float) -> Alert:
    """A realistic alert for ``channel`` with a fresh id and real hit offsets."""
    article = Article(
        id=f"test-{uuid.uuid4().hex[:12]}",
        feed_id="news-monitor-test",
        url="https://example.org/news-monitor/test-alert",
        title=_TITLE,
        text=_TEXT,
        published=datetime.fromtimestamp(now, UTC),
        author="news-monitor",
    )
    hits = tuple(
        Hit(field, start, start + len(term), term)
        for field, value in (("title", _TITLE), ("text", _TEXT))
        for term in ("Iran", "Russia", "drones")
        if (start := value.find(term)) >= 0
    )
    return Alert(
        id=f"alrt_test_{uuid.uuid4().hex}",
        channel=channel,
        rule_id="send-test",
        query="Iran AND Russia AND drones",
        article=article,
        hits=tuple(sorted(hits, key=lambda h: (h.field != "title", h.start))),
        created_at=datetime.fromtimestamp(now, UTC),
    )


async def send_test(
    settings: Settings, loaded: LoadedConfig, channel_name: str, out: TextIO | None = None
) -> int:
    """Send a sample alert to ``channel_name``; 0 if delivered, 1 if not, 2 if unknown."""
    # Imported here: every channel's client library loads only for this command.
    from monitor.delivery.channels import build_channel, build_delivery_client

    channels = loaded.config.channels
    if channel_name not in channels:
        known = ", ".join(sorted(channels)) or "none"
        print(f"error: no channel '{channel_name}' (channels: {known})", file=sys.stderr)
        return 2
    config = channels[channel_name]
    async with build_delivery_client(settings) as http:
        channel = build_channel(channel_name, config, settings, http, time.time)
        try:
            result = await channel.send(sample_alert(channel_name, time.time()))
        finally:
            await channel.aclose()
    outcome = {
        DeliveryStatus.DELIVERED: "delivered",
        DeliveryStatus.RETRY: "failed (would be retried)",
        DeliveryStatus.PERMANENT: "failed (permanent, would not be retried)",
    }[result.status]
    print(f"{channel_name} ({config.type}): {outcome}: {result.detail}", file=out or sys.stdout)
    return 0 if result.status is DeliveryStatus.DELIVERED else 1


def add_send_test_parser(sub: SubParsers) -> None:
    """Add ``send-test CHANNEL [--rules-dir DIR]``."""
    send_test = sub.add_parser(
        "send-test", help="send a sample alert to a channel and print what the receiver answered"
    )
    send_test.add_argument("channel", help="channel name from the watch config")
    add_rules_dir(send_test)


def cmd_send_test(args: argparse.Namespace) -> int:
    """Run ``send-test``: 0 delivered, 1 failed, 2 unknown channel."""
    settings, loaded = prepare(args.rules_dir)
    return asyncio.run(send_test(settings, loaded, args.channel))
