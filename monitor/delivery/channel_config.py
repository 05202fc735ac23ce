"""What every channel's config accepts: the pacing keys and ``templates`` (README, "Bursts").

:class:`ChannelConfig` is the base of every channel type's config model. Each
model lives beside its channel (``SlackChannelConfig`` next to ``SlackChannel``
in ``monitor.delivery.channels.slack``), narrows ``type`` to its ``Literal``
tag, names its template parts and may override the hooks below;
``monitor.delivery.channels`` registers each type with its model and factory,
and the watch config (a layer above delivery, which never imports it)
validates its ``channels:`` against the registered models. Models forbid
unknown keys, and keep the input out of their errors (a channel's URLs are
secrets).

It also holds the URL checks every config value naming an HTTP endpoint goes
through (:func:`http_url_problem`, a feed's ``url`` as well), and
:func:`url_preview`, the only part of such a value a message may quote.
"""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass
from datetime import timedelta
from typing import Annotated, ClassVar, Literal, get_args
from urllib.parse import urlsplit

from pydantic import BaseModel, ConfigDict, Field, field_validator
from pydantic_core import PydanticCustomError

from monitor.delivery.templates import check_template
from monitor.settings import Duration, Settings

#: How an email digest batches alerts: one message per hour or per day.
Digest = Literal["hourly", "daily"]

_RATE_UNITS = {"s": 1.0, "sec": 1.0, "m": 60.0, "min": 60.0, "h": 3600.0}
_RATE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*/\s*([a-z]+)\s*$")


def parse_rate(value: str) -> float:
    """Seconds between two messages for a rate such as ``1/s``, ``30/min`` or ``100/h``."""
    found = _RATE.match(value.lower())
    if not found or found.group(2) not in _RATE_UNITS or float(found.group(1)) <= 0:
        raise ValueError(f"rate must look like 1/s, 30/min or 100/h, got {value!r}")
    return _RATE_UNITS[found.group(2)] / float(found.group(1))


_SCHEME = re.compile(r"[A-Za-z][A-Za-z0-9+.-]{0,15}")
#: A host name or address, with an optional port: what a message may show of a URL.
_HOST_PORT = re.compile(r"(\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9_.-]+)(:\d{0,5})?")
_HOST_LABEL = re.compile(r"(?!-)[A-Za-z0-9_-]{1,63}(?<!-)")
#: Error type of a value that is not a usable http(s) URL (``check`` names the field).
HTTP_URL_ERROR = "http_url"


def url_preview(value: str) -> str:
    """What a message may show of a URL that may be a secret: the scheme and host (port
    included), never user info, path, query or fragment; ``…`` marks what was left out.

    ``https://hooks.slack.com/services/T/B/x`` -> ``https://hooks.slack.com…``;
    ``hooks.slack.com/services/T/B/x`` -> ``hooks.slack.com…``; a value whose start does
    not look like a scheme or a host shows as ``…`` alone.
    """
    text = value.strip()
    scheme, sep, rest = text.partition("://")
    if not sep:
        scheme, rest = "", text
    elif not _SCHEME.fullmatch(scheme):
        return "…"
    authority = re.split(r"[/?#]", rest, maxsplit=1)[0]
    host = authority.rpartition("@")[2]
    # Without a scheme, only something with a dot (a host name) is shown: a bare token is not.
    shown = bool(_HOST_PORT.fullmatch(host)) and bool(sep or "." in host)
    head = f"{scheme}{sep}{host if shown else ''}"
    return head if head == text else f"{head}…"


def http_url_problem(value: str) -> str | None:
    """Why ``value`` is no usable ``http://`` or ``https://`` URL with a host (quoting only
    :func:`url_preview` of it), or None when it is one."""
    if not value.strip():
        return "is empty"
    preview = url_preview(value)
    try:
        parts = urlsplit(value.strip())
        parts.port  # noqa: B018 - parsing the port raises ValueError when it is not a number
    except ValueError:
        return f"is not a valid URL (a bad port or address), got '{preview}'"
    if parts.scheme.lower() not in ("http", "https") or "://" not in value:
        if preview == "…":
            return "must start with http:// or https:// (the value is not shown: it may be secret)"
        return f"must start with http:// or https://, got '{preview}'"
    if not parts.hostname or any(c.isspace() for c in parts.netloc):
        return f"has no valid host, got '{preview}'"
    return None


def check_http_url(value: str) -> str:
    """``value`` when :func:`http_url_problem` finds nothing; else a pydantic error of type
    :data:`HTTP_URL_ERROR` whose message is the problem (a field validator's body)."""
    problem = http_url_problem(value)
    if problem is not None:
        raise PydanticCustomError(HTTP_URL_ERROR, "{problem}", {"problem": problem})
    return value


def host_name_problem(value: str) -> str | None:
    """Why ``value`` is no bare host name or IP address (``smtp.example.org``, ``10.0.0.5``,
    ``::1``), quoting only :func:`url_preview` of it, or None when it is one."""
    text = value.strip()
    try:
        ipaddress.ip_address(text)
    except ValueError:
        pass
    else:
        return None
    labels = text.removesuffix(".").split(".")
    if text and len(text) <= 253 and all(_HOST_LABEL.fullmatch(label) for label in labels):
        return None
    return f"must be a host name such as smtp.example.org, got '{url_preview(value)}'"


@dataclass(frozen=True, slots=True)
class ChannelProblem:
    """Something that stops a configured channel from working (``check`` and ``run`` refuse
    the config), found by :meth:`ChannelConfig.problems`."""

    #: Where, relative to the channel's entry: ``()`` the entry itself, ``("urls", 2)`` ...
    where: tuple[str | int, ...]
    #: The whole message, naming the channel; never quoting a secret.
    message: str


class ChannelConfig(BaseModel):
    """Delivery policy keys every channel type accepts, and the hooks a type may override."""

    model_config = ConfigDict(extra="forbid", frozen=True, hide_input_in_errors=True)

    #: The channel type; each model narrows it to its ``Literal`` tag (the registry's key).
    type: str
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
    #: Every message of this type carries one alert (``max_group`` has no effect).
    ONE_ALERT_PER_MESSAGE: ClassVar[bool] = False
    #: Least seconds between two messages when ``rate_limit`` is not set (0: no limit).
    DEFAULT_MIN_GAP: ClassVar[float] = 0.0

    @classmethod
    def type_tag(cls) -> str:
        """The ``type:`` this model stands for, read off its ``Literal`` annotation."""
        return str(get_args(cls.model_fields["type"].annotation)[0])

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
        problems: list[str] = []
        for part, source in value.items():
            try:
                check_template(source, part)
            except ValueError as exc:
                problems.append(str(exc))
        if problems:
            raise ValueError("; ".join(problems))
        return value

    def alerts_per_message(self, cap: int) -> int:
        """Alerts per message: ``max_group`` (unset: the channel's own default, which is its
        cap), never above what the channel type can carry."""
        return min(self.max_group or cap, cap)

    def problems(self, name: str, settings: Settings) -> list[ChannelProblem]:
        """What stops channel ``name`` from working with these process settings (or at all),
        beyond what validation checks; the config check reports each at its ``file:line``.
        None by default."""
        return []

    def digest_schedule(self) -> tuple[Digest, float] | None:
        """``(period, seconds after midnight UTC a daily digest goes out)`` when this channel
        batches its alerts into digests; None (the default) when it does not."""
        return None
