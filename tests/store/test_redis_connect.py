"""Connecting to Redis as ``MONITOR_REDIS_URL`` says: TLS (with a password, an ACL user, a
private CA, a client certificate), a Sentinel-managed master (across a failover), and a
Redis Cluster (whose key prefix must hold a hash tag).

Every server is a real ``redis-server`` started on loopback (``tests/redis_servers.py``);
the URL parsing and the settings' checks are unit tests.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from pathlib import Path

import pytest
import redis
from pydantic import ValidationError

from monitor.errors import StoreError
from monitor.model import FeedState
from monitor.settings import Settings, redis_hash_tag
from monitor.store.factory import open_store
from monitor.store.redis import RedisStore
from monitor.store.redis_connect import (
    RedisOptions,
    SentinelClient,
    check_prefix,
    parse_hosts_url,
    url_password,
)
from tests.conftest import FrozenClock
from tests.redis_servers import MASTER, PASSWORD, SENTINEL_PASSWORD, SentinelSetup, TlsServer
from tests.store.support import DAY, claim, make_alert

pytestmark = pytest.mark.redis


async def round_trip(store: RedisStore, clock: FrozenClock) -> None:
    """A few calls that use plain commands, scripts and a MULTI pipeline."""
    try:
        await store.ping()
        await store.put_feed_state("feed-1", FeedState(url="https://f.example/rss"))
        assert (await store.get_feed_state("feed-1")) == FeedState(url="https://f.example/rss")
        await store.enqueue([make_alert(1)], clock.now)
        assert list(await claim(store, clock)) == ["alert-001"]
        await store.mark_seen(["id:a"], clock.now, retention=DAY)
        assert await store.is_seen("id:a", clock.now)
    finally:
        await store.close()


# -- URL parsing and the settings' checks ------------------------------------------------


def test_a_url_of_several_hosts_is_taken_apart() -> None:
    url = "rediss+sentinel://us%40er:p%3Aw@10.0.0.1,[::1]:26380,h3:1/mymaster/2"
    parts = parse_hosts_url(url, 26379)
    assert parts.tls and parts.username == "us@er" and parts.password == "p:w"
    assert parts.hosts == (("10.0.0.1", 26379), ("::1", 26380), ("h3", 1))
    assert parts.path == ("mymaster", "2")
    assert url_password(url) == "p:w"
    assert url_password("redis://h:6379/0") is None
    assert url_password("redis://user@h/0") is None


@pytest.mark.parametrize(
    "url",
    [
        "redis+sentinel://h:notaport/m",
        "redis+sentinel:///m",
        "redis+sentinel://h:26379/m?x=1",
        "redis+cluster://h:70000",
    ],
)
def test_a_bad_url_is_refused_without_its_password(url: str) -> None:
    with pytest.raises(ValueError) as raised:
        parse_hosts_url(url.replace("://", "://:pw-s3cret@"), 6379)
    assert "pw-s3cret" not in str(raised.value)


@pytest.mark.parametrize(
    ("key", "tag"),
    [
        ("{nm}", "nm"),
        ("{nm}:outbox", "nm"),
        ("a{b}c{d}", "b"),
        ("{}nm", ""),
        ("nm", ""),
        ("}{", ""),
    ],
)
def test_the_hash_tag_is_what_redis_hashes(key: str, tag: str) -> None:
    assert redis_hash_tag(key) == tag


def test_a_cluster_prefix_without_a_hash_tag_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    cluster = "redis+cluster://127.0.0.1:7000"
    with pytest.raises(ValidationError, match=r"must hold a hash tag .* like \{news-monitor\}"):
        Settings(_env_file=None, redis_url=cluster)
    assert Settings(_env_file=None, redis_url=cluster, redis_prefix="{news-monitor}")
    assert Settings(_env_file=None, redis_url="redis://h/0")  # one server: any prefix
    with pytest.raises(ValueError, match="no hash tag"):
        RedisStore.from_url(cluster, "news-monitor")
    check_prefix("redis://h/0", "news-monitor")


def test_tls_files_need_a_tls_url(tls_server: TlsServer) -> None:
    with pytest.raises(ValidationError, match="need a TLS MONITOR_REDIS_URL"):
        Settings(_env_file=None, redis_url="redis://h/0", redis_ca_file=tls_server.ca_file)
    with pytest.raises(ValidationError, match="cannot load CA bundle"):
        Settings(_env_file=None, redis_url="rediss://h/0", redis_ca_file=Path("/nonexistent.pem"))
    with pytest.raises(ValidationError, match="cannot load the Redis client certificate"):
        Settings(_env_file=None, redis_url="rediss://h/0", redis_cert_file=tls_server.ca_file)
    settings = Settings(
        _env_file=None,
        redis_url="rediss://h/0",
        redis_ca_file=tls_server.ca_file,
        redis_cert_file=tls_server.client_cert,
        redis_sentinel_password="sp-s3cret",
    )
    assert "sp-s3cret" in settings.secret_values()  # redacted from logs


# -- TLS ---------------------------------------------------------------------------------


async def test_tls_with_a_private_ca_and_a_password(
    tls_server: TlsServer, redis_prefix: str, clock: FrozenClock
) -> None:
    url = f"rediss://:{PASSWORD}@127.0.0.1:{tls_server.port}/0"
    options = RedisOptions(ca_file=tls_server.ca_file)
    await round_trip(RedisStore.from_url(url, redis_prefix, options=options), clock)


async def test_tls_with_an_acl_user_through_the_settings(
    tls_server: TlsServer, redis_prefix: str, clock: FrozenClock
) -> None:
    settings = Settings(
        _env_file=None,
        redis_url=f"rediss://alice:alice-pw@localhost:{tls_server.port}/0",
        redis_prefix=redis_prefix,
        redis_ca_file=tls_server.ca_file,
    )
    store = await open_store(settings)
    assert isinstance(store, RedisStore)
    await round_trip(store, clock)


async def test_tls_refuses_a_server_its_ca_did_not_sign(tls_server: TlsServer) -> None:
    url = f"rediss://:{PASSWORD}@127.0.0.1:{tls_server.port}/0"
    for options in (RedisOptions(ca_file=tls_server.other_ca_file), RedisOptions()):
        store = RedisStore.from_url(url, "nm", options=options)  # RedisOptions(): system CAs
        with pytest.raises(StoreError, match="certificate verify failed") as raised:
            await store.ping()
        assert PASSWORD not in str(raised.value)
        await store.close()


async def test_a_plain_client_gets_nothing_from_a_tls_port(tls_server: TlsServer) -> None:
    store = RedisStore.from_url(f"redis://:{PASSWORD}@127.0.0.1:{tls_server.port}/0", "nm")
    with pytest.raises(StoreError):
        await store.ping()
    await store.close()


async def test_a_wrong_password_is_an_error_without_the_password(tls_server: TlsServer) -> None:
    url = f"rediss://alice:wrong-s3cret@127.0.0.1:{tls_server.port}/0"
    store = RedisStore.from_url(url, "nm", options=RedisOptions(ca_file=tls_server.ca_file))
    with pytest.raises(StoreError) as raised:
        await store.ping()
    assert "wrong-s3cret" not in str(raised.value)
    await store.close()


async def test_a_server_that_asks_for_a_client_certificate(
    tls_server: TlsServer, redis_prefix: str, clock: FrozenClock
) -> None:
    url = f"rediss://:{PASSWORD}@127.0.0.1:{tls_server.mtls_port}/0"
    without = RedisStore.from_url(url, redis_prefix, options=RedisOptions(tls_server.ca_file))
    with pytest.raises(StoreError):
        await without.ping()
    await without.close()
    options = RedisOptions(ca_file=tls_server.ca_file, cert_file=tls_server.client_cert)
    await round_trip(RedisStore.from_url(url, redis_prefix, options=options), clock)


# -- Sentinel ----------------------------------------------------------------------------


def sentinel_url(setup: SentinelSetup, db: int = 3) -> str:
    return f"redis+sentinel://:{PASSWORD}@127.0.0.1:{setup.sentinel_port}/{MASTER}/{db}"


async def test_sentinel_finds_the_master(
    sentinel_setup: SentinelSetup, redis_prefix: str, clock: FrozenClock
) -> None:
    settings = Settings(
        _env_file=None,
        redis_url=sentinel_url(sentinel_setup),
        redis_prefix=redis_prefix,
        redis_sentinel_password=SENTINEL_PASSWORD,
    )
    store = await open_store(settings)
    assert isinstance(store, RedisStore)
    await round_trip(store, clock)
    # Written to the master, in the database the URL names.
    with redis.Redis(port=sentinel_setup.master_port, password=PASSWORD, db=3) as master:
        assert master.exists(f"{redis_prefix}:feed:feed-1")


async def test_sentinels_that_require_a_password_refuse_a_client_without_it(
    sentinel_setup: SentinelSetup,
) -> None:
    store = RedisStore.from_url(sentinel_url(sentinel_setup), "nm")
    with pytest.raises(StoreError) as raised:
        await store.ping()
    assert PASSWORD not in str(raised.value)
    await store.close()


def test_a_sentinel_url_names_its_master() -> None:
    with pytest.raises(ValueError, match="names its master"):
        RedisStore.from_url("redis+sentinel://127.0.0.1:26379", "nm")
    with pytest.raises(ValueError, match="names its master"):
        RedisStore.from_url("redis+sentinel://127.0.0.1:26379/m/x", "nm")


async def test_closing_the_store_closes_the_sentinel_connections(
    sentinel_setup: SentinelSetup,
) -> None:
    options = RedisOptions(sentinel_password=SENTINEL_PASSWORD)
    store = RedisStore.from_url(sentinel_url(sentinel_setup), "nm", options=options)
    await store.ping()
    client = store._client
    assert isinstance(client, SentinelClient) and client.manager is not None
    sentinels = client.manager.sentinels
    await store.close()
    for sentinel in sentinels:
        assert not sentinel.connection_pool._in_use_connections
        assert not any(c.is_connected for c in sentinel.connection_pool._available_connections)


async def test_after_a_failover_the_store_writes_to_the_new_master(
    sentinel_setup: SentinelSetup, redis_prefix: str, clock: FrozenClock
) -> None:
    # Runs last among the Sentinel tests (file order): it swaps master and replica.
    options = RedisOptions(sentinel_password=SENTINEL_PASSWORD)
    store = RedisStore.from_url(sentinel_url(sentinel_setup), redis_prefix, options=options)
    try:
        await store.put_feed_state("before", FeedState())
        # Replication is asynchronous and SENTINEL FAILOVER does not wait for it: the write
        # must be on the replica before the switch, or the promoted replica never had it.
        with redis.Redis(port=sentinel_setup.replica_port, password=PASSWORD, db=3) as replica:
            deadline = time.monotonic() + 30
            while not replica.exists(f"{redis_prefix}:feed:before"):
                assert time.monotonic() < deadline, "the write never reached the replica"
                await asyncio.sleep(0.05)
        with redis.Redis(port=sentinel_setup.sentinel_port, password=SENTINEL_PASSWORD) as s:
            deadline = time.monotonic() + 30
            while True:  # until the sentinel has a fresh view of the replica
                try:
                    s.execute_command("SENTINEL", "FAILOVER", MASTER)
                    break
                except redis.ResponseError as e:
                    assert "NOGOODSLAVE" in str(e) and time.monotonic() < deadline
                    await asyncio.sleep(0.2)
            while s.sentinel_get_master_addr_by_name(MASTER)[1] != sentinel_setup.replica_port:
                assert time.monotonic() < deadline, "no failover"
                await asyncio.sleep(0.1)
        # Until the sentinel turns the old master into a replica (about 10 s here), a write on
        # a connection still open to it is accepted there and lost (Redis replicates
        # asynchronously); then it answers READONLY, the pool asks the sentinel again and
        # moves. Without a restart, writes then land on the new master.
        with redis.Redis(port=sentinel_setup.replica_port, password=PASSWORD, db=3) as new:
            for _ in range(400):
                with contextlib.suppress(StoreError):
                    await store.put_feed_state("after", FeedState())
                if new.exists(f"{redis_prefix}:feed:after"):
                    break
                await asyncio.sleep(0.1)
            assert new.exists(f"{redis_prefix}:feed:after")
            assert new.exists(f"{redis_prefix}:feed:before")  # replicated before the switch
            assert await store.get_feed_state("after") == FeedState()
    finally:
        await store.close()


# -- Cluster -----------------------------------------------------------------------------


async def test_a_cluster_store_works_across_three_nodes(
    cluster_ports: list[int], redis_prefix: str, clock: FrozenClock
) -> None:
    prefix = "{" + redis_prefix + "}"
    settings = Settings(
        _env_file=None,
        redis_url=f"redis+cluster://127.0.0.1:{cluster_ports[0]}",
        redis_prefix=prefix,
    )
    store = await open_store(settings)
    assert isinstance(store, RedisStore)
    await round_trip(store, clock)
