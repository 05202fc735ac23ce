"""The retry policy: which delivery failures are worth retrying, and how long to wait.

This module is the one place where a receiver's answer becomes a
``DeliveryStatus`` (``classify_http``, ``classify_smtp``) and where the delay
before the next attempt is computed (``backoff_delay``). Channels call the
classifiers after translating their library's exceptions at their own boundary;
the outbox worker calls ``backoff_delay``. Everything here is a pure function of
its arguments: no I/O, no clock, no global state but a default random source.
"""

from __future__ import annotations

import math
import random
from collections.abc import Mapping

from monitor.http_headers import parse_retry_after
from monitor.model import DeliveryStatus

__all__ = ["backoff_delay", "classify_http", "classify_smtp", "parse_retry_after"]

#: 4xx answers meaning "not now" rather than "never": Request Timeout, Too Early, Too Many Requests.
RETRYABLE_4XX = frozenset({408, 425, 429})

#: Beyond this many doublings the ceiling is ``cap`` anyway; the bound keeps 2**n finite.
_MAX_DOUBLINGS = 62
_RNG = random.Random()


def classify_http(status: int, headers: Mapping[str, str]) -> DeliveryStatus:
    """What an HTTP answer means for the alert that was posted.

    - 2xx: delivered.
    - 408, 425, 429 and every 5xx: retry later.
    - Any other 4xx carrying a ``Retry-After`` header: retry later. Some
      services signal rate limits this way (GitHub answers 403 + Retry-After);
      the server is telling us when to come back, so giving up would lose the alert.
    - Everything else (other 4xx, 3xx since redirects are never followed,
      1xx, nonsense codes): permanent; retrying the same request cannot help.
    """
    if 200 <= status < 300:
        return DeliveryStatus.DELIVERED
    if status in RETRYABLE_4XX or 500 <= status < 600:
        return DeliveryStatus.RETRY
    if 400 <= status < 500 and any(key.lower() == "retry-after" for key in headers):
        return DeliveryStatus.RETRY
    return DeliveryStatus.PERMANENT


def classify_smtp(code: int) -> DeliveryStatus:
    """What an SMTP reply code means: 2xx delivered, 5xx permanent, 4xx retry.

    Anything else (aiosmtplib reports -1 for a garbled reply) is treated as
    transient: the server did not clearly refuse the message.
    """
    if 200 <= code < 300:
        return DeliveryStatus.DELIVERED
    if 500 <= code < 600:
        return DeliveryStatus.PERMANENT
    return DeliveryStatus.RETRY


def backoff_delay(
    attempt: int,
    *,
    base: float = 5.0,
    cap: float = 3600.0,
    retry_after: float | None = None,
    rng: random.Random | None = None,
) -> float:
    """Seconds to wait after failed attempt number ``attempt`` (1 for the first failure).

    Exponential backoff with "equal jitter": a uniform draw in
    ``[c / 2, c]`` where ``c = min(cap, base * 2 ** (attempt - 1))``. The
    jitter spreads the retries of many alerts that failed together (a
    receiver outage) instead of having them all return at the same instant;
    the floor of ``c / 2`` guarantees real backoff (full jitter can draw ~0 and
    retry at once, which looks like a busy loop to a struggling receiver).

    When the receiver named a delay (``retry_after``), the result is never
    below it, even above ``cap``: the server knows its own rate limit better
    than we do, and the worker's attempt limit still bounds the total.
    """
    if attempt < 1:
        raise ValueError(f"attempt counts failed attempts and starts at 1, got {attempt}")
    if base <= 0 or cap < 0:
        raise ValueError(f"base must be > 0 and cap >= 0, got base={base} cap={cap}")
    ceiling = min(cap, base * 2.0 ** min(attempt - 1, _MAX_DOUBLINGS))
    delay = (rng or _RNG).uniform(ceiling / 2, ceiling)
    if retry_after is not None and math.isfinite(retry_after) and retry_after > delay:
        return retry_after
    return delay
