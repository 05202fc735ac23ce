"""Builders of value objects for tests: sensible defaults, any field overridable.

``make_alert()`` is an Iran/Russia/drones article matched by
``Iran AND Russia AND drones``, with hits at the real offsets of the terms.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

from monitor.model import Alert, Article, Coverage, Hit
from monitor.settings import Settings

TEXT = (
    "Tehran and Moscow have signed an agreement to expand production of attack drones, "
    "officials said on Monday. Iran will supply designs while Russia builds a new factory "
    "in Tatarstan, according to documents seen by reporters. Analysts expect the first "
    "drones to leave the plant within a year, raising concern in Kyiv and in European "
    "capitals about a steady supply for the war in Ukraine."
)
TITLE = "Iran and Russia agree to build drones together"
TERMS = ("Iran", "Russia", "drones")


def make_article(**overrides: Any) -> Article:
    """An Al Jazeera article about Iran, Russia and drones; any field can be overridden."""
    fields: dict[str, Any] = {
        "id": "aljazeera:2026-01-05-iran-russia-drones",
        "feed_id": "aljazeera",
        "url": "https://www.aljazeera.com/news/2026/1/5/iran-russia-drones",
        "title": TITLE,
        "text": TEXT,
        "published": datetime(2026, 1, 5, 14, 3, tzinfo=UTC),
        "author": "Al Jazeera Staff",
        "guid": "https://www.aljazeera.com/?p=3456789",
    }
    fields.update(overrides)
    return Article(**fields)


def find_hits(article: Article, terms: tuple[str, ...] = TERMS) -> tuple[Hit, ...]:
    """A hit for every case-insensitive occurrence of every term, title first, then text."""
    hits: list[Hit] = []
    for field in ("title", "text"):
        value = getattr(article, field).lower()
        found: list[Hit] = []
        for term in terms:
            start = value.find(term.lower())
            while start >= 0:
                found.append(Hit(field, start, start + len(term), term))
                start = value.find(term.lower(), start + 1)
        hits.extend(sorted(found, key=lambda h: h.start))
    return tuple(hits)


def make_alert(**overrides: Any) -> Alert:
    """An alert of rule ``iran-russia-drones`` to channel ``ops``.

    Hits are computed from the article (the default one or ``article=``) for
    ``terms=`` (default Iran, Russia, drones) unless ``hits=`` is given.
    """
    terms = overrides.pop("terms", TERMS)
    article = overrides.pop("article", None) or make_article()
    fields: dict[str, Any] = {
        "id": "3f9a1c0e7b2d4c58a6e1f0b9d8c7a6e5",
        "channel": "ops",
        "rule_id": "iran-russia-drones",
        "query": "Iran AND Russia AND drones",
        "article": article,
        "hits": find_hits(article, terms),
        "created_at": datetime(2026, 1, 5, 14, 5, tzinfo=UTC),
    }
    fields.update(overrides)
    return Alert(**fields)


def with_article(alert: Alert, **overrides: Any) -> Alert:
    """``alert`` with article fields replaced and hits recomputed for its terms."""
    article = replace(alert.article, **overrides)
    return replace(alert, article=article, hits=find_hits(article, alert.matched_terms))


#: Two other outlets' copies of the default article's story, in arrival order.
COVERAGE = (
    Coverage(
        "bbc-world", "https://www.bbc.co.uk/news/world-67890", "Iran and Russia to build drones"
    ),
    Coverage("reuters", "https://www.reuters.com/world/iran-russia-drones/", "Drone plant deal"),
)


def with_coverage(
    alert: Alert, *copies: Coverage, story_id: str = "aljazeera:2026-01-05-iran-russia-drones"
) -> Alert:
    """``alert`` in a story carried by ``copies`` (default ``COVERAGE``) besides its own feed."""
    return replace(alert, story_id=story_id, also_in=copies or COVERAGE)


def make_settings(**overrides: Any) -> Settings:
    """Settings that ignore the environment and any .env file, with short timeouts."""
    fields: dict[str, Any] = {
        "delivery_timeout": timedelta(seconds=5),
        "user_agent": "news-monitor-test/1.0",
        "smtp_starttls": False,
    }
    fields.update(overrides)
    return Settings(_env_file=None, **fields)
