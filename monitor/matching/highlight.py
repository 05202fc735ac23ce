"""Mark the hits of a match in its text: ANSI for the terminal, <mark> or *bold* for channels."""

from __future__ import annotations

from collections.abc import Callable, Sequence

from monitor.model import Hit

__all__ = ["clip", "highlight"]


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


def clip(line: str, hits: Sequence[Hit], context: int) -> tuple[str, list[Hit]]:
    """The parts of ``line`` within ``context`` characters of a hit, joined by " … " (and
    "…" where the line goes on), with the hits moved to where they are in the result.

    For showing a long text by the passages that matched (``match --archive``, the web
    console's playground); pass the result to :func:`highlight`.
    """
    spans = sorted((max(h.start, 0), min(h.end, len(line))) for h in hits)
    windows: list[list[int]] = []
    for start, end in spans:
        lo, hi = max(start - context, 0), min(end + context, len(line))
        if windows and lo <= windows[-1][1]:
            windows[-1][1] = max(windows[-1][1], hi)
        else:
            windows.append([lo, hi])
    shown, moved = "", []
    for i, (lo, hi) in enumerate(windows):
        if i:
            shown += " … "
        elif lo > 0:
            shown += "…"
        moved += [
            Hit(h.field, h.start - lo + len(shown), h.end - lo + len(shown), h.term)
            for h in hits
            if lo <= max(h.start, 0) < hi
        ]
        shown += line[lo:hi]
    if windows and windows[-1][1] < len(line):
        shown += "…"
    return shown, moved
