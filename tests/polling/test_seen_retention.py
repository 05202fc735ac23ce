"""How long an article stays seen: a dated one while it can still alert (its date plus
MONITOR_MAX_AGE) and a margin, an undated one for MONITOR_SEEN_RETENTION; and forgetting
a dated article that old never makes it alert again."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

from monitor.model import ClaimResult
from monitor.polling.articles import SEEN_MARGIN, seen_for
from tests.conftest import FrozenClock
from tests.factories import make_article
from tests.polling.test_poller import make_poller, serve

HOUR, DAY = 3600.0, 86_400.0
MAX_AGE, RETENTION = timedelta(hours=24), timedelta(days=30)


def at(now: float, hours_ago: float) -> datetime:
    return datetime.fromtimestamp(now - hours_ago * HOUR, UTC)


def test_an_undated_article_is_kept_the_whole_retention() -> None:
    article = make_article(published=None)
    assert seen_for(article, 1e9, MAX_AGE, RETENTION) == 30 * DAY


def test_a_dated_article_is_kept_while_it_can_alert_and_a_margin() -> None:
    now = 1.8e9
    fresh = make_article(published=at(now, 2))  # can alert for 22 more hours
    assert seen_for(fresh, now, MAX_AGE, RETENTION) == 22 * HOUR + SEEN_MARGIN
    stale = make_article(published=at(now, 24 * 40))  # too old long ago: the margin only
    assert seen_for(stale, now, MAX_AGE, RETENTION) == SEEN_MARGIN
    future = make_article(published=at(now, -24 * 60))  # dated 60 days ahead: capped
    assert seen_for(future, now, MAX_AGE, RETENTION) == 30 * DAY


async def test_a_forgotten_dated_article_does_not_alert_again(clock: FrozenClock) -> None:
    poller = make_poller(serve(""), clock)
    article = replace(make_article(), title="Iran drones", published=at(clock.now, 1))
    first = await poller.process_articles([article])
    assert (first.new, first.alerts) == (1, 2)
    # Past its date + MAX_AGE + the margin, its seen mark is gone ...
    clock.advance(23 * HOUR + SEEN_MARGIN)
    [result] = await poller.store.claim_articles([article.dedup_keys()], clock.now, 60)
    assert result is ClaimResult.CLAIMED
    await poller.store.release_article(article.dedup_keys())
    # ... and if it comes back, it is too old to alert: seen again, nothing queued.
    again = await poller.process_articles([article])
    assert (again.new, again.too_old, again.alerts) == (1, 1, 0)
    assert len(await poller.store.pending()) == 2  # the first alerts only


async def test_the_poller_keeps_dated_articles_for_less_than_the_retention(
    clock: FrozenClock,
) -> None:
    poller = make_poller(serve(""), clock)
    dated = replace(make_article(), id="a", guid="", published=at(clock.now, 1))
    undated = replace(make_article(), id="b", guid="", url="https://x.example/b", published=None)
    await poller.process_articles([dated, undated])
    clock.advance(23 * HOUR + SEEN_MARGIN)  # the dated one is forgotten, the other is not
    assert not await poller.store.is_seen("id:a", clock.now)
    assert await poller.store.is_seen("id:b", clock.now)
