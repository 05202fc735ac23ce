"""A feed body that was pushed rather than fetched (WebSub): parsed by the same parser and
handed to the same article processing as a polled body.

So a pushed item is claimed, matched, deduplicated (by article and by story), queued to
the outbox, archived and marked seen exactly as if a poll had read it: the poll that
later reads the same item finds it seen, and a push of an item a poll already read
alerts nothing. The feed's polling state (validators, body hash, health) is the poll's
alone and is not touched here.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field

from monitor.config.models import FeedConfig
from monitor.ingest import parse_feed, redact_url
from monitor.polling.articles import ProcessCounts
from monitor.polling.poller import Poller


@dataclass(frozen=True, slots=True)
class PushReport:
    """What processing one pushed body did."""

    #: Feed id.
    feed_id: str
    #: Entries read from the body.
    entries: int = 0
    #: What became of its articles.
    counts: ProcessCounts = field(default_factory=ProcessCounts)
    #: Why the body is not a feed ("" when it is one).
    error: str = ""


async def process_pushed_body(
    poller: Poller, feed: FeedConfig, body: bytes, content_type: str, *, now: float
) -> PushReport:
    """Parse ``body`` (pushed for ``feed``, of ``content_type``) and process its articles
    as :meth:`Poller.poll` processes a fetched body's; never raises for a bad body."""
    # The feed's URL is the base of relative links, as the fetched URL is for a poll,
    # so an item has the same id whether it was pushed or polled.
    headers = {"content-type": content_type, "content-location": redact_url(feed.url)}
    parsed = await asyncio.to_thread(parse_feed, feed.id, body, headers, fetched_at=now)
    if parsed.error:
        return PushReport(feed.id, error=parsed.error)
    counts = await poller.process_articles(parsed.articles, feed_name=feed.name or "", feed=feed)
    return PushReport(feed.id, entries=len(parsed.articles), counts=counts)
