"""Presentation shared by the channels: snippets, labels, cleaned feed text.

Feed text is untrusted. The helpers here make it *tidy* (one line, no control
characters, no bidi overrides, bounded length); making it *safe* for a given
format (Slack mrkdwn, HTML, email headers) is each channel's own escaping,
kept in the channel module because the rules differ per format.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from urllib.parse import urlsplit

from monitor.model import Alert, Coverage

ELLIPSIS = "…"
_WHITESPACE = re.compile(r"\s+")
#: Bidi embeddings/overrides/isolates: they can make a title display reversed ("Trojan source").
_BIDI_CONTROLS = frozenset("\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069")
#: How far a cut may move to land between two words instead of inside one.
_WORD_SNAP = 20


def _same(text: str) -> str:
    return text


def clean(text: str) -> str:
    """``text`` with whitespace runs (newlines included) collapsed to one space and
    control characters, lone surrogates and bidi overrides removed. Not stripped."""
    text = _WHITESPACE.sub(" ", text)
    return "".join(
        c for c in text if c not in _BIDI_CONTROLS and unicodedata.category(c) not in ("Cc", "Cs")
    )


def one_line(text: str) -> str:
    """``clean(text)`` without leading or trailing spaces."""
    return clean(text).strip()


def truncate(text: str, limit: int) -> str:
    """``text`` cut to at most ``limit`` characters, ending in an ellipsis when cut."""
    if len(text) <= limit:
        return text
    return text[: max(limit - 1, 0)].rstrip() + ELLIPSIS


def safe_url(url: str) -> str | None:
    """``url`` if it is an absolute http(s) URL fit to be a link, else None.

    A feed can put ``javascript:`` or ``data:`` in an entry's link; no channel
    may turn that into something clickable.
    """
    url = url.strip()
    if any(c.isspace() or unicodedata.category(c) == "Cc" for c in url):
        return None
    try:
        parts = urlsplit(url)
    except ValueError:
        return None
    if parts.scheme.lower() not in ("http", "https") or not parts.netloc:
        return None
    return url


def published_label(alert: Alert) -> str:
    """When the article was published, ``2026-01-05 14:03 UTC``, or ``unknown``."""
    published = alert.article.published
    if published is None:
        return "unknown"
    if published.tzinfo is None:  # Article promises UTC; a naive value is UTC
        published = published.replace(tzinfo=UTC)
    return published.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC")


def terms_label(alert: Alert, sep: str = ", ") -> str:
    """The matched query terms, cleaned and joined: ``Iran, Russia, drones``."""
    return sep.join(one_line(t) for t in alert.matched_terms)


def iso_utc(moment: datetime) -> str:
    """RFC 3339 in UTC with a ``Z``: ``2026-01-05T14:03:00Z`` (naive means UTC)."""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")


def other_outlets(alert: Alert) -> list[Coverage]:
    """The other outlets that carried ``alert``'s story, for an "also reported by" line.

    One entry per feed (its first copy), in arrival order, without the alert's own
    feed; feed id and title as one clean line each, ``url`` the copy's link when it
    is http(s), else "". Empty for most alerts. Unbounded: callers cap what they show.
    """
    seen = {one_line(alert.article.feed_id)}
    outlets: list[Coverage] = []
    for copy in alert.also_in:
        source = one_line(copy.feed_id)
        if not source or source in seen:
            continue
        seen.add(source)
        outlets.append(Coverage(source, safe_url(copy.url) or "", one_line(copy.title)))
    return outlets


def _more(count: int) -> str:
    return f" (+{count} more)"


def join_within(
    entries: Sequence[Sequence[str]],
    budget: int,
    *,
    max_shown: int,
    sep: str = ", ",
    more: Callable[[int], str] = _more,
) -> str:
    """The first entries joined by ``sep``, then ``more(n)`` for the ``n`` left out.

    Each entry is its renderings, best first (a link, then the bare name): the
    first one that fits is used. Entries are taken in order until ``max_shown``
    or until the next one does not fit; the result is never longer than
    ``budget`` (the ``more`` suffix included), so a caller can count on it.
    Already formatted pieces go in, so a cut never falls inside an escape.
    """
    total = len(entries)
    shown: list[str] = []
    size = 0  # len(sep.join(shown))
    for entry in entries[:max_shown]:
        rest = total - len(shown) - 1
        tail = more(rest) if rest else ""
        extra = len(sep) if shown else 0
        fitting = [form for form in entry if size + extra + len(form) + len(tail) <= budget]
        if not fitting:
            break
        shown.append(fitting[0])
        size += extra + len(fitting[0])
    rest = total - len(shown)
    if not shown:  # not even one fits: just the count, if that does
        alone = more(rest).lstrip(sep + " ") if rest else ""
        return alone if len(alone) <= budget else ""
    return sep.join(shown) + (more(rest) if rest else "")


@dataclass(frozen=True, slots=True)
class Snippet:
    """An excerpt of the article text, split where query terms matched."""

    #: (text, highlighted) pieces in reading order; highlighted pieces are matched terms.
    parts: tuple[tuple[str, bool], ...]
    #: The excerpt starts after the beginning of the article text.
    cut_before: bool
    #: The excerpt ends before the end of the article text.
    cut_after: bool

    def render(
        self, escape: Callable[[str], str] = _same, mark: Callable[[str], str] = _same
    ) -> str:
        """The excerpt as one string: every piece ``escape``d, matched pieces then ``mark``ed,
        with an ellipsis on each side that was cut."""
        body = "".join(mark(escape(t)) if hit else escape(t) for t, hit in self.parts)
        if not body:
            return ""
        return (ELLIPSIS if self.cut_before else "") + body + (ELLIPSIS if self.cut_after else "")


def _text_spans(alert: Alert) -> list[tuple[int, int]]:
    """Valid, non-overlapping (start, end) offsets of the hits in the article text."""
    size = len(alert.article.text)
    spans: list[tuple[int, int]] = []
    for start, end in sorted((h.start, h.end) for h in alert.hits if h.field == "text"):
        if 0 <= start < end <= size and (not spans or start >= spans[-1][1]):
            spans.append((start, end))
    return spans


def _window(text: str, spans: list[tuple[int, int]], budget: int) -> tuple[int, int]:
    """[start, end) of at most ``budget`` characters around the first hit (else the start),
    moved a little so that it cuts between words when it can, never into the first hit."""
    first_start, first_end = spans[0] if spans else (0, 0)
    start = max(0, first_start - budget // 3)  # some context before the hit, more after
    end = min(len(text), start + budget)
    start = max(0, end - budget)  # near the end of the text: use the whole budget
    if start > 0:
        for i in range(start, min(first_start, start + _WORD_SNAP) + 1):
            if text[i - 1].isspace():
                start = i
                break
    if end < len(text):
        for i in range(end, max(start + 1, first_end, end - _WORD_SNAP) - 1, -1):
            if text[i].isspace():
                end = i
                break
    return start, end


def snippet_of(alert: Alert, width: int = 300) -> Snippet:
    """The article text around its first hit (else its beginning), at most ``width``
    characters once rendered with ellipses."""
    text = alert.article.text
    spans = _text_spans(alert)
    if len(text) <= width:
        start, end = 0, len(text)
    else:
        start, end = _window(text, spans, max(width - 2, 1))  # 2: room for the ellipses
    parts: list[tuple[str, bool]] = []
    pos = start
    for hit_start, hit_end in spans:
        hit_start, hit_end = max(hit_start, start), min(hit_end, end)
        if hit_start >= hit_end:
            continue
        parts.append((text[pos:hit_start], False))
        parts.append((text[hit_start:hit_end], True))
        pos = hit_end
    parts.append((text[pos:end], False))
    cleaned = [(clean(t), hit) for t, hit in parts]
    cleaned = [(t, hit) for t, hit in cleaned if t]
    if cleaned:  # trim the outer edges only: inner spaces separate words from matches
        cleaned[0] = (cleaned[0][0].lstrip(), cleaned[0][1])
        cleaned[-1] = (cleaned[-1][0].rstrip(), cleaned[-1][1])
    return Snippet(tuple((t, hit) for t, hit in cleaned if t), start > 0, end < len(text))


def snippet(alert: Alert, width: int = 300) -> str:
    """Plain-text excerpt of the article around its first hit; see ``snippet_of``."""
    return snippet_of(alert, width).render()
