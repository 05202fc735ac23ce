"""Polls active at once (``Poller.active_polls``): a batch of feeds far larger than the
Redis connection pool is polled without a call waiting past the pool's timeout, and a poll
waiting for its fetch slot is not active.

Many feeds polled at once is what ``run --once`` and the daemon's first round do. The store
is the real Redis reached through a loopback TCP proxy that holds each reply
for a few milliseconds (a Redis on another machine), and its pool is small and waits
little, a scaled-down copy of the shipped 32 connections and 20 s. Before the poller
bounded its active polls, every poll of the batch asked for a connection at once; the
pool's queue is not first come, first served (a poll already running took each freed
connection again for its next call), so the first reads of the feeds not yet started
waited past the pool's timeout and the cycle failed with ``No connection available``.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import threading
import time
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime
from urllib.parse import urlsplit, urlunsplit

import pytest
from werkzeug import Request, Response

from monitor.config.models import FeedConfig
from monitor.ingest.fetch import FetchLimits
from monitor.store.redis import RedisStore
from tests.polling.test_polite_polling import feed_server, feeds_at, make_poller
from tests.servers import Item, rss
from tests.store.support import delete_prefix

#: Feeds polled in one batch: many more than the pool has connections.
FEEDS = 150
#: Connections of the store's pool, and how long a call may wait for one.
POOL, POOL_TIMEOUT = 4, 0.25
#: How long the proxy holds every reply from Redis (a round trip to another machine).
LAG = 0.01


class LaggyProxy:
    """Forwards loopback TCP connections to ``target``, holding each reply ``lag`` seconds."""

    def __init__(self, target: tuple[str, int], lag: float) -> None:
        self.target = target
        self.lag = lag
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.port = int(self._listener.getsockname()[1])
        self._open: list[socket.socket] = []
        self._lock = threading.Lock()
        threading.Thread(target=self._accept, daemon=True).start()

    def close(self) -> None:
        # shutdown() first: close() alone does not wake the thread blocked in accept().
        for conn in [self._listener, *self._open]:
            with contextlib.suppress(OSError):
                conn.shutdown(socket.SHUT_RDWR)
            conn.close()

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self._listener.accept()
                upstream = socket.create_connection(self.target)
            except OSError:
                return  # closed
            with self._lock:
                self._open += [client, upstream]
            threading.Thread(target=self._pump, args=(client, upstream, 0.0), daemon=True).start()
            threading.Thread(
                target=self._pump, args=(upstream, client, self.lag), daemon=True
            ).start()

    @staticmethod
    def _pump(source: socket.socket, sink: socket.socket, lag: float) -> None:
        try:
            while data := source.recv(65536):
                time.sleep(lag)
                sink.sendall(data)
        except OSError:
            pass


@contextlib.contextmanager
def laggy_redis(url: str, lag: float) -> Iterator[str]:
    """The URL of ``url``'s Redis seen through a :class:`LaggyProxy`."""
    parts = urlsplit(url)
    proxy = LaggyProxy((parts.hostname or "127.0.0.1", parts.port or 6379), lag)
    try:
        yield urlunsplit(parts._replace(netloc=f"127.0.0.1:{proxy.port}"))
    finally:
        proxy.close()


@pytest.fixture
async def small_pool_store(redis_server_url: str, redis_prefix: str) -> AsyncIterator[RedisStore]:
    """A RedisStore of POOL connections behind the laggy proxy; its keys deleted after."""
    with laggy_redis(redis_server_url, LAG) as url:
        store = RedisStore.from_url(
            url, redis_prefix, max_connections=POOL, pool_timeout=POOL_TIMEOUT
        )
        try:
            yield store
        finally:
            await store.close()
            await delete_prefix(redis_server_url, redis_prefix)


def one_item_each(request: Request) -> Response:
    """Feed ``/N.xml``: one item of its own (no two feeds share an article)."""
    n = request.path.strip("/").removesuffix(".xml")
    item = Item(f"Weather report {n}", f"http://n.test/weather/{n}", "Sunny", datetime.now(UTC))
    return Response(rss([item]), content_type="application/rss+xml")


@pytest.mark.redis
async def test_a_batch_of_feeds_far_larger_than_the_pool_is_polled(
    small_pool_store: RedisStore,
) -> None:
    with feed_server(one_item_each) as server:
        poller = make_poller(FetchLimits(16, 16), store=small_pool_store, active_polls=POOL)
        feeds = feeds_at(server, FEEDS)
        async with poller.http:
            reports = await asyncio.gather(*(poller.poll(f) for f in feeds))
    assert [r.status for r in reports] == ["ok"] * FEEDS
    assert sum(r.new for r in reports) == FEEDS


async def test_a_poll_waiting_for_its_host_is_not_active() -> None:
    """One active poll at a time, one fetch per host: the feeds of a fast host are polled
    while the slow host's feeds wait for their turn, not after them."""

    def answer(request: Request) -> Response:
        if request.host.startswith("localhost"):
            time.sleep(0.5)
        return one_item_each(request)

    done: list[str] = []
    with feed_server(answer) as server:
        poller = make_poller(FetchLimits(total=16, per_host=1), active_polls=1)

        async def poll(feed: FeedConfig) -> None:
            assert (await poller.poll(feed)).status == "ok"
            done.append(feed.id)

        slow, fast = feeds_at(server, 3, "localhost"), feeds_at(server, 3, "127.0.0.1")
        async with poller.http:
            await asyncio.gather(*(poll(f) for f in slow + fast))
    assert set(done[:3]) == {f.id for f in fast}, done


def test_at_least_one_poll_is_active() -> None:
    with pytest.raises(ValueError, match="active_polls"):
        make_poller(FetchLimits(16, 2), active_polls=0)
