"""news-monitor: watch news feeds and alert when an article matches a watch rule."""

__version__ = "0.1.0"
