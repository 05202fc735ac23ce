"""The story index's pure rules, shared by every backend: similarity, choice, member lines.

:meth:`~monitor.store.base.StoryIndex.assign_story` is one rule in three
backends. The memory and SQLite backends call :func:`pick_story` (and so
:func:`sketch_similarity`); the Redis backend runs the same rule in Lua
(``ASSIGN_STORY`` in :mod:`monitor.store.redis_scripts`), and the contract
suite holds them to the same answers. The SQLite and Redis backends keep a
story's members as lines of :func:`encode_story_member`, and the Redis one the
fingerprints of its later indexed members as :func:`encode_fingerprint` records;
changing these formats would make stories written by an earlier version unreadable.

A story indexes the fingerprints (bands, sketch, anchors) of its first article
and of up to ``MAX_STORY_FINGERPRINTS - 1`` later members that are not near
copies (:data:`NEAR_COPY`) of the one they joined through; a candidate may join
through any of them, and through a later one only if it also passes the loose
rule against the first article (:data:`FIRST_FLOOR`), so a chain of articles,
each close to the previous one, cannot drift away from what the story is about.

No I/O, no clock: everything here is a function of its arguments.
"""

from __future__ import annotations

import json
import struct
from collections.abc import Iterable, Sequence
from fractions import Fraction
from typing import NamedTuple

from monitor.model import SKETCH_WORDS, StoryMember, StoryProbe

__all__ = [
    "FIRST_FLOOR",
    "MAX_STORY_FINGERPRINTS",
    "NEAR_COPY",
    "Candidate",
    "Fingerprint",
    "Pick",
    "decode_story_members",
    "encode_fingerprint",
    "encode_story_member",
    "pick_story",
    "sketch_similarity",
]

#: Most fingerprints a story indexes: its first article's and up to 7 later members'.
MAX_STORY_FINGERPRINTS = 8
#: A member at least this similar (shared >= NEAR_COPY * compared) to the best fingerprint
#: it verified against is a near copy and is not indexed: a verbatim wire copy adds no
#: reach, and would take a slot a rewrite of the story needs.
NEAR_COPY = 0.8
#: Joining through a later member, a candidate must also share a title anchor with the
#: story's first article (when both have some) and be at least ``FIRST_FLOOR *
#: min_similarity`` (0.3) similar to it. A reprint (J >= 0.8) of a member that verified
#: against the first article always is, up to the sketch's error (Jaccard distance is a
#: metric: 1 - J <= 0.5 + 0.2); two reports of different earthquakes built from the same
#: wire template measure 0.2-0.3, and 3 hops of 0.5 can reach 0.
FIRST_FLOOR = 0.6


class Fingerprint(NamedTuple):
    """What a story keeps of one indexed member: its sketch and title anchors."""

    sketch: bytes
    anchors: Sequence[str]


class Candidate(NamedTuple):
    """A live story found under a probe's bands, as :func:`pick_story` weighs it."""

    story_id: str
    #: When its window ends.
    until: float
    #: Its indexed fingerprints: the first article's first, then later members' in arrival
    #: order (a story stored by an earlier version has only the first).
    fingerprints: Sequence[Fingerprint]


class Pick(NamedTuple):
    """The story an article joins, and whether its fingerprint is added to that story's index."""

    story_id: str
    indexed: bool


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


def _agree(mine: set[str], theirs: Sequence[str]) -> bool:
    """The anchor rule: when both titles have anchors, they share one."""
    return not mine or not theirs or not mine.isdisjoint(theirs)


def _best_match(
    probe: StoryProbe, mine: set[str], fingerprints: Sequence[Fingerprint], min_similarity: float
) -> tuple[int, int] | None:
    """(shared, compared) of the story's fingerprint the probe verifies best against, or None.

    The first article's verifies with the anchor rule and ``shared >= min_similarity *
    compared``; a later one with the same rule, and only if the probe also passes the
    first article's anchor rule and ``shared >= min_similarity * FIRST_FLOOR * compared``
    against it. Among several, the highest ``shared / compared``, the earliest on a tie.
    """
    if not fingerprints:
        return None
    first = fingerprints[0]
    floor = min_similarity * FIRST_FLOOR
    shared, compared = sketch_similarity(probe.sketch, first.sketch)
    if not compared or not _agree(mine, first.anchors) or shared < floor * compared:
        return None
    best = (shared, compared) if shared >= min_similarity * compared else None
    for sketch, anchors in fingerprints[1:]:
        if not _agree(mine, anchors):
            continue
        shared, compared = sketch_similarity(probe.sketch, sketch)
        if not compared or shared < min_similarity * compared:
            continue
        if best is None or shared * best[1] > best[0] * compared:
            best = (shared, compared)
    return best


def pick_story(
    candidates: Iterable[Candidate], probe: StoryProbe, min_similarity: float
) -> Pick | None:
    """The candidate an article joins (see :meth:`StoryIndex.assign_story`), or None.

    ``candidates`` are the live stories found under the probe's bands. A story verifies
    through its best fingerprint (:func:`_best_match`); the verified story with the
    highest ``shared / compared`` wins, ties going to the one whose window ends first,
    then to the smallest id. The article's fingerprint is indexed (``Pick.indexed``) if the
    story has fewer than MAX_STORY_FINGERPRINTS and the article is not a near copy of the
    fingerprint it matched (``shared < NEAR_COPY * compared``). Shared by the memory and
    SQLite backends; the Redis one runs the same rule in Lua.
    """
    mine = set(probe.anchors)
    best: tuple[Fraction, float, str] | None = None
    chosen: Pick | None = None
    for story_id, until, fingerprints in candidates:
        match = _best_match(probe, mine, fingerprints, min_similarity)
        if match is None:
            continue
        shared, compared = match
        key = (-Fraction(shared, compared), until, story_id)
        if best is None or key < best:
            best = key
            index = len(fingerprints) < MAX_STORY_FINGERPRINTS and shared < NEAR_COPY * compared
            chosen = Pick(story_id, index)
    return chosen


def encode_fingerprint(sketch: bytes, anchors: Sequence[str]) -> bytes:
    """One indexed fingerprint as the Redis backend appends it to a story's record.

    A 4-byte big-endian length and the sketch, then a 4-byte length and the anchors
    joined by newlines (UTF-8); a story's record is these, one after another, in
    arrival order (its first article's fingerprint is kept apart, as before).
    """
    text = "\n".join(anchors).encode()
    return struct.pack(">I", len(sketch)) + sketch + struct.pack(">I", len(text)) + text


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
