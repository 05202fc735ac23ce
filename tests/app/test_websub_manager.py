"""The WebSub manager's decisions on a frozen clock, a memory store and a scripted hub
(``httpx.MockTransport``): retries after a failing hub, re-asking a hub that never
verifies, denials, renewals with the same callback and secret, the lease the hub grants,
unsubscribing removed feeds, and what a push is answered."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import parse_qs

import httpx
import pytest

from monitor.app import Monitor
from monitor.app.websub import DENIED_RETRY, VERIFY_WAIT, WebSubManager, websub_for
from monitor.config.load import load_config
from monitor.config.models import FeedConfig
from monitor.ingest.websub import sign
from monitor.model import FetchOutcome, FetchStatus
from monitor.settings import Settings
from monitor.store.memory import MemoryStore
from monitor.store.websub import UNSUBSCRIBE, Subscription
from tests.conftest import FrozenClock

FEED_URL = "https://news.example.org/feed.xml"
HUB = "https://hub.example/"
BODY = (
    b'<rss xmlns:atom="http://www.w3.org/2005/Atom"><channel>'
    b'<atom:link rel="hub" href="https://hub.example/"/>'
    b'<atom:link rel="self" href="https://news.example.org/feed.xml"/>'
    b"<item><title>Iran flies drones</title><guid>g-1</guid></item></channel></rss>"
)


@dataclass
class Hub:
    """Answers each request with the next scripted status (then 202); keeps the forms."""

    statuses: list[int] = field(default_factory=list)
    forms: list[dict[str, str]] = field(default_factory=list)
    #: Refuse with a 400 that quotes the request back.
    echo: bool = False

    def transport(self) -> httpx.MockTransport:
        def answer(request: httpx.Request) -> httpx.Response:
            assert str(request.url).startswith(HUB), request.url
            form = {k: v[0] for k, v in parse_qs(request.content.decode()).items()}
            self.forms.append(form)
            if self.echo:
                return httpx.Response(400, text=f"bad request: {request.content.decode()}")
            return httpx.Response(self.statuses.pop(0) if self.statuses else 202)

        return httpx.MockTransport(answer)


@dataclass
class Setup:
    manager: WebSubManager
    monitor: Monitor
    hub: Hub
    clock: FrozenClock
    feeds: list[FeedConfig]

    @property
    def feed(self) -> FeedConfig:
        return self.feeds[0]

    async def discover(self, body: bytes = BODY) -> None:
        outcome = FetchOutcome("wire", FetchStatus.OK, body=body, headers={})
        self.manager.observe_fetch(self.feed, outcome)
        await self.manager.settle()

    async def record(self) -> Subscription | None:
        return await self.manager.store.get_subscription("wire")

    async def verify(self, mode: str = "subscribe", **extra: str) -> str | None:
        form = self.hub.forms[-1]
        token = form["hub.callback"].rsplit("/", 1)[1]
        params = {"hub.mode": mode, "hub.topic": form["hub.topic"], "hub.challenge": "c-1"}
        return await self.manager.verify("wire", token, {**params, **extra})

    async def tick(self, seconds: float) -> None:
        self.clock.now += seconds
        await self.manager.check_due()
        await self.manager.settle()


@pytest.fixture
async def setup(tmp_path: Path) -> AsyncIterator[Setup]:
    rules = tmp_path / "rules"
    rules.mkdir()
    (rules / "watch.yaml").write_text(
        "feeds:\n"
        f'  - {{id: wire, url: "{FEED_URL}", interval: 5m}}\n'
        "channels:\n"
        '  siem: {type: webhook, url: "https://hooks.example.org/siem"}\n'
        "rules:\n"
        "  - {id: drones, query: Iran AND drones}\n"
    )
    settings = Settings(
        _env_file=None,
        rules_dir=rules,
        data_dir=tmp_path / "data",
        http_addr="127.0.0.1:0",
        public_url="https://monitor.example.org/",
        websub_lease="1d",
        websub_poll_interval="1h",
        story_window=0,
    )
    hub = Hub()
    clock = FrozenClock()
    store = MemoryStore()
    loaded = load_config(settings, env={})
    async with await Monitor.create(
        settings, loaded, store=store, fetch_transport=hub.transport(), clock=clock
    ) as monitor:
        feeds = list(loaded.config.feeds)
        manager = websub_for(
            settings,
            store,
            monitor.poller,
            monitor.metrics,
            feeds=lambda: feeds,
            wake=lambda: None,
            clock=clock,
        )
        assert manager is not None
        yield Setup(manager, monitor, hub, clock, feeds)


def requests(setup: Setup, mode: str, result: str) -> float | None:
    return setup.monitor.metrics.registry.get_sample_value(
        "news_monitor_websub_hub_requests_total", {"mode": mode, "result": result}
    )


async def test_a_discovered_hub_is_asked_once_with_a_callback_and_secret(setup: Setup) -> None:
    await setup.discover()
    await setup.discover()  # the next poll finds the same hub: nothing more to ask
    assert len(setup.hub.forms) == 1
    form = setup.hub.forms[0]
    assert form["hub.mode"] == "subscribe"
    assert form["hub.topic"] == FEED_URL
    assert form["hub.callback"].startswith("https://monitor.example.org/websub/wire/")
    assert form["hub.lease_seconds"] == "86400"
    record = await setup.record()
    assert record is not None and record.pending and record.secret == form["hub.secret"]
    assert not record.active(setup.clock.now)
    assert setup.manager.polled_as(setup.feed) is setup.feed  # not pushed yet


async def test_a_fetch_without_a_hub_or_without_a_body_asks_nothing(setup: Setup) -> None:
    plain = BODY.replace(b'rel="hub"', b'rel="alternate"')
    await setup.discover(plain)
    setup.manager.observe_fetch(setup.feed, FetchOutcome("wire", FetchStatus.NOT_MODIFIED))
    await setup.manager.settle()
    assert setup.hub.forms == []


async def test_a_failing_hub_is_asked_again_after_a_backoff(setup: Setup) -> None:
    setup.hub.statuses = [503, 500]
    first_try = setup.clock.now
    await setup.discover()
    record = await setup.record()
    assert record is not None and record.failures == 1
    assert record.last_error.startswith("HTTP 503")
    assert record.due_at == setup.clock.now + 60
    await setup.tick(59)
    assert len(setup.hub.forms) == 1
    await setup.tick(2)
    assert len(setup.hub.forms) == 2
    record = await setup.record()
    assert record is not None and record.failures == 2 and record.due_at is not None
    assert record.due_at - setup.clock.now == 120  # doubled
    await setup.tick(120)
    record = await setup.record()
    assert record is not None and record.failures == 0 and record.last_error == ""
    # Unverified since the first try: the retries kept it, the last request moved on.
    assert record.pending and record.unverified_since() == first_try
    assert record.requested_at == setup.clock.now
    assert requests(setup, "subscribe", "failed") == 2
    assert requests(setup, "subscribe", "accepted") == 1
    # The same callback and secret all along.
    assert len({(f["hub.callback"], f["hub.secret"]) for f in setup.hub.forms}) == 1


async def test_a_hub_that_never_verifies_is_asked_again(setup: Setup) -> None:
    await setup.discover()
    await setup.tick(VERIFY_WAIT - 1)
    assert len(setup.hub.forms) == 1
    await setup.tick(2)
    assert len(setup.hub.forms) == 2


async def test_a_verified_subscription_is_renewed_with_the_granted_lease(setup: Setup) -> None:
    await setup.discover()
    # The hub grants 1000 s, not the day asked for: the hub decides.
    assert await setup.verify(**{"hub.lease_seconds": "1000"}) == "c-1"
    record = await setup.record()
    assert record is not None and record.active(setup.clock.now)
    assert record.lease_seconds == 1000 and not record.pending
    assert record.pending_since is None and record.unverified_since() is None
    assert setup.manager.polled_as(setup.feed).interval is not None
    assert setup.manager.polled_as(setup.feed).interval.total_seconds() == 3600  # type: ignore[union-attr]
    # Verified once: the same verification again is not ours any more.
    assert await setup.verify() is None
    await setup.tick(849)
    assert len(setup.hub.forms) == 1
    await setup.tick(2)  # 85% of the lease
    assert len(setup.hub.forms) == 2
    assert setup.hub.forms[1] == setup.hub.forms[0]  # same callback, secret, topic
    record = await setup.record()
    assert record is not None and record.pending and record.active(setup.clock.now)
    assert record.unverified_since() == setup.clock.now  # the renewal's own request
    assert await setup.verify(**{"hub.lease_seconds": "1000"}) == "c-1"
    renewed = await setup.record()
    assert renewed is not None and renewed.expires_at == setup.clock.now + 1000


async def test_a_lease_that_runs_out_polls_the_feed_normally_again(setup: Setup) -> None:
    setup.hub.statuses = [202] + [503] * 10  # renewals fail
    await setup.discover()
    await setup.verify(**{"hub.lease_seconds": "100"})
    assert setup.manager.polled_as(setup.feed) != setup.feed
    for _ in range(5):
        await setup.tick(30)
    assert setup.manager.polled_as(setup.feed) == setup.feed


async def test_a_denied_subscription_is_noted_and_tried_again_a_day_later(setup: Setup) -> None:
    await setup.discover()
    assert await setup.verify("denied", **{"hub.reason": "topic not\nallowed"}) == ""
    record = await setup.record()
    assert record is not None and not record.active(setup.clock.now)
    assert record.last_error == "denied by the hub: topic not allowed"
    assert record.due_at == setup.clock.now + DENIED_RETRY


async def test_a_removed_feed_is_unsubscribed_and_given_up_on_after_failures(
    setup: Setup,
) -> None:
    await setup.discover()
    await setup.verify()
    setup.feeds.clear()
    setup.hub.statuses = [500, 500, 500]
    await setup.tick(0)
    assert setup.hub.forms[-1]["hub.mode"] == UNSUBSCRIBE
    assert "hub.secret" not in setup.hub.forms[-1]
    for wait in (60, 120, 240):
        await setup.tick(wait)
    assert [f["hub.mode"] for f in setup.hub.forms].count(UNSUBSCRIBE) == 3
    assert await setup.record() is None  # dropped: its lease runs out at the hub


async def test_an_unsubscribe_verified_forgets_the_subscription(setup: Setup) -> None:
    await setup.discover()
    await setup.verify()
    setup.feeds.clear()
    await setup.tick(0)
    assert await setup.verify(UNSUBSCRIBE) == "c-1"
    assert await setup.record() is None
    assert await setup.monitor.store.subscriptions() == []


async def test_a_new_hub_gets_a_new_subscription(setup: Setup) -> None:
    await setup.discover()
    await setup.discover(BODY.replace(b"https://hub.example/", b"https://hub.example/v2"))
    assert [f["hub.callback"] != setup.hub.forms[0]["hub.callback"] for f in setup.hub.forms] == [
        False,
        True,
    ]
    record = await setup.record()
    assert record is not None and record.hub == "https://hub.example/v2"


async def test_what_a_push_is_answered(setup: Setup) -> None:
    await setup.discover()
    await setup.verify()
    record = await setup.record()
    assert record is not None
    receive = setup.manager.receive
    assert (await receive("wire", "wrong", BODY, "", sign(BODY, record.secret))).outcome == (
        "unknown"
    )
    assert (await receive("wire", record.token, BODY, "", None)).outcome == "bad_signature"
    html = b"<html><body>hello</body></html>"
    answer = await receive("wire", record.token, html, "text/html", sign(html, record.secret))
    assert answer.outcome == "not_a_feed"
    assert answer.report is not None and answer.report.error
    accepted = await receive("wire", record.token, BODY, "", sign(BODY, record.secret, "sha1"))
    assert accepted.outcome == "accepted"
    assert accepted.report is not None and accepted.report.counts.alerts == 1
    setup.feeds.clear()  # removed: being unsubscribed
    await setup.tick(0)
    assert (await receive("wire", record.token, BODY, "", sign(BODY, record.secret))).outcome == (
        "ignored"
    )


async def test_a_hub_quoting_the_request_back_leaks_no_secret(setup: Setup) -> None:
    setup.hub.echo = True
    await setup.discover()
    record = await setup.record()
    assert record is not None and record.last_error.startswith("HTTP 400: bad request:")
    assert record.secret not in record.last_error and record.token not in record.last_error
