"""Contract of :class:`~monitor.store.base.SilenceStore`, run against every backend.

Silences are stored by id, listed while active, pending or ended less than
``expired_for`` ago (by start, then id), and expired early by setting their end.
"""

from __future__ import annotations

import pytest

from monitor.model import Silence
from monitor.store.base import SilenceStore
from tests.conftest import FrozenClock
from tests.store.support import PERSISTENT, Backend, make_alert

HOUR = 3600.0


def silence(n: int, starts: float, ends: float, kind: str = "rule", target: str = "r1") -> Silence:
    return Silence(
        f"sil_{n:016x}", kind, target, starts, ends, comment=f"maintenance {n} ü", created_by="cli"
    )


async def test_list_by_start_then_id(store: SilenceStore, clock: FrozenClock) -> None:
    now = clock.now
    active = silence(3, now - HOUR, now + HOUR)
    pending = silence(1, now + HOUR, now + 2 * HOUR, "channel", "ops")
    tie = silence(2, now - HOUR, now + 10, "story", "urn:uuid:1")
    for s in (active, pending, tie):
        await store.add_silence(s)
    assert await store.list_silences(now) == [tie, active, pending]
    assert [s.active(now) for s in await store.list_silences(now)] == [True, True, False]


async def test_ended_silences_are_listed_for_a_while(
    store: SilenceStore, clock: FrozenClock
) -> None:
    now = clock.now
    recent = silence(1, now - 3 * HOUR, now - HOUR)
    old = silence(2, now - 30 * HOUR, now - 25 * HOUR)
    await store.add_silence(recent)
    await store.add_silence(old)
    assert await store.list_silences(now, expired_for=100 * HOUR) == [old, recent]
    assert await store.list_silences(now) == [recent]  # a day by default
    assert await store.list_silences(now, expired_for=HOUR) == []
    assert await store.list_silences(now, expired_for=0) == []
    # A short window drops nothing a longer one lists (another caller's listing).
    assert await store.list_silences(now, expired_for=100 * HOUR) == [old, recent]
    # Ended more than a week ago: may be dropped, and is not listed.
    assert await store.list_silences(now + 8 * 24 * HOUR) == []
    assert await store.list_silences(now, expired_for=100 * HOUR) in ([], [old, recent])


async def test_add_replaces_a_silence_with_the_same_id(
    store: SilenceStore, clock: FrozenClock
) -> None:
    now = clock.now
    await store.add_silence(silence(1, now, now + HOUR))
    longer = silence(1, now, now + 5 * HOUR)
    await store.add_silence(longer)
    assert await store.list_silences(now) == [longer]


async def test_expire_ends_a_silence_now(store: SilenceStore, clock: FrozenClock) -> None:
    now = clock.now
    s = silence(1, now - HOUR, now + HOUR)
    await store.add_silence(s)
    clock.advance(60)
    assert await store.expire_silence(s.id, clock.now)
    [expired] = await store.list_silences(clock.now)
    assert expired.ends_at == clock.now and not expired.active(clock.now)
    assert (expired.kind, expired.target, expired.comment) == (s.kind, s.target, s.comment)
    # Expiring an ended silence keeps its end; an unknown id is False.
    assert await store.expire_silence(s.id, clock.now + 60)
    assert (await store.list_silences(clock.now))[0].ends_at == clock.now
    assert not await store.expire_silence("sil_0000000000000000", clock.now)


async def test_bad_silences_are_refused(store: SilenceStore, clock: FrozenClock) -> None:
    now = clock.now
    with pytest.raises(ValueError, match="kind"):
        await store.add_silence(silence(1, now, now + HOUR, kind="feed"))
    with pytest.raises(ValueError, match="target"):
        await store.add_silence(silence(1, now, now + HOUR, target=""))
    with pytest.raises(ValueError, match="ends before"):
        await store.add_silence(silence(1, now, now - 1))
    assert await store.list_silences(now) == []


@pytest.mark.parametrize("backend", PERSISTENT, indirect=True)
async def test_silences_are_shared(backend: Backend, clock: FrozenClock) -> None:
    one, two = await backend.open(), await backend.open()
    s = silence(1, clock.now, clock.now + HOUR, "channel", "slack")
    await one.add_silence(s)
    [seen] = await two.list_silences(clock.now)
    assert seen == s and seen.mutes(make_alert(1, "slack")) and not seen.mutes(make_alert(1, "x"))
    assert await two.expire_silence(s.id, clock.now + 1)
    assert (await one.list_silences(clock.now))[0].ends_at == clock.now + 1
