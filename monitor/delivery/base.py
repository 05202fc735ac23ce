"""The channel contract: send one alert (or a group of alerts as one message), report what happened.

A channel never raises for a delivery failure: a timeout, a 500 or an SMTP
refusal comes back as a ``DeliveryResult`` whose status says whether a retry
may help. Retrying, backing off, rate limiting and deciding which alerts go
out together are the outbox worker's job, not the channel's (see
``monitor.delivery.worker`` and ``monitor.delivery.retry``).
"""

from __future__ import annotations

import abc
from collections.abc import Sequence

from monitor.model import Alert, DeliveryResult


class Channel(abc.ABC):
    """A configured destination for alerts (a Slack webhook, a mailbox, ...)."""

    #: Most alerts one message can carry (1: the channel cannot group; every alert is its own
    #: message). The worker never hands ``send_group`` more than this.
    max_group: int = 1
    #: Where it sends, as a digest (``monitor.delivery.gone.target_digest`` of a URL); "" for
    #: a channel that is never disabled. A disabled mark applies while this is unchanged.
    target: str = ""

    def __init__(self, name: str) -> None:
        #: Channel name from the watch config.
        self.name = name

    @abc.abstractmethod
    async def send(self, alert: Alert) -> DeliveryResult:
        """Attempt one delivery of ``alert``; never raises for a delivery failure."""

    async def send_group(self, alerts: Sequence[Alert]) -> DeliveryResult:
        """Attempt one delivery of ``alerts`` (1 to ``max_group``, oldest first) as one message.

        The result speaks for every alert of the group (its ``alert_id`` is the
        first one's). Channels that can group derive from :class:`GroupChannel`;
        this default sends a group of one.
        """
        if len(alerts) != 1:
            kind = type(self).__name__
            raise ValueError(f"{kind} sends one alert per message, got {len(alerts)}")
        return await self.send(alerts[0])

    async def aclose(self) -> None:  # noqa: B027 - optional hook
        """Release what the channel holds (connections)."""


class GroupChannel(Channel):
    """A channel whose messages can carry several alerts: one alert is a group of one."""

    def __init__(self, name: str, *, max_group: int, cap: int) -> None:
        """``max_group``: alerts per message as configured, 1 to the type's ``cap``."""
        super().__init__(name)
        if not 1 <= max_group <= cap:
            raise ValueError(f"max_group of channel '{name}' is 1 to {cap}, got {max_group}")
        self.max_group = max_group

    async def send(self, alert: Alert) -> DeliveryResult:
        return await self.send_group([alert])

    async def send_group(self, alerts: Sequence[Alert]) -> DeliveryResult:
        if not 1 <= len(alerts) <= self.max_group:
            raise ValueError(
                f"{self.name}: 1 to {self.max_group} alerts per message, got {len(alerts)}"
            )
        return await self.send_message(alerts)

    @abc.abstractmethod
    async def send_message(self, alerts: Sequence[Alert]) -> DeliveryResult:
        """Deliver ``alerts`` (1 to ``max_group``, already checked) as one message."""
