"""Contract of :class:`~monitor.store.base.AlertHistory`, run against every backend.

An entry per alert id: ``record_history`` upserts (a "queued" for a known id is
ignored, at most 50 events, the alert replaced only by one with more ``also_in``)
and drops entries not updated for the retention; ``search_history`` filters, searches
words and pages newest first with opaque cursors; ``history_stats`` counts.
"""

from __future__ import annotations

import asyncio
from dataclasses import replace

import pytest

from monitor.model import (
    ALERT_STATUSES,
    Alert,
    Attempt,
    Coverage,
    HistoryEntry,
    HistoryQuery,
    HistoryStats,
    RuleStats,
)
from monitor.store.base import AlertHistory
from monitor.store.history_rules import MAX_EVENTS
from tests.conftest import FrozenClock
from tests.store.support import DAY, PERSISTENT, Backend, make_alert

#: A retention that never gets in the way.
KEEP = 30 * DAY


def alert(
    n: int,
    *,
    rule: str = "iran-drones",
    channel: str = "slack",
    title: str | None = None,
    text: str | None = None,
    story: str = "",
    also_in: int = 0,
) -> Alert:
    base = make_alert(n, channel)
    article = base.article
    if title is not None:
        article = replace(article, title=title)
    if text is not None:
        article = replace(article, text=text)
    coverage = tuple(
        Coverage(f"feed-{i}", f"https://x.test/{i}", f"copy {i}") for i in range(also_in)
    )
    return replace(
        base,
        id=f"alert-{n:03d}-{channel}",
        rule_id=rule,
        query=base.query if rule == "iran-drones" else "stocks OR bonds",
        article=article,
        story_id=story,
        also_in=coverage,
    )


def queued(a: Alert, at: float) -> tuple[Alert, str, Attempt]:
    return (a, "pending", Attempt(at, "queued"))


async def page_ids(store: AlertHistory, **query: object) -> list[str]:
    page = await store.search_history(HistoryQuery(**query))  # type: ignore[arg-type]
    return [e.alert.id for e in page.entries]


async def all_pages(store: AlertHistory, query: HistoryQuery) -> list[list[str]]:
    pages: list[list[str]] = []
    cursor: str | None = None
    while True:
        page = await store.search_history(replace(query, cursor=cursor))
        pages.append([e.alert.id for e in page.entries])
        if page.next_cursor is None:
            return pages
        assert len(pages) < 100, "paging does not end"
        cursor = page.next_cursor


# -- record_history --------------------------------------------------------------


async def test_a_new_entry_and_its_updates(store: AlertHistory, clock: FrozenClock) -> None:
    a, now = alert(1), clock.now
    await store.record_history([queued(a, now)], KEEP)
    assert await store.history_entry(a.id) == HistoryEntry(
        a, "pending", now, now, (Attempt(now, "queued"),)
    )
    retried = Attempt(now + 5, "retried", "HTTP 503")
    await store.record_history([(a, "retrying", retried)], KEEP)
    done = Attempt(now + 60, "delivered", "HTTP 200 ÖK")
    await store.record_history([(a, "delivered", done)], KEEP)
    assert await store.history_entry(a.id) == HistoryEntry(
        a, "delivered", now, now + 60, (Attempt(now, "queued"), retried, done)
    )
    assert await store.history_entry("never-recorded") is None


async def test_queued_for_a_known_alert_is_ignored(store: AlertHistory, clock: FrozenClock) -> None:
    a, now = alert(1), clock.now
    await store.record_history([queued(a, now)], KEEP)
    await store.record_history([(a, "delivered", Attempt(now + 1, "delivered", "ok"))], KEEP)
    # The poller enqueued it again (the outbox ignored it) and records "queued" again.
    await store.record_history([queued(a, now + 2)], KEEP)
    entry = await store.history_entry(a.id)
    assert entry is not None
    assert (entry.status, entry.updated_at, len(entry.events)) == ("delivered", now + 1, 2)
    # A requeue of a dead letter is another outcome: it applies.
    await store.record_history([(a, "pending", Attempt(now + 3, "requeued"))], KEEP)
    entry = await store.history_entry(a.id)
    assert entry is not None
    assert (entry.status, [e.outcome for e in entry.events]) == (
        "pending",
        ["queued", "delivered", "requeued"],
    )


async def test_updates_of_one_call_apply_in_order(store: AlertHistory, clock: FrozenClock) -> None:
    a, b, now = alert(1), alert(2), clock.now
    await store.record_history(
        [
            queued(a, now),
            queued(b, now),
            (a, "retrying", Attempt(now + 1, "retried", "timeout")),
            queued(a, now + 2),  # ignored
            (a, "dead", Attempt(now + 3, "dead", "HTTP 400")),
        ],
        KEEP,
    )
    entry = await store.history_entry(a.id)
    assert entry is not None
    assert entry.status == "dead"
    assert [(e.at - now, e.outcome) for e in entry.events] == [
        (0, "queued"),
        (1, "retried"),
        (3, "dead"),
    ]
    assert await page_ids(store) == [b.id, a.id]  # same created_at: ids descending


async def test_events_keep_the_last_fifty(store: AlertHistory, clock: FrozenClock) -> None:
    a, now = alert(1), clock.now
    await store.record_history([queued(a, now)], KEEP)
    for i in range(1, MAX_EVENTS + 10):
        await store.record_history([(a, "retrying", Attempt(now + i, "retried", f"e{i}"))], KEEP)
    entry = await store.history_entry(a.id)
    assert entry is not None
    assert len(entry.events) == MAX_EVENTS
    assert entry.events[0].detail == "e10"
    assert entry.events[-1] == Attempt(now + MAX_EVENTS + 9, "retried", f"e{MAX_EVENTS + 9}")
    assert entry.created_at == now


async def test_the_alert_is_replaced_only_by_a_fresher_one(
    store: AlertHistory, clock: FrozenClock
) -> None:
    now = clock.now
    first = alert(1, story="s1", also_in=1)
    await store.record_history([queued(first, now)], KEEP)
    stale = alert(1, story="s1", also_in=0)
    await store.record_history([(stale, "retrying", Attempt(now + 1, "retried"))], KEEP)
    entry = await store.history_entry(first.id)
    assert entry is not None and entry.alert == first
    fresh = alert(1, story="s1", also_in=3)
    await store.record_history([(fresh, "delivered", Attempt(now + 2, "delivered"))], KEEP)
    entry = await store.history_entry(first.id)
    assert entry is not None and entry.alert == fresh
    assert entry.alert.also_in == fresh.also_in


async def test_history_off_stores_nothing(store: AlertHistory, clock: FrozenClock) -> None:
    await store.record_history([queued(alert(1), clock.now)], 0)
    await store.record_history([queued(alert(2), clock.now)], -1)
    await store.record_history([], KEEP)
    assert await store.history_entry(alert(1).id) is None
    assert (await store.search_history(HistoryQuery())).entries == ()


async def test_an_unknown_status_is_refused(store: AlertHistory, clock: FrozenClock) -> None:
    with pytest.raises(ValueError, match="status"):
        await store.record_history([(alert(1), "sent", Attempt(clock.now, "delivered"))], KEEP)
    assert await store.history_entry(alert(1).id) is None


async def test_entries_not_updated_for_the_retention_are_dropped(
    store: AlertHistory, clock: FrozenClock
) -> None:
    now, keep = clock.now, 100.0
    old, touched, young = alert(1), alert(2), alert(3)
    await store.record_history([queued(old, now), queued(touched, now)], keep)
    await store.record_history([(touched, "retrying", Attempt(now + 60, "retried"))], keep)
    await store.record_history([queued(young, now + 90)], keep)
    assert await page_ids(store) == [young.id, touched.id, old.id]  # nothing old enough yet
    # The newest event is at now + 150: whatever was last updated before now + 50 goes.
    await store.record_history([(young, "delivered", Attempt(now + 150, "delivered"))], keep)
    assert await store.history_entry(old.id) is None
    assert await page_ids(store) == [young.id, touched.id]
    stats = await store.history_stats(0)
    assert sum(stats.by_status.values()) == 2
    # Exactly `retention` old stays; older goes.
    await store.record_history([(young, "delivered", Attempt(now + 160, "delivered"))], keep)
    assert await page_ids(store) == [young.id, touched.id]
    await store.record_history([(young, "delivered", Attempt(now + 161, "delivered"))], keep)
    assert await page_ids(store) == [young.id]
    # An expired id recorded again is a new entry.
    await store.record_history([queued(old, now + 170)], keep)
    entry = await store.history_entry(old.id)
    assert entry is not None and entry.created_at == now + 170 and len(entry.events) == 1


# -- search_history ----------------------------------------------------------------


async def _corpus(store: AlertHistory, now: float) -> None:
    """Six alerts of two rules on two channels, in four statuses, one a minute."""
    items = [
        (alert(1, title="Drones over Kyiv", text="Iran sent them."), "pending", "queued"),
        (alert(2, title="Oil prices fall", text="OPEC meets in Vienna."), "delivered", "delivered"),
        (
            alert(3, rule="markets", channel="email", title="Élections à Paris", text="Résultats."),
            "dead",
            "dead",
        ),
        (
            alert(4, rule="markets", title="Stocks rally", text="Drone makers lead."),
            "delivered",
            "delivered",
        ),
        (
            alert(5, channel="email", title="Quiet day", text="Nothing about drones."),
            "retrying",
            "retried",
        ),
        (
            alert(6, rule="markets", channel="email", title="Bond yields", text="DRONES? No."),
            "silenced",
            "silenced",
        ),
    ]
    for i, (a, status, outcome) in enumerate(items):
        await store.record_history([queued(a, now + 60 * i)], KEEP)
        if outcome != "queued":
            await store.record_history([(a, status, Attempt(now + 60 * i + 1, outcome))], KEEP)


def _ids(*ns_channels: tuple[int, str]) -> list[str]:
    return [f"alert-{n:03d}-{channel}" for n, channel in ns_channels]


async def test_search_filters(store: AlertHistory, clock: FrozenClock) -> None:
    now = clock.now
    await _corpus(store, now)
    e, s = "email", "slack"
    assert await page_ids(store) == _ids((6, e), (5, e), (4, s), (3, e), (2, s), (1, s))
    assert await page_ids(store, rule="markets") == _ids((6, e), (4, s), (3, e))
    assert await page_ids(store, channel="email") == _ids((6, e), (5, e), (3, e))
    assert await page_ids(store, status="delivered") == _ids((4, s), (2, s))
    assert await page_ids(store, status="retrying") == _ids((5, e))
    assert await page_ids(store, since=now + 120) == _ids((6, e), (5, e), (4, s), (3, e))
    assert await page_ids(store, rule="markets", status="delivered") == _ids((4, s))
    assert await page_ids(store, rule="markets", channel="email", since=now + 200) == _ids((6, e))
    assert await page_ids(store, rule="nope") == []
    assert await page_ids(store, status="pending", channel="email") == []


async def test_search_text(store: AlertHistory, clock: FrozenClock) -> None:
    await _corpus(store, clock.now)
    e, s = "email", "slack"
    # Case-insensitive, a word's start, in title, text or the rule's query ("Iran AND drones").
    assert await page_ids(store, text="drone") == _ids((6, e), (5, e), (4, s), (2, s), (1, s))
    assert await page_ids(store, text="DRONES", rule="markets") == _ids((6, e))
    assert await page_ids(store, text="kyiv") == _ids((1, s))
    assert await page_ids(store, text="  Kyiv   IRAN ") == _ids((1, s))  # all words
    assert await page_ids(store, text="kyiv opec") == []
    assert await page_ids(store, text="opec vienna") == _ids((2, s))
    assert await page_ids(store, text="elections paris") == _ids((3, e))  # accents aside
    assert await page_ids(store, text="Résultats") == _ids((3, e))
    assert await page_ids(store, text="ienna") == []  # inside a word: no
    assert await page_ids(store, text="rally, stocks!") == _ids((4, s))  # punctuation aside
    assert await page_ids(store, text="zebra") == []
    assert await page_ids(store, text="quiet", status="retrying", channel="email") == _ids((5, e))
    assert await page_ids(store, text="?!") == await page_ids(store)  # no words: everything


async def test_paging_never_skips_or_repeats(store: AlertHistory, clock: FrozenClock) -> None:
    now = clock.now
    # 23 alerts in batches that share a created_at (one poll queues many alerts at once).
    batch = [[alert(n) for n in range(start, min(start + 4, 23))] for start in range(0, 23, 4)]
    for i, alerts in enumerate(batch):
        await store.record_history([queued(a, now + i) for a in alerts], KEEP)
    everything = await page_ids(store, limit=100)
    assert len(everything) == 23
    expected = sorted(((i, a.id) for i, alerts in enumerate(batch) for a in alerts), reverse=True)
    assert everything == [alert_id for _, alert_id in expected]
    for limit in (1, 3, 4, 5, 23, 24):
        pages = await all_pages(store, HistoryQuery(limit=limit))
        assert [i for p in pages for i in p] == everything, limit
        assert all(len(p) == limit for p in pages[:-1])
        assert 0 < len(pages[-1]) <= limit  # a full last page has no next cursor
    filtered = await all_pages(store, HistoryQuery(text="drones", since=now + 2, limit=2))
    assert [i for p in filtered for i in p] == everything[: 23 - 8]


async def test_a_cursor_survives_changes_elsewhere(store: AlertHistory, clock: FrozenClock) -> None:
    now = clock.now
    for n in range(6):
        await store.record_history([queued(alert(n), now + n)], KEEP)
    first = await store.search_history(HistoryQuery(limit=3))
    assert [e.alert.id for e in first.entries] == [alert(n).id for n in (5, 4, 3)]
    # A newer alert, and the status change of one already shown, move nothing.
    await store.record_history([queued(alert(9), now + 9)], KEEP)
    await store.record_history([(alert(4), "delivered", Attempt(now + 10, "delivered"))], KEEP)
    rest = await store.search_history(HistoryQuery(limit=3, cursor=first.next_cursor))
    assert [e.alert.id for e in rest.entries] == [alert(n).id for n in (2, 1, 0)]
    assert rest.next_cursor is None


async def test_bad_queries(store: AlertHistory, clock: FrozenClock) -> None:
    await store.record_history([queued(alert(1), clock.now)], KEEP)
    with pytest.raises(ValueError, match="cursor"):
        await store.search_history(HistoryQuery(cursor="not-a-cursor"))
    with pytest.raises(ValueError, match="status"):
        await store.search_history(HistoryQuery(status="sent"))
    assert await store.search_history(HistoryQuery(limit=0)) == (
        await store.search_history(HistoryQuery(rule="nope"))
    )


# -- history_stats -------------------------------------------------------------------


async def test_stats(store: AlertHistory, clock: FrozenClock) -> None:
    now = clock.now
    assert await store.history_stats(0) == HistoryStats(dict.fromkeys(ALERT_STATUSES, 0), {})
    a1s = alert(1, story="story-a")
    a1e = alert(1, story="story-a", channel="email")  # the same story on another channel
    a2 = alert(2, story="story-a")  # another article of that story
    a3 = alert(3)  # no story: counted by its article
    m = alert(4, rule="markets")
    await store.record_history([queued(a1s, now), queued(a1e, now)], KEEP)
    await store.record_history([queued(a2, now + 10), queued(a3, now + 20)], KEEP)
    await store.record_history([queued(m, now + 30)], KEEP)
    await store.record_history([(a1s, "delivered", Attempt(now + 40, "delivered"))], KEEP)
    await store.record_history([(m, "dead", Attempt(now + 50, "dead"))], KEEP)
    stats = await store.history_stats(now)
    assert stats.by_status == {
        "pending": 3,
        "retrying": 0,
        "delivered": 1,
        "dead": 1,
        "silenced": 0,
    }
    assert stats.rules == {
        "iran-drones": RuleStats(hits=2, last_alert_at=now + 20),
        "markets": RuleStats(hits=1, last_alert_at=now + 30),
    }
    later = await store.history_stats(now + 15)
    assert later.by_status["pending"] == 1 and later.by_status["dead"] == 1
    assert later.rules == {
        "iran-drones": RuleStats(1, now + 20),
        "markets": RuleStats(1, now + 30),
    }


# -- several handles -----------------------------------------------------------------


@pytest.mark.parametrize("backend", PERSISTENT, indirect=True)
async def test_history_is_shared_and_concurrent_updates_all_count(
    backend: Backend, clock: FrozenClock
) -> None:
    one, two = await backend.open(), await backend.open()
    a, now = alert(1), clock.now
    await one.record_history([queued(a, now)], KEEP)

    async def record(store: AlertHistory, start: int) -> None:
        for i in range(start, start + 10):
            await store.record_history([(a, "retrying", Attempt(now + i, "retried", str(i)))], KEEP)

    await asyncio.gather(record(one, 1), record(two, 100))
    entry = await two.history_entry(a.id)
    assert entry is not None and len(entry.events) == 21
    assert sorted(int(e.detail) for e in entry.events[1:]) == [*range(1, 11), *range(100, 110)]
    assert [e.alert.id for e in (await one.search_history(HistoryQuery(text="kyiv"))).entries] == [
        a.id
    ]


# -- many hours, many pages: every backend against a brute-force answer ---------------

VOCABULARY = [
    "drones", "drone", "Iran", "Irán", "Russia", "oil", "opec", "vienna", "élection",
    "paris", "un", "eu", "uk", "government", "governor", "gov", "storm", "stocks", "a",
]  # fmt: skip


async def test_random_searches_agree_with_a_brute_force_answer(
    store: AlertHistory, clock: FrozenClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    """300 alerts over three days (many hours), updated and expired at random, searched
    with every filter and words, page by page (a small Redis budget makes every search
    resume several times)."""
    import random

    from monitor.store import history_rules, redis_history

    monkeypatch.setattr(redis_history, "SEARCH_BUDGET", 7)
    monkeypatch.setattr(redis_history, "TEXT_BUDGET", 2_000)
    rng = random.Random(11)
    keep = DAY / 2
    now = clock.now
    alive: dict[str, HistoryEntry] = {}  # what the store should hold
    for n in range(300):
        now += rng.uniform(0, 900)
        words = rng.sample(VOCABULARY, 4)
        a = alert(
            n % 260,  # some ids come back after they expired
            rule=rng.choice(["r1", "r2", "r3"]),
            channel=rng.choice(["slack", "email"]),
            title=" ".join(words[:2]),
            text=" ".join(words[2:]) + f" n{n}",
            story=rng.choice(["", "s1", "s2"]),
        )
        updates = [queued(a, now)]
        if rng.random() < 0.7:
            status = rng.choice(["retrying", "delivered", "dead", "silenced"])
            updates.append((a, status, Attempt(now + 1, "delivered")))
        await store.record_history(updates, keep)
        for u_alert, status, event in updates:
            entry = history_rules.apply_update(alive.get(u_alert.id), u_alert, status, event)
            if entry is not None:
                alive[u_alert.id] = entry
        cutoff = max(e.at for _, _, e in updates) - keep
        alive = {i: e for i, e in alive.items() if e.updated_at >= cutoff}
    queries = [
        HistoryQuery(limit=9),
        HistoryQuery(text="drone", limit=7),
        HistoryQuery(text="gov", limit=11),
        HistoryQuery(text="government iran", limit=5),
        HistoryQuery(text="un", limit=6),  # a word too short for the Redis signature
        HistoryQuery(text="election", rule="r2", limit=4),
        HistoryQuery(text="n29", limit=3),
        HistoryQuery(rule="r1", status="delivered", limit=8),
        HistoryQuery(channel="email", since=clock.now + DAY * 1.3, limit=10),
        HistoryQuery(text="oil opec", channel="slack", status="pending", limit=3),
    ]
    assert 50 < len(alive) < 200, "some expired"
    assert any(int(i[6:9]) < 40 for i in alive), "some came back after they expired"
    found = 0
    for query in queries:
        words = history_rules.query_words(query.text)
        expected = sorted(
            (e for e in alive.values() if history_rules.matches(e, query, words)),
            key=lambda e: (e.created_at, e.alert.id),
            reverse=True,
        )
        pages = await all_pages(store, query)
        assert [i for p in pages for i in p] == [e.alert.id for e in expected], query
        found += bool(expected)
    assert found >= 8
    for alert_id, entry in list(alive.items())[:20]:
        assert await store.history_entry(alert_id) == entry
    stats = await store.history_stats(clock.now + DAY)
    since = [e for e in alive.values() if e.created_at >= clock.now + DAY]
    assert stats.by_status == {s: sum(e.status == s for e in since) for s in ALERT_STATUSES}
    assert stats == history_rules.stats_of(
        (e.status, e.alert.rule_id, history_rules.story_key(e.alert), e.created_at) for e in since
    )
