"""Pydantic models of the watch config (feeds, channels, rules).

``monitor.config.load`` reads the YAML files, substitutes ``${VAR}``, merges them
and validates each entry against these models, turning every validation error
into a ``file:line: message``. Models forbid unknown keys. A feed's request keys
(``headers``, ``user_agent``, ``cookies``, ``auth``, ``proxy``) are checked in
``monitor.config.feed_request``. URLs must be
``http(s)`` with a host (``check_http_url``; a message shows only their scheme
and host).

A channel's config model lives beside its channel (``SlackChannelConfig`` in
``monitor.delivery.channels.slack``, the keys every type accepts in
``monitor.delivery.channel_config``); ``channels:`` entries are validated
against the models of ``monitor.delivery.channels.REGISTRY``.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated, Any, Literal, Union

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    GetPydanticSchema,
    SecretStr,
    field_validator,
    model_validator,
)
from pydantic_core import PydanticCustomError

from monitor.config.feed_request import (
    FeedAuthConfig,
    check_cookies,
    check_headers,
    check_proxy,
    check_user_agent,
    request_error,
)
from monitor.delivery.channel_config import ChannelConfig, check_http_url
from monitor.delivery.channels import REGISTRY
from monitor.ingest.language import declared_language
from monitor.ingest.request import FeedRequest
from monitor.settings import Duration

#: The pattern of feed and rule ids and channel names.
IDENTIFIER_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_.-]*$"
Identifier = Annotated[str, Field(pattern=IDENTIFIER_PATTERN, max_length=100)]
#: An ``http://`` or ``https://`` URL with a host.
HttpUrl = Annotated[str, AfterValidator(check_http_url)]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


def _fulltext_mode(value: object) -> object:
    """``fulltext:`` is true, false or auto: one clear message for anything else (a union of
    bool and a literal would report two)."""
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.strip().lower() == "auto":
        return "auto"
    if isinstance(value, str):
        shown = repr(value)[:40]
    elif value is None:
        shown = "nothing"
    else:
        shown = "a number" if isinstance(value, int | float) else f"a {type(value).__name__}"
    raise PydanticCustomError(
        "fulltext_mode", "must be true, false or auto, got {shown}", {"shown": shown}
    )


#: A feed's ``fulltext:``: read every new article's page, none, or those with a short text.
FullTextMode = Annotated[bool | Literal["auto"], BeforeValidator(_fulltext_mode)]


def _feed_language(value: object) -> object:
    """``language:`` is a language tag (``es``, ``pt-BR``), kept as its base code (``pt``),
    the code articles carry and ``lang:`` names."""
    code = declared_language(value)
    if not code:
        shown = repr(value)[:40] if isinstance(value, str) else f"a {type(value).__name__}"
        raise PydanticCustomError(
            "language_tag",
            "must be a language tag such as es, fr or pt-BR (ISO 639), got {shown}",
            {"shown": shown},
        )
    return code


class FeedConfig(_Strict):
    """One feed to poll."""

    #: Unique id, used in rules (``feeds:``) and alerts.
    id: Identifier
    #: http(s) URL of an RSS, Atom or JSON feed.
    url: HttpUrl
    #: Polling interval; defaults to MONITOR_POLL_INTERVAL.
    interval: Duration | None = None
    #: Display name used in alerts; defaults to the id.
    name: str | None = None
    #: Alert when the feed brings no new entry for this long (overrides
    #: ``feed_health.silent_after``; 0 turns silence alerts off for this feed).
    silent_after: Duration | None = None
    #: Let this feed (and its redirects) reach loopback, private and other non-public
    #: addresses, as MONITOR_ALLOW_PRIVATE_ADDRESSES does for every feed.
    allow_private_addresses: bool = False
    #: Extra request headers, sent to the origin of ``url`` only (values are secrets).
    headers: dict[str, SecretStr] = {}
    #: This feed's User-Agent; default MONITOR_USER_AGENT.
    user_agent: Annotated[str, AfterValidator(check_user_agent)] | None = None
    #: Cookies sent to the origin of ``url`` (values are secrets).
    cookies: dict[str, SecretStr] = {}
    #: Basic or bearer authentication, sent to the origin of ``url`` only.
    auth: FeedAuthConfig | None = None
    #: ``http(s)://[user:password@]host:port`` of a proxy every request of this feed goes
    #: through (a secret); the address policy checks the proxy's address.
    proxy: Annotated[SecretStr, AfterValidator(check_proxy)] | None = None
    #: Read each new article's web page and match its main text instead of the feed's
    #: summary: ``true`` for every article, ``auto`` only when the feed's text is shorter
    #: than ``fulltext_min_chars`` (``monitor.ingest.fulltext``).
    fulltext: FullTextMode = False
    #: With ``fulltext: auto``: a page is read when the feed's text has fewer characters.
    fulltext_min_chars: int = Field(default=500, ge=1)
    #: Most pages read in one poll (the first new articles, in feed order); the articles
    #: beyond are matched on their feed text.
    fulltext_max_per_poll: int = Field(default=10, ge=1, le=100)
    #: The language of every article of this feed (its base code): outranks what the feed
    #: declares (often a site-wide default, or wrong) and detection. None: those decide.
    language: Annotated[str, BeforeValidator(_feed_language)] | None = None

    @field_validator("headers")
    @classmethod
    def _sendable_headers(cls, value: dict[str, SecretStr]) -> dict[str, SecretStr]:
        check_headers(value)
        return value

    @field_validator("cookies")
    @classmethod
    def _sendable_cookies(cls, value: dict[str, SecretStr]) -> dict[str, SecretStr]:
        check_cookies(value)
        return value

    @model_validator(mode="after")
    def _one_authorization(self) -> FeedConfig:
        if self.auth is not None and any(n.lower() == "authorization" for n in self.headers):
            raise request_error("set either 'auth' or an Authorization header, not both")
        return self

    @property
    def request(self) -> FeedRequest | None:
        """What the fetcher needs beyond the URL (None when the feed sets none of it)."""
        if not (self.headers or self.user_agent or self.cookies or self.auth or self.proxy):
            return None
        return FeedRequest.build(
            self.url,
            headers={name: value.get_secret_value() for name, value in self.headers.items()},
            user_agent=self.user_agent or "",
            cookies={name: value.get_secret_value() for name, value in self.cookies.items()},
            basic=self.auth.basic() if self.auth else None,
            bearer=self.auth.bearer() if self.auth else "",
            proxy=self.proxy.get_secret_value() if self.proxy else "",
        )


#: Every channel ``type:`` a config may name, in the registry's order (for messages).
CHANNEL_TYPES: tuple[str, ...] = tuple(REGISTRY)

# A channel entry is validated as the registered model its ``type:`` names: a pydantic
# discriminated union of every model in the registry. The union is built at run time, so
# no static type can spell it; the static type of an entry is therefore the base model
# every channel config derives from (all that the code reading the config needs: policy,
# build_channel, messages), and GetPydanticSchema hands pydantic the union's schema in
# its place. Validation, errors and error locations are those of a written-out union
# (``("channels", name, "slack", "webhook_url")``, the tag stripped by load._strip_tags).
_CHANNEL_UNION: Any = Annotated[
    Union[tuple(channel_type.model for channel_type in REGISTRY.values())],  # noqa: UP007
    Field(discriminator="type"),
]
#: One ``channels:`` entry (see above): statically the base model, validated as the union.
AnyChannelConfig = Annotated[
    ChannelConfig, GetPydanticSchema(lambda _source, handler: handler(_CHANNEL_UNION))
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
    #: How far back in the archive the rule is run when it is new or changed (``24h``,
    #: ``30m``; ``0``: no backfill); None: MONITOR_RULE_BACKFILL.
    backfill: Duration | None = None

    @field_validator("backfill")
    @classmethod
    def _not_negative(cls, value: timedelta | None) -> timedelta | None:
        if value is not None and value.total_seconds() < 0:
            raise ValueError("must be 0 or more")
        return value


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
    channels: dict[Identifier, AnyChannelConfig] = {}
    rules: list[RuleConfig] = []
    #: Feed-down / recovered alerts; None: none are sent (``news-monitor feeds`` still shows).
    feed_health: FeedHealthConfig | None = None
    #: Named entities for ``@Name`` in queries: new ones, or replacements of shipped ones.
    entities: dict[str, list[str | EntityAliasConfig]] = {}
