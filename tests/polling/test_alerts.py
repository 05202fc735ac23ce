"""Alert decisions: deterministic alert ids, one alert per channel, max age."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from monitor.model import Article, Hit, Match
from monitor.polling.alerts import alert_id, alerts_for, is_too_old

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
