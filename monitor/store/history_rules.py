"""The alert history's and the silences' pure rules, shared by every backend.

:class:`~monitor.store.base.AlertHistory` and :class:`~monitor.store.base.SilenceStore`
are one contract in three backends. What the backends must agree on lives here:

* the upsert rule of ``record_history`` (:func:`apply_update`): a new entry, an update,
  or an ignored "queued" for an alert that already has an entry; at most
  :data:`MAX_EVENTS` events; an alert replaced only by one with more ``also_in``;
* the text search: a query's words (:func:`query_words`) must each start a word of
  the article's title or text or of the rule's query, case and accents aside
  (``drone`` finds "Drones", ``kyiv`` finds "Kyïv"). Words are runs of letters and
  digits, as SQLite's FTS5 ``unicode61`` tokenizer (``remove_diacritics 2``) cuts
  them, which the SQLite backend uses; the others compare :func:`search_text`;
* the order (newest ``created_at`` first, ties by alert id descending, code point
  order) and the opaque page cursors (:func:`encode_cursor`, :func:`decode_cursor`);
* the JSON of an entry's events and the stats of :func:`stats_of`.

No I/O, no clock: everything here is a function of its arguments.
"""

from __future__ import annotations

import base64
import binascii
import functools
import json
import re
import sys
import unicodedata
from collections.abc import Iterable, Sequence

from monitor.model import (
    ALERT_STATUSES,
    SILENCE_KINDS,
    Alert,
    Attempt,
    HistoryEntry,
    HistoryQuery,
    HistoryStats,
    RuleStats,
    Silence,
)

__all__ = [
    "DEFAULT_RETENTION",
    "MAX_EVENTS",
    "QUEUED",
    "SILENCE_KEEP",
    "apply_update",
    "check_query",
    "check_silence",
    "check_updates",
    "decode_cursor",
    "decode_events",
    "droppable",
    "encode_cursor",
    "encode_event",
    "encode_events",
    "fresher",
    "listed",
    "matches",
    "query_words",
    "search_text",
    "search_text_of",
    "sort_key",
    "stats_of",
    "story_key",
    "words_of",
]

#: The default of MONITOR_HISTORY_RETENTION (seconds): what a writer keeps if not told.
DEFAULT_RETENTION = 30 * 86_400.0
#: Most events an entry keeps (the newest).
MAX_EVENTS = 50
#: The event the poller records when it enqueues an alert.
QUEUED = "queued"
#: How long a store keeps an ended silence (a listing may ask for less).
SILENCE_KEEP = 7 * 86_400.0
#: Most words of a text query that are used (the rest are ignored).
MAX_QUERY_WORDS = 16

_WORD = re.compile(r"[^\W_]+")
_CURSOR_TAG = "h1."


@functools.cache
def _marks() -> dict[int, None]:
    """Every combining character (an accent, once decomposed), for ``str.translate``."""
    return {c: None for c in range(sys.maxunicode + 1) if unicodedata.combining(chr(c))}


def words_of(text: str) -> list[str]:
    """The words of ``text`` as the search compares them: lower case, accents removed."""
    if text.isascii():
        return _WORD.findall(text.lower())
    return _WORD.findall(unicodedata.normalize("NFD", text.lower()).translate(_marks()))


def search_text(alert: Alert) -> str:
    """The distinct words of an alert's title, text and query, each after a space
    (``" drones over kyiv"``): a query word ``w`` matches if ``" " + w`` is in it."""
    return search_text_of(alert.article.title, alert.article.text, alert.query)


def search_text_of(title: str, text: str, query: str) -> str:
    """:func:`search_text` of an alert with this title, text and query."""
    words = dict.fromkeys(words_of(title) + words_of(text) + words_of(query))
    return "".join(f" {w}" for w in words)


def query_words(text: str) -> list[str]:
    """The distinct words of a search (the first :data:`MAX_QUERY_WORDS`); [] for none."""
    return list(dict.fromkeys(words_of(text)))[:MAX_QUERY_WORDS]


def story_key(alert: Alert) -> str:
    """What the stats count a rule's hits by: the story, else the article."""
    return alert.story_id or alert.article.id


def sort_key(created_at: float, alert_id: str) -> tuple[float, str]:
    """The history's order, read backwards: the newest is the largest key."""
    return (created_at, alert_id)


def fresher(new: Alert, old: Alert) -> bool:
    """Whether ``new`` should replace the stored ``old``: it knows more copies of the story
    (coverage only grows while a story lives)."""
    return len(new.also_in) > len(old.also_in)


def apply_update(
    old: HistoryEntry | None, alert: Alert, status: str, event: Attempt
) -> HistoryEntry | None:
    """The entry after one update of ``record_history``; None: the update is ignored (a
    "queued" event for an alert that already has an entry)."""
    if old is None:
        return HistoryEntry(alert, status, event.at, event.at, (event,))
    if event.outcome == QUEUED:
        return None
    return HistoryEntry(
        alert if fresher(alert, old.alert) else old.alert,
        status,
        old.created_at,
        event.at,
        (*old.events, event)[-MAX_EVENTS:],
    )


def check_updates(updates: Sequence[tuple[Alert, str, Attempt]]) -> None:
    """ValueError if an update's status is not one of ALERT_STATUSES."""
    for alert, status, _ in updates:
        if status not in ALERT_STATUSES:
            raise ValueError(f"alert {alert.id}: unknown history status {status!r}")


def check_query(query: HistoryQuery) -> tuple[float, str] | None:
    """Validate ``query``; its cursor decoded. ValueError for an unknown status or a cursor
    that is not one this history made."""
    if query.status is not None and query.status not in ALERT_STATUSES:
        raise ValueError(f"unknown alert status {query.status!r}; one of {ALERT_STATUSES}")
    return None if query.cursor is None else decode_cursor(query.cursor)


def check_silence(silence: Silence) -> None:
    """ValueError if ``silence`` has an unknown kind, no target, or ends before it starts."""
    if silence.kind not in SILENCE_KINDS:
        raise ValueError(f"unknown silence kind {silence.kind!r}; one of {SILENCE_KINDS}")
    if not silence.id or not silence.target:
        raise ValueError("a silence needs an id and a target")
    if silence.ends_at < silence.starts_at:
        raise ValueError(f"silence {silence.id} ends before it starts")


def listed(silence: Silence, now: float, expired_for: float) -> bool:
    """Whether ``list_silences(now, expired_for=...)`` lists ``silence``: active, pending,
    or ended less than ``expired_for`` seconds before ``now``."""
    return silence.ends_at > now - expired_for


def droppable(silence: Silence, now: float, expired_for: float) -> bool:
    """Whether a store may forget ``silence``: it ended :data:`SILENCE_KEEP` (or
    ``expired_for``, if longer) before ``now``, so a caller asking for a short window
    never hides a recent one from another caller asking for a longer one."""
    return silence.ends_at <= now - max(expired_for, SILENCE_KEEP)


def matches(
    entry: HistoryEntry, query: HistoryQuery, words: Sequence[str], text: str | None = None
) -> bool:
    """Whether ``entry`` passes the filters of ``query`` (not its cursor); ``text`` is the
    entry's :func:`search_text` if already known."""
    alert = entry.alert
    if query.rule is not None and alert.rule_id != query.rule:
        return False
    if query.channel is not None and alert.channel != query.channel:
        return False
    if query.status is not None and entry.status != query.status:
        return False
    if query.since is not None and entry.created_at < query.since:
        return False
    if words:
        haystack = search_text(alert) if text is None else text
        return all(f" {w}" in haystack for w in words)
    return True


def encode_cursor(created_at: float, alert_id: str) -> str:
    """An opaque cursor naming the position after the entry (``created_at``, ``alert_id``)."""
    raw = json.dumps([float(created_at), alert_id], ensure_ascii=False).encode()
    return _CURSOR_TAG + base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str) -> tuple[float, str]:
    """Inverse of :func:`encode_cursor`; ValueError if ``cursor`` is not one."""
    try:
        if not cursor.startswith(_CURSOR_TAG):
            raise ValueError
        body = cursor[len(_CURSOR_TAG) :]
        created_at, alert_id = json.loads(base64.urlsafe_b64decode(body + "=" * (-len(body) % 4)))
        if not isinstance(alert_id, str) or not isinstance(created_at, int | float):
            raise ValueError
        return float(created_at), alert_id
    except (ValueError, TypeError, binascii.Error, UnicodeDecodeError):
        raise ValueError(f"not a history cursor: {cursor[:40]!r}") from None


def encode_event(event: Attempt) -> str:
    """One event as a JSON line: ``[at, outcome, detail]``."""
    return json.dumps(
        [float(event.at), event.outcome, event.detail],
        ensure_ascii=False,
        separators=(",", ":"),
    )


def encode_events(events: Iterable[Attempt]) -> str:
    """Events as JSON lines, oldest first."""
    return "\n".join(encode_event(e) for e in events)


def decode_events(text: str | bytes) -> tuple[Attempt, ...]:
    """Inverse of :func:`encode_events`."""
    if isinstance(text, bytes):
        text = text.decode()
    return tuple(
        Attempt(float(at), outcome, detail)
        for at, outcome, detail in (json.loads(line) for line in text.split("\n") if line)
    )


def stats_of(rows: Iterable[tuple[str, str, str, float]]) -> HistoryStats:
    """The stats of the entries given as (status, rule id, story key, created_at)."""
    by_status = dict.fromkeys(ALERT_STATUSES, 0)
    stories: dict[str, set[str]] = {}
    latest: dict[str, float] = {}
    for status, rule, story, created_at in rows:
        by_status[status] = by_status.get(status, 0) + 1
        stories.setdefault(rule, set()).add(story)
        latest[rule] = max(latest.get(rule, created_at), created_at)
    rules = {rule: RuleStats(len(keys), latest[rule]) for rule, keys in stories.items()}
    return HistoryStats(by_status, rules)
