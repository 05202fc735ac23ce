"""The fetch limits of a daemon: per process always, per host across replicas with Redis.

:func:`fetch_limits` builds the :class:`~monitor.ingest.fetch.FetchLimits` the poller (and
its full-text page reads) take their slots from: ``MONITOR_MAX_CONCURRENT_FETCHES`` and
``MONITOR_MAX_FETCHES_PER_HOST`` in this process, plus a shared host gate
(:mod:`monitor.ingest.host_slots`):

* on the Redis store, the gate is in Redis (:class:`~monitor.store.redis_host_slots.
  RedisHostGate`): at most ``MONITOR_MAX_FETCHES_PER_HOST`` fetches from one host on all
  replicas together, starts ``MONITOR_HOST_DELAY`` apart;
* on another store, only the delay needs a gate, in memory (one process);
* without a delay, and without Redis, there is no gate: the process's own limits suffice.

A slot taken at the gate ends at the latest ``MONITOR_FETCH_TIMEOUT`` plus
:data:`LEASE_GRACE` after it was taken (a replica that dies mid-fetch frees its slots so).
"""

from __future__ import annotations

from monitor.ingest.fetch import FetchLimits
from monitor.ingest.host_slots import HostGate, MemoryHostGate, SharedHostLimit
from monitor.model import Clock
from monitor.settings import Settings
from monitor.store import StateStore
from monitor.store.redis import RedisStore
from monitor.store.redis_host_slots import RedisHostGate

__all__ = ["LEASE_GRACE", "fetch_limits"]

#: Seconds a gate slot outlives the fetch deadline (a fetch is cut off at its deadline;
#: the grace covers reading the last bytes and giving the slot back).
LEASE_GRACE = 10.0


def fetch_limits(settings: Settings, store: StateStore, clock: Clock) -> FetchLimits:
    """The fetch limits of a daemon on ``store`` (see the module docstring)."""
    delay = settings.host_delay.total_seconds()
    gate: HostGate | None = None
    if isinstance(store, RedisStore):
        gate = RedisHostGate(store)
    elif delay > 0:
        gate = MemoryHostGate()
    shared = None
    if gate is not None:
        shared = SharedHostLimit(
            gate,
            limit=settings.max_fetches_per_host,
            delay=delay,
            lease=settings.fetch_timeout.total_seconds() + LEASE_GRACE,
            clock=clock,
        )
    return FetchLimits(settings.max_concurrent_fetches, settings.max_fetches_per_host, shared)
