"""The channels alerts are delivered through, and the registry that builds them from config.

Each channel type's module holds its config model beside its channel
(``SlackChannelConfig`` and ``SlackChannel`` in ``slack``; the keys every type
accepts are in ``monitor.delivery.channel_config``). ``REGISTRY`` maps each
``type:`` to its model and its factory. The watch config (a layer above
delivery, which never imports it) validates its ``channels:`` against the
registered models; ``build_channel``, which the composition root calls once
per configured channel (handing in the shared HTTP client and the clock),
builds a channel with the registered factory. A new channel type is a module
with a model and a channel class, and one line in ``REGISTRY``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any, Generic, TypeVar

import httpx

from monitor.delivery.base import Channel
from monitor.delivery.channel_config import ChannelConfig
from monitor.delivery.channels.apprise import AppriseChannel, AppriseChannelConfig
from monitor.delivery.channels.console import ConsoleChannel, ConsoleChannelConfig
from monitor.delivery.channels.email import EmailChannel, EmailChannelConfig
from monitor.delivery.channels.slack import SlackChannel, SlackChannelConfig
from monitor.delivery.channels.webhook import WebhookChannel, WebhookChannelConfig
from monitor.model import Clock
from monitor.settings import Settings

__all__ = [
    "REGISTRY",
    "AppriseChannel",
    "AppriseChannelConfig",
    "ChannelType",
    "ConsoleChannel",
    "ConsoleChannelConfig",
    "EmailChannel",
    "EmailChannelConfig",
    "SlackChannel",
    "SlackChannelConfig",
    "WebhookChannel",
    "WebhookChannelConfig",
    "build_channel",
    "build_delivery_client",
]

C = TypeVar("C", bound=ChannelConfig)


@dataclass(frozen=True, slots=True)
class ChannelType(Generic[C]):
    """One channel type: its config model and the factory that builds its channel.

    The factory gets the channel's name, its validated config, the process
    settings, the shared HTTP client and the clock (each type takes what it
    needs), and raises ValueError for a config that cannot work at all.
    """

    model: type[C]
    factory: Callable[[str, C, Settings, httpx.AsyncClient, Clock], Channel]

    @property
    def name(self) -> str:
        """The ``type:`` a config names this type by (the model's ``Literal`` tag)."""
        return self.model.type_tag()


def _registry(*types: ChannelType[Any]) -> Mapping[str, ChannelType[Any]]:
    registry = {channel_type.name: channel_type for channel_type in types}
    if len(registry) != len(types):
        raise RuntimeError("two channel types share a type tag")
    return MappingProxyType(registry)


#: Every channel type, by the ``type:`` that names it; in the order messages list them.
REGISTRY: Mapping[str, ChannelType[Any]] = _registry(
    ChannelType(SlackChannelConfig, SlackChannel.from_config),
    ChannelType(EmailChannelConfig, EmailChannel.from_config),
    ChannelType(WebhookChannelConfig, WebhookChannel.from_config),
    ChannelType(ConsoleChannelConfig, ConsoleChannel.from_config),
    ChannelType(AppriseChannelConfig, AppriseChannel.from_config),
)


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
    """The channel ``name`` described by ``config``, built by its type's registered factory.

    Raises ValueError for a config that cannot work at all (a ``whsec_``
    webhook secret that is not base64, a template that does not compile, an
    apprise channel without the extra); the message never quotes a secret.
    TypeError for a config of no registered type (a bug, not a config error:
    validation only lets registered types through).
    """
    channel_type = REGISTRY.get(config.type)
    if channel_type is None or not isinstance(config, channel_type.model):
        raise TypeError(f"channel '{name}': {type(config).__name__} is no registered channel type")
    return channel_type.factory(name, config, settings, http, clock)
