"""When a feed is polled next: interval, jitter, backoff, Retry-After, server hints, RSS ttl."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta

import pytest

from monitor.polling.schedule import MAX_FEED_BACKOFF, TTL_PEEK_BYTES, next_poll_delay, rss_ttl

NOW = datetime(2026, 11, 27, 12, 0, tzinfo=UTC).timestamp()


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
