"""The one exception tree of news-monitor.

Failures *inside* the pipeline (a feed that is down, a receiver that answers
500) are values (FetchOutcome, DeliveryResult), not exceptions. Exceptions are
for what stops a command: a bad config, a bad query, a store that is
unreachable::

    MonitorError
    ├── ConfigError          invalid watch config or settings (carries file:line issues)
    ├── QuerySyntaxError     a rule query that does not parse (carries the position)
    └── StoreError           the state store failed (Redis down, SQLite locked)
"""

from __future__ import annotations

from dataclasses import dataclass


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
