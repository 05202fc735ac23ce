"""What only the Redis history does: its keys (word blocks and signatures per hour), their
cleanup, and the signature rule its text search relies on.

The contract itself is checked on Redis by ``test_alert_history.py`` and ``test_silences.py``.
"""

from __future__ import annotations

import fakeredis
from hypothesis import given
from hypothesis import strategies as st

from monitor.model import Attempt, HistoryQuery
from monitor.store.history_rules import search_text, words_of
from monitor.store.redis import RedisStore
from monitor.store.redis_history import SIGNATURE_BITS, hour_of, signature_bits
from tests.conftest import FrozenClock
from tests.store.test_alert_history import alert, queued
from tests.store.test_silences import silence

HOUR = 3600.0


def _text(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value


async def test_history_keys_stay_under_the_prefix_and_go_with_their_entries(
    clock: FrozenClock,
) -> None:
    client = fakeredis.FakeAsyncRedis()
    store = RedisStore(client, prefix="nm")
    try:
        now = clock.now - clock.now % HOUR + 10  # early in an hour
        a, b = alert(1, title="Drones over Kyiv"), alert(2, title="Oil")
        await store.record_history([queued(a, now)], 2 * HOUR)
        await store.record_history([queued(b, now + HOUR)], 2 * HOUR)
        await store.add_silence(silence(1, now, now + HOUR))
        keys = {_text(k) for k in await client.keys("*")}
        assert all(k.startswith("nm:") for k in keys), keys
        k = store.keys
        first, second = hour_of(now), hour_of(now + HOUR)
        assert {k.history_words(first), k.history_words(second)} <= keys
        assert {k.history_signature(first), k.history_signature(second)} <= keys
        assert k.history_scratch not in keys
        record = _text(await client.get(k.history_words(first)))
        assert record == f"{search_text(a)}\t{now!r}\t{a.id.encode().hex()}\n"
        assert await client.strlen(k.history_signature(first)) == SIGNATURE_BITS // 8
        assert await client.pttl(k.history_words(first)) > 2 * HOUR * 1000  # + grace
        # `a` expires: its hour's block, signature and count go; `b`'s stay.
        await store.record_history(
            [(b, "delivered", Attempt(now + 2 * HOUR + 1, "delivered"))], 2 * HOUR
        )
        keys = {_text(k) for k in await client.keys("*")}
        assert k.history_words(first) not in keys and k.history_signature(first) not in keys
        assert k.history_words(second) in keys
        assert await client.hkeys(k.history_hour_live) in ([str(second).encode()], [str(second)])
        assert [
            e.alert.id for e in (await store.search_history(HistoryQuery(text="oil"))).entries
        ] == [b.id]
        assert (await store.search_history(HistoryQuery(text="kyiv"))).entries == ()
        assert await client.zcard(k.history_stories) == 1
    finally:
        await client.aclose()


async def test_an_hour_without_the_words_is_not_read(clock: FrozenClock) -> None:
    """The signature lets a search skip an hour: its word block is not scanned."""
    client = fakeredis.FakeAsyncRedis()
    store = RedisStore(client, prefix="nm")
    try:
        now = clock.now
        a = alert(1, title="Drones", text="")
        await store.record_history([queued(a, now)], 10 * HOUR)
        # A word the signature was never told of, planted in the block: a search that
        # scanned the block would find `a` by it.
        words = store.keys.history_words(hour_of(now))
        await client.append(words, f" glitch\t{now!r}\t{a.id.encode().hex()}\n")
        assert (await store.search_history(HistoryQuery(text="glitch"))).entries == ()
        for bit in signature_bits(["glitch"]):
            await client.setbit(store.keys.history_signature(hour_of(now)), bit, 1)
        found = await store.search_history(HistoryQuery(text="glitch"))
        assert [e.alert.id for e in found.entries] == [a.id]
    finally:
        await client.aclose()


@given(st.text(min_size=1, max_size=40), st.integers(min_value=1, max_value=12))
def test_a_prefix_of_a_word_has_no_signature_bit_the_word_lacks(text: str, cut: int) -> None:
    """The rule a text search skips hours by: if ``w`` starts a word of an entry, every
    signature bit of ``w`` is among the entry's."""
    for word in words_of(text):
        prefix = word[:cut]
        assert set(signature_bits([prefix])) <= set(signature_bits([word]))


def test_hours_are_whole_hours_of_the_callers_clock() -> None:
    assert hour_of(3600.0 * 500_000) == 500_000
    assert hour_of(3600.0 * 500_000 - 0.001) == 499_999
