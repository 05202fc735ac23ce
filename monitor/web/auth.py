"""Access to the console and the API: ``MONITOR_HTTP_TOKEN``, sessions and CSRF.

- With a token, every API call needs ``Authorization: Bearer <token>`` (else 401), and
  every page a session: the login form checks the token and marks the session, a
  signed cookie (``HttpOnly``, ``SameSite=Strict``, 12 hours), signed with a key derived
  from the token (so every replica accepts it, and changing the token logs everyone
  out). Comparisons are constant-time. ``/healthz``, ``/readyz`` and ``/metrics`` stay
  open, and so do the static assets (CSS, JavaScript: no data).
- Without a token (only allowed on a loopback address: ``server.check_exposure``),
  pages and API are open, to requests naming a loopback host only (:class:`LoopbackOnly`:
  a web page cannot reach them by DNS rebinding) and, for an API change, from no other
  site (its ``Origin``).
- Every form POST carries the session's CSRF token in a hidden field
  (``csrf_token``); one without it, or with another, is refused with 403.
"""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
import secrets
from typing import Annotated
from urllib.parse import quote, urlsplit

from fastapi import HTTPException, Request, Security
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from starlette.responses import PlainTextResponse
from starlette.types import ASGIApp, Receive, Scope, Send

from monitor.ingest.websub import CALLBACK_PREFIX

#: The session cookie's name, and how long a login lasts.
SESSION_COOKIE = "news_monitor_session"
SESSION_MAX_AGE = 12 * 3600
#: The hidden form field carrying the CSRF token.
CSRF_FIELD = "csrf_token"

#: The API's security scheme (documented in the OpenAPI document).
bearer_scheme = HTTPBearer(
    auto_error=False,
    description="MONITOR_HTTP_TOKEN, when the daemon has one: `Authorization: Bearer <token>`.",
)


class LoginRequired(Exception):
    """A page was asked for without a logged-in session: redirect to the login form."""

    def __init__(self, next_path: str) -> None:
        super().__init__(next_path)
        self.next_path = next_path

    @property
    def location(self) -> str:
        return f"/login?next={quote(self.next_path, safe='/')}"


class CsrfError(Exception):
    """A form was posted without the session's CSRF token."""


def is_loopback(host: str) -> bool:
    """Whether ``host`` only answers on this machine (127.0.0.0/8, ::1, localhost)."""
    host = host.strip("[]").lower()
    if host in ("localhost", "localhost.", "ip6-localhost"):
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False  # a host name: it may resolve to anything


def _host_name(host_header: str) -> str:
    """The host of a ``Host`` header (``[::1]:8080`` -> ``::1``)."""
    try:
        return urlsplit(f"//{host_header}").hostname or ""
    except ValueError:
        return ""


def _same(given: str, expected: str) -> bool:
    return hmac.compare_digest(given.encode("utf-8"), expected.encode("utf-8"))


class Auth:
    """The token (None: open) and the checks made with it."""

    def __init__(self, token: str | None) -> None:
        self.token = token or None

    @property
    def enabled(self) -> bool:
        return self.token is not None

    def session_key(self) -> str:
        """The key that signs session cookies: derived from the token, else random (sessions
        then last as long as the process)."""
        if self.token is None:
            return secrets.token_hex(32)
        return hmac.new(
            self.token.encode("utf-8"), b"news-monitor console session v1", hashlib.sha256
        ).hexdigest()

    def accepts(self, given: str) -> bool:
        """Whether ``given`` is the token (constant time)."""
        return self.token is not None and _same(given, self.token)

    async def bearer(
        self,
        request: Request,
        credentials: Annotated[HTTPAuthorizationCredentials | None, Security(bearer_scheme)],
    ) -> None:
        """API dependency: 401 unless the request carries the token (when there is one).

        Without a token the API is open, so a change (POST, DELETE) must not come from
        another site's page: one whose ``Origin`` is not this server is refused (403)."""
        if not self.enabled:
            origin = request.headers.get("origin")
            change = request.method not in ("GET", "HEAD", "OPTIONS")
            if (
                change
                and origin is not None
                and urlsplit(origin).netloc != request.headers.get("host", "")
            ):
                raise HTTPException(403, detail="cross-site request refused")
            return
        if credentials is None or not self.accepts(credentials.credentials):
            raise HTTPException(
                status_code=401,
                detail="missing or wrong bearer token (Authorization: Bearer <MONITOR_HTTP_TOKEN>)",
                headers={"WWW-Authenticate": "Bearer"},
            )

    def logged_in(self, request: Request) -> bool:
        return not self.enabled or request.session.get("auth") is True

    async def page(self, request: Request) -> None:
        """Page dependency: redirect to the login form unless the session is logged in."""
        if not self.logged_in(request):
            path = request.url.path
            if request.url.query:
                path += "?" + request.url.query
            raise LoginRequired(path)

    def log_in(self, request: Request) -> None:
        """Mark the session logged in, with a fresh CSRF token (no session fixation)."""
        request.session.clear()
        request.session["auth"] = True
        request.session[CSRF_FIELD] = secrets.token_urlsafe(32)


def csrf_token(request: Request) -> str:
    """The session's CSRF token, made on first use."""
    token = request.session.get(CSRF_FIELD)
    if not isinstance(token, str):
        token = secrets.token_urlsafe(32)
        request.session[CSRF_FIELD] = token
    return token


async def check_csrf(request: Request) -> None:
    """Form dependency: 403 (``CsrfError``) unless the form's ``csrf_token`` is the
    session's."""
    form = await request.form()
    given = form.get(CSRF_FIELD)
    expected = request.session.get(CSRF_FIELD)
    if not isinstance(given, str) or not isinstance(expected, str) or not _same(given, expected):
        raise CsrfError()


def safe_next(path: str | None) -> str:
    """Where to go after logging in: a path of this site, else the overview."""
    if not path or not path.startswith("/") or path.startswith("//") or "\\" in path:
        return "/"
    return path


#: Paths answered whatever the Host header (probes and scrapes name the host they like).
OPEN_PATHS = ("/healthz", "/readyz", "/metrics")
#: Path prefixes answered whatever the Host header: the WebSub callback, which a hub calls
#: at MONITOR_PUBLIC_URL (through a reverse proxy, with the public name as Host); its own
#: token and the push's signature protect it, not the loopback name.
OPEN_PREFIXES = (CALLBACK_PREFIX,)


class LoopbackOnly:
    """ASGI middleware of a console without a token: 403 for a request whose ``Host`` is
    not a loopback name, so that a page of another site whose name was made to resolve to
    127.0.0.1 (DNS rebinding) cannot read or drive the open console."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path = str(scope.get("path", ""))
        if (
            scope["type"] == "http"
            and path not in OPEN_PATHS
            and not path.startswith(OPEN_PREFIXES)
        ):
            host = dict(scope.get("headers") or []).get(b"host", b"").decode("latin-1")
            if not is_loopback(_host_name(host)):
                refused = PlainTextResponse(
                    "This console has no MONITOR_HTTP_TOKEN: it answers only to "
                    "127.0.0.1, [::1] or localhost.",
                    status_code=403,
                )
                await refused(scope, receive, send)
                return
        await self.app(scope, receive, send)
