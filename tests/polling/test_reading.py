"""Reading only what changed: the entries a poll parses give exactly the articles a parse of
the whole body gives them, on the whole corpus; a poll parses and claims only new entries.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest

from monitor.config.models import FeedConfig
from monitor.ingest.items import split_entries, without_entries
from monitor.ingest.parse import parse_feed
from monitor.matching import RuleSpec, compile_rules
from monitor.polling.feed_state import id_hash
from monitor.polling.poller import Poller
from monitor.polling.reading import known_entries, read_body
from monitor.store.memory import MemoryStore
from tests.conftest import FrozenClock
from tests.polling.test_poller import CountingStore
from tests.servers import Item, report_text, rss

FETCHED_AT = 1_700_000_000.0
FEED = FeedConfig(id="wire", url="http://feeds.test/wire.xml")


def corpus_files(shared_data: Path) -> list[Path]:
    return sorted(
        p
        for p in (shared_data / "feeds").rglob("*")
        if p.is_file() and p.suffix in {".xml", ".rss", ".atom", ".rdf"}
    )


def test_reading_part_of_a_body_gives_the_articles_of_the_whole(shared_data: Path) -> None:
    """For every corpus feed that splits: with every other entry (or the first half) known,
    the articles read are those of the unknown entries in a parse of the whole body."""
    checked = split = 0
    for path in corpus_files(shared_data):
        body = path.read_bytes()
        whole = parse_feed("f", body, {}, fetched_at=FETCHED_AT)
        if whole.error or not whole.articles:
            continue
        spans = split_entries(body)
        if spans is None:
            continue
        split += 1
        if len(spans) != len(whole.articles) or whole.skipped:
            continue  # not aligned: such a body is always read whole (below)
        ids = [id_hash(a.id) for a in whole.articles]
        entry_map = {s.digest: i for s, i in zip(spans, ids, strict=True)}
        for known_at in (range(0, len(spans), 2), range(len(spans) // 2)):
            known = {spans[i].digest: ids[i] for i in known_at}
            reading = read_body("f", body, {}, fetched_at=FETCHED_AT, known=known)
            expected = [
                a for s, a in zip(spans, whole.articles, strict=True) if s.digest not in known
            ]
            assert list(reading.parsed.articles) == expected, path
            assert reading.id_hashes == tuple(ids), path
            assert known_entries(reading.entry_map) == entry_map, path
            checked += 1
    assert split > 1500 and checked > 3000, (split, checked)


def test_a_body_that_cannot_be_split_is_read_whole() -> None:
    netscape = (
        '<!DOCTYPE rss PUBLIC "-//Netscape Communications//DTD RSS 0.91//EN" '
        '"http://my.netscape.com/publish/formats/rss-0.91.dtd">\n<rss version="0.91">'
    )
    items = [Item("Drones", "https://n.test/1", "drones", datetime(2026, 1, 1, tzinfo=UTC))]
    body = rss(items).replace('<rss version="2.0">', netscape).encode()
    assert split_entries(body) is None
    reading = read_body("f", body, {}, fetched_at=FETCHED_AT, known={"x": "y"})
    assert [a.title for a in reading.parsed.articles] == ["Drones"]
    assert reading.entry_map == ()


def test_cutting_entries_keeps_everything_around_them() -> None:
    body = (
        b'<?xml version="1.0"?><rss><channel><title>T</title><item><title>a</title></item>'
        b"\n<item/><item><title>c</title></item><ttl>5</ttl></channel></rss>"
    )
    spans = split_entries(body)
    assert spans is not None and [body[s.start : s.end] for s in spans] == [
        b"<item><title>a</title></item>",
        b"<item/>",
        b"<item><title>c</title></item>",
    ]
    assert without_entries(body, spans[:2]) == (
        b'<?xml version="1.0"?><rss><channel><title>T</title>'
        b"\n<item><title>c</title></item><ttl>5</ttl></channel></rss>"
    )
    assert split_entries(b"<rss><item></rss>") is None, "not well-formed"
    assert split_entries(b'<!DOCTYPE rss [<!ENTITY x "y">]><rss/>') is None


def make_poller(body: Callable[[], str], clock: FrozenClock, store: MemoryStore) -> Poller:
    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, text=body(), headers={"content-type": "application/rss+xml"})

    return Poller(
        store=store,
        http=httpx.AsyncClient(transport=httpx.MockTransport(handler)),
        ruleset=compile_rules([RuleSpec("drones", "drones")]),
        routes={"drones": ("drones", ("ops",))},
        max_age=timedelta(hours=24),
        seen_retention=timedelta(days=30),
        fetch_timeout=5,
        max_feed_bytes=1_000_000,
        clock=clock,
    )


def items(clock: FrozenClock, numbers: range) -> list[Item]:
    """Items published an hour before the clock's start (the same bytes on every poll)."""
    when = datetime.fromtimestamp(FrozenClock().now, UTC) - timedelta(hours=1)
    return [
        Item(f"Report {n} on drones", f"https://n.test/{n}", report_text(n), when, f"g{n}")
        for n in numbers
    ]


async def test_a_poll_parses_and_claims_only_the_new_entries(clock: FrozenClock) -> None:
    current = {"body": rss(items(clock, range(50)))}
    store = CountingStore()
    poller = make_poller(lambda: current["body"], clock, store)
    first = await poller.poll(FEED)
    assert (first.entries, first.new, first.alerts, store.claimed) == (50, 50, 50, [50])
    clock.advance(300)
    current["body"] = rss(items(clock, range(50, 52)) + items(clock, range(50)))
    second = await poller.poll(FEED)
    assert (second.entries, second.new, second.alerts) == (52, 2, 2)
    assert store.claimed == [50, 2], "the 50 known entries were neither parsed nor claimed"
    state = await store.get_feed_state("wire")
    assert state is not None and state.items_seen == 52 and len(state.entry_map) == 52


@pytest.mark.parametrize("edit", ["retitled", "dropped"])
async def test_an_edited_or_dropped_entry_is_handled(clock: FrozenClock, edit: str) -> None:
    current = {"body": rss(items(clock, range(5)))}
    store = CountingStore()
    poller = make_poller(lambda: current["body"], clock, store)
    await poller.poll(FEED)
    changed = items(clock, range(5))
    if edit == "retitled":
        changed[2] = dataclasses.replace(changed[2], title="Report 2 on drones, updated")
    else:
        del changed[2]
    current["body"] = rss(changed)
    clock.advance(300)
    report = await poller.poll(FEED)
    assert (report.entries, report.new, report.alerts) == (len(changed), 0, 0)
    # The edited entry is read again (and is the article seen under its guid); a dropped
    # one leaves nothing to read.
    assert store.claimed == ([5, 1] if edit == "retitled" else [5])
