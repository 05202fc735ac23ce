"""Pure pipeline decisions: alert ids, max age, feed backoff."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta

from monitor.pipeline import MAX_FEED_BACKOFF, alert_id, alerts_for, is_too_old, next_poll_delay
from monitor.types import Article, Hit, Match

NOW = datetime(2026, 11, 27, 12, 0, tzinfo=UTC).timestamp()


def article(published: datetime | None) -> Article:
    return Article(
        id="a1", feed_id="f", url="https://x.org/a", title="t", text="x", published=published
    )


def test_alert_id_is_deterministic_and_distinct() -> None:
    assert alert_id("r", "a", "slack") == alert_id("r", "a", "slack")
    ids = {
        alert_id("r", "a", "slack"),
        alert_id("r", "a", "email"),
        alert_id("r2", "a", "slack"),
        alert_id("r", "b", "slack"),
    }
    assert len(ids) == 4
    # Field boundaries matter: ("ab", "c") and ("a", "bc") must not collide.
    assert alert_id("ab", "c", "x") != alert_id("a", "bc", "x")


def test_alerts_for_makes_one_alert_per_channel() -> None:
    match = Match("r", article(None), (Hit("text", 0, 1, "x"),))
    alerts = alerts_for(match, "x", ["a", "b"], NOW)
    assert [a.channel for a in alerts] == ["a", "b"]
    assert alerts[0].id != alerts[1].id
    assert alerts[0].created_at == datetime.fromtimestamp(NOW, UTC)
    assert alerts[0].matched_terms == ("x",)


def test_max_age() -> None:
    day = timedelta(hours=24)
    now = datetime.fromtimestamp(NOW, UTC)
    assert is_too_old(article(now - timedelta(hours=25)), NOW, day)
    assert not is_too_old(article(now - timedelta(hours=23)), NOW, day)
    assert not is_too_old(article(None), NOW, day), "undated items are treated as new"


def test_poll_delay_after_success_is_the_interval() -> None:
    assert next_poll_delay(timedelta(minutes=5), 0) == 300


def test_poll_delay_backs_off_exponentially_with_cap() -> None:
    rng = random.Random(1)
    delays = [next_poll_delay(timedelta(minutes=1), n, rng=rng) for n in range(1, 10)]
    assert 108 <= delays[0] <= 132  # 2 x 60 s +-10%
    assert 216 <= delays[1] <= 264
    assert all(d <= MAX_FEED_BACKOFF.total_seconds() * 1.1 for d in delays)
    assert delays[-1] >= MAX_FEED_BACKOFF.total_seconds() * 0.9


def test_poll_delay_never_below_interval_or_retry_after() -> None:
    assert next_poll_delay(timedelta(hours=3), 5) >= timedelta(hours=3).total_seconds() * 0.9
    assert next_poll_delay(timedelta(minutes=1), 1, retry_after=900) == 900


def test_absurd_retry_after_is_capped() -> None:
    year = 365 * 86400.0
    assert next_poll_delay(timedelta(minutes=1), 1, retry_after=year) == 6 * 3600
