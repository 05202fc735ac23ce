"""The retry policy: HTTP/SMTP classification, Retry-After parsing, backoff with jitter."""

from __future__ import annotations

import random
from datetime import UTC, datetime
from email.utils import format_datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st

from monitor.delivery.retry import (
    backoff_delay,
    classify_http,
    classify_smtp,
    parse_retry_after,
)
from monitor.model import DeliveryStatus

DELIVERED, RETRY, PERMANENT = (
    DeliveryStatus.DELIVERED,
    DeliveryStatus.RETRY,
    DeliveryStatus.PERMANENT,
)
NOW = 1_800_000_000.0


@pytest.mark.parametrize(
    ("status", "expected"),
    [
        (200, DELIVERED),
        (201, DELIVERED),
        (204, DELIVERED),
        (299, DELIVERED),
        (408, RETRY),
        (425, RETRY),
        (429, RETRY),
        (500, RETRY),
        (502, RETRY),
        (503, RETRY),
        (599, RETRY),
        (400, PERMANENT),
        (401, PERMANENT),
        (403, PERMANENT),
        (404, PERMANENT),
        (410, PERMANENT),
        (422, PERMANENT),
        (301, PERMANENT),
        (302, PERMANENT),
        (307, PERMANENT),
        (308, PERMANENT),
        (100, PERMANENT),
        (600, PERMANENT),
    ],
)
def test_classify_http(status: int, expected: DeliveryStatus) -> None:
    assert classify_http(status, {}) is expected


def test_a_4xx_with_retry_after_is_a_rate_limit_and_retried() -> None:
    assert classify_http(403, {"Retry-After": "60"}) is RETRY
    assert classify_http(403, {"retry-after": "60"}) is RETRY
    assert classify_http(403, {"x-other": "60"}) is PERMANENT


def test_a_redirect_with_retry_after_stays_permanent() -> None:
    assert classify_http(307, {"Retry-After": "5"}) is PERMANENT


@pytest.mark.parametrize(
    ("code", "expected"),
    [(250, DELIVERED), (421, RETRY), (450, RETRY), (451, RETRY), (452, RETRY), (454, RETRY),
     (500, PERMANENT), (535, PERMANENT), (550, PERMANENT), (552, PERMANENT), (554, PERMANENT),
     (-1, RETRY)],
)  # fmt: skip
def test_classify_smtp(code: int, expected: DeliveryStatus) -> None:
    assert classify_smtp(code) is expected


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("120", 120.0),
        (" 7 ", 7.0),
        ("0", 0.0),
        (None, None),
        ("", None),
        ("soon", None),
        ("-5", None),
        ("1.5", None),
        ("١٢", None),  # Arabic-Indic digits are not delay-seconds
        ("Wed, 99 Foo 2026 07:28:00 GMT", None),
    ],
)
def test_parse_retry_after_seconds_and_garbage(value: str | None, expected: float | None) -> None:
    assert parse_retry_after(value, NOW) == expected


def test_parse_retry_after_http_date_is_relative_to_now() -> None:
    when = datetime.fromtimestamp(NOW + 90, UTC)
    assert parse_retry_after(format_datetime(when, usegmt=True), NOW) == pytest.approx(90.0)
    # The IMF-fixdate spelled out, as servers send it.
    assert parse_retry_after("Fri, 15 Jan 2027 08:00:30 GMT", NOW) == pytest.approx(
        datetime(2027, 1, 15, 8, 0, 30, tzinfo=UTC).timestamp() - NOW
    )


def test_parse_retry_after_date_in_the_past_means_now() -> None:
    past = datetime.fromtimestamp(NOW - 3600, UTC)
    assert parse_retry_after(format_datetime(past, usegmt=True), NOW) == 0.0


def test_backoff_equal_jitter_stays_in_the_upper_half_of_an_exponential_ceiling() -> None:
    rng = random.Random(7)
    for attempt, ceiling in [(1, 5.0), (2, 10.0), (3, 20.0), (4, 40.0), (10, 2560.0)]:
        draws = [backoff_delay(attempt, rng=rng) for _ in range(200)]
        # Never an immediate retry: at least half the ceiling, at most the ceiling.
        assert all(ceiling / 2 <= d <= ceiling for d in draws)
        # Jittered: spread over that range, not clustered at one value.
        assert min(draws) < ceiling * 0.6
        assert max(draws) > ceiling * 0.9


def test_backoff_is_capped() -> None:
    rng = random.Random(1)
    draws = [backoff_delay(30, cap=600.0, rng=rng) for _ in range(200)]
    assert max(draws) <= 600.0
    assert max(draws) > 500.0


def test_backoff_survives_absurd_attempt_numbers() -> None:
    assert 0.0 <= backoff_delay(10_000, rng=random.Random(3)) <= 3600.0


def test_backoff_is_deterministic_for_a_seeded_rng() -> None:
    first = [backoff_delay(5, rng=random.Random(42)) for _ in range(3)]
    assert first == [backoff_delay(5, rng=random.Random(42)) for _ in range(3)]
    assert backoff_delay(5, rng=random.Random(42)) != backoff_delay(5, rng=random.Random(43))


def test_backoff_never_below_retry_after_even_above_the_cap() -> None:
    rng = random.Random(0)
    assert all(backoff_delay(1, retry_after=30.0, rng=rng) >= 30.0 for _ in range(100))
    assert backoff_delay(1, cap=60.0, retry_after=7200.0, rng=rng) == 7200.0


def test_backoff_keeps_jitter_when_retry_after_is_smaller() -> None:
    rng = random.Random(5)
    draws = [backoff_delay(8, retry_after=1.0, rng=rng) for _ in range(100)]
    assert min(draws) >= 1.0
    assert len(set(draws)) > 50  # mostly jittered values, not a constant 1.0


def test_backoff_ignores_a_non_finite_retry_after() -> None:
    assert backoff_delay(1, retry_after=float("nan"), rng=random.Random(0)) <= 5.0
    assert backoff_delay(1, retry_after=float("inf"), rng=random.Random(0)) <= 5.0


@pytest.mark.parametrize("attempt", [0, -1])
def test_backoff_rejects_attempt_below_one(attempt: int) -> None:
    with pytest.raises(ValueError, match="attempt"):
        backoff_delay(attempt)


@given(
    attempt=st.integers(min_value=1, max_value=500),
    base=st.floats(min_value=0.01, max_value=100.0),
    cap=st.floats(min_value=0.0, max_value=100_000.0),
    retry_after=st.none() | st.floats(min_value=0.0, max_value=1e6),
    seed=st.integers(min_value=0, max_value=2**32),
)
def test_backoff_bounds_hold_for_any_input(
    attempt: int, base: float, cap: float, retry_after: float | None, seed: int
) -> None:
    delay = backoff_delay(
        attempt, base=base, cap=cap, retry_after=retry_after, rng=random.Random(seed)
    )
    ceiling = min(cap, base * 2.0 ** (attempt - 1)) if attempt < 1000 else cap
    assert delay >= 0.0
    if retry_after is None:
        assert delay <= ceiling
    else:
        assert delay >= retry_after
        assert delay <= max(ceiling, retry_after)
