"""The daemon's HTTP wing: health and readiness probes, Prometheus metrics, and the web
console and REST API (issue 11), all served by uvicorn on the daemon's own loop.

Modules: ``server`` (binding, uvicorn, start and stop), ``asgi`` (the application and
its security headers), ``probes`` (``/healthz``, ``/readyz``, ``/metrics``), ``metrics``,
``context`` (what the daemon hands the console), ``auth`` (token, sessions, CSRF),
``service`` (what pages and API both read and do), ``preview`` (a query over the
archive), ``schemas`` and ``api`` (JSON under ``/api/v1``), ``render`` and ``pages``
(HTML), ``websub`` (the WebSub callback hubs call); ``templates/`` and ``static/`` hold
the pages' Jinja2 templates and assets.
"""

from monitor.web.context import ConsoleContext, ConsoleStore
from monitor.web.metrics import Metrics
from monitor.web.probes import Probes
from monitor.web.server import HttpServer, HttpServerError

__all__ = ["ConsoleContext", "ConsoleStore", "HttpServer", "HttpServerError", "Metrics", "Probes"]
