"""Reading HTTP headers the pipeline cares about: Retry-After (feeds and receivers alike)
and Cache-Control max-age (how often a feed server wants to be asked)."""

from __future__ import annotations

import re
from datetime import UTC
from email.utils import parsedate_to_datetime

_DELAY_SECONDS = re.compile(r"[0-9]+")
_MAX_AGE = re.compile(r'(?:^|,)\s*max-age\s*=\s*"?([0-9]{1,10})"?\s*(?=,|$)', re.IGNORECASE)


def parse_retry_after(value: str | None, now: float) -> float | None:
    """Seconds to wait according to a ``Retry-After`` header, or None if absent or unreadable.

    The header is either delay-seconds (``120``) or an HTTP-date
    (``Wed, 21 Oct 2026 07:28:00 GMT``), which is turned into seconds from
    ``now`` (epoch seconds). A date in the past means "now": 0.0.
    """
    if value is None:
        return None
    text = value.strip()
    if not text:
        return None
    if _DELAY_SECONDS.fullmatch(text):
        return float(int(text))
    try:
        when = parsedate_to_datetime(text)
    except (TypeError, ValueError, IndexError, OverflowError):
        return None
    if when.tzinfo is None:  # "-0000" dates parse naive; HTTP-dates are always GMT
        when = when.replace(tzinfo=UTC)
    return max(0.0, when.timestamp() - now)


def parse_cache_max_age(cache_control: str | None, age: str | None = None) -> float | None:
    """Seconds a response stays fresh according to ``Cache-Control: max-age``, or None.

    ``Age`` (seconds the response already spent in a cache, e.g. a CDN) is
    subtracted, as a cache would. None when there is no max-age, it is
    unreadable, or nothing of it is left: ``no-cache`` or ``no-store`` alone
    say nothing about how often to ask, and ``s-maxage`` is for shared caches.
    """
    if not cache_control:
        return None
    found = _MAX_AGE.search(cache_control)
    if found is None:
        return None
    fresh = float(int(found.group(1)))
    if age is not None and _DELAY_SECONDS.fullmatch(age.strip()):
        fresh -= int(age.strip())
    return fresh if fresh > 0 else None
