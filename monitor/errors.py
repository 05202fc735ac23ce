"""The one exception tree of news-monitor.

Failures *inside* the pipeline (a feed that is down, a receiver that answers
500) are values (FetchOutcome, DeliveryResult), not exceptions. Exceptions are
for what stops a command: a bad config, a bad query, a store that is
unreachable::

    MonitorError
    ├── ConfigError          invalid watch config or settings (carries file:line issues)
    ├── QuerySyntaxError     a rule query that does not parse (carries the position)
    └── StoreError           the state store failed (Redis down, SQLite locked)

:func:`nearest` is the one "did you mean" of every message about a misspelt
name (a config key, a channel type, a ``MONITOR_*`` setting).
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable
from dataclasses import dataclass


def nearest(word: str, candidates: Iterable[str]) -> str | None:
    """The candidate closest to ``word`` when one is close enough to be a typo of it (difflib's
    ratio of at least 0.6: ``intervall`` -> ``interval``), else None."""
    close = difflib.get_close_matches(word, list(candidates), n=1)
    return close[0] if close else None


class MonitorError(Exception):
    """Base of every error news-monitor raises on purpose."""


@dataclass(frozen=True, slots=True)
class ConfigIssue:
    """One problem found in the watch config."""

    #: File the problem is in.
    file: str
    #: 1-based line number, or 0 when the problem has no single line.
    line: int
    #: What is wrong and what to do about it.
    message: str

    def __str__(self) -> str:
        return (
            f"{self.file}:{self.line}: {self.message}"
            if self.line
            else f"{self.file}: {self.message}"
        )


class ConfigError(MonitorError):
    """The watch config (or the process settings) is invalid; nothing may start."""

    def __init__(self, issues: list[ConfigIssue]) -> None:
        self.issues = issues
        super().__init__("\n".join(str(i) for i in issues))


class QuerySyntaxError(MonitorError):
    """A query does not parse; ``position`` is the 0-based character offset."""

    def __init__(self, message: str, query: str, position: int) -> None:
        self.message = message
        self.query = query
        self.position = position
        super().__init__(f"{message} at position {position}")

    def pretty(self) -> str:
        """The message, the query, and a caret under the offending character."""
        return f"{self.message}\n  {self.query}\n  {' ' * self.position}^"


class StoreError(MonitorError):
    """The state store failed; the operation may be retried later."""
