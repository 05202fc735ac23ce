"""Which new articles of a poll get their web page read, and reading them before matching.

A feed with ``fulltext: true`` has the page of each new article read
(:func:`monitor.ingest.fulltext.read_page`), with ``fulltext: auto`` only of those
whose feed text is shorter than ``fulltext_min_chars``; at most
``fulltext_max_per_poll`` in one poll (the first, in feed order), the others are
matched on their feed text. :class:`~monitor.polling.articles.ArticleProcessor` asks
only for the articles it has just claimed and that are young enough to alert, so a
page is read once per article: a later poll (or a restart) finds the article seen and
never asks for it again.

The pages of one poll are read concurrently, within the fetch limits per host and in
all, and within one deadline (the fetch deadline, and never more than half the claim
lease, so the articles are still this process's when they are matched); a page not
read by then, or not readable, leaves its article with its feed text. Each failure is
logged once (a ``fulltext`` warning naming the feed, the article and the redacted URL);
a poll that read pages logs one ``fulltext`` line with the counts.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Sequence
from dataclasses import dataclass

import httpx

from monitor.config.models import FeedConfig
from monitor.delivery.render import safe_url
from monitor.ingest.fetch import FetchLimits, redact_url
from monitor.ingest.fulltext import PageText, merge_page_text, read_page
from monitor.log import get_logger
from monitor.model import Article

log = get_logger("monitor.poll")

#: Default of MONITOR_FULLTEXT_MAX_BYTES: the largest page read.
DEFAULT_PAGE_BYTES = 2 * 1024 * 1024


def wants_page(feed: FeedConfig, article: Article) -> bool:
    """Whether ``feed``'s config asks for the page of ``article`` (it must link to one)."""
    if not feed.fulltext or safe_url(article.url) is None:
        return False
    return feed.fulltext is True or len(article.text.strip()) < feed.fulltext_min_chars


@dataclass(frozen=True, slots=True)
class PageReader:
    """Reads the article pages of feeds with ``fulltext``, as politely as their feeds."""

    #: The client feeds are fetched with (the address policy on every hop).
    http: httpx.AsyncClient
    #: The fetch limits feeds are fetched under (per host and in all).
    limits: FetchLimits
    #: Total deadline of one page (MONITOR_FETCH_TIMEOUT), in seconds.
    timeout: float
    #: Largest page read, raw and decompressed (MONITOR_FULLTEXT_MAX_BYTES).
    max_bytes: int = DEFAULT_PAGE_BYTES

    async def read(
        self, feed: FeedConfig, articles: Sequence[Article], *, deadline: float
    ) -> list[Article]:
        """``articles`` (new, in feed order), each whose page was read carrying its main
        text (``Article.fulltext``), every other as it was. Never raises for a page's
        fault; all pages are given up after ``deadline`` seconds."""
        wanted = [i for i, article in enumerate(articles) if wants_page(feed, article)]
        chosen = wanted[: feed.fulltext_max_per_poll]
        result = list(articles)
        if not chosen:
            return result
        started = time.monotonic()
        request = feed.request
        tasks = {
            i: asyncio.create_task(
                read_page(
                    self.http,
                    self.limits,
                    feed.id,
                    articles[i].url,
                    total_timeout=self.timeout,
                    max_bytes=self.max_bytes,
                    allow_private=feed.allow_private_addresses,
                    request=request,
                )
            )
            for i in chosen
        }
        try:
            await asyncio.wait(tasks.values(), timeout=max(deadline, 0.0))
        finally:
            for task in tasks.values():
                task.cancel()  # only those still waiting for a slot or a page
            await asyncio.gather(*tasks.values(), return_exceptions=True)
        read = failed = 0
        for i, task in tasks.items():
            article = articles[i]
            page = _outcome(task, feed, article, deadline)
            if page.error:
                failed += 1
                log.warning(
                    "fulltext",
                    status="error",
                    feed=feed.id,
                    article=article.id,
                    url=redact_url(article.url),
                    error=page.error,
                )
                continue
            read += 1
            result[i] = merge_page_text(article, page.text)
            log.debug(
                "fulltext",
                status="ok",
                feed=feed.id,
                article=article.id,
                chars=len(page.text),
                elapsed=round(page.elapsed, 3),
            )
        log.info(
            "fulltext",
            feed=feed.id,
            wanted=len(wanted),
            read=read,
            failed=failed,
            # Beyond fulltext_max_per_poll: matched on their feed text.
            skipped=len(wanted) - len(chosen),
            elapsed=round(time.monotonic() - started, 3),
        )
        return result


def _outcome(
    task: asyncio.Task[PageText], feed: FeedConfig, article: Article, deadline: float
) -> PageText:
    """What reading one page gave, a page cut short by the deadline included."""
    if task.cancelled():
        reason = f"not read within the deadline of {deadline:g}s"
        return PageText(article.url, error=f"feed {feed.id}: {redact_url(article.url)}: {reason}")
    if (exc := task.exception()) is not None:
        # read_page turns the page's faults into values; anything else is a bug, logged
        # as one page's failure rather than ending the poll (by its type only: its text
        # could quote a URL with a token in it).
        reason = f"failed: {type(exc).__name__}"
        return PageText(article.url, error=f"feed {feed.id}: {redact_url(article.url)}: {reason}")
    return task.result()
