"""Structured logging: one line per event, stable event names, secrets redacted.

Events used across the code base (stable names, for dashboards and alerts):

- ``poll`` (one feed polled), ``poll_backoff`` (a failing feed's next try),
  ``poll_resume``, ``feed_moved`` (a 301/308 was remembered),
  ``feed_disabled`` (410 Gone), ``feed_down`` / ``feed_recovered`` (feed health);
- ``match`` (a rule matched an article);
- ``deliver`` (one delivery attempt; ``status`` is delivered, retry,
  dead_letter, deferred, lease_lost or crashed), ``channel_disabled``
  (a webhook answered 410; the channel is disabled in the store);
- ``host_limit_unavailable`` (the shared per-host fetch limit did not answer: fetches go
  on under the process's own limits);
- ``outbox_index_rebuilt`` (the Redis outbox's index of created times was missing or out
  of step, as after an upgrade, and was rebuilt from the alerts);
- ``startup``, ``run_once``, ``shutdown``.

Logs go to standard error; standard output belongs to the console channel.

Every secret (SMTP password, webhook URLs and signing secrets, the Redis URL)
is registered with :func:`register_secrets` when the process starts, and the
``redact`` processor replaces it in every value of every event, whatever
code produced the event.
"""

from __future__ import annotations

import logging
import sys
from collections.abc import Iterable, MutableMapping
from typing import Any, TextIO, cast

import structlog

REDACTED = "***"
_secrets: set[str] = set()


def register_secrets(values: Iterable[str]) -> None:
    """Add strings that must never appear in a log line (short ones are ignored)."""
    _secrets.update(v for v in values if v and len(v) >= 4)


def redact_text(text: str) -> str:
    """``text`` with every registered secret replaced by ``***`` (longest first)."""
    for secret in sorted(_secrets, key=len, reverse=True):
        if secret in text:
            text = text.replace(secret, REDACTED)
    return text


def _redact(value: Any) -> Any:
    if isinstance(value, str):
        return redact_text(value)
    if isinstance(value, dict):
        return {k: _redact(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_redact(v) for v in value]
    if isinstance(value, BaseException):
        return redact_text(f"{type(value).__name__}: {value}")
    return value


def redact(_: Any, __: str, event_dict: MutableMapping[str, Any]) -> MutableMapping[str, Any]:
    """structlog processor: scrub registered secrets from every value."""
    if not _secrets:
        return event_dict
    return {k: _redact(v) for k, v in event_dict.items()}


def configure_logging(
    level: str = "INFO", fmt: str = "console", stream: TextIO | None = None
) -> None:
    """Set up structlog (and the stdlib root logger, for libraries) once per process."""
    out: TextIO = stream or cast(TextIO, _CurrentStderr())
    renderer: Any = (
        structlog.processors.JSONRenderer()
        if fmt == "json"
        else structlog.dev.ConsoleRenderer(colors=False)
    )
    structlog.configure(
        processors=[
            structlog.contextvars.merge_contextvars,
            structlog.processors.add_log_level,
            structlog.processors.TimeStamper(fmt="iso", utc=True),
            structlog.processors.format_exc_info,
            redact,
            renderer,
        ],
        wrapper_class=structlog.make_filtering_bound_logger(logging.getLevelName(level)),
        logger_factory=structlog.PrintLoggerFactory(out),
        cache_logger_on_first_use=False,
    )
    # Libraries (httpx, apscheduler, uvicorn) log through the stdlib: their records go
    # through the same redaction and renderer, so a JSON log stays one JSON object per
    # line; the library's logger name is the ``logger`` field, its message the event.
    handler = logging.StreamHandler(out)
    handler.addFilter(_StdlibRedactor())
    handler.setFormatter(
        structlog.stdlib.ProcessorFormatter(
            foreign_pre_chain=[
                structlog.stdlib.add_logger_name,
                structlog.processors.add_log_level,
                structlog.processors.TimeStamper(fmt="iso", utc=True),
            ],
            processors=[
                structlog.stdlib.ProcessorFormatter.remove_processors_meta,
                structlog.processors.format_exc_info,
                redact,
                renderer,
            ],
        )
    )
    logging.basicConfig(level=logging.WARNING, handlers=[handler], force=True)
    logging.getLogger("apscheduler").setLevel(logging.WARNING)
    logging.getLogger("httpx").setLevel(logging.WARNING)


class _CurrentStderr:
    """Writes to whatever ``sys.stderr`` is at write time (tests swap it; a bound one is stale)."""

    def write(self, text: str) -> int:
        return sys.stderr.write(text)

    def flush(self) -> None:
        sys.stderr.flush()


class _StdlibRedactor(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        record.msg = redact_text(record.getMessage())
        record.args = None
        return True


def get_logger(name: str = "monitor") -> Any:
    """A structlog logger; call it with an event name and key=value fields."""
    return structlog.get_logger(name)
