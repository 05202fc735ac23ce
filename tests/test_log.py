"""Log lines are structured and never contain a registered secret."""

from __future__ import annotations

import io
import json

from monitor.log import configure_logging, get_logger, redact_text, register_secrets


def test_secrets_are_redacted_from_every_field() -> None:
    secret = "https://hooks.slack.com/services/T1/B1/sup3rs3cret"
    register_secrets([secret, "hunter22"])
    stream = io.StringIO()
    configure_logging("DEBUG", "json", stream=stream)
    log = get_logger("test")
    log.warning(
        "deliver",
        detail=f"POST {secret} failed",
        nested={"pw": "hunter22"},
        items=["x hunter22 y"],
        error=ValueError(f"bad url {secret}"),
    )
    line = stream.getvalue().strip()
    event = json.loads(line)
    assert event["event"] == "deliver"
    assert "sup3rs3cret" not in line and "hunter22" not in line
    assert event["detail"] == "POST *** failed"


def test_redact_text_prefers_longest_secret() -> None:
    register_secrets(["abcd", "abcdefgh"])
    assert redact_text("x abcdefgh y") == "x *** y"


def test_stdlib_loggers_are_redacted() -> None:
    import logging

    register_secrets(["topsecretvalue"])
    stream = io.StringIO()
    configure_logging("INFO", "console", stream=stream)
    logging.getLogger("some.library").warning("connecting with %s", "topsecretvalue")
    assert "topsecretvalue" not in stream.getvalue()
    assert "connecting with ***" in stream.getvalue()
