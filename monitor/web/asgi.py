"""The ASGI application the daemon serves: the probes (``/healthz``, ``/readyz``,
``/metrics``), and with a console context the pages, the REST API under ``/api/v1`` and
the static assets (``/static``: CSS and a little JavaScript, served by the daemon, no
CDN).

Every answer carries headers that keep hostile article content inert even if an escape
were missed: a Content-Security-Policy allowing only this origin's scripts and styles
(no inline script), ``nosniff``, no framing, no referrer to the sites articles link to.
"""

from __future__ import annotations

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, RedirectResponse, Response
from starlette.applications import Starlette
from starlette.middleware.sessions import SessionMiddleware
from starlette.staticfiles import StaticFiles
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from monitor import __version__
from monitor.errors import StoreError
from monitor.log import get_logger
from monitor.web.api import PREFIX, api_router
from monitor.web.auth import (
    SESSION_COOKIE,
    SESSION_MAX_AGE,
    Auth,
    CsrfError,
    LoginRequired,
    LoopbackOnly,
)
from monitor.web.context import ConsoleContext
from monitor.web.metrics import Metrics
from monitor.web.pages import error_page, pages_router
from monitor.web.preview import ArchiveCache
from monitor.web.probes import Probes, probe_routes
from monitor.web.websub import WebSubReceiver, websub_routes

log = get_logger("monitor.web")

SECURITY_HEADERS = (
    (
        b"content-security-policy",
        b"default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
        b"connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'; "
        b"object-src 'none'",
    ),
    (b"x-content-type-options", b"nosniff"),
    (b"x-frame-options", b"DENY"),
    (b"referrer-policy", b"no-referrer"),
)


class SecurityHeaders:
    """Adds :data:`SECURITY_HEADERS` to every response, and ``Cache-Control: no-store`` to
    pages and API answers (they may hold data behind a login)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        static = str(scope.get("path", "")).startswith("/static/")

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                names = {name.lower() for name, _ in headers}
                headers += [h for h in SECURITY_HEADERS if h[0] not in names]
                if not static and b"cache-control" not in names:
                    headers.append((b"cache-control", b"no-store"))
                message["headers"] = headers
            await send(message)

        await self.app(scope, receive, send_with_headers)


def build_app(
    probes: Probes,
    metrics: Metrics,
    *,
    console: ConsoleContext | None = None,
    token: str | None = None,
    websub: WebSubReceiver | None = None,
) -> Starlette:
    """The probes alone, or with ``console`` the whole console and API; with ``websub``,
    the WebSub callback too (open like the probes: :mod:`monitor.web.websub`)."""
    open_routes = probe_routes(probes, metrics)
    if websub is not None:
        open_routes += websub_routes(websub, metrics)
    if console is None:
        return Starlette(routes=open_routes)
    auth = Auth(token)
    cache = ArchiveCache()
    app = FastAPI(
        title="news-monitor",
        version=__version__,
        summary="The news-monitor daemon's REST API: feeds, rules, alerts, the archive, silences.",
        openapi_url=f"{PREFIX}/openapi.json",
        docs_url=None,  # Swagger UI would load its assets from a CDN
        redoc_url=None,
        routes=open_routes,
    )
    app.include_router(api_router(console, auth, cache))
    app.include_router(pages_router(console, auth, cache))
    app.mount("/static", StaticFiles(packages=[("monitor.web", "static")]), name="static")

    @app.exception_handler(LoginRequired)
    async def to_login(request: Request, exc: LoginRequired) -> Response:
        return RedirectResponse(exc.location, status_code=303)

    @app.exception_handler(CsrfError)
    async def refuse_form(request: Request, exc: CsrfError) -> Response:
        log.warning("csrf_refused", path=request.url.path)
        message = "This form has expired or did not come from this console: reload and retry."
        return error_page(403, "Forbidden", message)

    @app.exception_handler(StoreError)
    async def store_down(request: Request, exc: StoreError) -> Response:
        log.warning("http_store_error", path=request.url.path, error=str(exc))
        if request.url.path.startswith(PREFIX):
            return JSONResponse({"detail": f"state store unavailable: {exc}"}, 503)
        return error_page(503, "Store unavailable", f"The state store does not answer: {exc}")

    @app.exception_handler(Exception)
    async def failure(request: Request, exc: Exception) -> Response:
        log.error("http_error", path=request.url.path, error=str(exc) or type(exc).__name__)
        if request.url.path.startswith(PREFIX):
            return JSONResponse({"detail": "internal error (see the daemon's log)"}, 500)
        return error_page(500, "Error", "Something went wrong; the daemon's log says what.")

    app.add_middleware(
        SessionMiddleware,
        secret_key=auth.session_key(),
        session_cookie=SESSION_COOKIE,
        max_age=SESSION_MAX_AGE,
        same_site="strict",
        https_only=False,
    )
    if not auth.enabled:
        app.add_middleware(LoopbackOnly)
    app.add_middleware(SecurityHeaders)
    return app
