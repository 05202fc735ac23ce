"""The request keys of a feed in the watch config: ``headers``, ``user_agent``,
``cookies``, ``auth`` and ``proxy``, and what makes a value of each acceptable.

The models and checks live here; ``FeedConfig`` (``monitor.config.models``) carries the
keys and turns them into the fetcher's :class:`~monitor.ingest.request.FeedRequest`.

Every value but ``user_agent`` may be a secret (an API key in a header, a session
cookie, a password, a proxy's credentials), so it is a ``SecretStr`` and no message
here ever quotes one: a bad value is named by its header or cookie name alone. The
checks refuse what would break the request or be silently ignored: header names that
are not HTTP tokens, control characters and line breaks (header injection), non-ASCII
values (httpx would fail to encode them at every poll), and headers the fetcher owns
(the conditional GET's, the encodings it can decode, framing) or that have a key of
their own (``User-Agent``, ``Cookie``, ``Proxy-Authorization``). An ``Authorization``
header may be set for schemes ``auth`` does not know, but not beside ``auth``.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Literal

from pydantic import BaseModel, ConfigDict, SecretStr, model_validator
from pydantic_core import PydanticCustomError

from monitor.delivery.channel_config import HTTP_URL_ERROR, http_url_problem

#: Error type of a bad request value (``describe`` prints its message as it is).
REQUEST_ERROR = "feed_request"
#: An HTTP header or cookie name (RFC 9110 5.1 token).
_TOKEN = re.compile(r"[!#$%&'*+.^_`|~0-9A-Za-z-]+")
#: Header names the config may not set, and why (lower case).
_OWN_KEY = {
    "user-agent": "use the feed's 'user_agent' key",
    "cookie": "use the feed's 'cookies' key",
    "proxy-authorization": "put the proxy's credentials in its 'proxy' URL",
}
_FETCHER_OWNS = (
    "host",
    "content-length",
    "transfer-encoding",
    "connection",
    "keep-alive",
    "te",
    "trailer",
    "upgrade",
    "proxy-connection",
    "if-none-match",
    "if-modified-since",
    "accept-encoding",
)
#: Longest header value or cookie accepted (servers refuse much shorter headers).
MAX_VALUE_LENGTH = 8192


def request_error(message: str) -> PydanticCustomError:
    """A validation error whose message is ``message`` as it is (no secret in it)."""
    return PydanticCustomError(REQUEST_ERROR, "{problem}", {"problem": message})


def _shown(name: str) -> str:
    """A header or cookie name (a key, not a secret) quoted for a message, kept short."""
    clean = "".join(c if c.isprintable() else "?" for c in name)
    return f"'{clean[:40]}…'" if len(clean) > 40 else f"'{clean}'"


def value_problem(value: str) -> str:
    """Why a header value cannot be sent as it is ("" if it can); never quotes it."""
    if len(value) > MAX_VALUE_LENGTH:
        return f"is longer than {MAX_VALUE_LENGTH} characters"
    if not value.isascii():
        return "must be ASCII (the value is not shown: it may be secret)"
    if any(not c.isprintable() for c in value):
        return "contains a line break or control character (the value is not shown)"
    return ""


def check_headers(headers: Mapping[str, SecretStr]) -> None:
    """Raise for the first header that cannot be configured (see the module)."""
    seen: set[str] = set()
    for name, secret in headers.items():
        lower = name.lower()
        if not _TOKEN.fullmatch(name):
            raise request_error(f"{_shown(name)} is not a valid HTTP header name")
        if lower in seen:
            raise request_error(f"header '{name}' is given twice (names ignore case)")
        seen.add(lower)
        if lower in _OWN_KEY:
            raise request_error(f"header '{name}' cannot be set here: {_OWN_KEY[lower]}")
        if lower in _FETCHER_OWNS:
            raise request_error(f"header '{name}' is set by the fetcher and cannot be configured")
        if problem := value_problem(secret.get_secret_value()):
            raise request_error(f"the value of header '{name}' {problem}")


def check_cookies(cookies: Mapping[str, SecretStr]) -> None:
    """Raise for the first cookie that cannot be sent in a Cookie header."""
    for name, secret in cookies.items():
        if not _TOKEN.fullmatch(name):
            raise request_error(f"{_shown(name)} is not a valid cookie name")
        value = secret.get_secret_value()
        if problem := value_problem(value) or ("contains ';'" if ";" in value else ""):
            raise request_error(f"the value of cookie '{name}' {problem}")


def check_user_agent(value: str) -> str:
    """``value`` if it can be a User-Agent header."""
    if not value.strip():
        raise request_error("is empty (leave it out for MONITOR_USER_AGENT)")
    if problem := value_problem(value):
        raise request_error(problem.replace(" (the value is not shown: it may be secret)", ""))
    return value


def check_proxy(value: SecretStr) -> SecretStr:
    """``value`` if it is an ``http://`` or ``https://`` proxy URL with a host."""
    problem = http_url_problem(value.get_secret_value())
    if problem is not None:
        if "http://" in problem:
            problem += " (SOCKS proxies are not supported)"
        raise PydanticCustomError(HTTP_URL_ERROR, "{problem}", {"problem": problem})
    return value


class FeedAuthConfig(BaseModel):
    """A feed's HTTP authentication: ``type: basic`` with ``username`` and ``password``,
    or ``type: bearer`` with ``token``."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    #: ``basic`` (RFC 7617) or ``bearer`` (RFC 6750).
    type: Literal["basic", "bearer"]
    #: Basic auth: the user name.
    username: str | None = None
    #: Basic auth: the password (a secret; may be empty).
    password: SecretStr | None = None
    #: Bearer auth: the token (a secret).
    token: SecretStr | None = None

    @model_validator(mode="after")
    def _keys_of_its_type(self) -> FeedAuthConfig:
        if self.type == "basic":
            if self.token is not None:
                raise request_error("basic auth takes 'username' and 'password', not 'token'")
            if self.username is None or self.password is None:
                raise request_error("basic auth needs 'username' and 'password'")
            if ":" in self.username:
                raise request_error("a basic auth username cannot contain ':'")
            for what, text in (("username", self.username), ("password", self._password())):
                if any(not c.isprintable() for c in text):
                    raise request_error(f"the {what} contains a line break or control character")
            return self
        if self.username is not None or self.password is not None:
            raise request_error("bearer auth takes 'token', not 'username' or 'password'")
        token = self.token.get_secret_value() if self.token is not None else ""
        if not token.strip():
            raise request_error("bearer auth needs a non-empty 'token'")
        if problem := value_problem(token) or ("contains a space" if " " in token else ""):
            raise request_error(f"the token {problem}")
        return self

    def _password(self) -> str:
        return self.password.get_secret_value() if self.password is not None else ""

    def basic(self) -> tuple[str, str] | None:
        """``(username, password)`` for basic auth, else None."""
        if self.type != "basic" or self.username is None:
            return None
        return self.username, self._password()

    def bearer(self) -> str:
        """The bearer token, or ""."""
        return self.token.get_secret_value() if self.type == "bearer" and self.token else ""
