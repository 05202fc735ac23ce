"""The channels alerts are delivered through, and the factory that builds them from config.

``build_channel`` is the only place that maps a channel config type to its
class; the composition root calls it once per configured channel, handing
in the shared HTTP client and the clock.
"""

from __future__ import annotations

from typing import assert_never

import httpx

from monitor.config.models import (
    AppriseChannelConfig,
    ChannelConfig,
    ConsoleChannelConfig,
    EmailChannelConfig,
    SlackChannelConfig,
    WebhookChannelConfig,
)
from monitor.delivery.base import Channel
from monitor.delivery.channels.apprise import AppriseChannel
from monitor.delivery.channels.console import ConsoleChannel
from monitor.delivery.channels.email import EmailChannel, group_cap
from monitor.delivery.channels.slack import MAX_GROUP as SLACK_MAX_GROUP
from monitor.delivery.channels.slack import SlackChannel
from monitor.delivery.channels.webhook import WebhookChannel
from monitor.model import Clock
from monitor.settings import Settings

__all__ = [
    "AppriseChannel",
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


def effective_max_group(configured: int | None, cap: int) -> int:
    """Alerts per message: the config's ``max_group`` (unset: the channel's own default,
    which is its cap) never above what the channel type can carry."""
    return min(configured or cap, cap)


def build_channel(
    name: str, config: ChannelConfig, settings: Settings, http: httpx.AsyncClient, clock: Clock
) -> Channel:
    """The channel ``name`` described by ``config``.

    Raises ValueError for a config that cannot work at all (a ``whsec_``
    webhook secret that is not base64, a template that does not compile); the
    message never quotes a secret.
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
            templates=config.templates,
            max_group=effective_max_group(config.max_group, SLACK_MAX_GROUP),
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
        return EmailChannel(
            name,
            config.to,
            settings,
            clock,
            digest=config.digest,
            templates=config.templates,
            max_group=effective_max_group(config.max_group, group_cap(config.digest)),
        )
    if isinstance(config, ConsoleChannelConfig):
        return ConsoleChannel(name, templates=config.templates)  # one alert per line: no groups
    if isinstance(config, AppriseChannelConfig):
        # ValueError without the apprise extra or for a URL Apprise cannot use; the
        # config check (monitor.config.load) reports both before anything gets this far.
        return AppriseChannel(
            name,
            config.urls,
            timeout=timeout,
            templates=config.templates,
            max_group=effective_max_group(config.max_group, AppriseChannel.max_group),
        )
    assert_never(config)
