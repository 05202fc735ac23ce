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
from typing import TextIO

from monitor.cli.common import SubParsers, add_rules_dir, prepare
from monitor.config.load import LoadedConfig
from monitor.delivery import templates
from monitor.model import Alert, DeliveryStatus
from monitor.settings import Settings


def sample_alert(channel: str, now: float) -> Alert:
    """A realistic alert for ``channel`` with a fresh id and real hit offsets (the one
    ``check`` renders every template with)."""
    return templates.sample_alert(channel, now, ident=uuid.uuid4().hex)


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
