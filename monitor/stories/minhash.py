"""Story fingerprints: word shingles -> MinHash LSH bands, a bottom-k sketch, title anchors.

Pure functions, no I/O. Two articles that carry the same story (a wire copy, a
lightly edited reprint) get probes that share an LSH band and whose sketches
agree; different stories almost never do. Every hash is blake2b or plain integer
arithmetic, never the salted built-in ``hash()``, so every process (and every
Python version) computes the same fingerprint for the same text.

1. Words: :func:`monitor.matching.text.words` of the title and the text (case and
   accents folded, punctuation dropped: "IRAN'S" and "Iran's" agree), at most
   :data:`MAX_WORDS` of them.
2. Shingles: every run of :data:`SHINGLE` consecutive words, hashed to 64 bits.
3. Bands (candidates): a one-permutation MinHash signature (Li, Owen & Zhang
   2012) of :data:`SIGNATURE_WORDS` bins, the top 7 bits of a shingle's hash
   picking its bin and the bin keeping its smallest hash; empty bins are filled
   by *optimal densification* (Shrivastava 2017): bin ``i`` copies the first
   non-empty bin in its own fixed pseudo-random order of the bins. Each bin then
   agrees between two texts with probability equal to their shingle Jaccard
   similarity J, as with classic 128-permutation MinHash, for one hash per
   shingle instead of 128. The signature is cut into :data:`BANDS` bands of
   :data:`ROWS` bins, and two texts whose signatures agree on a whole band are
   candidates: probability ``1 - (1 - J**ROWS) ** BANDS`` (see
   :func:`candidate_probability`).
4. Sketch (verification): the :data:`~monitor.model.SKETCH_WORDS` smallest
   shingle hashes (top 32 bits). A candidate is merged only if the sketches say
   J >= ``min_similarity`` (:func:`monitor.store.story_rules.sketch_similarity`): exactly
   when the two texts have at most 128 distinct shingles between them, so short
   texts are never merged on a lucky estimate; within about +-0.05 for longer ones.
5. Anchors: the title's content words (stop words dropped, inflections folded).
   The store merges a candidate only if the titles share one, so a boilerplate
   teaser shared by unrelated headlines is not one story.

Texts with fewer than :data:`MIN_SHINGLES` shingles (a bare title, a title and
a few words) get no LSH bands but one exact key: they merge only with a text whose
normalized words are identical, and only if it has at least
:data:`MIN_EXACT_WORDS` words ("Sports briefs" from two outlets is not one story).
"""

from __future__ import annotations

import functools
import hashlib
import struct
import sys

from monitor.matching.text import stem, words
from monitor.model import SKETCH_WORDS, StoryProbe

__all__ = [
    "BANDS",
    "MAX_WORDS",
    "MIN_EXACT_WORDS",
    "MIN_SHINGLES",
    "ROWS",
    "SHINGLE",
    "SIGNATURE_WORDS",
    "anchors",
    "bands",
    "candidate_probability",
    "fingerprint",
    "shingle_hashes",
    "signature",
    "sketch",
]

#: Words per shingle. Word pairs: a changed word breaks 2 shingles, not 3, so light edits
#: keep more of them; with the anchor rule they still merge no different stories (README).
SHINGLE = 2
#: MinHash bins (32-bit words) in a signature.
SIGNATURE_WORDS = 128
#: LSH bands, and bins per band (BANDS * ROWS == SIGNATURE_WORDS): candidates from J ~ 0.4 up.
BANDS = 32
ROWS = 4
#: Fewer distinct shingles than this: no LSH bands, only exact matching.
MIN_SHINGLES = 8
#: An exact match needs at least this many words.
MIN_EXACT_WORDS = 4
#: Only the first this many words of a text are shingled (bounds the cost of a huge page).
MAX_WORDS = 1000
#: At most this many title anchors are kept.
MAX_ANCHORS = 16

_BIN_BITS = 7
assert 1 << _BIN_BITS == SIGNATURE_WORDS and BANDS * ROWS == SIGNATURE_WORDS

_STOP = """a about above after again against all also am an and any are as at be because been
    before being below between both breaking but by can could did do does doing down during
    each few for from further had has have having he her here hers him his how i if in into
    is it its just me more most my new news no nor not now of off on once only or other our
    out over own report reports said same say says she should so some such than that the
    their them then there these they this those through to too under until up update
    updated very was we were what when where which while who whom why will with would you
    your s t"""
#: Words that never anchor a title: English function words and news filler.
STOP_WORDS = frozenset(_STOP.split())


class _WordHashes(dict[str, bytes]):
    """Folded word -> blake2b digest: one 64-bit hash per shingle position.

    Filled on first use; cleared when it grows past 2**18 words, so a daemon stays bounded.
    """

    def __missing__(self, word: str) -> bytes:
        if len(self) >= 1 << 18:
            self.clear()
        digest = hashlib.blake2b(word.encode(), digest_size=8 * SHINGLE, person=b"nm-story")
        value = self[word] = digest.digest()
        return value


_WORD_HASHES = _WordHashes()
_LITTLE = sys.byteorder == "little"


def _words(title: str, text: str) -> list[str]:
    return words(f"{title}\n{text}")[:MAX_WORDS]


def shingle_hashes(title: str, text: str) -> set[int]:
    """The 64-bit hashes of the SHINGLE-word shingles of ``title`` and ``text`` (one text).

    Shingle ``i`` hashes to ``H0(w[i]) ^ H1(w[i+1]) ^ ...``, ``Hj`` the j-th 64-bit part
    of the word's blake2b digest (so word order matters). All shingles are computed at
    once in C: the digests are joined into one big integer of 64-bit lanes (SHINGLE per
    word) and XORed with itself shifted by ``j * (SHINGLE + 1)`` lanes for each position
    ``j``; lane ``SHINGLE * i`` of the result is shingle ``i``. A text shorter than
    SHINGLE words is one (padded) shingle: the set is empty only for a text without words.
    """
    return _shingles(_words(title, text))


def _shingles(ws: list[str]) -> set[int]:
    if not ws:
        return set()
    k = SHINGLE
    ws = ws + [""] * (k - len(ws))
    n = len(ws)
    lanes = int.from_bytes(b"".join(map(_WORD_HASHES.__getitem__, ws)), "little")
    mixed = lanes
    for j in range(1, k):
        mixed ^= lanes >> (64 * j * (k + 1))
    raw = mixed.to_bytes(8 * k * n, "little")
    if _LITTLE:
        return set(memoryview(raw).cast("Q")[0 : k * (n - k + 1) : k])
    return set(struct.unpack(f"<{k * n}Q", raw)[0 : k * (n - k + 1) : k])  # pragma: no cover


@functools.cache
def _probes() -> tuple[tuple[int, ...], ...]:
    """For each bin, a fixed pseudo-random order of the other bins (optimal densification)."""
    out = []
    for i in range(SIGNATURE_WORDS):
        order = sorted(
            (j for j in range(SIGNATURE_WORDS) if j != i),
            key=lambda j: hashlib.blake2b(f"{i}:{j}".encode(), digest_size=8).digest(),
        )
        out.append(tuple(order))
    return tuple(out)


_SHIFT = 64 - _BIN_BITS
_NONE = 1 << 64
_PACK = struct.Struct(f">{SIGNATURE_WORDS}I")


def signature(hashes: set[int]) -> bytes:
    """The densified one-permutation MinHash of a non-empty set of 64-bit shingle hashes.

    SIGNATURE_WORDS big-endian 32-bit words: bin ``i`` holds bits 25..56 of the smallest
    hash whose top 7 bits are ``i`` (within a bin the top bits are equal, so that is the
    smallest value), or, if there is none, the value of the bin it borrows from.
    """
    if not hashes:
        raise ValueError("signature of an empty set")
    mins = [_NONE] * SIGNATURE_WORDS
    for h in hashes:
        b = h >> _SHIFT
        if h < mins[b]:
            mins[b] = h
    if _NONE in mins:
        filled = [m != _NONE for m in mins]
        probes = _probes()
        for i, ok in enumerate(filled):
            if not ok:
                mins[i] = mins[next(j for j in probes[i] if filled[j])]
    return _PACK.pack(*(m >> 25 & 0xFFFFFFFF for m in mins))


def bands(sig: bytes) -> tuple[str, ...]:
    """The LSH band keys of a signature: ``"<band>:<its bins in hex>"``."""
    width = 4 * ROWS
    return tuple(f"{b}:{sig[b * width : (b + 1) * width].hex()}" for b in range(BANDS))


def sketch(hashes: set[int]) -> bytes:
    """The bottom-k sketch: the SKETCH_WORDS smallest distinct top-32-bit words, ascending.

    A set of at most SKETCH_WORDS shingles is kept whole, so two short texts are
    compared exactly (:func:`monitor.store.story_rules.sketch_similarity`).
    """
    # Sorting the 64-bit hashes orders their top 32 bits too; a few spare entries cover
    # the (rare) hashes whose top 32 bits are equal, which collapse into one word.
    smallest = sorted(hashes)[: SKETCH_WORDS + 8]
    values = list(dict.fromkeys(map((32).__rrshift__, smallest)))[:SKETCH_WORDS]
    return struct.pack(f">{len(values)}I", *values)


def anchors(title: str) -> tuple[str, ...]:
    """The title's content words, inflections folded, sorted (at most MAX_ANCHORS)."""
    found = {stem(w) for w in words(title) if w not in STOP_WORDS and not w.isdigit()}
    found.discard("")
    return tuple(sorted(found)[:MAX_ANCHORS])


def fingerprint(title: str, text: str) -> StoryProbe:
    """What the story index needs to find the story of an article with this title and text."""
    ws = _words(title, text)
    hashes = _shingles(ws)
    title_anchors = anchors(title)
    if len(hashes) >= MIN_SHINGLES:
        return StoryProbe(bands(signature(hashes)), sketch(hashes), title_anchors)
    if len(ws) < MIN_EXACT_WORDS:
        return StoryProbe((), sketch(hashes), title_anchors)
    exact = hashlib.blake2b(" ".join(ws).encode(), digest_size=16, person=b"nm-exact")
    return StoryProbe((f"x:{exact.hexdigest()}",), sketch(hashes), title_anchors)


def candidate_probability(jaccard: float, b: int = BANDS, r: int = ROWS) -> float:
    """Probability that two texts of shingle Jaccard ``jaccard`` share one of ``b`` bands of
    ``r`` rows (the LSH S-curve)."""
    return 1.0 - (1.0 - jaccard**r) ** b
