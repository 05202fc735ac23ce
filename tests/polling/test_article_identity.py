"""When two entries are one article: never lose an entry just because its link is shared.

Built from the shapes of real feeds: a linkblog publishing many title-less posts on one
day page, each anchored (``.../2017/06/26.html#a080605``) with its own permalink guid;
an Atom linkblog whose linked post and sponsor post point at the same address; a press
office whose every item links to its home page. Each entry alerts once, and a re-poll
alerts nothing; a guid that changed under the same link and title is still one article.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from xml.sax.saxutils import escape

import httpx

from monitor.config.models import FeedConfig
from monitor.matching import RuleSpec, compile_rules
from monitor.model import Article
from monitor.polling.poller import Poller
from monitor.store.memory import MemoryStore
from monitor.stories import StoryDetector
from tests.conftest import FrozenClock
from tests.servers import report_text

FEED = FeedConfig(id="blog", url="http://feeds.test/feed.xml")
RULE = "drones"


def make_poller(body: Callable[[], str], clock: FrozenClock) -> Poller:
    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, text=body(), headers={"content-type": "application/xml"})

    store = MemoryStore()
    return Poller(
        store=store,
        http=httpx.AsyncClient(transport=httpx.MockTransport(handler)),
        ruleset=compile_rules([RuleSpec("drones", RULE)]),
        routes={"drones": (RULE, ("ops",))},
        max_age=timedelta(hours=24),
        seen_retention=timedelta(days=30),
        fetch_timeout=5,
        max_feed_bytes=1_000_000,
        clock=clock,
        stories=StoryDetector(store),
    )


def rfc822(clock: FrozenClock, minutes_ago: float) -> str:
    return format_datetime(datetime.fromtimestamp(clock.now, UTC) - timedelta(minutes=minutes_ago))


def day_page_feed(clock: FrozenClock, posts: int) -> str:
    """RSS as a linkblog writes it: title-less posts, each anchored in the day's page."""
    items = []
    for n in range(posts):
        anchor = f"a{8 + n // 6:02d}{(n * 7) % 60:02d}{n % 60:02d}"
        link = f"http://scripting.test/2017/06/26.html#{anchor}"
        items.append(
            "<item>"
            f"<description>{escape('<p>' + report_text(n) + ' drones</p>')}</description>"
            f"<pubDate>{rfc822(clock, 5 * n)}</pubDate>"
            f"<link>{link}</link><guid>{link}</guid>"
            "</item>"
        )
    return (
        '<?xml version="1.0"?><rss version="2.0"><channel><title>Scripting News</title>'
        "<link>http://scripting.test/</link><description>Since 1994.</description>"
        + "".join(items)
        + "</channel></rss>"
    )


def linkblog_atom(clock: FrozenClock) -> str:
    """Atom as a linkblog writes it: a linked post and a sponsor post, one alternate link."""
    when = datetime.fromtimestamp(clock.now, UTC) - timedelta(minutes=20)
    stamp = when.strftime("%Y-%m-%dT%H:%M:%SZ")
    sponsor = "https://product.test/drones?utm_source=df"

    def entry(title: str, entry_id: str, related: str, html: str) -> str:
        return (
            f"<entry><title>{escape(title)}</title>"
            f'<link rel="alternate" type="text/html" href="{escape(sponsor)}"/>'
            f'<link rel="related" type="text/html" href="{related}"/>'
            f"<id>{entry_id}</id><published>{stamp}</published><updated>{stamp}</updated>"
            "<author><name>John</name></author>"
            f'<content type="html">{escape(html)}</content></entry>'
        )

    return (
        '<?xml version="1.0" encoding="utf-8"?>'
        '<feed xmlns="http://www.w3.org/2005/Atom"><title>Fireball</title>'
        '<link rel="alternate" type="text/html" href="https://fireball.test/"/>'
        f"<id>https://fireball.test/feeds/main</id><updated>{stamp}</updated>"
        + entry(
            "Camera drones that fold into a pocket",
            "tag:fireball.test,2017:/linked//6.33362",
            "https://fireball.test/linked/2017/06/26/drones",
            "<p>A review of the new folding camera drones, and why the battery matters.</p>",
        )
        + entry(
            "[Sponsor] Product: drones for teams",
            "tag:fireball.test,2017:/feeds/sponsors//11.33370",
            "https://fireball.test/feeds/sponsors/2017/06/product",
            "<p>My thanks to Product for sponsoring this week: fleet software for drones.</p>",
        )
        + "</feed>"
    )


def press_office_feed(clock: FrozenClock, releases: list[tuple[int, str]]) -> str:
    """RSS whose every item links to the site's home page, told apart by guid and title."""
    items = "".join(
        f"<item><title>{escape(title)}</title><link>https://agency.test/</link>"
        f"<description>{escape(title + '. ' + report_text(sum(map(ord, title))))}</description>"
        f'<pubDate>{rfc822(clock, 10 * i)}</pubDate><guid isPermaLink="false">'
        f"{guid}</guid></item>"
        for i, (guid, title) in enumerate(releases)
    )
    return (
        '<?xml version="1.0"?><rss version="2.0"><channel><title>Agency news</title>'
        f"<link>https://agency.test/</link><description>Press releases</description>{items}"
        "</channel></rss>"
    )


async def test_every_anchored_post_of_a_day_page_alerts_once(clock: FrozenClock) -> None:
    body = day_page_feed(clock, 50)
    poller = make_poller(lambda: body, clock)
    first = await poller.poll(FEED)
    assert (first.entries, first.new, first.alerts) == (50, 50, 50)
    clock.advance(300)
    body = day_page_feed(clock, 50).replace("</channel>", " </channel>")  # re-served
    again = await poller.poll(FEED)
    assert (again.status, again.new, again.alerts) == ("ok", 0, 0)


async def test_a_linked_post_and_a_sponsor_post_sharing_a_link_are_two(
    clock: FrozenClock,
) -> None:
    poller = make_poller(lambda: linkblog_atom(clock), clock)
    report = await poller.poll(FEED)
    assert (report.entries, report.new, report.alerts) == (2, 2, 2)
    titles = {e.alert.article.title for e in await poller.store.pending()}
    assert titles == {
        "Camera drones that fold into a pocket",
        "[Sponsor] Product: drones for teams",
    }


async def test_entries_linking_to_the_home_page_are_told_apart(clock: FrozenClock) -> None:
    releases = [(101, "Agency buys inspection drones"), (102, "Drones to survey flood damage")]
    body = press_office_feed(clock, releases)
    poller = make_poller(lambda: body, clock)
    assert (await poller.poll(FEED)).alerts == 2
    clock.advance(300)
    body = press_office_feed(clock, [(103, "New drones rules for farmers"), *releases])
    later = await poller.poll(FEED)
    assert (later.new, later.alerts) == (1, 1), "only the new release"


async def test_a_new_guid_under_the_same_link_and_title_is_the_same_article(
    clock: FrozenClock,
) -> None:
    title = "Agency buys inspection drones"
    body = press_office_feed(clock, [(101, title)])
    poller = make_poller(lambda: body, clock)
    assert (await poller.poll(FEED)).alerts == 1
    body = press_office_feed(clock, [(901, title)])  # the CMS renumbered its items
    again = await poller.poll(FEED)
    assert (again.new, again.alerts) == (0, 0)


def test_the_identity_rule_in_keys() -> None:
    """Shared link: one article if the title or the start of the text is the same."""

    def art(guid: str, title: str, text: str, url: str = "https://x.test/a") -> Article:
        return Article(id=guid, feed_id="f", url=url, title=title, text=text, guid=guid)

    def same(a: Article, b: Article) -> bool:
        return bool(set(a.dedup_keys()) & set(b.dedup_keys()))

    base = art("g1", "Drones over the Baltic", "Officials said on Monday that drones ...")
    assert same(base, art("g2", "Drones over the Baltic", "Another text entirely"))
    assert same(base, art("g2", "DRONES  over the baltic", "x")), "case and spacing"
    assert same(base, art("g2", "Drones over the Baltic (updated)", base.text))
    assert not same(base, art("g2", "[Sponsor] Drone software", "Thanks to our sponsor"))
    assert not same(base, art("g2", base.title, base.text, url="https://x.test/b"))
    untitled = art("g3", "", "Officials said on Monday that drones ...")
    assert not same(untitled, art("g4", "", "A different post on the same page"))
    no_guid = Article(id="u", feed_id="f", url="https://x.test/a", title="T", text="x")
    assert same(no_guid, Article(id="v", feed_id="g", url="https://x.test/a", title="U", text="y"))
