"""Presentation shared by the channels: snippets, labels, cleaned feed text, and the
entries of a grouped message (one per article, with every rule that matched it).

Feed text is untrusted. The helpers here make it *tidy* (one line, no control
characters, no bidi overrides, bounded length); making it *safe* for a given
format (Slack mrkdwn, HTML, email headers) is each channel's own escaping,
kept in the channel module because the rules differ per format.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
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


def feed_label(alert: Alert) -> str:
    """The feed's display name: its ``name:`` in the watch config when it has one, else its
    id; one clean line (a name of only spaces counts as none)."""
    return one_line(alert.feed_name) or one_line(alert.article.feed_id)


def published_label(alert: Alert) -> str:
    """When the article was published, ``2026-01-05 14:03 UTC``, or ``unknown``."""
    published = alert.article.published
    if published is None:
        return "unknown"
    if published.tzinfo is None:  # Article promises UTC; a naive value is UTC
        published = published.replace(tzinfo=UTC)
    return published.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC")


def terms_label(alert: Alert | Entry, sep: str = ", ") -> str:
    """The matched query terms, cleaned and joined: ``Iran, Russia, drones`` (an entry's:
    those of every rule that matched it)."""
    return sep.join(one_line(t) for t in alert.matched_terms)


#: Said after the matched terms of an alert that matched in the main text of the article's
#: web page (read for a feed with ``fulltext``), not in the feed's own summary.
FULLTEXT_NOTE = "(in the full article)"


def from_full_text(alert: Alert | Entry) -> bool:
    """Whether ``alert`` (an entry: its article) matched in the full article: its text was
    read from the article's page (``Article.fulltext``) and a query term matched in it."""
    if isinstance(alert, Entry):
        alert = alert.alert
    return alert.article.fulltext and any(h.field == "text" for h in alert.hits)


def matched_label(alert: Alert | Entry, sep: str = ", ") -> str:
    """:func:`terms_label`, then :data:`FULLTEXT_NOTE` when the match came from the full
    article; "" when no term matched."""
    terms = terms_label(alert, sep)
    return f"{terms} {FULLTEXT_NOTE}" if terms and from_full_text(alert) else terms


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


# --- entries: one per article in a grouped message ------------------------------------------


@dataclass(frozen=True, slots=True)
class RuleMatch:
    """One rule that matched an entry's article."""

    #: Rule id.
    rule_id: str
    #: The rule's query text.
    query: str
    #: The terms it matched, first-seen order (raw; clean them to display).
    matched_terms: tuple[str, ...]
    #: The rule's alert (its first, should the group carry two).
    alert: Alert
    #: The feed label of the copy the rule matched when that is another outlet's copy of
    #: the entry's story (not the entry's own article), else "".
    via: str = ""


@dataclass(frozen=True, slots=True)
class Entry:
    """One article of a message and every alert of the message about it.

    ``alert`` is what to show for the article: the entry's first alert, with the
    highlights (hits) of every alert on that same article and the other outlets
    that any of them knows (so its snippet marks every rule's terms).
    """

    #: The article's alert to render (see above).
    alert: Alert
    #: The entry's alerts, in message order (never empty).
    alerts: tuple[Alert, ...]
    #: One per distinct rule, in message order.
    rules: tuple[RuleMatch, ...]

    @property
    def ids(self) -> tuple[str, ...]:
        """The ids of the entry's alerts, in message order."""
        return tuple(a.id for a in self.alerts)

    @property
    def matched_terms(self) -> tuple[str, ...]:
        """The terms any of its rules matched, first-seen order."""
        return tuple(dict.fromkeys(t for rule in self.rules for t in rule.matched_terms))


def _article_key(alert: Alert) -> tuple[str, str, str]:
    return ("article", alert.article.feed_id, alert.article.id)


def _keys(alert: Alert) -> list[tuple[str, ...]]:
    """What makes two alerts one entry: the same article of the same feed, or the same story."""
    keys: list[tuple[str, ...]] = [_article_key(alert)]
    if alert.story_id:
        keys.append(("story", alert.story_id))
    return keys


def entry_of(alerts: Sequence[Alert]) -> Entry:
    """``alerts`` (about one article or story; not empty) as one entry. One alert's entry
    shows exactly that alert."""
    if not alerts:
        raise ValueError("an entry needs at least one alert")
    lead = alerts[0]
    own = _article_key(lead)
    rules: dict[str, RuleMatch] = {}
    for alert in alerts:
        known = rules.get(alert.rule_id)
        if known is None:
            via = "" if _article_key(alert) == own else feed_label(alert)
            rules[alert.rule_id] = RuleMatch(
                alert.rule_id, alert.query, alert.matched_terms, alert, via
            )
        else:
            terms = tuple(dict.fromkeys((*known.matched_terms, *alert.matched_terms)))
            rules[alert.rule_id] = replace(known, matched_terms=terms)
    shown = lead
    if len(alerts) > 1:
        hits = dict.fromkeys(h for a in alerts if _article_key(a) == own for h in a.hits)
        copies: dict[str, Coverage] = {}
        for alert in alerts:
            for copy in alert.also_in:
                copies.setdefault(copy.feed_id, copy)
            if _article_key(alert) != own:  # another outlet's copy that a rule matched
                article = alert.article
                copies.setdefault(
                    article.feed_id, Coverage(article.feed_id, article.url, article.title)
                )
        shown = replace(lead, hits=tuple(hits), also_in=tuple(copies.values()))
    return Entry(shown, tuple(alerts), tuple(rules.values()))


def group_entries(alerts: Sequence[Alert]) -> list[Entry]:
    """``alerts`` as one entry per article, in order of first appearance.

    Alerts about the same article (same feed and article id), or about the same
    story (same ``story_id``, when set), from different rules are one entry
    listing every rule; an alert that ties two entries together merges them.
    Every alert is in exactly one entry, so no alert id is lost.
    """
    members: list[list[int]] = []
    owner: dict[tuple[str, ...], int] = {}
    for index, alert in enumerate(alerts):
        keys = _keys(alert)
        found = sorted({owner[k] for k in keys if k in owner})
        if not found:
            target = len(members)
            members.append([index])
        else:
            target = found[0]
            members[target].append(index)
            for other in found[1:]:  # this alert ties two entries together: one article
                members[target] += members[other]
                members[other] = []
                for key, value in owner.items():
                    if value == other:
                        owner[key] = target
        for key in keys:
            owner[key] = target
    return [entry_of([alerts[i] for i in sorted(group)]) for group in members if group]


def count_label(count: int, noun: str = "article") -> str:
    """``1 article``, ``3 articles``."""
    return f"{count} {noun}{'' if count == 1 else 's'}"
