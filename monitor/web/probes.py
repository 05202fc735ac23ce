"""The operational endpoints, always open (no login): ``/healthz``, ``/readyz``, ``/metrics``.

They are handed what they report on as callables (:class:`Probes`), never the
application, so this wing sits below ``monitor.app``.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

from monitor.log import get_logger
from monitor.web.metrics import CONTENT_TYPE, Metrics

log = get_logger("monitor.web")

#: Seconds /readyz waits for the store's ping before answering 503.
READY_TIMEOUT = 2.0
#: Seconds /metrics waits for the store-backed gauges before serving the last values.
REFRESH_TIMEOUT = 5.0


@dataclass(frozen=True, slots=True)
class Probes:
    """What the endpoints ask the running daemon."""

    #: Component name -> alive? ("scheduler", "worker"); the event loop is alive if asked.
    alive: Callable[[], Mapping[str, bool]]
    #: Why the daemon cannot do its work (the store does not answer ...); None: ready.
    not_ready: Callable[[], Awaitable[str | None]]
    #: Refreshes the gauges that live in the store before a scrape.
    refresh: Callable[[], Awaitable[None]]


def probe_routes(probes: Probes, metrics: Metrics) -> list[BaseRoute]:
    """The three routes, answering from ``probes`` and ``metrics``."""

    async def healthz(request: Request) -> Response:
        alive = {"event_loop": True, **probes.alive()}
        ok = all(alive.values())
        body = {"status": "ok" if ok else "unhealthy", **alive}
        return JSONResponse(body, status_code=200 if ok else 503)

    async def readyz(request: Request) -> Response:
        try:
            reason = await asyncio.wait_for(probes.not_ready(), timeout=READY_TIMEOUT)
        except TimeoutError:
            reason = f"readiness check: no answer within {READY_TIMEOUT:g} s"
        if reason is None:
            return JSONResponse({"status": "ready", "config": "loaded", "store": "ok"})
        return JSONResponse({"status": "not_ready", "reason": reason}, status_code=503)

    async def metrics_page(request: Request) -> Response:
        try:
            await asyncio.wait_for(probes.refresh(), timeout=REFRESH_TIMEOUT)
        except Exception as e:  # the store is down: serve the counters and the last gauges
            log.warning("metrics", status="refresh_failed", error=str(e) or type(e).__name__)
        return Response(metrics.exposition(), headers={"Content-Type": CONTENT_TYPE})

    return [
        Route("/healthz", healthz, methods=["GET"]),
        Route("/readyz", readyz, methods=["GET"]),
        Route("/metrics", metrics_page, methods=["GET"]),
    ]
