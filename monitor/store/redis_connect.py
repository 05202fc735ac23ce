"""The Redis client a ``MONITOR_REDIS_URL`` asks for: one server, a Sentinel-managed master,
or a Cluster; over TLS or not.

URL forms (user and password, percent-encoded, authenticate to the Redis servers):

* ``redis://[[user]:password@]host[:6379][/db]``, ``rediss://…`` (TLS), ``unix://…``:
  one server, through redis-py's own URL parser (its query options apply);
* ``redis+sentinel://[[user]:password@]host[:26379][,host2[:26379]…]/master[/db]`` and
  ``rediss+sentinel://…``: the master the sentinels name, found again after a failover.
  The sentinels are asked without the URL's password (they often have none); one they
  require is ``MONITOR_REDIS_SENTINEL_PASSWORD``. With TLS, sentinels and servers both;
* ``redis+cluster://[[user]:password@]host[:6379][,host2…][/0]`` and
  ``rediss+cluster://…``: a Redis Cluster, through the nodes named (the others are
  discovered). Every key of a deployment must hash to one slot, as the store's scripts
  touch several keys at once: ``MONITOR_REDIS_PREFIX`` must hold a hash tag
  (``{news-monitor}``), which the settings and :func:`check_prefix` enforce.

TLS (``rediss``) always verifies the server's certificate and host name, against the
system CAs or ``MONITOR_REDIS_CA_FILE``; ``MONITOR_REDIS_CERT_FILE`` (and
``MONITOR_REDIS_KEY_FILE``) present a client certificate to a server that asks for one.

Pools: one server and a Sentinel master share at most ``max_connections`` connections and
a caller beyond them waits up to ``pool_timeout`` (a blocking pool); a Cluster keeps up to
``max_connections`` per node (redis-py's cluster pool does not wait: callers are kept
fewer, as ``RedisStore.from_url`` says).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, cast
from urllib.parse import unquote

import redis.asyncio as aioredis
from redis.asyncio.cluster import ClusterNode, RedisCluster
from redis.asyncio.sentinel import Sentinel, SentinelConnectionPool
from redis.driver_info import DriverInfo

from monitor.settings import REDIS_CLUSTER_SCHEMES, Settings, redis_hash_tag

__all__ = [
    "RedisOptions",
    "SentinelClient",
    "check_prefix",
    "make_client",
    "options_from",
    "parse_hosts_url",
    "url_password",
]

SENTINEL_SCHEMES = ("redis+sentinel", "rediss+sentinel")
DEFAULT_PORT = 6379
DEFAULT_SENTINEL_PORT = 26379


@dataclass(frozen=True, slots=True)
class RedisOptions:
    """What the settings add to the URL: TLS files and the sentinels' password."""

    #: PEM CA bundle verifying the servers' certificates; None: the system CAs.
    ca_file: Path | None = None
    #: PEM client certificate (and its key, unless ``key_file``), for ``tls-auth-clients``.
    cert_file: Path | None = None
    key_file: Path | None = None
    #: Password of the sentinels (not of the master: that one is the URL's).
    sentinel_password: str | None = None


def options_from(settings: Settings) -> RedisOptions:
    """The options ``settings`` give (``MONITOR_REDIS_CA_FILE`` and the rest)."""
    password = settings.redis_sentinel_password
    return RedisOptions(
        ca_file=settings.redis_ca_file,
        cert_file=settings.redis_cert_file,
        key_file=settings.redis_key_file,
        sentinel_password=password.get_secret_value() if password is not None else None,
    )


@dataclass(frozen=True, slots=True)
class HostsUrl:
    """A ``redis+sentinel://`` or ``redis+cluster://`` URL, taken apart."""

    tls: bool
    hosts: tuple[tuple[str, int], ...]
    username: str | None
    password: str | None
    #: The path's parts: ``("mymaster", "0")`` for a sentinel URL, ``("0",)`` or () else.
    path: tuple[str, ...]


def _host_port(text: str, default_port: int) -> tuple[str, int]:
    if text.startswith("["):  # [::1]:26379
        host, _, rest = text[1:].partition("]")
        port = rest.removeprefix(":")
    else:
        host, _, port = text.partition(":")
    if not host or (port and not port.isdigit()) or (port and not 0 < int(port) < 65536):
        raise ValueError(f"bad host:port {text!r} in the Redis URL")
    return host, int(port) if port else default_port


def parse_hosts_url(url: str, default_port: int) -> HostsUrl:
    """Take apart a URL naming several hosts (``scheme://[user:pw@]h1:p1,h2:p2/path``), which
    ``urllib`` cannot (it reads one port). ValueError, without the password, if it is bad."""
    scheme, sep, rest = url.partition("://")
    if not sep:
        raise ValueError("the Redis URL has no scheme")
    if "?" in rest or "#" in rest:
        raise ValueError(f"a {scheme}:// URL takes no query or fragment")
    netloc, _, path = rest.partition("/")
    userinfo, at, hostlist = netloc.rpartition("@")
    username = password = None
    if at:
        user, colon, secret = userinfo.partition(":")
        username = unquote(user) or None
        password = unquote(secret) if colon else None
    hosts = tuple(_host_port(h.strip(), default_port) for h in hostlist.split(",") if h.strip())
    if not hosts:
        raise ValueError(f"a {scheme}:// URL names no host")
    parts = tuple(unquote(p) for p in path.split("/") if p)
    return HostsUrl(scheme.lower().startswith("rediss"), hosts, username, password, parts)


def url_password(url: str) -> str | None:
    """The password a Redis URL carries, if any (to redact it from error messages)."""
    netloc = url.partition("://")[2].partition("/")[0]
    userinfo, at, _ = netloc.rpartition("@")
    if not at or ":" not in userinfo:
        return None
    return unquote(userinfo.partition(":")[2]) or None


def check_prefix(url: str, prefix: str) -> None:
    """ValueError if ``url`` is a Cluster's and ``prefix`` has no hash tag (see the module)."""
    if url.partition("://")[0].lower() in REDIS_CLUSTER_SCHEMES and not redis_hash_tag(prefix):
        raise ValueError(
            f"the Redis key prefix {prefix!r} has no hash tag ({{...}}): with a Redis Cluster "
            "every key of one deployment must hash to one slot (MONITOR_REDIS_PREFIX="
            f"{{{prefix or 'news-monitor'}}})"
        )


def _tls_kwargs(options: RedisOptions) -> dict[str, Any]:
    return {
        "ssl_cert_reqs": "required",
        "ssl_check_hostname": True,
        "ssl_ca_certs": str(options.ca_file) if options.ca_file else None,
        "ssl_certfile": str(options.cert_file) if options.cert_file else None,
        "ssl_keyfile": str(options.key_file) if options.key_file else None,
    }


class _BlockingSentinelPool(SentinelConnectionPool, aioredis.BlockingConnectionPool):
    """A Sentinel master's pool whose callers wait for a free connection (up to ``timeout``)
    instead of failing, like the one-server pool of ``RedisStore.from_url``."""


class SentinelClient(aioredis.Redis):
    """The client of a Sentinel-managed master; closing it closes the connections to the
    sentinels too."""

    manager: Sentinel | None = None

    async def aclose(self, close_connection_pool: bool | None = None) -> None:
        await super().aclose(close_connection_pool)
        if self.manager is not None:
            for client in self.manager.sentinels:
                await client.aclose()


def _sentinel_client(
    url: str, options: RedisOptions, max_connections: int, pool_timeout: float, kw: dict[str, Any]
) -> aioredis.Redis:
    parts = parse_hosts_url(url, DEFAULT_SENTINEL_PORT)
    if not 1 <= len(parts.path) <= 2 or (len(parts.path) == 2 and not parts.path[1].isdigit()):
        raise ValueError(
            "a sentinel URL names its master, and optionally a database: "
            "redis+sentinel://host:26379,host2:26379/mymaster/0"
        )
    tls = _tls_kwargs(options) if parts.tls else {}
    timeouts: dict[str, Any] = {
        k: kw[k] for k in ("socket_connect_timeout", "socket_timeout") if k in kw
    }
    # redis-py before 8 leaves Sentinel's constructor untyped; 8 types it.
    sentinel = Sentinel(  # type: ignore[no-untyped-call,unused-ignore]
        list(parts.hosts),
        sentinel_kwargs={
            **timeouts,
            "password": options.sentinel_password,
            **({"ssl": True, **tls} if parts.tls else {}),
        },
        username=parts.username,
        password=parts.password,
        db=int(parts.path[1]) if len(parts.path) == 2 else 0,
        **({"ssl": True, **tls} if parts.tls else {}),
        **kw,
    )
    client = sentinel.master_for(
        parts.path[0],
        redis_class=SentinelClient,
        connection_pool_class=_BlockingSentinelPool,
        max_connections=max_connections,
        timeout=pool_timeout,
    )
    client.manager = sentinel
    return cast(aioredis.Redis, client)


def _cluster_client(
    url: str, options: RedisOptions, max_connections: int, kw: dict[str, Any]
) -> aioredis.Redis:
    parts = parse_hosts_url(url, DEFAULT_PORT)
    if parts.path not in ((), ("0",)):
        raise ValueError("a Redis Cluster has database 0 only: redis+cluster://host:6379/0")
    kw.pop("retry", None)  # a cluster retries on its own terms (MOVED, failovers)
    cluster = RedisCluster(
        startup_nodes=[ClusterNode(host, port) for host, port in parts.hosts],
        username=parts.username,
        password=parts.password,
        max_connections=max_connections,
        # No CLIENT SETINFO on connect: with it, redis-py 8.1's cluster client breaks
        # connections opened at the same moment (AttributeError on a None writer, about one
        # burst of 40 first calls in three in tests/store). The server's CLIENT LIST then
        # shows no library name, nothing else changes.
        driver_info=DriverInfo(name=None, lib_version=None),
        **({"ssl": True, **_tls_kwargs(options)} if parts.tls else {}),
        **kw,
    )
    # RedisCluster has every command, script and (same-slot) transaction the store sends;
    # it is typed as the one-server client the store is written against.
    return cast(aioredis.Redis, cluster)


def make_client(
    url: str,
    options: RedisOptions | None = None,
    *,
    max_connections: int,
    pool_timeout: float,
    **client_kwargs: Any,
) -> aioredis.Redis:
    """A client for ``url`` (no I/O until the first command); ValueError for a bad URL.

    ``client_kwargs`` (timeouts, retry) apply to every connection to a server.
    """
    options = options or RedisOptions()
    scheme = url.partition("://")[0].lower()
    if scheme in SENTINEL_SCHEMES:
        return _sentinel_client(url, options, max_connections, pool_timeout, dict(client_kwargs))
    if scheme in REDIS_CLUSTER_SCHEMES:
        return _cluster_client(url, options, max_connections, dict(client_kwargs))
    if scheme == "rediss":
        client_kwargs = {**_tls_kwargs(options), **client_kwargs}
    pool = aioredis.BlockingConnectionPool.from_url(
        url, max_connections=max_connections, timeout=pool_timeout, **client_kwargs
    )
    return aioredis.Redis.from_pool(pool)  # the client owns (and closes) the pool
