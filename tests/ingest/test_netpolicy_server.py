"""No SSRF, against real loopback listeners: the address check pointed at them.

Two werkzeug servers on 127.0.0.1: *public* stands for a feed server on the internet
(its address and port are exempt from the policy) and answers with redirects; *internal*
stands for what lies behind the daemon (the rest of loopback is refused) and serves a
page that would match a rule. Every way of naming loopback in a redirect is refused
before the internal server is reached; the same redirects are followed when private
addresses are allowed (so the refusals are the policy's, not the test's); a 301 to
loopback is never stored; a feed's opt-in and the composition root are covered too.
"""

from __future__ import annotations

import ipaddress
import threading
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from structlog.testing import capture_logs
from werkzeug import Request, Response
from werkzeug.serving import make_server

from monitor.app import Monitor
from monitor.config.load import load_config
from monitor.config.models import FeedConfig
from monitor.ingest.fetch import FeedFetch, FetchLimits, build_http_client, fetch_feed
from monitor.ingest.netpolicy import AddressPolicy
from monitor.matching import RuleSpec, compile_rules
from monitor.model import FeedState, FeedValidators, FetchStatus
from monitor.polling.poller import Poller
from monitor.store.memory import MemoryStore
from tests.factories import make_settings
from tests.servers import Item, rss

SECRET = rss([Item("Iran AND drones: internal", "http://n.test/s", "secret", datetime.now(UTC))])
PUBLIC_FEED = rss([Item("Weather", "http://n.test/w", "Sunny", datetime.now(UTC))])


@dataclass
class Listener:
    """A threaded loopback HTTP server that records the paths it was asked."""

    answer: Callable[[Request], Response]
    port: int = 0
    paths: list[str] = field(default_factory=list)

    def __call__(self, environ: Any, start_response: Any) -> Iterable[bytes]:
        request = Request(environ)
        self.paths.append(request.path)
        return self.answer(request)(environ, start_response)

    def url(self, path: str, host: str = "127.0.0.1") -> str:
        return f"http://{host}:{self.port}{path}"


@contextmanager
def listening(answer: Callable[[Request], Response]) -> Iterator[Listener]:
    listener = Listener(answer)
    server = make_server("127.0.0.1", 0, listener, threaded=True)
    listener.port = server.port
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05})
    thread.daemon = True
    thread.start()
    try:
        yield listener
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


def internal_answer(request: Request) -> Response:
    return Response(SECRET, content_type="application/rss+xml")


def public_answer(request: Request) -> Response:
    """``/302?to=URL`` and ``/301?to=URL`` redirect there; anything else is a harmless feed."""
    if request.path in ("/301", "/302"):
        return Response("", status=int(request.path[1:]), headers={"Location": request.args["to"]})
    return Response(PUBLIC_FEED, content_type="application/rss+xml")


@pytest.fixture
def internal() -> Iterator[Listener]:
    with listening(internal_answer) as listener:
        yield listener


@pytest.fixture
def public() -> Iterator[Listener]:
    with listening(public_answer) as listener:
        yield listener


def policy_for(public: Listener) -> AddressPolicy:
    """Loopback refused, except the public listener: it stands for the internet."""
    return AddressPolicy(exempt=frozenset({(ipaddress.ip_address("127.0.0.1"), public.port)}))


async def fetch(url: str, policy: AddressPolicy, *, allow_private: bool = False) -> FeedFetch:
    settings = make_settings(allow_private_addresses=False)
    async with build_http_client(settings, policy=policy) as client:
        return await fetch_feed(
            client,
            "f",
            url,
            FeedValidators(),
            total_timeout=5,
            max_bytes=100_000,
            allow_private=allow_private,
        )


# -- redirects ---------------------------------------------------------------------

LOOPBACK_NAMES = [
    ("127.0.0.1", "127.0.0.1 is a loopback address"),
    ("localhost", "localhost is "),
    ("2130706433", "2130706433 is 127.0.0.1, a loopback address"),
    ("0x7f000001", "0x7f000001 is 127.0.0.1, a loopback address"),
    ("127.1", "127.1 is 127.0.0.1, a loopback address"),
    ("[::ffff:127.0.0.1]", "is an IPv4-mapped loopback address"),
    ("[::1]", "::1 is a loopback address"),
    ("0.0.0.0", "0.0.0.0 is an unspecified address"),
]


@pytest.mark.parametrize(("host", "message"), LOOPBACK_NAMES, ids=[h for h, _ in LOOPBACK_NAMES])
async def test_a_302_to_loopback_is_refused_before_connecting(
    public: Listener, internal: Listener, host: str, message: str
) -> None:
    target = internal.url("/secret", host)
    outcome = await fetch(public.url(f"/302?to={target}"), policy_for(public))
    assert outcome.status is FetchStatus.ERROR
    assert outcome.refused and not outcome.retryable
    assert outcome.body == b""
    assert message in outcome.error
    assert "(MONITOR_ALLOW_PRIVATE_ADDRESSES)" in outcome.error
    assert f":{internal.port}/secret" in outcome.error.split("redirected to ")[1]
    assert public.paths == ["/302"]
    assert internal.paths == [], "the internal server was never reached"


@pytest.mark.parametrize("host", ["127.0.0.1", "localhost", "2130706433", "0x7f000001", "127.1"])
async def test_the_same_redirects_are_followed_when_private_addresses_are_allowed(
    public: Listener, internal: Listener, host: str
) -> None:
    target = internal.url("/secret", host)
    outcome = await fetch(public.url(f"/302?to={target}"), AddressPolicy(allow_private=True))
    assert outcome.status is FetchStatus.OK, outcome.error
    assert outcome.body == SECRET.encode()
    assert internal.paths == ["/secret"]


async def test_a_feed_that_opted_in_follows_them_and_others_still_may_not(
    public: Listener, internal: Listener
) -> None:
    """The opt-in travels with the redirect, and its pooled connection to the internal
    server is never lent to a fetch that did not opt in."""
    url = public.url(f"/302?to={internal.url('/secret')}")
    settings = make_settings(allow_private_addresses=False)
    async with build_http_client(settings, policy=policy_for(public)) as client:
        opted = await fetch_feed(
            client, "a", url, FeedValidators(), total_timeout=5, max_bytes=10**5, allow_private=True
        )
        other = await fetch_feed(
            client, "b", url, FeedValidators(), total_timeout=5, max_bytes=10**5
        )
    assert opted.status is FetchStatus.OK and opted.body == SECRET.encode()
    assert other.refused
    assert internal.paths == ["/secret"]


async def test_a_first_request_to_loopback_is_refused(internal: Listener) -> None:
    outcome = await fetch(internal.url("/secret"), AddressPolicy())
    assert outcome.refused
    assert "refused: 127.0.0.1 is a loopback address (MONITOR_ALLOW_PRIVATE_ADDRESSES)" in (
        outcome.error
    )
    assert "redirected" not in outcome.error
    assert internal.paths == []


# -- the poller: nothing ingested, no move stored ----------------------------------


def make_poller(policy: AddressPolicy) -> Poller:
    settings = make_settings(allow_private_addresses=False)
    return Poller(
        store=MemoryStore(),
        http=build_http_client(settings, policy=policy),
        ruleset=compile_rules([RuleSpec("drones", "Iran AND drones")]),
        routes={"drones": ("Iran AND drones", ("ops",))},
        max_age=timedelta(hours=24),
        seen_retention=timedelta(days=30),
        fetch_timeout=5,
        max_feed_bytes=100_000,
        limits=FetchLimits(4, 2),
    )


async def test_a_301_to_loopback_is_neither_ingested_nor_stored(
    public: Listener, internal: Listener
) -> None:
    poller = make_poller(policy_for(public))
    feed = FeedConfig(id="moving", url=public.url(f"/301?to={internal.url('/secret')}"))
    with capture_logs() as events:
        async with poller.http:
            reports = [await poller.poll(feed) for _ in range(2)]
    for report in reports:
        assert report.status == "error"
        assert "refused: 127.0.0.1 is a loopback address" in report.error
        assert report.alerts == 0 and report.new == 0
    state = await poller.store.get_feed_state("moving")
    assert state is not None and state.moved_to == ""
    assert "feed_moved" not in [e["event"] for e in events]
    assert await poller.store.pending() == []
    assert public.paths == ["/301", "/301"], "asked at its configured URL each time"
    assert internal.paths == []


async def test_the_feed_opt_in_lets_the_same_301_through(
    public: Listener, internal: Listener
) -> None:
    """What the refusal prevents: with the opt-in the move is stored and the page alerts."""
    poller = make_poller(policy_for(public))
    target = internal.url("/secret")
    feed = FeedConfig(
        id="moving", url=public.url(f"/301?to={target}"), allow_private_addresses=True
    )
    async with poller.http:
        report = await poller.poll(feed)
    assert report.status == "ok" and report.alerts == 1
    state = await poller.store.get_feed_state("moving")
    assert state is not None and state.moved_to == target


async def test_a_stored_move_to_loopback_is_dropped(public: Listener, internal: Listener) -> None:
    """A move stored before the policy (or while allowed) falls back to the config's URL."""
    poller = make_poller(policy_for(public))
    feed = FeedConfig(id="f", url=public.url("/feed.xml"))
    await poller.store.put_feed_state(
        "f", FeedState(url=feed.url, moved_to=internal.url("/secret"))
    )
    with capture_logs() as events:
        async with poller.http:
            refused = await poller.poll(feed)
            again = await poller.poll(feed)
    assert refused.status == "error" and "refused:" in refused.error
    assert [e["event"] for e in events].count("feed_move_dropped") == 1
    assert again.status == "ok"
    state = await poller.store.get_feed_state("f")
    assert state is not None and state.moved_to == ""
    assert public.paths == ["/feed.xml"]
    assert internal.paths == []


# -- the daemon: the setting and the feed key, from the config ------------------------


async def test_the_daemon_refuses_loopback_feeds_unless_the_feed_opts_in(
    tmp_path: Path, internal: Listener
) -> None:
    rules = tmp_path / "rules"
    rules.mkdir()
    url = internal.url("/secret")
    (rules / "watch.yaml").write_text(
        "feeds:\n"
        f'  - {{id: plain, url: "{url}"}}\n'
        f'  - {{id: opted, url: "{url}?opted", allow_private_addresses: true}}\n'
        "channels:\n"
        "  out: {type: console}\n"
        "rules:\n"
        "  - {id: drones, query: Iran AND drones}\n"
    )
    settings = make_settings(rules_dir=rules, allow_private_addresses=False)
    async with await Monitor.create(
        settings, load_config(settings, env={}), store=MemoryStore()
    ) as monitor:
        reports = {r.feed_id: r for r in await monitor.poll_feeds()}
    assert reports["plain"].status == "error"
    assert "refused: 127.0.0.1 is a loopback address (MONITOR_ALLOW_PRIVATE_ADDRESSES)" in (
        reports["plain"].error
    )
    assert reports["opted"].status == "ok"
    assert internal.paths == ["/secret"], "asked once: by the feed that opted in"
