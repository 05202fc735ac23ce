"""Mark the hits of a match in its text: ANSI for the terminal, <mark> or *bold* for channels."""

from __future__ import annotations

from collections.abc import Callable, Sequence

from monitor.model import Hit

__all__ = ["highlight"]


def highlight(
    text: str,
    hits: Sequence[Hit],
    start: str,
    end: str,
    *,
    field: str | None = None,
    escape: Callable[[str], str] | None = None,
) -> str:
    """``text`` with every hit span wrapped in ``start`` ... ``end``.

    Overlapping or touching spans (a phrase and a term inside it) are merged
    into one. ``field`` keeps only the hits of that field: hit offsets are
    relative to their own field, so title hits must not be applied to the text.
    ``escape`` (e.g. ``html.escape``) is applied to the text, never to the
    markers; escaping first would shift the offsets.
    """
    esc = escape or _same
    spans = sorted(
        (max(0, h.start), min(len(text), h.end)) for h in hits if field is None or h.field == field
    )
    merged: list[list[int]] = []
    for s, e in spans:
        if s >= e:
            continue
        if merged and s <= merged[-1][1]:
            merged[-1][1] = max(merged[-1][1], e)
        else:
            merged.append([s, e])
    out: list[str] = []
    done = 0
    for s, e in merged:
        out += (esc(text[done:s]), start, esc(text[s:e]), end)
        done = e
    out.append(esc(text[done:]))
    return "".join(out)


def _same(text: str) -> str:
    return text
