"""Store outages, logged as incidents rather than per failed call, and the wait for the
store at start.

While Redis restarts, every poll and every delivery pass fails; a traceback for
each would bury the one line an operator needs. :class:`OutageLog` is told of
each failure and each success by whoever talks to the store (the scheduler's
polls, the outbox worker): the first failure logs one warning
(``store_down``), the first success after it logs one line with how
long it lasted (``store_up``), and everything in between is silent
apart from a debug line.

:func:`wait_for_store` is the start-up half: the daemon (or a cron run) that
starts while the store is still coming up waits for it, up to
``MONITOR_STORE_WAIT``, instead of failing at once.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable

from monitor.errors import StoreError
from monitor.log import get_logger
from monitor.model import Clock

log = get_logger("monitor.store")

#: First and longest pause between two pings while waiting for the store at start (seconds).
WAIT_STEP, WAIT_STEP_CAP = 0.5, 5.0


class OutageLog:
    """Turns a stream of store failures and successes into one line per outage edge."""

    def __init__(self, clock: Clock = time.monotonic) -> None:
        self._clock = clock
        #: When the current outage began (clock time), or None while the store answers.
        self.since: float | None = None
        #: Failures seen during the current outage.
        self.failures = 0

    @property
    def down(self) -> bool:
        """Whether the last call to the store failed."""
        return self.since is not None

    def failed(self, error: BaseException, during: str) -> None:
        """A call to the store failed while doing ``during`` ("poll", "deliver" ...)."""
        self.failures += 1
        if self.since is not None:
            log.debug("store_down", during=during, error=str(error), repeat=True)
            return
        self.since = self._clock()
        log.warning(
            "store_down",
            during=during,
            error=str(error) or type(error).__name__,
            detail="polls and deliveries wait for the store; alerts already queued are kept",
        )

    def succeeded(self) -> None:
        """A call to the store answered: ends the outage, if there was one."""
        if self.since is None:
            return
        lasted = self._clock() - self.since
        log.warning("store_up", down_for=round(lasted, 1), failed_calls=self.failures)
        self.since, self.failures = None, 0


async def wait_for_store(
    ping: Callable[[], Awaitable[object]],
    wait: float,
    *,
    clock: Clock = time.monotonic,
    sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
) -> None:
    """Return once ``ping`` answers; retry for up to ``wait`` seconds, then raise its
    :class:`~monitor.errors.StoreError`. One warning when the wait starts, one line when
    the store answers after it."""
    deadline = clock() + wait
    step = WAIT_STEP
    started: float | None = None
    while True:
        try:
            await ping()
        except StoreError as e:
            now = clock()
            if now >= deadline:
                raise
            if started is None:
                started = now
                log.warning(
                    "store_wait",
                    error=str(e),
                    detail=f"waiting up to {wait:g}s for the store (MONITOR_STORE_WAIT)",
                )
            await sleep(min(step, deadline - now))
            step = min(step * 2, WAIT_STEP_CAP)
            continue
        if started is not None:
            log.info("store_ready", waited=round(clock() - started, 1))
        return
