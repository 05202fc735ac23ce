"""Feed health decisions: down (failing, silent, disabled), recovered, the alerts saying so."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime

import pytest

from monitor.config.models import FeedConfig, FeedHealthConfig
from monitor.model import FeedState
from monitor.polling.alerts import alert_id
from monitor.polling.health import (
    HEALTH_RULE_ID,
    HealthChange,
    HealthPolicy,
    error_reason,
    feed_problem,
    health_alert_id,
    health_alerts,
    health_change,
    health_policy,
    span,
)

NOW = datetime(2026, 11, 27, 12, 0, tzinfo=UTC).timestamp()


POLICY = HealthPolicy(failing_after=3600, silent_after=3 * 86400)


HEALTHY = FeedState(first_polled_at=NOW - 86400, last_success_at=NOW, last_new_item_at=NOW - 60)


def test_failing_counts_once_it_lasted_failing_after() -> None:
    failing = replace(HEALTHY, consecutive_failures=4, failing_since=NOW - 3599)
    assert feed_problem(failing, NOW, POLICY) is None
    change = feed_problem(failing, NOW + 1, POLICY)
    assert change == HealthChange("down", "failing", NOW - 3599)


def test_silence_counts_from_the_last_new_item_or_the_first_poll() -> None:
    quiet = replace(HEALTHY, last_new_item_at=NOW - 3 * 86400)
    assert feed_problem(quiet, NOW, POLICY) == HealthChange("down", "silent", NOW - 3 * 86400)
    never_new = replace(HEALTHY, last_new_item_at=None, first_polled_at=NOW - 4 * 86400)
    assert feed_problem(never_new, NOW, POLICY) == HealthChange("down", "silent", NOW - 4 * 86400)
    no_silence = HealthPolicy(failing_after=3600, silent_after=None)
    assert feed_problem(quiet, NOW, no_silence) is None
    assert feed_problem(FeedState(), NOW, POLICY) is None, "never polled is not silent"


def test_disabled_counts_at_once() -> None:
    gone = replace(
        HEALTHY, disabled_reason="HTTP 410 Gone", disabled_at=NOW, consecutive_failures=1
    )
    assert feed_problem(gone, NOW, POLICY) == HealthChange("down", "disabled", NOW)


def test_one_incident_at_a_time_until_healthy() -> None:
    failing = replace(HEALTHY, consecutive_failures=9, failing_since=NOW - 7200)
    down = health_change(failing, NOW, POLICY)
    assert down is not None and down.transition == "down"
    open_ = replace(failing, incident="failing", incident_since=NOW - 7200)
    assert health_change(open_, NOW + 60, POLICY) is None, "still failing: nothing new"
    # Succeeding again, but silent for longer than silent_after: not recovered yet.
    stale = replace(open_, consecutive_failures=0, failing_since=None, last_new_item_at=NOW - 4e5)
    assert health_change(stale, NOW, POLICY) is None
    back = replace(stale, last_new_item_at=NOW)
    assert health_change(back, NOW, POLICY) == HealthChange("recovered", "failing", NOW - 7200)


def test_health_alert_ids_name_the_incident() -> None:
    down = HealthChange("down", "failing", NOW)
    assert health_alert_id("bbc", down, "ops") == health_alert_id("bbc", down, "ops")
    others = {
        health_alert_id("bbc", down, "ops"),
        health_alert_id("bbc", down, "pager"),
        health_alert_id("cnn", down, "ops"),
        health_alert_id("bbc", HealthChange("recovered", "failing", NOW), "ops"),
        health_alert_id("bbc", HealthChange("down", "failing", NOW + 1), "ops"),
        health_alert_id("bbc", HealthChange("down", "silent", NOW), "ops"),
        alert_id(HEALTH_RULE_ID, "bbc", "ops"),
    }
    assert len(others) == 7


def test_health_alerts_describe_the_situation() -> None:
    failing = replace(
        HEALTHY,
        consecutive_failures=5,
        failing_since=NOW - 7200,
        last_error="feed bbc: https://feeds.example/rss: HTTP 503 Service Unavailable",
    )
    change = HealthChange("down", "failing", NOW - 7200)
    alerts = health_alerts(
        change,
        failing,
        feed_id="bbc",
        feed_name="BBC World",
        url="https://feeds.example/rss",
        channels=["ops", "pager"],
        now=NOW,
    )
    assert [a.channel for a in alerts] == ["ops", "pager"]
    alert = alerts[0]
    assert alert.rule_id == HEALTH_RULE_ID and alert.hits == ()
    assert alert.article.title == "Feed bbc failing since 2026-11-27 10:00 UTC"
    assert "BBC World (bbc) has failed 5 poll(s)" in alert.article.text
    assert "Last error: HTTP 503 Service Unavailable." in alert.article.text
    assert alert.article.url == "https://feeds.example/rss"
    assert alert.id == health_alert_id("bbc", change, "ops")
    recovered = health_alerts(
        HealthChange("recovered", "failing", NOW - 7200),
        replace(failing, consecutive_failures=0),
        feed_id="bbc",
        feed_name=None,
        url="https://feeds.example/rss",
        channels=["ops"],
        now=NOW,
    )[0]
    assert recovered.article.title == "Feed bbc recovered"
    assert "bbc was failing since 2026-11-27 10:00 UTC and is back after 2h" in (
        recovered.article.text
    )
    assert recovered.id != alert.id


def test_health_policy_applies_the_feed_override() -> None:
    health = FeedHealthConfig(notify=["ops"], failing_after="30m", silent_after="3d")
    plain = FeedConfig(id="a", url="https://a.example/rss")
    assert health_policy(plain, None) is None
    assert health_policy(plain, health) == HealthPolicy(1800, 3 * 86400)
    own = FeedConfig(id="b", url="https://b.example/rss", silent_after="12h")
    assert health_policy(own, health) == HealthPolicy(1800, 12 * 3600)
    off = FeedConfig(id="c", url="https://c.example/rss", silent_after="0")
    assert health_policy(off, health) == HealthPolicy(1800, None)


@pytest.mark.parametrize(
    ("seconds", "text"),
    [(0, "0s"), (59, "59s"), (61, "1m 1s"), (3600, "1h"), (5400, "1h 30m"), (90000, "1d 1h")],
)
def test_span(seconds: float, text: str) -> None:
    assert span(seconds) == text


def test_error_reason_drops_the_fetcher_prefix() -> None:
    assert error_reason("feed a: https://x.example/rss: HTTP 404 Not Found", "a") == (
        "HTTP 404 Not Found"
    )
    assert error_reason("not a feed: no RSS found", "a") == "not a feed: no RSS found"
