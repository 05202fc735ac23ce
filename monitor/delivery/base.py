"""The channel contract: send one alert, report what happened as a value.

A channel never raises for a delivery failure: a timeout, a 500 or an SMTP
refusal comes back as a ``DeliveryResult`` whose status says whether a retry
may help. Retrying and backing off are the outbox worker's job, not the
channel's (see ``monitor.delivery.retry``).
"""

from __future__ import annotations

import abc

from monitor.types import Alert, DeliveryResult


class Channel(abc.ABC):
    """A configured destination for alerts (a Slack webhook, a mailbox, ...)."""

    def __init__(self, name: str) -> None:
        #: Channel name from the watch config.
        self.name = name

    @abc.abstractmethod
    async def send(self, alert: Alert) -> DeliveryResult:
        """Attempt one delivery of ``alert``; never raises for a delivery failure."""

    async def aclose(self) -> None:  # noqa: B027 - optional hook
        """Release what the channel holds (connections)."""
