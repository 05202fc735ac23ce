"""Re-baselining after the store lost its data: a feed's first poll records the items
published before the cutoff (and undated ones) without alerting, newer items alert; the
poller asks for the cutoff only when the feed has no state; the store-reset alert has one
id per (loss, channel)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from monitor.model import Article
from monitor.polling.alerts import published_before
from monitor.polling.store_reset import StoreReset, store_reset_alert_id, store_reset_alerts
from tests.conftest import FrozenClock
from tests.factories import make_article
from tests.polling.test_poller import FEED, make_poller, serve
from tests.servers import Item, rss


def dated(at: float | None) -> Article:
    return make_article(published=None if at is None else datetime.fromtimestamp(at, UTC))


def test_published_before_a_cutoff() -> None:
    assert not published_before(dated(100.0), None)
    assert not published_before(dated(None), None)
    assert published_before(dated(99.0), 100.0)
    assert not published_before(dated(100.0), 100.0)
    assert published_before(dated(None), 100.0)  # cannot tell: taken as read before


def items(clock: FrozenClock) -> str:
    def item(n: int, minutes_ago: float | None) -> Item:
        published = datetime.fromtimestamp(clock.now, UTC) - timedelta(minutes=minutes_ago or 0)
        return Item(
            f"Iran drones {n}", f"https://x.example/{n}", "Iran drones.", published, f"g{n}"
        )

    body = rss([item(1, 30), item(2, 5), item(3, 1)])
    # Item 3 without a date: RSS lets a pubDate out.
    return body.replace(body[body.rindex("<pubDate>") : body.rindex("</pubDate>") + 10], "")


async def test_a_first_poll_after_a_reset_alerts_only_what_came_after_the_cutoff(
    clock: FrozenClock,
) -> None:
    poller = make_poller(serve(items(clock)), clock)
    asked: list[float] = []

    async def baseline() -> float | None:
        asked.append(clock.now)
        return clock.now - 10 * 60  # the store was lost ten minutes ago

    poller.baseline = baseline
    report = await poller.poll(FEED)
    assert asked == [clock.now]
    # Item 1 (30 minutes old) and item 3 (undated) are recorded; item 2 (5 minutes) alerts.
    assert (report.new, report.too_old, report.alerts) == (3, 2, 2)  # 2 channels
    assert {e.alert.article.guid for e in await poller.store.pending()} == {"g2"}


async def test_the_cutoff_is_asked_only_when_the_feed_has_no_state(clock: FrozenClock) -> None:
    body = {"text": rss([])}
    poller = make_poller(
        lambda request: serve(body["text"], etag=str(len(body["text"])))(request), clock
    )
    asked: list[float] = []

    async def baseline() -> float | None:
        asked.append(clock.now)
        return None

    poller.baseline = baseline
    await poller.poll(FEED)
    body["text"] = items(clock)
    clock.advance(600)
    report = await poller.poll(FEED)
    assert len(asked) == 1  # the second poll has state: a new feed's items alert as ever
    assert report.alerts == 6  # every item, dated or not, within MONITOR_MAX_AGE


def test_the_store_reset_alert_is_one_per_loss_and_channel() -> None:
    reset = StoreReset("old", "new", cutoff=1_800_000_000.0, detected_at=1_800_000_001.0)
    alerts = store_reset_alerts(reset, ["ops", "log"], 1_800_000_002.0)
    assert [a.id for a in alerts] == [store_reset_alert_id("new", c) for c in ("ops", "log")]
    # Another replica noticing the same loss later makes the same ids.
    again = store_reset_alerts(
        StoreReset("older", "new", 1_799_999_000.0, 1_800_000_500.0), ["ops"], 1_800_000_600.0
    )
    assert again[0].id == alerts[0].id
    assert store_reset_alert_id("newer", "ops") != alerts[0].id
    assert alerts[0].rule_id == "feed-health"  # silenced with the feed-health alerts
    assert "2027-01-15 08:00 UTC" in alerts[0].article.text
    assert store_reset_alerts(reset, [], 0.0) == []
