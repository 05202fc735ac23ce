"""Where each entry of a feed body lies in its bytes, so a poll can parse only what changed.

A changed feed usually differs from its last body by a few new entries; the
others are byte for byte what the last poll already parsed, claimed and
matched. :func:`split_entries` finds the byte range of every top-level
``<item>`` / ``<entry>`` of a well-formed RSS, RDF or Atom body (pyexpat, no
namespace processing, only start and end tags reach Python), and
:func:`without_entries` cuts chosen ranges out, leaving everything else (the
XML declaration, the feed's and channel's elements, namespaces, ``xml:base``)
in place, so that feedparser reads the remaining entries in the very context
the whole body gives them.

Only bodies this is exact for are split: ASCII-compatible encodings (a byte
``<`` is a ``<``), no DOCTYPE (no entities, declared or external), well-formed.
Anything else gives None, and the caller parses the whole body.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Sequence
from dataclasses import dataclass
from xml.parsers import expat

#: Local names of the elements that are entries (RSS and RDF ``item``, Atom ``entry``).
ENTRY_ELEMENTS = frozenset({"item", "entry"})
#: Markup that rules a body out: a DOCTYPE (entities, external subsets).
_DOCTYPE = re.compile(rb"<!DOCTYPE", re.IGNORECASE)
#: Byte-order marks and first bytes of encodings that are not ASCII-compatible.
_WIDE_STARTS = (b"\xff\xfe", b"\xfe\xff", b"\x00", b"\x4c\x6f\xa7\x94")


@dataclass(frozen=True, slots=True)
class EntrySpan:
    """One top-level entry element of a body."""

    #: Offset of its ``<``.
    start: int
    #: Offset one past its closing ``>``.
    end: int
    #: Short hash of its bytes: equal hashes, byte-identical entries.
    digest: str


def entry_digest(raw: bytes) -> str:
    """A short stable hash of an entry's bytes (64 bits: collisions within one feed are moot)."""
    return hashlib.blake2b(raw, digest_size=8).hexdigest()


def split_entries(body: bytes) -> list[EntrySpan] | None:
    """The byte ranges of the body's top-level entries, in order; None if it cannot be split.

    None for a body that is not well-formed XML, declares a DOCTYPE, is in an
    encoding that is not ASCII-compatible (UTF-16, UTF-32, EBCDIC) or one pyexpat
    cannot read.
    """
    if body.startswith(_WIDE_STARTS) or _DOCTYPE.search(body):
        return None
    # Whitespace before the XML declaration is dropped, as the parser drops it
    # (``parse.trim_prolog``); offsets stay those of ``body``.
    lead = len(body) - len(body.lstrip()) if body.lstrip()[:5] == b"<?xml" else 0
    spans: list[EntrySpan] = []
    parser = expat.ParserCreate()
    depth = 0  # elements open inside the current entry, the entry included
    start = 0

    def on_start(name: str, attributes: object) -> None:
        nonlocal depth, start
        if depth:
            depth += 1
        elif name.rpartition(":")[2] in ENTRY_ELEMENTS:
            depth, start = 1, lead + parser.CurrentByteIndex

    def on_end(name: str) -> None:
        nonlocal depth
        if not depth:
            return
        depth -= 1
        if depth:
            return
        at = lead + parser.CurrentByteIndex
        # At "</item>" for a closing tag; at the start tag itself for "<item/>".
        end = body.index(b">", at if body.startswith(b"</", at) else start) + 1
        spans.append(EntrySpan(start, end, entry_digest(body[start:end])))

    parser.StartElementHandler = on_start
    parser.EndElementHandler = on_end
    try:
        parser.Parse(body[lead:] if lead else body, True)
    except (expat.ExpatError, ValueError, LookupError):
        return None
    return spans


def without_entries(body: bytes, spans: Sequence[EntrySpan]) -> bytes:
    """``body`` with the given entries cut out (``spans`` in body order)."""
    pieces = []
    at = 0
    for span in spans:
        pieces.append(body[at : span.start])
        at = span.end
    pieces.append(body[at:])
    return b"".join(pieces)
