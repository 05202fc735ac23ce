"""The story index's pure rules, shared by every backend: similarity, choice, member lines.

:meth:`~monitor.store.base.StoryIndex.assign_story` is one rule in three
backends. The memory and SQLite backends call :func:`pick_story` (and so
:func:`sketch_similarity`); the Redis backend runs the same rule in Lua
(``ASSIGN_STORY`` in :mod:`monitor.store.redis_scripts`), and the contract
suite holds them to the same answers. The SQLite and Redis backends keep a
story's members as lines of :func:`encode_story_member`; changing that line
format would make stories written by an earlier version unreadable.

No I/O, no clock: everything here is a function of its arguments.
"""

from __future__ import annotations

import json
import struct
from collections.abc import Iterable, Sequence
from fractions import Fraction

from monitor.model import SKETCH_WORDS, StoryMember, StoryProbe

__all__ = ["decode_story_members", "encode_story_member", "pick_story", "sketch_similarity"]


def sketch_similarity(a: bytes, b: bytes) -> tuple[int, int]:
    """How two bottom-k sketches agree, as (shared, compared); the story index's similarity.

    A sketch is a run of distinct 32-bit big-endian words in ascending order: the
    :data:`SKETCH_WORDS` smallest hashes of a set's elements (the whole set if it
    has fewer). ``compared`` is the size of S, the SKETCH_WORDS smallest words of the
    union of both sketches, and ``shared`` how many words of S are in both: their
    ratio estimates the Jaccard similarity of the two sets, and *is* it when the
    union has at most SKETCH_WORDS elements. Every backend verifies with this rule
    (the Redis one in Lua), comparing ``shared >= min_similarity * compared``.
    """
    ua = set(struct.unpack(f">{len(a) // 4}I", a[: len(a) - len(a) % 4]))
    ub = set(struct.unpack(f">{len(b) // 4}I", b[: len(b) - len(b) % 4]))
    union = sorted(ua | ub)[:SKETCH_WORDS]
    return sum(1 for x in union if x in ua and x in ub), len(union)


def pick_story(
    candidates: Iterable[tuple[str, float, bytes, Sequence[str]]],
    probe: StoryProbe,
    min_similarity: float,
) -> str | None:
    """The candidate an article joins (see :meth:`StoryIndex.assign_story`), or None.

    ``candidates`` are the live stories found under the probe's bands, as
    (id, until, sketch, anchors). Shared by the memory and SQLite backends; the
    Redis one runs the same rule in Lua.
    """
    mine = set(probe.anchors)
    best: tuple[Fraction, float, str] | None = None
    for story_id, until, sketch, anchors in candidates:
        if mine and anchors and mine.isdisjoint(anchors):
            continue
        shared, compared = sketch_similarity(probe.sketch, sketch)
        if compared == 0 or shared < min_similarity * compared:
            continue
        key = (-Fraction(shared, compared), until, story_id)
        if best is None or key < best:
            best = key
    return None if best is None else best[2]


def encode_story_member(member: StoryMember) -> str:
    """One member as one line of ASCII JSON (how the SQLite and Redis backends keep it)."""
    return json.dumps(
        [member.article_id, member.feed_id, member.url, member.title, member.seen_at],
        separators=(",", ":"),
    )


def decode_story_members(text: str | bytes) -> tuple[StoryMember, ...]:
    """The members of a story kept as lines of :func:`encode_story_member`."""
    if isinstance(text, bytes):
        text = text.decode()
    out = []
    for line in text.splitlines():
        if line:
            article_id, feed_id, url, title, seen_at = json.loads(line)
            out.append(StoryMember(article_id, feed_id, url, title, float(seen_at)))
    return tuple(out)
