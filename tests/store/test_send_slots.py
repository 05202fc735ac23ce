"""Contract of :class:`~monitor.store.base.SendSlots`, run against every backend."""

from __future__ import annotations

import asyncio

from tests.conftest import FrozenClock
from tests.store.support import Backend


async def test_reserve_send_hands_out_one_slot_per_interval(
    backend: Backend, clock: FrozenClock
) -> None:
    handles = [await backend.open(), await backend.open()]
    results = await asyncio.gather(
        *(handles[i % 2].reserve_send("slack", clock.now, 1.5) for i in range(8))
    )
    assert results.count(None) == 1
    assert all(r == clock.now + 1.5 for r in results if r is not None)
    assert await handles[0].reserve_send("email", clock.now, 60) is None  # per channel
    clock.advance(1.4)
    assert await handles[1].reserve_send("slack", clock.now, 1.5) == clock.now + 0.1
    clock.advance(0.1)
    assert await handles[1].reserve_send("slack", clock.now, 1.5) is None
    assert await handles[0].reserve_send("slack", clock.now, 1.5) == clock.now + 1.5
