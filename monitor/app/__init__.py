"""Composition root: the running application (``Monitor``), what it builds from the watch
config (``wiring``), and how it reloads that config (``reload``) and backfills new rules
(``backfill``), and its WebSub subscriber (``websub``)."""

from monitor.app.monitor import Monitor, RunSummary
from monitor.app.wiring import build_ruleset, stories_for

__all__ = ["Monitor", "RunSummary", "build_ruleset", "stories_for"]
