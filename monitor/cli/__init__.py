"""The ``news-monitor`` command line: one module per command, dispatched by ``main``."""

from monitor.cli.main import main

__all__ = ["main"]
