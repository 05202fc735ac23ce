"""The daemon's HTTP server: uvicorn serving the ASGI app (:mod:`monitor.web.asgi`) on the
daemon's own event loop.

- ``GET /healthz``: 200 while the event loop, the scheduler and the outbox worker are
  alive, 503 otherwise; the JSON body says which is which.
- ``GET /readyz``: 200 when the config is loaded and the store answers ``ping``, else
  503 with the reason as JSON.
- ``GET /metrics``: the Prometheus text format; store-backed gauges are read first.
- With a :class:`~monitor.web.context.ConsoleContext`: the console pages and the REST
  API under ``/api/v1`` (:mod:`monitor.web.pages`, :mod:`monitor.web.api`).
- With a :class:`~monitor.web.websub.WebSubReceiver`: the WebSub callback under
  ``/websub/`` (:mod:`monitor.web.websub`).

The socket is bound here, not by uvicorn, so that an address in use is a
:class:`HttpServerError` naming the address and ``MONITOR_HTTP_ADDR`` (the CLI exits 1
with it) instead of uvicorn's ``sys.exit``. uvicorn installs no signal handler (signals
stay the CLI's) and configures no logging (its stdlib loggers go through ours).
A non-loopback address without ``MONITOR_HTTP_TOKEN`` is a ``ConfigError`` (exit 2).
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
from collections.abc import Iterator

import uvicorn

from monitor.errors import ConfigError, ConfigIssue, MonitorError
from monitor.ingest.websub import CALLBACK_PREFIX
from monitor.log import get_logger
from monitor.settings import split_host_port
from monitor.web.asgi import build_app
from monitor.web.auth import is_loopback
from monitor.web.context import ConsoleContext
from monitor.web.metrics import Metrics
from monitor.web.probes import Probes
from monitor.web.websub import WebSubReceiver

log = get_logger("monitor.web")

#: Seconds open requests get to finish when the server stops.
STOP_GRACE = 1.0


class HttpServerError(MonitorError):
    """The HTTP server could not start (the address is in use, or cannot be bound)."""


def check_exposure(host: str, token: str | None) -> None:
    """Refuse to serve the console on a non-loopback address without a token."""
    if token or is_loopback(host):
        return
    raise ConfigError(
        [
            ConfigIssue(
                "MONITOR_HTTP_ADDR",
                0,
                f"{host} is not a loopback address, and MONITOR_HTTP_TOKEN is not set: the "
                "web console and the API would be open to anyone who can reach it. Set "
                "MONITOR_HTTP_TOKEN (e.g. `openssl rand -hex 32`), or bind 127.0.0.1",
            )
        ]
    )


class _Uvicorn(uvicorn.Server):
    """uvicorn without its signal handlers: SIGTERM and SIGINT belong to the CLI."""

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield


class HttpServer:
    """Serves the endpoints on ``addr`` (host:port) until :meth:`stop`."""

    def __init__(
        self,
        addr: str,
        probes: Probes,
        metrics: Metrics,
        *,
        console: ConsoleContext | None = None,
        token: str | None = None,
        websub: WebSubReceiver | None = None,
    ) -> None:
        self.host, self.port = split_host_port(addr)
        self.token = token or None
        self.console = console
        self.websub = websub
        self.app = build_app(probes, metrics, console=console, token=self.token, websub=websub)
        self._server: _Uvicorn | None = None
        self._task: asyncio.Task[None] | None = None

    @property
    def address(self) -> str:
        """host:port as configured (the port may be 0 until started)."""
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{host}:{self.port}"

    def _bind(self) -> socket.socket:
        try:
            infos = socket.getaddrinfo(
                self.host, self.port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE
            )
            family, _, _, _, sockaddr = infos[0]
            sock = socket.socket(family, socket.SOCK_STREAM)
            try:
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
                sock.bind(sockaddr)
                sock.listen(128)
                sock.setblocking(False)
            except BaseException:
                sock.close()
                raise
        except OSError as e:
            reason = e.strerror or str(e) or type(e).__name__
            raise HttpServerError(
                f"cannot serve HTTP on {self.address} (MONITOR_HTTP_ADDR): {reason}"
            ) from e
        return sock

    async def start(self) -> None:
        """Bind and serve; HttpServerError (naming the address) if that is impossible, and
        ConfigError if the address is not loopback and there is no token."""
        check_exposure(self.host, self.token)
        sock = self._bind()
        self.port = int(sock.getsockname()[1])
        config = uvicorn.Config(
            self.app,
            log_config=None,  # no dictConfig: our structlog setup stays as it is
            access_log=False,
            lifespan="off",
            server_header=False,
            timeout_graceful_shutdown=int(STOP_GRACE) or 1,
        )
        server = _Uvicorn(config)
        self._server = server
        self._task = asyncio.create_task(server.serve(sockets=[sock]), name="http-server")
        # uvicorn says it is listening only by a flag (no event to wait on); it is set within
        # a few milliseconds, since the socket is already bound.
        while not server.started and not self._task.done():  # noqa: ASYNC110
            await asyncio.sleep(0.01)
        if self._task.done():  # it could not start: surface why
            self._server, task, self._task = None, self._task, None
            sock.close()
            await task
            raise HttpServerError(f"cannot serve HTTP on {self.address} (MONITOR_HTTP_ADDR)")
        endpoints = ["/healthz", "/readyz", "/metrics"]
        if self.console is not None:
            endpoints += ["/", "/api/v1"]
        if self.websub is not None:
            endpoints.append(CALLBACK_PREFIX)
        log.info("http_listen", addr=self.address, endpoints=endpoints, login=bool(self.token))

    async def stop(self) -> None:
        """Stop accepting and close open connections (requests in flight get a second)."""
        server, task = self._server, self._task
        self._server = self._task = None
        if server is None or task is None:
            return
        server.should_exit = True
        try:
            await asyncio.wait_for(asyncio.shield(task), timeout=STOP_GRACE + 2)
        except TimeoutError:
            server.force_exit = True
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
