"""What a poll records about a feed body in its :class:`~monitor.model.FeedState`: pure.

Which entries are new to the feed (short hashes of the last body's entry ids),
whether a body is byte-identical to the last one read (its hash: such a body
needs no parse), and how stored state applies when the configured URL changed.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Sequence
from dataclasses import replace

from monitor.model import FeedState

#: Entries per feed whose ids are remembered to tell new entries from known ones.
MAX_TRACKED_ENTRIES = 1000


def entry_hashes(article_ids: Iterable[str]) -> tuple[str, ...]:
    """Short stable hashes of a body's entry ids, in feed order, at most ``MAX_TRACKED_ENTRIES``.

    12 hex digits (48 bits) keep the stored state small; a collision inside
    one feed's thousand entries is far less likely than one lost packet.
    """
    return tracked_entries(map(id_hash, article_ids))


def tracked_entries(hashes: Iterable[str]) -> tuple[str, ...]:
    """The entry hashes a feed's state keeps: each once, in feed order, the first
    ``MAX_TRACKED_ENTRIES``."""
    return tuple(dict.fromkeys(hashes))[:MAX_TRACKED_ENTRIES]


def id_hash(article_id: str) -> str:
    """The short hash of one entry id that :func:`entry_hashes` lists."""
    return hashlib.sha256(article_id.encode()).hexdigest()[:12]


def count_new_entries(previous: Sequence[str], current: Sequence[str]) -> int:
    """Entries of ``current`` (hashes) that were not in the previous body of the same feed."""
    known = set(previous)
    return sum(1 for h in current if h not in known)


def rebase(state: FeedState, url: str) -> FeedState:
    """``state`` as it applies to the configured ``url``.

    A URL edited in the config starts afresh where the old URL's answers no
    longer apply: validators (a Last-Modified of another resource could earn
    a wrong 304), the last body's hash, a permanent move and a 410 mark are dropped; history
    (failures, items, health incident) stays with the feed. State stored
    before the URL was recorded is adopted, but its validators are dropped
    once so that a full body tells which entries the feed carries.
    """
    if state.url == url:
        return state
    return replace(
        state,
        url=url,
        validators=FeedState().validators,
        moved_to="",
        disabled_reason="",
        disabled_at=None,
        ttl=None,
        body_hash="",
        entry_map=(),
    )


def body_hash(body: bytes) -> str:
    """A short stable hash of a feed body: equal hashes mean a byte-identical body.

    128 bits of SHA-256: a collision between two bodies of one feed is not a
    practical concern, and the stored state stays small.
    """
    return hashlib.sha256(body).hexdigest()[:32]
