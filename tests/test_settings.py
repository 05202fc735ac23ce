"""Settings that cannot work together are refused at start, naming both."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from monitor.settings import Settings


def test_seen_retention_must_outlive_max_age() -> None:
    with pytest.raises(ValidationError) as refused:
        Settings(_env_file=None, seen_retention="12h", max_age="1d")  # type: ignore[call-arg]
    message = str(refused.value)
    assert "MONITOR_SEEN_RETENTION (12h) must be longer than MONITOR_MAX_AGE (1d)" in message
    with pytest.raises(ValidationError):
        Settings(_env_file=None, seen_retention="2d", max_age="2d")  # type: ignore[call-arg]
    ok = Settings(_env_file=None, seen_retention="3d", max_age="2d")  # type: ignore[call-arg]
    assert ok.seen_retention > ok.max_age
