"""A console over a MemoryStore holding a few realistic feeds, archived articles, alerts
in every status, a dead letter and a silence (and, for the WebSub views, subscription
records in every state); and an httpx client on its ASGI app."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx

from monitor.config.load import LoadedConfig, load_config
from monitor.delivery.base import Channel
from monitor.delivery.channels import build_channel
from monitor.model import Alert, ArchivedArticle, Article, Attempt, Coverage, FeedState, Silence
from monitor.store.memory import MemoryStore
from monitor.store.websub import UNSUBSCRIBE, Subscription, SubscriptionStore
from monitor.web import ConsoleContext, Metrics, Probes
from monitor.web.asgi import build_app
from tests.factories import find_hits, make_settings

NOW = 1_800_000_000.0
HOUR = 3600.0
DAY = 86_400.0
RETENTION = 30 * DAY
HOSTILE = "<script>alert(1)</script> Iran drones"

WATCH = """\
feeds:
  - {id: aljazeera, url: "https://www.aljazeera.com/xml/rss/all.xml", name: Al Jazeera}
  - {id: bbc-world, url: "https://feeds.bbci.co.uk/news/world/rss.xml", name: BBC World}
  - {id: reuters, url: "https://example.org/reuters/world.rss", name: Reuters}
  - {id: quiet, url: "https://example.org/quiet.rss"}
channels:
  ops: {type: console}
  siem: {type: webhook, url: "https://hooks.example.org/siem"}
rules:
  - {id: iran-drones, query: "Iran AND drone*"}
  - {id: ukraine-grid, query: "Ukraine AND (grid OR power)"}
  - {id: quakes, query: "earthquake NEAR/5 magnitude"}
"""

#: WATCH with three more feeds (two read in full, one in Spanish), for the WebSub views.
PUSH_WATCH = WATCH.replace(
    "channels:\n",
    '  - {id: wire, url: "https://wire.example.org/rss", name: Wire, fulltext: auto,'
    " fulltext_min_chars: 800}\n"
    '  - {id: desk, url: "https://desk.example.org/atom", fulltext: true, language: es}\n'
    '  - {id: blog, url: "https://blog.example.org/feed"}\n'
    "channels:\n",
)
HUB = "https://pubsubhubbub.appspot.com/"
HOSTILE_HUB = "https://hub.example.org/<script>alert(1)</script>"


def subscription(feed_id: str, hub: str = HUB, **fields: Any) -> Subscription:
    """A record as the WebSub manager stores it (token and secret the views never show)."""
    base = Subscription(
        feed_id,
        hub,
        f"https://{feed_id}.example.org/topic",
        token=f"TOKEN-{feed_id}-never-shown",
        secret=f"SECRET-{feed_id}-never-shown",
    )
    return replace(base, **fields)


#: One feed of PUSH_WATCH in each WebSub state ("quiet" has none); the status each shows.
SUBSCRIPTIONS: dict[str, Subscription] = {
    "pushed": subscription(
        "aljazeera",
        pending=False,
        requested_at=NOW - 2 * DAY,
        expires_at=NOW + 5 * DAY,
        lease_seconds=7 * DAY,
        due_at=NOW + 4 * DAY,
    ),
    # Its renewal fails while the lease still runs.
    "failing": subscription(
        "bbc-world",
        requested_at=NOW - 600,
        expires_at=NOW + 2 * HOUR,
        lease_seconds=7 * DAY,
        due_at=NOW + 240,
        failures=3,
        last_error="HTTP 503: Service Unavailable",
    ),
    "denied": subscription(
        "reuters",
        HOSTILE_HUB,
        pending=False,
        requested_at=NOW - 4 * HOUR,
        due_at=NOW + 20 * HOUR,
        last_error="denied by the hub: <script>alert(1)</script> not allowed",
    ),
    "pending": subscription("wire", requested_at=NOW - 300, due_at=NOW + 600),
    "expired": subscription(
        "desk",
        pending=False,
        requested_at=NOW - 8 * DAY,
        expires_at=NOW - 3 * HOUR,
        lease_seconds=7 * DAY,
        due_at=NOW - 4 * HOUR,
    ),
    "unsubscribing": subscription(
        "blog", mode=UNSUBSCRIBE, requested_at=NOW - 120, due_at=NOW + 780
    ),
}


def load_watch(tmp_path: Path, text: str = WATCH) -> LoadedConfig:
    rules = tmp_path / "rules"
    rules.mkdir(exist_ok=True)
    (rules / "watch.yaml").write_text(text)
    return load_config(make_settings(rules_dir=rules))


def article(n: int, feed: str, title: str, text: str, hours_ago: float) -> Article:
    published = datetime.fromtimestamp(NOW - hours_ago * HOUR, tz=UTC)
    return Article(
        id=f"{feed}:{n}",
        feed_id=feed,
        url=f"https://news.example.org/{feed}/{n}",
        title=title,
        text=text,
        published=published,
        author="Staff",
    )


ARTICLES = [
    article(
        1,
        "aljazeera",
        "Iran and Russia agree to build attack drones together",
        "Tehran and Moscow signed an agreement to expand production of attack drones. "
        "Iran will supply designs while Russia builds a factory in Tatarstan.",
        2,
    ),
    article(
        2,
        "bbc-world",
        "Ukraine restores power after strikes on the grid",
        "Engineers restored power to most of Kyiv after overnight strikes hit the grid; "
        "officials said the drones came in several waves.",
        5,
    ),
    article(
        3,
        "reuters",
        "Magnitude 6.1 earthquake strikes off the coast of Chile",
        "A strong earthquake of magnitude 6.1 struck off central Chile on Tuesday.",
        9,
    ),
    article(4, "reuters", HOSTILE, "Iran flew <b>drones</b> & <img src=x onerror=alert(2)>.", 1),
    article(
        5,
        "aljazeera",
        "Iran unveils a new long-range drone at a Tehran exhibition",
        "The drone, shown on state television, has a stated range of 2,000 km.",
        30,
    ),
]


def alert_of(art: Article, rule: str, query: str, channel: str, terms: tuple[str, ...]) -> Alert:
    return Alert(
        id=f"alrt_{rule}_{art.id.replace(':', '_')}_{channel}",
        channel=channel,
        rule_id=rule,
        query=query,
        article=art,
        hits=find_hits(art, terms),
        created_at=datetime.fromtimestamp(NOW - HOUR, tz=UTC),
        story_id=art.id,
        feed_name={"aljazeera": "Al Jazeera", "bbc-world": "BBC World", "reuters": "Reuters"}.get(
            art.feed_id, ""
        ),
    )


DRONES = alert_of(ARTICLES[0], "iran-drones", "Iran AND drone*", "ops", ("Iran", "drones"))
DRONES_SIEM = replace(
    alert_of(ARTICLES[0], "iran-drones", "Iran AND drone*", "siem", ("Iran", "drones")),
    also_in=(
        Coverage("bbc-world", "https://www.bbc.co.uk/news/world-1", "Iran, Russia drone deal"),
        Coverage("reuters", "javascript:alert(3)", "Drone plant <deal>"),
    ),
)
GRID = alert_of(
    ARTICLES[1], "ukraine-grid", "Ukraine AND (grid OR power)", "ops", ("Ukraine", "grid", "power")
)
QUAKE = alert_of(
    ARTICLES[2], "quakes", "earthquake NEAR/5 magnitude", "ops", ("earthquake", "magnitude")
)
HOSTILE_ALERT = alert_of(ARTICLES[3], "iran-drones", "Iran AND drone*", "siem", ("Iran", "drones"))
DEAD = alert_of(ARTICLES[4], "iran-drones", "Iran AND drone*", "siem", ("Iran", "drone"))


def _read_at(art: Article) -> float:
    assert art.published is not None
    return art.published.timestamp() + 60


async def fill(store: MemoryStore) -> None:
    """Archive the articles, record alerts in every status, dead-letter one, add a silence."""
    await store.archive_articles(
        [ArchivedArticle(a, _read_at(a), a.id) for a in ARTICLES],
        NOW,
        7 * DAY,
        1000,
    )
    history = [
        (DRONES, "delivered", Attempt(NOW - HOUR, "queued")),
        (DRONES, "delivered", Attempt(NOW - HOUR + 2, "delivered", "printed")),
        (DRONES_SIEM, "retrying", Attempt(NOW - HOUR, "queued")),
        (DRONES_SIEM, "retrying", Attempt(NOW - HOUR + 3, "retried", "HTTP 503")),
        (GRID, "delivered", Attempt(NOW - 3 * HOUR, "queued")),
        (GRID, "delivered", Attempt(NOW - 3 * HOUR + 1, "delivered", "printed")),
        (QUAKE, "silenced", Attempt(NOW - 8 * HOUR, "silenced", "sil_0123456789abcdef")),
        (HOSTILE_ALERT, "pending", Attempt(NOW - 0.2 * HOUR, "queued")),
    ]
    for alert, status, event in history:
        await store.record_history([(alert, status, event)], RETENTION)
    # The dead letter: enqueued, claimed, dead-lettered, and so recorded.
    await store.enqueue([DEAD], NOW - 2 * DAY)
    [claimed] = await store.claim_due(NOW - 2 * DAY, 60, 10)
    await store.dead_letter(
        DEAD.id, NOW - 2 * DAY + 5, "HTTP 400: bad payload", claim=claimed.claim
    )
    await store.record_history([(DEAD, "pending", Attempt(NOW - 2 * DAY, "queued"))], RETENTION)
    await store.record_history(
        [(DEAD, "dead", Attempt(NOW - 2 * DAY + 5, "dead", "HTTP 400: bad payload"))], RETENTION
    )
    await store.enqueue([HOSTILE_ALERT], NOW - 0.2 * HOUR)
    await store.put_feed_state(
        "aljazeera",
        FeedState(
            url="https://www.aljazeera.com/xml/rss/all.xml",
            first_polled_at=NOW - 5 * DAY,
            last_success_at=NOW - 120,
            last_new_item_at=NOW - 600,
            items_seen=412,
            next_poll_at=NOW + 180,
        ),
    )
    await store.put_feed_state(
        "bbc-world",
        FeedState(
            url="https://feeds.bbci.co.uk/news/world/rss.xml",
            first_polled_at=NOW - 5 * DAY,
            last_success_at=NOW - 3 * HOUR,
            consecutive_failures=4,
            failing_since=NOW - 2 * HOUR,
            last_error="feed bbc-world: https://feeds.bbci.co.uk/news/world/rss.xml: HTTP 503",
            items_seen=250,
            next_poll_at=NOW + 900,
        ),
    )
    await store.put_feed_state(
        "reuters",
        FeedState(
            url="https://example.org/reuters/world.rss",
            first_polled_at=NOW - 5 * DAY,
            last_success_at=NOW - 60,
            last_new_item_at=NOW - 60,
            items_seen=98,
            next_poll_at=NOW + 240,
        ),
    )
    await store.add_silence(
        Silence("sil_00000000000000aa", "rule", "quakes", NOW - HOUR, NOW + HOUR, "drill", "cli")
    )


class Console:
    """A console context over a filled MemoryStore, with a frozen clock."""

    def __init__(self, loaded: LoadedConfig, store: MemoryStore) -> None:
        self.loaded = loaded
        self.store = store
        self.now = NOW
        self.woken = 0
        #: WebSub's records (None: WebSub off, as without MONITOR_PUBLIC_URL).
        self.subscriptions: SubscriptionStore | None = None
        # Built as the daemon builds them (a disabled mark applies to a channel's target);
        # they never send here, so their HTTP client is never used.
        http, settings = httpx.AsyncClient(), make_settings()
        self.channels: dict[str, Channel] = {
            name: build_channel(name, config, settings, http, lambda: self.now)
            for name, config in loaded.config.channels.items()
        }

    def wake(self) -> None:
        self.woken += 1

    def context(self) -> ConsoleContext:
        return ConsoleContext(
            loaded=lambda: self.loaded,
            channels=lambda: self.channels,
            store=self.store,
            clock=lambda: self.now,
            wake=self.wake,
            history_retention=RETENTION,
            archive_retention=7 * DAY,
            subscriptions=self.subscriptions,
        )


async def push_console(tmp_path: Path) -> Console:
    """The console over PUSH_WATCH with WebSub on and SUBSCRIPTIONS stored."""
    store = MemoryStore()
    await fill(store)
    console = Console(load_watch(tmp_path, PUSH_WATCH), store)
    for sub in SUBSCRIPTIONS.values():
        await store.put_subscription(sub)
    console.subscriptions = store  # the daemon hands the console its store likewise
    return console


def probes() -> Probes:
    async def not_ready() -> str | None:
        return None

    async def refresh() -> None:
        return None

    return Probes(
        alive=lambda: {"scheduler": True, "worker": True}, not_ready=not_ready, refresh=refresh
    )


def console_app(console: Console, token: str | None = None):  # type: ignore[no-untyped-def]
    return build_app(probes(), Metrics(rules=3), console=console.context(), token=token)
