"""Pure pipeline decisions: alert ids, max age, feed backoff and server hints, new entries,
feed health."""

from __future__ import annotations

import random
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from monitor.config.models import FeedConfig, FeedHealthConfig
from monitor.model import Article, FeedState, FeedValidators, Hit, Match
from monitor.polling.decisions import (
    HEALTH_RULE_ID,
    MAX_FEED_BACKOFF,
    MAX_TRACKED_ENTRIES,
    TTL_PEEK_BYTES,
    HealthChange,
    HealthPolicy,
    alert_id,
    alerts_for,
    count_new_entries,
    entry_hashes,
    error_reason,
    feed_problem,
    health_alert_id,
    health_alerts,
    health_change,
    health_policy,
    is_too_old,
    next_poll_delay,
    rebase,
    rss_ttl,
    span,
)

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


def test_poll_delay_after_success_is_the_interval_plus_jitter() -> None:
    rng = random.Random(7)
    delays = [next_poll_delay(timedelta(minutes=5), 0, rng=rng) for _ in range(200)]
    assert all(300 <= d <= 330 for d in delays), "jitter only adds, at most 10%"
    assert max(delays) - min(delays) > 10, "feeds do not poll in step"
    hour = [next_poll_delay(timedelta(hours=2), 0, rng=rng) for _ in range(50)]
    assert all(7200 <= d <= 7260 for d in hour), "jitter is at most 60 s"


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


def test_a_server_asking_for_longer_intervals_is_honoured_up_to_the_cap() -> None:
    five = timedelta(minutes=5)
    cap = timedelta(hours=1)
    # Asked for 30 min: polled every 30 min (+ jitter).
    assert 1800 <= next_poll_delay(five, 0, server_interval=1800, max_server_interval=cap) <= 1860
    # Asked for a day: only up to the cap.
    assert 3600 <= next_poll_delay(five, 0, server_interval=86400, max_server_interval=cap) <= 3660
    # Asked for less than the interval: the interval stands (never more often than configured).
    assert 300 <= next_poll_delay(five, 0, server_interval=60, max_server_interval=cap) <= 330
    # A cap of 0 ignores what servers ask.
    zero = timedelta(0)
    assert next_poll_delay(five, 0, server_interval=1800, max_server_interval=zero) <= 330
    # A failing feed backs off as usual; the hint is for successes.
    assert next_poll_delay(five, 1, server_interval=3000, rng=random.Random(1)) <= 660


def test_backoff_never_stops_polling() -> None:
    delays = [next_poll_delay(timedelta(minutes=5), n) for n in (10, 100, 10_000)]
    assert all(d <= MAX_FEED_BACKOFF.total_seconds() * 1.1 for d in delays)


@pytest.mark.parametrize(
    ("body", "seconds"),
    [
        (b"<rss><channel><title>t</title><ttl>15</ttl><item><ttl>1</ttl></item>", 900.0),
        (b"<rss><channel><TTL> 60 </TTL></channel></rss>", 3600.0),
        (b"<rss><channel><item><ttl>5</ttl></item></channel></rss>", None),  # only in an item
        (b"<feed><entry><ttl>5</ttl></entry></feed>", None),
        (b"<rss><channel><ttl>0</ttl></channel></rss>", None),
        (b"<rss><channel><ttl>soon</ttl></channel></rss>", None),
        (b"<rss><channel>" + b" " * TTL_PEEK_BYTES + b"<ttl>5</ttl></channel></rss>", None),
    ],
)
def test_rss_ttl_is_peeked_before_the_first_item(body: bytes, seconds: float | None) -> None:
    assert rss_ttl(body) == seconds


def test_new_entries_are_counted_against_the_previous_body() -> None:
    first = entry_hashes(["a", "b", "c"])
    assert len(first) == 3 and len(set(first)) == 3
    assert entry_hashes(["a", "b", "c"]) == first, "stable across calls"
    assert count_new_entries((), first) == 3
    assert count_new_entries(first, entry_hashes(["d", "a", "b"])) == 1
    assert count_new_entries(first, entry_hashes(["a", "a"])) == 0
    assert len(entry_hashes(str(i) for i in range(5000))) == MAX_TRACKED_ENTRIES


def test_rebase_drops_marks_of_another_url() -> None:
    moved = FeedState(
        validators=FeedValidators(etag='"v"'),
        url="https://old.example/rss",
        moved_to="https://new.example/rss",
        disabled_reason="HTTP 410 Gone",
        disabled_at=NOW,
        consecutive_failures=1,
        items_seen=7,
    )
    assert rebase(moved, "https://old.example/rss") is moved
    fresh = rebase(moved, "https://edited.example/rss")
    assert fresh.url == "https://edited.example/rss"
    assert (fresh.moved_to, fresh.disabled, fresh.validators) == ("", False, FeedValidators())
    assert (fresh.items_seen, fresh.consecutive_failures) == (7, 1), "history stays"
    legacy = rebase(FeedState(validators=FeedValidators(etag='"v"'), items_seen=3), "https://a/")
    assert legacy.url == "https://a/" and legacy.validators == FeedValidators()


# -- feed health ------------------------------------------------------------------

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
