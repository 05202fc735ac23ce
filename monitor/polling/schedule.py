"""When a feed is polled next: pure decisions, no I/O, no clock reads.

The feed's interval (:func:`interval_for`), jitter so feeds do not poll in
step, exponential backoff with a cap after failures, a server's Retry-After,
and the longer interval a server may ask for with Cache-Control max-age or an
RSS ``<ttl>`` (peeked at in the body by :func:`rss_ttl`).
"""

from __future__ import annotations

import random
import re
from collections.abc import Mapping
from datetime import timedelta

from monitor.config.models import FeedConfig
from monitor.http_headers import parse_cache_max_age

#: A failing feed is retried after interval * 2**failures, but never later than this.
MAX_FEED_BACKOFF = timedelta(hours=1)


#: A server's Retry-After is honoured up to this long (a typo of a year must not silence a feed).
MAX_RETRY_AFTER = timedelta(hours=6)


#: Default cap on the interval a server may ask for (MONITOR_MAX_SERVER_INTERVAL).
DEFAULT_MAX_SERVER_INTERVAL = timedelta(hours=1)


#: Bytes at the start of a body searched for an RSS ``<ttl>`` (it belongs before the items).
TTL_PEEK_BYTES = 64 * 1024


def jitter_for(seconds: float) -> float:
    """Most random jitter added to a poll ``seconds`` away: 10%, at most 60 s."""
    return min(seconds * 0.1, 60.0)


def next_poll_delay(
    interval: timedelta,
    consecutive_failures: int,
    retry_after: float | None = None,
    rng: random.Random | None = None,
    *,
    server_interval: float | None = None,
    max_server_interval: timedelta = DEFAULT_MAX_SERVER_INTERVAL,
) -> float:
    """Seconds until the next poll of a feed.

    After a success: the interval, or the longer ``server_interval`` the
    server asked for (Cache-Control max-age, RSS ``<ttl>``) up to
    ``max_server_interval``, plus up to 10% (at most 60 s) of jitter so feeds
    do not poll in step. Jitter only adds: a poll is never sooner than asked.

    After failures: the interval doubled per failure in a row, capped at
    ``MAX_FEED_BACKOFF`` (never below the interval), with +-10% jitter so many
    failing feeds do not retry in step. Polling never stops for good: the cap
    keeps a broken feed tried at least hourly.

    Either way, never sooner than the server's Retry-After (itself capped at
    ``MAX_RETRY_AFTER``).
    """
    uniform = rng.uniform if rng is not None else random.uniform
    base = interval.total_seconds()
    if consecutive_failures <= 0:
        asked = min(server_interval or 0.0, max_server_interval.total_seconds())
        delay = max(base, asked)
        delay += uniform(0.0, jitter_for(delay))
    else:
        cap = max(base, MAX_FEED_BACKOFF.total_seconds())
        delay = min(base * 2 ** min(consecutive_failures, 20), cap)
        delay *= uniform(0.9, 1.1)
    if retry_after is not None:
        delay = max(delay, min(retry_after, MAX_RETRY_AFTER.total_seconds()))
    return delay


_TTL = re.compile(rb"<ttl\s*>\s*(\d{1,7})\s*</ttl\s*>", re.IGNORECASE)


_FIRST_ENTRY = re.compile(rb"<(?:item|entry)[\s/>]", re.IGNORECASE)


def rss_ttl(body: bytes) -> float | None:
    """Seconds of the RSS channel's ``<ttl>`` (minutes to cache the feed), or None.

    The body is only peeked at (the parser stays the parser's business): the
    element is searched in the first ``TTL_PEEK_BYTES`` and before the first
    item, where RSS puts it, so a ``<ttl>`` quoted inside an item cannot count.
    A body in UTF-16 or UTF-32 simply declares no ttl here.
    """
    head = body[:TTL_PEEK_BYTES]
    if first := _FIRST_ENTRY.search(head):
        head = head[: first.start()]
    found = _TTL.search(head)
    if found is None or int(found.group(1)) == 0:
        return None
    return int(found.group(1)) * 60.0


def server_interval(headers: Mapping[str, str], ttl: float | None) -> float | None:
    """The longest interval the server asked for: Cache-Control max-age (of the response's
    ``headers``, lower-case names) or the RSS ``<ttl>``; None if it asked for none."""
    max_age = parse_cache_max_age(headers.get("cache-control"), headers.get("age"))
    asked = [s for s in (max_age, ttl) if s is not None]
    return max(asked) if asked else None


def interval_for(feed: FeedConfig, default: timedelta) -> timedelta:
    """The polling interval of ``feed``: its own, else ``default`` (MONITOR_POLL_INTERVAL)."""
    return feed.interval or default
