"""``news-monitor check --online``: fetch every feed once and say which ones do not work.

Offline, ``check`` can only say the config is well formed; whether a URL answers with a
feed, and whether a feed's ``headers``, ``cookies``, ``auth`` and ``proxy`` are
accepted, takes a request. Each configured feed is fetched once, exactly as the daemon
polls it (its request settings, the address policy, the size caps and deadline, at most
``MONITOR_MAX_CONCURRENT_FETCHES`` at once and ``MONITOR_MAX_FETCHES_PER_HOST`` per
host), without the store: no validators are sent, nothing is recorded. A feed that
fails, or whose body is not a feed, is reported on standard error; a URL that answers
with a web page is reported with the feeds that page names (``this is a web page; its
feeds are: ...``).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Sequence
from typing import TextIO

import httpx

from monitor.config.models import FeedConfig
from monitor.ingest.fetch import FetchLimits, build_http_client, fetch_feed, redact_url
from monitor.ingest.parse import parse_feed
from monitor.model import FeedValidators, FetchStatus
from monitor.settings import Settings


async def check_feeds_online(
    settings: Settings,
    feeds: Sequence[FeedConfig],
    err: TextIO,
    *,
    transport: httpx.AsyncBaseTransport | None = None,
) -> int:
    """Fetch and read each feed; print each problem on ``err``; return how many failed."""
    limits = FetchLimits(settings.max_concurrent_fetches, settings.max_fetches_per_host)
    async with build_http_client(settings, transport=transport) as client:
        problems = await asyncio.gather(*(_check(client, limits, settings, f) for f in feeds))
    failed = [problem for problem in problems if problem]
    for problem in failed:
        print(f"error: {problem}", file=err)
    return len(failed)


async def _check(
    client: httpx.AsyncClient, limits: FetchLimits, settings: Settings, feed: FeedConfig
) -> str:
    """What is wrong with ``feed`` ("" if it answers with a feed)."""
    async with limits.slot(feed.url):
        fetched = await fetch_feed(
            client,
            feed.id,
            feed.url,
            FeedValidators(),
            total_timeout=settings.fetch_timeout.total_seconds(),
            max_bytes=settings.max_feed_bytes,
            allow_private=feed.allow_private_addresses,
            request=feed.request,
        )
    if fetched.status is not FetchStatus.OK:
        return fetched.error
    parsed = await asyncio.to_thread(
        parse_feed, feed.id, fetched.body, fetched.headers, fetched_at=time.time()
    )
    return f"feed {feed.id}: {redact_url(feed.url)}: {parsed.error}" if parsed.error else ""
