"""A feed's configured ``language`` outranks what its articles declare and detection: the
articles carry it, ``lang:`` rules see it, and the alert says it."""

from __future__ import annotations

from datetime import timedelta

import httpx

from monitor.config.models import FeedConfig
from monitor.matching import RuleSpec, compile_rules
from monitor.polling.poller import Poller
from monitor.store.memory import MemoryStore
from tests.conftest import FrozenClock
from tests.polling.test_poller import serve, when
from tests.servers import Item, rss

RULES = [RuleSpec("spanish-drones", "lang:es AND drones"), RuleSpec("drones", "drones")]


def poller_for(body: str, clock: FrozenClock, store: MemoryStore) -> Poller:
    return Poller(
        store=store,
        http=httpx.AsyncClient(transport=httpx.MockTransport(serve(body))),
        ruleset=compile_rules(RULES),
        routes={r.id: (r.query, ("ops",)) for r in RULES},
        max_age=timedelta(hours=24),
        seen_retention=timedelta(days=30),
        fetch_timeout=5,
        max_feed_bytes=1_000_000,
        clock=clock,
        default_interval=timedelta(minutes=5),
    )


async def test_the_configured_language_is_the_articles_language(clock: FrozenClock) -> None:
    # English words: detection reads them as English, so only the config makes them "es".
    item = Item(
        "Iran flies drones over the Gulf",
        "https://news.example.org/1",
        "The drones were seen at dawn by fishermen off the coast.",
        when(clock, hours=1),
    )
    body = rss([item])
    detected, configured = MemoryStore(), MemoryStore()
    plain = FeedConfig(id="wire", url="http://feeds.test/wire.xml")
    spanish = FeedConfig(id="wire", url="http://feeds.test/wire.xml", language="es")

    report = await poller_for(body, clock, detected).poll(plain)
    assert (report.new, report.alerts) == (1, 1)
    [entry] = await detected.pending()
    assert (entry.alert.rule_id, entry.alert.article.language) == ("drones", "en")

    report = await poller_for(body, clock, configured).poll(spanish)
    assert (report.new, report.alerts) == (1, 2)
    entries = await configured.pending()
    assert sorted(e.alert.rule_id for e in entries) == ["drones", "spanish-drones"]
    assert {e.alert.article.language for e in entries} == {"es"}
