"""Pydantic models of the watch config (feeds, channels, rules).

``monitor.config.load`` reads the YAML files, substitutes ``${VAR}``, merges them
and validates the result against these models, turning every validation error
into a ``file:line: message``. Models forbid unknown keys.
"""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Annotated, ClassVar, Literal, get_args

from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator, model_validator

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
    #: Alert when the feed brings no new entry for this long (overrides
    #: ``feed_health.silent_after``; 0 turns silence alerts off for this feed).
    silent_after: Duration | None = None


_RATE_UNITS = {"s": 1.0, "sec": 1.0, "m": 60.0, "min": 60.0, "h": 3600.0}
_RATE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*/\s*([a-z]+)\s*$")


def parse_rate(value: str) -> float:
    """Seconds between two messages for a rate such as ``1/s``, ``30/min`` or ``100/h``."""
    found = _RATE.match(value.lower())
    if not found or found.group(2) not in _RATE_UNITS or float(found.group(1)) <= 0:
        raise ValueError(f"rate must look like 1/s, 30/min or 100/h, got {value!r}")
    return _RATE_UNITS[found.group(2)] / float(found.group(1))


class _ChannelBase(_Strict):
    """Delivery policy keys every channel type accepts (see README, "Bursts")."""

    #: Collect alerts in windows of this length; a window's alerts go out together when it
    #: closes (so alerts arriving together share one message).
    group_wait: Duration = timedelta(0)
    #: After a message, alerts that arrive within this interval wait and go out together.
    group_interval: Duration = timedelta(0)
    #: Most messages sent to this channel, e.g. ``1/s``, ``30/min``; default depends on the type.
    rate_limit: str | None = None
    #: Most alerts one message may carry (1: one message per alert); capped by the channel type.
    max_group: Annotated[int, Field(ge=1)] | None = None
    #: Jinja2 templates overriding parts of the message (which parts: see the channel type).
    templates: dict[str, str] = {}

    #: Template parts this channel type renders (no entry: templates are not supported).
    TEMPLATE_PARTS: ClassVar[tuple[str, ...]] = ()

    @field_validator("rate_limit")
    @classmethod
    def _valid_rate(cls, value: str | None) -> str | None:
        if value is not None:
            parse_rate(value)
        return value

    @field_validator("templates")
    @classmethod
    def _known_parts(cls, value: dict[str, str]) -> dict[str, str]:
        unknown = sorted(set(value) - set(cls.TEMPLATE_PARTS))
        if unknown:
            allowed = ", ".join(cls.TEMPLATE_PARTS) or "none"
            raise ValueError(
                f"unknown template part(s) {', '.join(unknown)}; this channel type has: {allowed}"
            )
        # Imported here: the delivery package imports this module (import cycle).
        from monitor.delivery.templates import check_template

        problems: list[str] = []
        for part, source in value.items():
            try:
                check_template(source, part)
            except ValueError as exc:
                problems.append(str(exc))
        if problems:
            raise ValueError("; ".join(problems))
        return value


class SlackChannelConfig(_ChannelBase):
    """Slack incoming webhook."""

    TEMPLATE_PARTS: ClassVar[tuple[str, ...]] = ("title", "body")

    type: Literal["slack"]
    #: https://hooks.slack.com/services/... (a secret).
    webhook_url: SecretStr


class EmailChannelConfig(_ChannelBase):
    """Email through the SMTP server of the process settings (MONITOR_SMTP_*)."""

    TEMPLATE_PARTS: ClassVar[tuple[str, ...]] = ("subject", "text", "html")

    type: Literal["email"]
    #: Recipient addresses.
    to: Annotated[list[str], Field(min_length=1)]
    #: Batch alerts into one email per hour or per day instead of sending them as they come.
    digest: Literal["hourly", "daily"] | None = None
    #: With ``digest: daily``: the time of day (UTC, HH:MM) the digest goes out.
    digest_at: Annotated[str, Field(pattern=r"^([01]\d|2[0-3]):[0-5]\d$")] = "00:00"

    @model_validator(mode="after")
    def _digest_at_needs_daily(self) -> EmailChannelConfig:
        if "digest_at" in self.model_fields_set and self.digest != "daily":
            raise ValueError("digest_at applies only to digest: daily")
        return self


class WebhookChannelConfig(_ChannelBase):
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


class ConsoleChannelConfig(_ChannelBase):
    """One line per alert on standard output."""

    TEMPLATE_PARTS: ClassVar[tuple[str, ...]] = ("line",)

    type: Literal["console"]


class AppriseChannelConfig(_ChannelBase):
    """Any service Apprise reaches (Discord, Teams, Telegram, ntfy ...); needs the apprise extra."""

    TEMPLATE_PARTS: ClassVar[tuple[str, ...]] = ("title", "body")

    type: Literal["apprise"]
    #: Apprise URLs, e.g. ``discord://id/token`` or ``ntfys://ntfy.sh/topic`` (secrets).
    urls: Annotated[list[SecretStr], Field(min_length=1)]


#: Every channel ``type:`` a config may name, read off the models' ``Literal`` tags.
CHANNEL_TYPES: tuple[str, ...] = tuple(
    str(get_args(model.model_fields["type"].annotation)[0])
    for model in (
        SlackChannelConfig,
        EmailChannelConfig,
        WebhookChannelConfig,
        ConsoleChannelConfig,
        AppriseChannelConfig,
    )
)

ChannelConfig = Annotated[
    SlackChannelConfig
    | EmailChannelConfig
    | WebhookChannelConfig
    | ConsoleChannelConfig
    | AppriseChannelConfig,
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


class FeedHealthConfig(_Strict):
    """Alerts about the feeds themselves: failing, silent or gone, and recovered."""

    #: Channels the feed-down and recovered alerts go to.
    notify: Annotated[list[str], Field(min_length=1)]
    #: A feed failing for this long raises an alert (0: at its first failure).
    failing_after: Duration = timedelta(hours=1)
    #: A feed bringing no new entry for this long raises an alert; unset: never.
    silent_after: Duration | None = None

    @field_validator("silent_after")
    @classmethod
    def _positive_silence(cls, value: timedelta | None) -> timedelta | None:
        if value is not None and value.total_seconds() <= 0:
            raise ValueError("must be more than 0 (leave it out to turn silence alerts off)")
        return value


class WatchConfig(_Strict):
    """The merged content of every YAML file in the rules directory."""

    feeds: list[FeedConfig] = []
    channels: dict[Identifier, ChannelConfig] = {}
    rules: list[RuleConfig] = []
    #: Feed-down / recovered alerts; None: none are sent (``news-monitor feeds`` still shows).
    feed_health: FeedHealthConfig | None = None
    #: Named entities for ``@Name`` in queries: new ones, or replacements of shipped ones.
    entities: dict[str, list[str | EntityAliasConfig]] = {}
