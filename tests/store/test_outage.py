"""A store outage is one warning when it starts and one line when it ends; the start-up
wait retries the store until ``MONITOR_STORE_WAIT`` runs out."""

from __future__ import annotations

import pytest
from structlog.testing import capture_logs

from monitor.errors import StoreError
from monitor.store.outage import OutageLog, wait_for_store


class Ticking:
    """A clock the test moves; ``sleep`` moves it."""

    def __init__(self) -> None:
        self.now = 1000.0
        self.slept: list[float] = []

    def __call__(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += seconds


def test_an_outage_logs_one_warning_at_its_start_and_one_line_at_its_end() -> None:
    clock = Ticking()
    outage = OutageLog(clock)
    with capture_logs() as events:
        outage.succeeded()  # no outage: nothing to say
        for _ in range(50):  # fifty failed polls while Redis restarts
            outage.failed(StoreError("redis ping failed: ConnectionError"), "poll")
            clock.now += 1
        assert outage.down
        outage.succeeded()
        outage.succeeded()
    loud = [e for e in events if e["log_level"] != "debug"]
    assert [e["event"] for e in loud] == ["store_down", "store_up"]
    assert loud[0]["log_level"] == "warning" and "ConnectionError" in loud[0]["error"]
    assert loud[1]["down_for"] == 50.0 and loud[1]["failed_calls"] == 50
    assert not outage.down
    # A second outage is reported again.
    with capture_logs() as events:
        outage.failed(StoreError("down again"), "deliver")
    assert [e["event"] for e in events] == ["store_down"]


async def test_the_start_waits_for_a_store_that_comes_up() -> None:
    clock = Ticking()
    answers = iter([StoreError("refused"), StoreError("refused"), StoreError("refused"), None])

    async def ping() -> None:
        if (error := next(answers)) is not None:
            raise error

    with capture_logs() as events:
        await wait_for_store(ping, 60, clock=clock, sleep=clock.sleep)
    assert clock.slept == [0.5, 1.0, 2.0]  # backing off
    assert [e["event"] for e in events] == ["store_wait", "store_ready"]
    assert events[1]["waited"] == 3.5


async def test_the_start_gives_up_after_the_wait() -> None:
    clock = Ticking()
    pings = 0

    async def ping() -> None:
        nonlocal pings
        pings += 1
        raise StoreError("refused")

    with pytest.raises(StoreError, match="refused"):
        await wait_for_store(ping, 20, clock=clock, sleep=clock.sleep)
    assert clock.now == 1020.0  # the last pause ends at the deadline, then one last ping
    assert clock.slept == [0.5, 1.0, 2.0, 4.0, 5.0, 5.0, 2.5]  # backing off, capped at 5 s
    assert pings == len(clock.slept) + 1


async def test_no_wait_means_one_try() -> None:
    clock = Ticking()

    async def ping() -> None:
        raise StoreError("refused")

    with pytest.raises(StoreError):
        await wait_for_store(ping, 0, clock=clock, sleep=clock.sleep)
    assert clock.slept == []
