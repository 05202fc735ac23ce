"""Pydantic models of the watch config (feeds, channels, rules).

``monitor.config`` reads the YAML files, substitutes ``${VAR}``, merges them
and validates the result against these models, turning every validation error
into a ``file:line: message``. Models forbid unknown keys.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated, Literal, get_args

from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator

from monitor.settings import Duration

Identifier = Annotated[str, Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]*$", max_length=100)]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class FeedConfig(_Strict):
    """One feed to poll."""

    #: Unique id, used in rules (``feeds:``) and alerts.
    id: Identifier
    #: http(s) URL of an RSS, Atom or JSON feed.
    url: Annotated[str, Field(pattern=r"^https?://")]
    #: Polling interval; defaults to MONITOR_POLL_INTERVAL.
    interval: Duration | None = None
    #: Display name used in alerts; defaults to the id.
    name: str | None = None


class SlackChannelConfig(_Strict):
    """Slack incoming webhook."""

    type: Literal["slack"]
    #: https://hooks.slack.com/services/... (a secret).
    webhook_url: SecretStr


class EmailChannelConfig(_Strict):
    """Email through the SMTP server of the process settings (MONITOR_SMTP_*)."""

    type: Literal["email"]
    #: Recipient addresses.
    to: Annotated[list[str], Field(min_length=1)]


class WebhookChannelConfig(_Strict):
    """JSON POST to any URL, signed per Standard Webhooks when ``secret`` is set."""

    type: Literal["webhook"]
    #: Receiver URL (a secret: it often embeds a token).
    url: SecretStr
    #: Signing secret (``whsec_`` + base64, or any string); unset: requests are not signed.
    secret: SecretStr | None = None

    @field_validator("secret")
    @classmethod
    def _usable_secret(cls, value: SecretStr | None) -> SecretStr | None:
        from monitor.delivery.channels.webhook import signing_key

        if value is not None:
            signing_key(value.get_secret_value())  # ValueError names the problem, not the secret
        return value


class ConsoleChannelConfig(_Strict):
    """One line per alert on standard output."""

    type: Literal["console"]


#: Every channel ``type:`` a config may name, read off the models' ``Literal`` tags.
CHANNEL_TYPES: tuple[str, ...] = tuple(
    str(get_args(model.model_fields["type"].annotation)[0])
    for model in (
        SlackChannelConfig,
        EmailChannelConfig,
        WebhookChannelConfig,
        ConsoleChannelConfig,
    )
)

ChannelConfig = Annotated[
    SlackChannelConfig | EmailChannelConfig | WebhookChannelConfig | ConsoleChannelConfig,
    Field(discriminator="type"),
]


class RuleConfig(_Strict):
    """A watch rule: a query and where to send its alerts."""

    #: Unique id, shown in alerts.
    id: Identifier
    #: Query in the rule language (see docs/rules.md).
    query: Annotated[str, Field(min_length=1)]
    #: Channels to alert; default: every channel.
    notify: list[str] | None = None
    #: Feeds the rule applies to; default: every feed.
    feeds: list[str] | None = None


class EntityAliasConfig(_Strict):
    """An entity alias with an explicit case rule."""

    #: The alias, matched as a phrase.
    text: Annotated[str, Field(min_length=1)]
    #: Match only with this exact case (acronyms such as US or WHO).
    case_sensitive: bool


class WatchConfig(_Strict):
    """The merged content of every YAML file in the rules directory."""

    feeds: list[FeedConfig] = []
    channels: dict[Identifier, ChannelConfig] = {}
    rules: list[RuleConfig] = []
    #: Named entities for ``@Name`` in queries: new ones, or replacements of shipped ones.
    entities: dict[str, list[str | EntityAliasConfig]] = {}

    def interval_of(self, feed: FeedConfig, default: timedelta) -> timedelta:
        """The polling interval of ``feed``."""
        return feed.interval or default
