"""The channels alerts are delivered through, and the factory that builds them from config.

``build_channel`` is the only place that maps a channel config type to its
class; the composition root calls it once per configured channel, handing
in the shared HTTP client and the clock.
"""

from __future__ import annotations

from typing import assert_never

import httpx

from monitor.config_models import (
    ChannelConfig,
    ConsoleChannelConfig,
    EmailChannelConfig,
    SlackChannelConfig,
    WebhookChannelConfig,
)
from monitor.delivery.base import Channel
from monitor.delivery.channels.console import ConsoleChannel
from monitor.delivery.channels.email import EmailChannel
from monitor.delivery.channels.slack import SlackChannel
from monitor.delivery.channels.webhook import WebhookChannel
from monitor.settings import Settings
from monitor.types import Clock

__all__ = [
    "ConsoleChannel",
    "EmailChannel",
    "SlackChannel",
    "WebhookChannel",
    "build_channel",
    "build_delivery_client",
]


def build_delivery_client(
    settings: Settings, transport: httpx.AsyncBaseTransport | None = None
) -> httpx.AsyncClient:
    """The HTTP client every HTTP channel shares: no redirects (a 3xx is an answer), our UA."""
    return httpx.AsyncClient(
        transport=transport,
        timeout=settings.delivery_timeout.total_seconds(),
        follow_redirects=False,
        headers={"User-Agent": settings.user_agent},
    )


def build_channel(
    name: str, config: ChannelConfig, settings: Settings, http: httpx.AsyncClient, clock: Clock
) -> Channel:
    """The channel ``name`` described by ``config``.

    Raises ValueError for a config that cannot work at all (a ``whsec_``
    webhook secret that is not base64); the message never quotes a secret.
    """
    timeout = settings.delivery_timeout.total_seconds()
    if isinstance(config, SlackChannelConfig):
        return SlackChannel(
            name,
            config.webhook_url,
            http,
            timeout=timeout,
            user_agent=settings.user_agent,
            clock=clock,
        )
    if isinstance(config, WebhookChannelConfig):
        return WebhookChannel(
            name,
            config.url,
            http,
            secret=config.secret,
            timeout=timeout,
            user_agent=settings.user_agent,
            clock=clock,
        )
    if isinstance(config, EmailChannelConfig):
        return EmailChannel(name, config.to, settings, clock)
    if isinstance(config, ConsoleChannelConfig):
        return ConsoleChannel(name)
    assert_never(config)
