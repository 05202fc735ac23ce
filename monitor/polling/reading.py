"""Read a changed feed body, parsing only the entries the last poll did not read.

A feed that changed usually carries a few new entries beside many the last
poll parsed, claimed and matched. Their bytes are the same, so their articles
are too: :func:`read_body` cuts them out of the body (``monitor.ingest.items``)
and parses the rest, in the same document context, so every article it
returns is exactly what a parse of the whole body gives for that entry
(proven on the whole test corpus: ``tests/polling/test_reading.py``).

What the last poll read is its :attr:`~monitor.model.FeedState.entry_map`:
each entry's bytes digest with the hash of its article's id. It is kept only
when every entry of the body became exactly one article (then the i-th entry
is the i-th article); otherwise, and for a body that cannot be split (not
well-formed, a DOCTYPE, a wide encoding), the whole body is parsed, as before.
Pure and synchronous: the poller runs it in a worker thread.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from monitor.ingest.items import EntrySpan, split_entries, without_entries
from monitor.ingest.parse import parse_feed
from monitor.model import ParseOutcome
from monitor.polling.feed_state import MAX_TRACKED_ENTRIES, id_hash


@dataclass(frozen=True, slots=True)
class BodyReading:
    """What reading one body found."""

    #: The articles of the entries that were parsed (all of them, or the new and changed
    #: ones), or the reason the body is not a feed.
    parsed: ParseOutcome
    #: Hashes of the ids of the body's articles, in feed order (new-entry tracking).
    id_hashes: tuple[str, ...]
    #: What to remember as ``FeedState.entry_map`` (empty: parse the whole body next time).
    entry_map: tuple[str, ...]


def known_entries(entry_map: Sequence[str]) -> dict[str, str]:
    """``FeedState.entry_map`` as a mapping of bytes digest to id hash."""
    return dict(item.partition(":")[::2] for item in entry_map)


def read_body(
    feed_id: str,
    body: bytes,
    headers: Mapping[str, str],
    *,
    fetched_at: float,
    known: Mapping[str, str],
) -> BodyReading:
    """Parse the entries of ``body`` whose bytes digest is not in ``known``; see the module."""
    spans = split_entries(body)
    if spans is None:
        return _whole(parse_feed(feed_id, body, headers, fetched_at=fetched_at), None)
    seen = [span for span in spans if span.digest in known]
    if not seen:
        return _whole(parse_feed(feed_id, body, headers, fetched_at=fetched_at), spans)
    fresh = [span for span in spans if span.digest not in known]
    if fresh:
        reduced = without_entries(body, seen)
        parsed = parse_feed(feed_id, reduced, headers, fetched_at=fetched_at)
        if parsed.error:  # cannot happen for a body that split; the whole body decides
            return _whole(parse_feed(feed_id, body, headers, fetched_at=fetched_at), spans)
    else:
        parsed = ParseOutcome(feed_id)
    aligned = len(parsed.articles) == len(fresh) and not parsed.skipped
    new_ids = iter([id_hash(a.id) for a in parsed.articles])
    if not aligned:
        ids = [known[s.digest] for s in seen] + list(new_ids)
        return BodyReading(parsed, tuple(ids), ())
    ids = [known[s.digest] if s.digest in known else next(new_ids) for s in spans]
    return BodyReading(parsed, tuple(ids), _entry_map(spans, ids))


def _whole(parsed: ParseOutcome, spans: Sequence[EntrySpan] | None) -> BodyReading:
    """A whole body parsed: remember its entries if each became one article."""
    ids = [id_hash(a.id) for a in parsed.articles]
    aligned = spans is not None and len(spans) == len(ids) and not parsed.skipped
    entry_map = _entry_map(spans, ids) if aligned and spans is not None else ()
    return BodyReading(parsed, tuple(ids), entry_map)


def _entry_map(spans: Sequence[EntrySpan], ids: Sequence[str]) -> tuple[str, ...]:
    return tuple(f"{s.digest}:{i}" for s, i in zip(spans, ids, strict=True))[:MAX_TRACKED_ENTRIES]
