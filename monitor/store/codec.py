"""JSON encoding of the values a store keeps (alerts, feed state, archived articles).

Stores persist plain JSON text, so a Redis value or an SQLite row can be read
by a human and survives upgrades that add fields (unknown keys are ignored,
missing ones take defaults).
"""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any

from monitor.model import Alert, Article, Coverage, FeedState, FeedValidators, Hit

#: Most characters of an article's text the archive keeps. A feed entry may carry a whole
#: long read (or junk); cutting it keeps one archived article to a few tens of kilobytes,
#: so the archive's size is bounded by MONITOR_ARCHIVE_MAX_ARTICLES times this, while the
#: start of a text, where what a query looks for usually is, is kept.
ARCHIVE_TEXT_LIMIT = 20_000
#: Most characters of an article's title the archive keeps (a title is rarely over 200).
ARCHIVE_TITLE_LIMIT = 2_000


def _dt(value: str | None) -> datetime | None:
    return datetime.fromisoformat(value) if value else None


def created_epoch(created: datetime) -> float:
    """An alert's ``created_at`` as epoch seconds, as ``Outbox.outbox_summary`` reports it.

    A naive time is read as UTC (the daemon makes only UTC times), as SQLite's date
    functions read it, so every backend gives the same number for the same alert.
    """
    return (created if created.tzinfo else created.replace(tzinfo=UTC)).timestamp()


def article_to_dict(article: Article) -> dict[str, Any]:
    """An article as JSON-ready data."""
    return {
        "id": article.id,
        "feed_id": article.feed_id,
        "url": article.url,
        "title": article.title,
        "text": article.text,
        "published": article.published.isoformat() if article.published else None,
        "author": article.author,
        "guid": article.guid,
        "fulltext": article.fulltext,
        "language": article.language,
    }


def article_from_dict(data: dict[str, Any]) -> Article:
    """Inverse of :func:`article_to_dict`."""
    return Article(
        id=data["id"],
        feed_id=data["feed_id"],
        url=data.get("url", ""),
        title=data.get("title", ""),
        text=data.get("text", ""),
        published=_dt(data.get("published")),
        author=data.get("author", ""),
        guid=data.get("guid", ""),
        fulltext=bool(data.get("fulltext", False)),
        language=data.get("language", ""),  # stored before languages were known: ""
    )


def encode_alert(alert: Alert) -> str:
    """An alert as JSON text."""
    return json.dumps(
        {
            "id": alert.id,
            "channel": alert.channel,
            "rule_id": alert.rule_id,
            "query": alert.query,
            "article": article_to_dict(alert.article),
            "hits": [[h.field, h.start, h.end, h.term] for h in alert.hits],
            "created_at": alert.created_at.isoformat(),
            "story_id": alert.story_id,
            "also_in": [[c.feed_id, c.url, c.title] for c in alert.also_in],
            "feed_name": alert.feed_name,
        },
        ensure_ascii=False,
        separators=(",", ":"),
    )


def decode_alert(text: str | bytes) -> Alert:
    """Inverse of :func:`encode_alert`."""
    data = json.loads(text)
    created = _dt(data["created_at"])
    assert created is not None
    return Alert(
        id=data["id"],
        channel=data["channel"],
        rule_id=data["rule_id"],
        query=data.get("query", ""),
        article=article_from_dict(data["article"]),
        hits=tuple(Hit(f, s, e, t) for f, s, e, t in data.get("hits", [])),
        created_at=created,
        story_id=data.get("story_id", ""),
        also_in=tuple(Coverage(f, u, t) for f, u, t in data.get("also_in", [])),
        feed_name=data.get("feed_name", ""),
    )


def encode_feed_state(state: FeedState) -> str:
    """Feed state as JSON text."""
    return json.dumps(
        {
            "etag": state.validators.etag,
            "last_modified": state.validators.last_modified,
            "first_polled_at": state.first_polled_at,
            "last_success_at": state.last_success_at,
            "consecutive_failures": state.consecutive_failures,
            "last_error": state.last_error,
            "url": state.url,
            "moved_to": state.moved_to,
            "failing_since": state.failing_since,
            "disabled_reason": state.disabled_reason,
            "disabled_at": state.disabled_at,
            "next_poll_at": state.next_poll_at,
            "last_new_item_at": state.last_new_item_at,
            "items_seen": state.items_seen,
            "recent_entries": list(state.recent_entries),
            "ttl": state.ttl,
            "incident": state.incident,
            "incident_since": state.incident_since,
            "body_hash": state.body_hash,
            "entry_map": list(state.entry_map),
        }
    )


def decode_feed_state(text: str | bytes) -> FeedState:
    """Inverse of :func:`encode_feed_state`."""
    data = json.loads(text)
    return FeedState(
        validators=FeedValidators(etag=data.get("etag"), last_modified=data.get("last_modified")),
        first_polled_at=data.get("first_polled_at"),
        last_success_at=data.get("last_success_at"),
        consecutive_failures=int(data.get("consecutive_failures", 0)),
        last_error=data.get("last_error", ""),
        # Fields added later: state written by an older version lacks them (defaults apply).
        url=data.get("url", ""),
        moved_to=data.get("moved_to", ""),
        failing_since=data.get("failing_since"),
        disabled_reason=data.get("disabled_reason", ""),
        disabled_at=data.get("disabled_at"),
        next_poll_at=data.get("next_poll_at"),
        last_new_item_at=data.get("last_new_item_at"),
        items_seen=int(data.get("items_seen", 0)),
        recent_entries=tuple(data.get("recent_entries", ())),
        ttl=data.get("ttl"),
        incident=data.get("incident", ""),
        incident_since=data.get("incident_since"),
        body_hash=data.get("body_hash", ""),
        entry_map=tuple(data.get("entry_map", ())),
    )


def archived_copy(article: Article) -> Article:
    """``article`` as the archive keeps it: text and title cut to their limits."""
    if len(article.text) <= ARCHIVE_TEXT_LIMIT and len(article.title) <= ARCHIVE_TITLE_LIMIT:
        return article
    return replace(
        article, text=article.text[:ARCHIVE_TEXT_LIMIT], title=article.title[:ARCHIVE_TITLE_LIMIT]
    )


def encode_archived_article(article: Article) -> str:
    """An archived article (:func:`archived_copy`) as compact JSON: empty fields left out."""
    data = article_to_dict(archived_copy(article))
    compact = {k: v for k, v in data.items() if v or k in ("id", "feed_id")}
    return json.dumps(compact, ensure_ascii=False, separators=(",", ":"))


def decode_archived_article(text: str | bytes) -> Article:
    """Inverse of :func:`encode_archived_article`."""
    return article_from_dict(json.loads(text))
