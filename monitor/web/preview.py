"""A query run over the article archive, for the playground and ``POST /api/v1/match``:
what ``news-monitor match QUERY --archive`` does, with the same parts of
:mod:`monitor.matching` (the query compiled with the config's entity catalog as a
one-rule ``RuleSet``, its hits, ``explain``), returning values instead of printing.

The archive read is kept a few seconds (:data:`ARCHIVE_CACHE_SECONDS`), so typing in the
playground does not read the whole archive at every key; matching runs in a worker
thread, so a large archive never stalls the daemon's event loop.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Sequence
from dataclasses import dataclass, field

from monitor.errors import QuerySyntaxError
from monitor.matching import (
    EntityLookup,
    RuleSet,
    RuleSpec,
    compile_query,
    compile_rules,
    lint_query,
    parse_query,
)
from monitor.model import ArchivedArticle, Hit
from monitor.store.base import ArticleArchive

#: Longest query accepted (a rule is a line, not a document).
MAX_QUERY = 2_000
#: Seconds an archive read is reused by the next preview of the same window.
ARCHIVE_CACHE_SECONDS = 10.0
#: The rule id of the query in its one-rule set.
RULE = "query"


@dataclass(frozen=True, slots=True)
class PreviewMatch:
    """One archived article the query matches."""

    entry: ArchivedArticle
    #: Where the query matched (title and text offsets).
    hits: tuple[Hit, ...]
    #: The query tree on this article, each clause marked ✓ or ✗ (``explain``).
    explain: str


@dataclass(frozen=True, slots=True)
class Preview:
    """The outcome of a query over the archive."""

    query: str
    #: The window searched, in seconds back from now.
    since: float
    #: Archived articles searched, and how many matched.
    searched: int
    matched: int
    #: The newest matches first, at most the limit asked for.
    matches: tuple[PreviewMatch, ...]
    #: Remarks on a query that may not mean what it says (``lint_query``).
    warnings: tuple[str, ...] = ()

    @property
    def truncated(self) -> bool:
        return self.matched > len(self.matches)


@dataclass
class ArchiveCache:
    """The last archive read, reused for :data:`ARCHIVE_CACHE_SECONDS`."""

    entries: list[ArchivedArticle] = field(default_factory=list)
    #: (since, monotonic time of the read); None before the first read.
    key: tuple[float, float] | None = None
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)

    async def read(self, archive: ArticleArchive, since: float) -> list[ArchivedArticle]:
        async with self.lock:
            now = time.monotonic()
            if self.key is not None:
                read_since, read_at = self.key
                # A read of a wider window serves a narrower one (filtered below).
                if now - read_at < ARCHIVE_CACHE_SECONDS and read_since <= since:
                    return [e for e in self.entries if e.archived_at >= since]
            self.entries = await archive.archived_articles(since)
            self.key = (since, now)
            return self.entries


def check_query(query: str, catalog: EntityLookup | None) -> tuple[RuleSet, tuple[str, ...]]:
    """The query compiled as a one-rule set, and its warnings; QuerySyntaxError (with the
    position) for a query that does not parse or names an unknown ``@entity``."""
    if len(query) > MAX_QUERY:
        raise QuerySyntaxError(f"query longer than {MAX_QUERY} characters", query, MAX_QUERY)
    if not query.strip():
        raise QuerySyntaxError("empty query", query, 0)
    parse_query(query)
    compile_query(query, catalog)  # an unknown @entity is a bad query, with its position
    warnings = tuple(dict.fromkeys(lint_query(query, catalog)))
    return compile_rules([RuleSpec(RULE, query)], catalog), warnings


def _match(
    ruleset: RuleSet, entries: Sequence[ArchivedArticle], limit: int
) -> tuple[int, list[PreviewMatch]]:
    matched, shown = 0, list[PreviewMatch]()
    for entry in reversed(entries):  # newest first
        for found in ruleset.match(entry.article):
            matched += 1
            if len(shown) < limit:
                tree = ruleset.explain(entry.article, RULE)
                shown.append(PreviewMatch(entry, found.hits, tree))
    return matched, shown


async def preview(
    query: str,
    *,
    archive: ArticleArchive,
    catalog: EntityLookup | None,
    now: float,
    since: float,
    limit: int = 50,
    cache: ArchiveCache | None = None,
) -> Preview:
    """Run ``query`` over the articles archived in the last ``since`` seconds."""
    ruleset, warnings = check_query(query, catalog)
    start = now - since
    entries = (
        await cache.read(archive, start)
        if cache is not None
        else await archive.archived_articles(start)
    )
    matched, shown = await asyncio.to_thread(_match, ruleset, entries, limit)
    return Preview(query, since, len(entries), matched, tuple(shown), warnings)
