"""One alert per story: copies from several outlets, and identity churn, alert once per rule.

The poller runs on a MemoryStore and an ``httpx.MockTransport`` serving two
feeds; the story detector is the real one. A copy of a story already alerted
on (another outlet, a new guid for the same URL, an edited title under the same
guid) must not alert again, and the alert must list the other outlets, as the
worker refreshes them just before a send.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest

from monitor.config.models import FeedConfig
from monitor.delivery.base import Channel
from monitor.delivery.worker import OutboxWorker
from monitor.matching import RuleSpec, compile_rules
from monitor.model import Alert, Coverage, DeliveryResult, DeliveryStatus
from monitor.polling.poller import Poller
from monitor.store.memory import MemoryStore
from monitor.stories import StoryDetector, refresh_coverage
from tests.conftest import FrozenClock
from tests.servers import Item, rss
from tests.stories.quakes import AP, AP_REPRINT, OTHER_REUTERS, REUTERS, Report

WIRE = FeedConfig(id="wire", url="http://feeds.test/wire.xml")
MIRROR = FeedConfig(id="mirror", url="http://feeds.test/mirror.xml")
LOCAL = FeedConfig(id="local", url="http://feeds.test/local.xml")
RULE = "Iran AND Russia AND drones"


@pytest.fixture
def story_text(shared_data: Path) -> str:
    text = (shared_data / "articles" / "seed-iran-russia.txt").read_text(encoding="utf-8")
    return " ".join(text.split()[:300])


def make_poller(
    bodies: dict[str, str], clock: FrozenClock, *, stories: bool = True, rule: str = RULE
) -> Poller:
    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, text=bodies[request.url.path])

    store = MemoryStore()
    return Poller(
        store=store,
        http=httpx.AsyncClient(transport=httpx.MockTransport(handler)),
        ruleset=compile_rules([RuleSpec("drones", rule)]),
        routes={"drones": (rule, ("ops", "log"))},
        max_age=timedelta(hours=24),
        seen_retention=timedelta(days=30),
        fetch_timeout=5,
        max_feed_bytes=1_000_000,
        clock=clock,
        stories=StoryDetector(store) if stories else None,
    )


def published(clock: FrozenClock) -> datetime:
    return datetime.fromtimestamp(clock.now, UTC) - timedelta(minutes=30)


def edited(text: str) -> str:
    """A light reprint: another dateline, a sentence dropped, a word changed."""
    sentences = text.split(". ")
    del sentences[2]
    return "MOSCOW (Reuters) - " + ". ".join(sentences).replace("agreement", "deal", 1)


async def test_a_reprint_by_another_outlet_does_not_alert_again(
    clock: FrozenClock, story_text: str
) -> None:
    title = "Iran and Russia to build drones together"
    bodies = {
        "/wire.xml": rss([Item(title, "https://wire.test/a/1", story_text, published(clock))]),
        "/mirror.xml": rss(
            [Item(title.upper(), "https://mirror.test/x", edited(story_text), published(clock))]
        ),
    }
    poller = make_poller(bodies, clock)
    first = await poller.poll(WIRE)
    assert (first.new, first.alerts) == (1, 2)
    clock.advance(600)
    second = await poller.poll(MIRROR)
    assert (second.new, second.alerts) == (1, 0), "the same story: the outbox keeps the first"

    pending = await poller.store.pending()
    assert {e.alert.channel for e in pending} == {"ops", "log"}
    alert = pending[0].alert
    assert alert.article.feed_id == "wire" and alert.story_id == alert.article.id
    assert alert.also_in == ()  # nobody else had it when it matched
    refreshed = await refresh_coverage(poller.store, alert, clock.now)
    assert refreshed.also_in == (Coverage("mirror", "https://mirror.test/x", title.upper()),)


async def test_without_story_dedup_every_outlet_alerts(clock: FrozenClock, story_text: str) -> None:
    bodies = {
        "/wire.xml": rss(
            [Item("Iran drones", "https://wire.test/a/1", story_text, published(clock))]
        ),
        "/mirror.xml": rss(
            [Item("Iran drones", "https://mirror.test/x", edited(story_text), published(clock))]
        ),
    }
    poller = make_poller(bodies, clock, stories=False)
    assert (await poller.poll(WIRE)).alerts == 2
    assert (await poller.poll(MIRROR)).alerts == 2


async def test_a_different_story_on_the_same_topic_alerts(
    clock: FrozenClock, story_text: str
) -> None:
    other = (
        "Russia launched a new wave of Iranian-designed drones at Ukrainian cities "
        "overnight, officials in Kyiv said, adding that air defences shot down most of them. "
        "The attack hit power stations in three regions and left thousands without heating, "
        "while Moscow said it had struck military targets. Iran denies supplying the drones."
    )
    bodies = {
        "/wire.xml": rss(
            [
                Item(
                    "Iran and Russia drones deal",
                    "https://wire.test/1",
                    story_text,
                    published(clock),
                )
            ]
        ),
        "/mirror.xml": rss(
            [Item("Drone attack hits Ukraine", "https://mirror.test/2", other, published(clock))]
        ),
    }
    poller = make_poller(bodies, clock)
    assert (await poller.poll(WIRE)).alerts == 2
    assert (await poller.poll(MIRROR)).alerts == 2


#: (title, link, guid) of an item, then of the same item as the feed republished it.
Version = tuple[str, str, str]


@pytest.mark.parametrize(
    ("first", "second"),
    [
        pytest.param(
            ("Iran, Russia and drones", "https://n.test/7", "g-1"),
            ("Iran, Russia and drones", "https://n.test/7", "g-2"),
            id="same URL, new guid",
        ),
        pytest.param(
            ("Iran, Russia and drones", "https://n.test/7", "g-1"),
            ("Iran, Russia & drones (updated)", "https://n.test/7b", "g-1"),
            id="same guid, edited title",
        ),
        pytest.param(
            ("Iran, Russia and drones", "https://n.test/7?utm_source=rss&fbclid=x", "g-1"),
            ("Iran, Russia and drones", "https://N.TEST:443/7#top", "g-9"),
            id="URL with tracking, case, port and fragment",
        ),
    ],
)
async def test_identity_churn_does_not_alert_again(
    clock: FrozenClock, first: Version, second: Version
) -> None:
    def item(version: Version) -> Item:
        title, link, guid = version
        return Item(title, link, "Iran Russia drones", published(clock), guid)

    bodies = {"/wire.xml": rss([item(first)])}
    poller = make_poller(bodies, clock)
    assert (await poller.poll(WIRE)).alerts == 2
    bodies["/wire.xml"] = rss([item(second)])
    report = await poller.poll(WIRE)
    assert (report.new, report.alerts) == (0, 0)


class Recorder(Channel):
    """Keeps every alert it is asked to send."""

    def __init__(self, name: str) -> None:
        super().__init__(name)
        self.sent: list[Alert] = []

    async def send(self, alert: Alert) -> DeliveryResult:
        self.sent.append(alert)
        return DeliveryResult(alert.id, self.name, DeliveryStatus.DELIVERED, "ok")


async def test_the_worker_sends_the_outlets_known_at_send_time(
    clock: FrozenClock, story_text: str
) -> None:
    title = "Iran and Russia to build drones together"
    bodies = {
        "/wire.xml": rss([Item(title, "https://wire.test/a/1", story_text, published(clock))]),
        "/mirror.xml": rss(
            [Item(title, "https://mirror.test/x", edited(story_text), published(clock))]
        ),
    }
    poller = make_poller(bodies, clock)
    await poller.poll(WIRE)  # the alert is queued, listing nobody else
    await poller.poll(MIRROR)  # a copy arrives while it waits
    channels = {name: Recorder(name) for name in ("ops", "log")}
    worker = OutboxWorker(
        store=poller.store, channels=channels, attempt_timeout=5, max_attempts=3,
        retention=3600, clock=clock,
    )  # fmt: skip
    assert (await worker.deliver_due()).delivered == 2
    [sent] = channels["ops"].sent
    assert [c.feed_id for c in sent.also_in] == ["mirror"]


async def test_a_reprint_of_a_later_copy_does_not_alert_again(clock: FrozenClock) -> None:
    """Issue 16: Reuters, then the AP's rewrite (0.52 similar: it joins), then a local
    paper's reprint of the AP text (0.9 to the AP's, 0.48 to Reuters'): one story, one
    alert per channel; a second quake the next day alerts again."""

    def feed(report: Report, link: str) -> str:
        return rss([Item(report[0], link, report[1], published(clock))])

    bodies = {
        "/wire.xml": feed(REUTERS, "https://wire.test/chile-quake"),
        "/mirror.xml": feed(AP, "https://ap.test/chile-quake"),
        "/local.xml": feed(AP_REPRINT, "https://local.test/quake"),
    }
    poller = make_poller(bodies, clock, rule="earthquake AND Chile")
    assert (await poller.poll(WIRE)).alerts == 2
    for outlet in (MIRROR, LOCAL):
        clock.advance(600)
        report = await poller.poll(outlet)
        assert (report.new, report.alerts) == (1, 0), outlet.id

    pending = await poller.store.pending()
    assert {(e.alert.channel, e.alert.article.feed_id) for e in pending} == {
        ("ops", "wire"),
        ("log", "wire"),
    }
    refreshed = await refresh_coverage(poller.store, pending[0].alert, clock.now)
    assert [c.feed_id for c in refreshed.also_in] == ["mirror", "local"]

    clock.advance(20 * 3600)  # another quake in Chile, within the first story's window
    bodies["/wire.xml"] = feed(OTHER_REUTERS, "https://wire.test/chile-quake-2")
    assert (await poller.poll(WIRE)).alerts == 2
