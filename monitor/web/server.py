"""The daemon's HTTP server (aiohttp, on the daemon's own event loop): health, readiness,
metrics.

- ``GET /healthz``: 200 while the event loop, the scheduler and the outbox worker are
  alive, 503 otherwise; the JSON body says which is which.
- ``GET /readyz``: 200 when the config is loaded and the store answers ``ping``, else
  503 with the reason as JSON.
- ``GET /metrics``: the Prometheus text format; store-backed gauges are read first.

The server is handed what it reports on as callables (``Probes``), never the
application, so this wing sits below ``monitor.app``. A port already in use is a
:class:`HttpServerError` naming the address (the CLI exits 1 with it).
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass

from aiohttp import web

from monitor.errors import MonitorError
from monitor.log import get_logger
from monitor.settings import split_host_port
from monitor.web.metrics import CONTENT_TYPE, Metrics

log = get_logger("monitor.web")

#: Seconds /readyz waits for the store's ping before answering 503.
READY_TIMEOUT = 2.0
#: Seconds /metrics waits for the store-backed gauges before serving the last values.
REFRESH_TIMEOUT = 5.0


class HttpServerError(MonitorError):
    """The HTTP server could not start (the address is in use, or cannot be bound)."""


@dataclass(frozen=True, slots=True)
class Probes:
    """What the endpoints ask the running daemon."""

    #: Component name -> alive? ("scheduler", "worker"); the event loop is alive if asked.
    alive: Callable[[], Mapping[str, bool]]
    #: Why the daemon cannot do its work (the store does not answer ...); None: ready.
    not_ready: Callable[[], Awaitable[str | None]]
    #: Refreshes the gauges that live in the store before a scrape.
    refresh: Callable[[], Awaitable[None]]


class HttpServer:
    """Serves the endpoints on ``addr`` (host:port) until :meth:`stop`."""

    def __init__(self, addr: str, probes: Probes, metrics: Metrics) -> None:
        self.host, self.port = split_host_port(addr)
        self.probes = probes
        self.metrics = metrics
        self.app = web.Application()
        self.app.router.add_get("/healthz", self.healthz)
        self.app.router.add_get("/readyz", self.readyz)
        self.app.router.add_get("/metrics", self.metrics_page)
        self._runner: web.AppRunner | None = None

    @property
    def address(self) -> str:
        """host:port as configured (the port may be 0 until started)."""
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{host}:{self.port}"

    async def start(self) -> None:
        """Bind and serve; HttpServerError (naming the address) if that is impossible."""
        # Signals stay the CLI's; an open scrape gets a second to finish when stopping.
        runner = web.AppRunner(
            self.app, access_log=None, handle_signals=False, shutdown_timeout=1.0
        )
        await runner.setup()
        site = web.TCPSite(runner, self.host, self.port)
        try:
            await site.start()
        except OSError as e:
            await runner.cleanup()
            raise HttpServerError(
                f"cannot serve HTTP on {self.address} (MONITOR_HTTP_ADDR): {e.strerror or e}"
            ) from e
        self._runner = runner
        if self.port == 0 and runner.addresses:
            self.port = int(runner.addresses[0][1])
        log.info("http_listen", addr=self.address, endpoints=["/healthz", "/readyz", "/metrics"])

    async def stop(self) -> None:
        """Stop accepting and close open connections."""
        if self._runner is not None:
            runner, self._runner = self._runner, None
            await runner.cleanup()

    async def healthz(self, request: web.Request) -> web.Response:
        alive = {"event_loop": True, **self.probes.alive()}
        ok = all(alive.values())
        body = {"status": "ok" if ok else "unhealthy", **alive}
        return web.json_response(body, status=200 if ok else 503)

    async def readyz(self, request: web.Request) -> web.Response:
        try:
            reason = await asyncio.wait_for(self.probes.not_ready(), timeout=READY_TIMEOUT)
        except TimeoutError:
            reason = f"readiness check: no answer within {READY_TIMEOUT:g} s"
        if reason is None:
            return web.json_response({"status": "ready", "config": "loaded", "store": "ok"})
        return web.json_response({"status": "not_ready", "reason": reason}, status=503)

    async def metrics_page(self, request: web.Request) -> web.Response:
        try:
            await asyncio.wait_for(self.probes.refresh(), timeout=REFRESH_TIMEOUT)
        except Exception as e:  # the store is down: serve the counters and the last gauges
            log.warning("metrics", status="refresh_failed", error=str(e) or type(e).__name__)
        response = web.Response(body=self.metrics.exposition())
        response.headers["Content-Type"] = CONTENT_TYPE
        return response
