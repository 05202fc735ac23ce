"""The daemon's HTTP wing: health and readiness probes and Prometheus metrics (issue 10);
the API and console pages come later (issues 7, 8)."""

from monitor.web.metrics import Metrics
from monitor.web.server import HttpServer, HttpServerError, Probes

__all__ = ["HttpServer", "HttpServerError", "Metrics", "Probes"]
