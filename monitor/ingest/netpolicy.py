"""Which addresses a fetch may connect to: no SSRF through a feed URL or its redirects.

A feed URL, and every redirect a feed server answers with, names a host the
daemon then connects to. Left alone, a hostile or hijacked feed could point
it at the machine itself (``127.0.0.1``, ``localhost``, ``2130706433``), the
cloud metadata service (``169.254.169.254``), or the private network behind
it, and the daemon would ingest the answer and alert on it. So, unless
``MONITOR_ALLOW_PRIVATE_ADDRESSES`` (or a feed's ``allow_private_addresses``)
allows them, a fetch never connects to a loopback, private (RFC 1918),
link-local, unique-local, site-local, unspecified, multicast, reserved,
shared (CGNAT, 100.64.0.0/10) or other non-global address, nor to an IPv6
address embedding one (IPv4-mapped ``::ffff:a.b.c.d``, IPv4-compatible,
NAT64, 6to4): :func:`address_refusal` says why one is refused.

The check is made where the connection is made, on the address connected to,
for the first request and every redirect hop alike: :class:`PinnedBackend` is
an httpcore network backend that resolves the host name once, drops the
addresses the policy refuses, connects to a remaining one *by address*, and
checks the connected socket's peer once more. Checking the URL's host instead
would miss ``localhost``-like names and every numeric form the resolver
accepts (``0x7f000001``, ``127.1``), and resolving to check and letting the
connection resolve again would leave a window for DNS rebinding (a name that
answers a public address to the check and a private one to the connection).
TLS still verifies the certificate against the host name: only the TCP
connection is pinned.

:class:`GuardedTransport` is the httpx transport to use (:func:`guarded_transport`
builds it from the settings); a request whose extensions carry
:data:`ALLOW_PRIVATE` (a feed that opted in) goes through a connection pool of
its own, so a connection opened for it is never reused by a fetch that may not
reach private addresses. A refusal is :class:`AddressRefused`, an
``httpx.ConnectError`` raised before any byte is sent. Proxy variables from the
environment (``HTTPS_PROXY``) are not used: a proxy would connect on our behalf,
to an address this check never sees.

A feed may name its own proxy (``proxy:`` in the watch config): a request whose
extensions carry :data:`PROXY` goes through a :class:`ProxyTransport` for that proxy
(one pool per proxy and policy). There the policy checks the address connected to,
which is the *proxy's*: a proxy on a private address needs the feed's
``allow_private_addresses``. The target's address is the proxy's to resolve and is
never seen here, so only a target written as an address literal (``http://10.0.0.5/``)
is checked, against the same policy; what the proxy lets its clients reach is the
proxy's own policy.
"""

from __future__ import annotations

import ipaddress
import socket
import ssl
import time
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, field, replace
from typing import Any

import anyio
import httpcore
import httpx

from monitor.settings import Settings

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
#: Resolves ``(host, port)`` to the addresses to try, in order (tests inject their own).
Resolver = Callable[[str, int], Awaitable[list[str]]]

#: The request extension that lets one request (and its redirects) reach private
#: addresses: ``client.stream("GET", url, extensions={ALLOW_PRIVATE: True})``.
ALLOW_PRIVATE = "news_monitor.allow_private_addresses"
#: The request extension naming the proxy one request (and its redirects) goes through:
#: ``http(s)://[user:password@]host:port``.
PROXY = "news_monitor.proxy"
#: The setting named in every refusal, where an operator would allow such addresses.
SETTING = "MONITOR_ALLOW_PRIVATE_ADDRESSES"
# Each address tried gets at least this long to connect (as Go's net.Dialer does), and
# otherwise an equal share of what remains of the connect timeout.
_MIN_ATTEMPT_SECONDS = 2.0

_RFC1918 = tuple(
    ipaddress.IPv4Network(n) for n in ("10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16")
)
_SHARED = ipaddress.IPv4Network("100.64.0.0/10")  # RFC 6598, carrier-grade NAT
_UNIQUE_LOCAL = ipaddress.IPv6Network("fc00::/7")
_NAT64 = ipaddress.IPv6Network("64:ff9b::/96")  # RFC 6052, embeds an IPv4 address
_NAT64_LOCAL = ipaddress.IPv6Network("64:ff9b:1::/48")  # RFC 8215, local use


class AddressRefused(httpx.ConnectError):
    """A connection the policy refused (before connecting); ``str()`` says why."""

    def __init__(self, host: str, address: str, kind: str) -> None:
        self.host = host
        self.address = address
        self.kind = kind
        what = f"{_article(kind)} {kind} address"
        shown = f"{address} is {what}" if host == address else f"{host} is {address}, {what}"
        super().__init__(f"refused: {shown} ({SETTING})")


def address_kind(address: IPAddress) -> str:
    """What makes ``address`` one a fetch must not reach ("loopback", "private", ...);
    "" for a public (global unicast) address."""
    if isinstance(address, ipaddress.IPv6Address):
        if embedded := _embedded_ipv4(address):
            form, ipv4 = embedded
            kind = address_kind(ipv4)
            return f"{form} {kind}" if kind else ""
        checks6: tuple[tuple[str, bool], ...] = (
            ("unspecified", address.is_unspecified),
            ("loopback", address.is_loopback),
            ("link-local", address.is_link_local),
            ("site-local", address.is_site_local),
            ("unique-local", address in _UNIQUE_LOCAL),
            ("multicast", address.is_multicast),
            ("private", address in _NAT64_LOCAL),
            ("reserved", address.is_reserved),
        )
        return _first_kind(checks6, address)
    checks4: tuple[tuple[str, bool], ...] = (
        ("unspecified", address.is_unspecified),
        ("loopback", address.is_loopback),
        ("link-local", address.is_link_local),
        ("private", any(address in net for net in _RFC1918)),
        ("shared (CGNAT)", address in _SHARED),
        ("multicast", address.is_multicast),
        ("reserved", address.is_reserved),
    )
    return _first_kind(checks4, address)


@dataclass(frozen=True, slots=True)
class AddressPolicy:
    """Which addresses connections may go to."""

    #: Allow every address (MONITOR_ALLOW_PRIVATE_ADDRESSES, a feed's opt-in).
    allow_private: bool = False
    #: ``(address, port)`` pairs allowed whatever their kind: how tests let a loopback
    #: listener stand for a server on the internet while the rest of loopback is refused.
    exempt: frozenset[tuple[IPAddress, int]] = field(default_factory=frozenset)

    @classmethod
    def from_settings(cls, settings: Settings) -> AddressPolicy:
        return cls(allow_private=settings.allow_private_addresses)

    def allowing_private(self) -> AddressPolicy:
        """This policy with every address allowed (a feed that opted in)."""
        return replace(self, allow_private=True)

    def refusal(self, host: str, address: str, port: int) -> AddressRefused | None:
        """Why connecting to ``address`` (resolved from ``host``) on ``port`` is refused;
        None if it is allowed."""
        if self.allow_private:
            return None
        parsed = _parse_ip(address)
        if parsed is None:  # not an address at all: nothing we could vouch for
            return AddressRefused(host, address, "unparsable")
        if (parsed, port) in self.exempt:
            return None
        kind = address_kind(parsed)
        return AddressRefused(host, address, kind) if kind else None


def address_refusal(host: str, port: int = 0, policy: AddressPolicy | None = None) -> str:
    """Why ``host`` (an address literal) is refused under ``policy`` ("" if it is not, or
    if ``host`` is a name: only resolving it can tell). For checks without connecting."""
    if _parse_ip(host) is None:
        return ""
    refused = (policy or AddressPolicy()).refusal(host, host, port)
    return str(refused) if refused else ""


async def system_resolver(host: str, port: int) -> list[str]:
    """The addresses of ``host``, in the order getaddrinfo gives them (RFC 6724), once each."""
    infos = await anyio.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return list(dict.fromkeys(str(info[4][0]) for info in infos))


class PinnedBackend(httpcore.AsyncNetworkBackend):
    """An httpcore network backend that connects only to addresses ``policy`` allows.

    The host is resolved once (``resolver``); refused addresses are dropped; the
    others are tried in order, each connected to by address (so nothing resolves the
    name again); the connected peer is checked once more. ``inner`` makes the TCP
    connections (httpcore's own backend by default).
    """

    def __init__(
        self,
        policy: AddressPolicy,
        *,
        resolver: Resolver | None = None,
        inner: httpcore.AsyncNetworkBackend | None = None,
    ) -> None:
        self.policy = policy
        self._resolve = resolver or system_resolver
        self._inner = inner or httpcore.AnyIOBackend()

    async def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,  # noqa: ASYNC109 - httpcore's interface
        local_address: str | None = None,
        socket_options: Iterable[httpcore.SOCKET_OPTION] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        deadline = None if timeout is None else time.monotonic() + timeout
        addresses = await self._addresses(host, port, timeout)
        allowed: list[str] = []
        first_refusal: AddressRefused | None = None
        for address in addresses:
            refused = self.policy.refusal(host, address, port)
            if refused is None:
                allowed.append(address)
            elif first_refusal is None:
                first_refusal = refused
        if not allowed:
            if first_refusal is not None:
                raise first_refusal
            raise httpcore.ConnectError(f"no address found for {host}")
        failure: Exception | None = None
        for i, address in enumerate(allowed):
            attempt = _attempt_timeout(deadline, len(allowed) - i)
            try:
                stream = await self._inner.connect_tcp(
                    address,
                    port,
                    timeout=attempt,
                    local_address=local_address,
                    socket_options=socket_options,
                )
            except (httpcore.ConnectError, httpcore.ConnectTimeout) as exc:
                failure = exc
                continue
            await self._check_peer(stream, host, port)
            return stream
        assert failure is not None
        raise failure

    async def _addresses(self, host: str, port: int, seconds: float | None) -> list[str]:
        """The addresses of ``host``: itself if it is one, else the resolver's answer."""
        if _parse_ip(host) is not None:
            return [host]
        try:
            with anyio.fail_after(seconds):
                return await self._resolve(host, port)
        except TimeoutError as exc:
            raise httpcore.ConnectTimeout(f"resolving {host} timed out") from exc
        except OSError as exc:  # socket.gaierror: no such name, no network
            raise httpcore.ConnectError(str(exc)) from exc

    async def _check_peer(self, stream: httpcore.AsyncNetworkStream, host: str, port: int) -> None:
        """Refuse a connection whose peer is not an allowed address, whatever led to it."""
        peer: Any = stream.get_extra_info("server_addr")
        if isinstance(peer, tuple) and peer:
            refused = self.policy.refusal(host, str(peer[0]), port)
            if refused is not None:
                await stream.aclose()
                raise refused

    async def connect_unix_socket(
        self,
        path: str,
        timeout: float | None = None,  # noqa: ASYNC109 - httpcore's interface
        socket_options: Iterable[httpcore.SOCKET_OPTION] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        raise httpcore.ConnectError("unix sockets are not used for fetches")

    async def sleep(self, seconds: float) -> None:
        await self._inner.sleep(seconds)


class PinnedTransport(httpx.AsyncHTTPTransport):
    """httpx's own transport (HTTP/1.1, TLS verified, ``SSL_CERT_FILE`` honoured) whose
    connections go through a :class:`PinnedBackend`."""

    def __init__(
        self,
        policy: AddressPolicy,
        *,
        limits: httpx.Limits,
        ssl_context: ssl.SSLContext | None = None,
        resolver: Resolver | None = None,
        inner: httpcore.AsyncNetworkBackend | None = None,
    ) -> None:
        ssl_context = ssl_context or httpx.create_ssl_context()
        super().__init__(verify=ssl_context, limits=limits)
        self.backend = PinnedBackend(policy, resolver=resolver, inner=inner)
        # The pool httpx built is replaced by one with the same settings and our network
        # backend (httpx has no parameter for it); handle_async_request uses self._pool.
        self._pool = httpcore.AsyncConnectionPool(
            ssl_context=ssl_context,
            max_connections=limits.max_connections,
            max_keepalive_connections=limits.max_keepalive_connections,
            keepalive_expiry=limits.keepalive_expiry,
            network_backend=self.backend,
        )


class ProxyTransport(httpx.AsyncHTTPTransport):
    """httpx's transport through one HTTP(S) proxy (``CONNECT`` for https targets), whose
    connection to the proxy goes through a :class:`PinnedBackend`: the proxy's address is
    the one the policy checks. A target that is an address literal is checked as well."""

    def __init__(
        self,
        proxy_url: str,
        policy: AddressPolicy,
        *,
        limits: httpx.Limits,
        ssl_context: ssl.SSLContext,
        resolver: Resolver | None = None,
        inner: httpcore.AsyncNetworkBackend | None = None,
    ) -> None:
        super().__init__(verify=ssl_context, limits=limits)
        proxy = httpx.Proxy(proxy_url)  # user info becomes Proxy-Authorization
        self.policy = policy
        self.backend = PinnedBackend(policy, resolver=resolver, inner=inner)
        # As in PinnedTransport: httpx's own proxy pool, built with our network backend.
        self._pool = httpcore.AsyncHTTPProxy(
            proxy_url=httpcore.URL(
                scheme=proxy.url.raw_scheme,
                host=proxy.url.raw_host,
                port=proxy.url.port,
                target=proxy.url.raw_path,
            ),
            proxy_auth=proxy.raw_auth,
            proxy_headers=proxy.headers.raw,
            # TLS to the proxy itself only for an https:// proxy (httpcore refuses it else).
            proxy_ssl_context=ssl_context if proxy.url.scheme == "https" else None,
            ssl_context=ssl_context,
            max_connections=limits.max_connections,
            max_keepalive_connections=limits.max_keepalive_connections,
            keepalive_expiry=limits.keepalive_expiry,
            network_backend=self.backend,
        )

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        host = request.url.host
        port = request.url.port or (443 if request.url.scheme == "https" else 80)
        if _parse_ip(host) is not None and (refused := self.policy.refusal(host, host, port)):
            raise refused
        return await super().handle_async_request(request)


class GuardedTransport(httpx.AsyncBaseTransport):
    """The transport of every fetch of a URL from outside: connections only to addresses
    ``policy`` allows, unless the request carries :data:`ALLOW_PRIVATE` (then through a
    pool of its own that allows them all)."""

    def __init__(
        self,
        policy: AddressPolicy,
        *,
        limits: httpx.Limits | None = None,
        resolver: Resolver | None = None,
        inner: httpcore.AsyncNetworkBackend | None = None,
    ) -> None:
        self.policy = policy
        # One CA bundle load (SSL_CERT_FILE / SSL_CERT_DIR honoured) for every pool.
        self._options: dict[str, Any] = {
            "limits": limits or httpx.Limits(),
            "ssl_context": httpx.create_ssl_context(),
            "resolver": resolver,
            "inner": inner,
        }
        self._strict = PinnedTransport(policy, **self._options)
        self._open = (
            self._strict
            if policy.allow_private
            else PinnedTransport(policy.allowing_private(), **self._options)
        )
        # Feeds' proxies, by (proxy URL, private addresses allowed): made when first asked.
        self._proxies: dict[tuple[str, bool], ProxyTransport] = {}

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        allow_private = bool(request.extensions.get(ALLOW_PRIVATE))
        proxy = request.extensions.get(PROXY)
        transport: httpx.AsyncBaseTransport
        if isinstance(proxy, str) and proxy:
            transport = self._proxy(proxy, allow_private)
        else:
            transport = self._open if allow_private else self._strict
        try:
            return await transport.handle_async_request(request)
        except AddressRefused as exc:
            exc.request = request  # the hop refused, for the caller's message
            raise

    def _proxy(self, url: str, allow_private: bool) -> ProxyTransport:
        """The pool of connections through ``url`` (its connections are never shared with
        direct fetches, nor between feeds that may and may not reach private addresses)."""
        key = (url, allow_private or self.policy.allow_private)
        if key not in self._proxies:
            policy = self.policy.allowing_private() if key[1] else self.policy
            self._proxies[key] = ProxyTransport(url, policy, **self._options)
        return self._proxies[key]

    async def aclose(self) -> None:
        await self._strict.aclose()
        if self._open is not self._strict:
            await self._open.aclose()
        for proxy in self._proxies.values():
            await proxy.aclose()


def guarded_transport(
    settings: Settings, *, policy: AddressPolicy | None = None, resolver: Resolver | None = None
) -> GuardedTransport:
    """The transport for fetching URLs that come from outside (feeds, their redirects,
    full-text pages): the address policy of ``settings`` (or ``policy``), at most
    ``MONITOR_MAX_CONCURRENT_FETCHES`` connections per pool."""
    return GuardedTransport(
        policy or AddressPolicy.from_settings(settings),
        limits=httpx.Limits(max_connections=settings.max_concurrent_fetches),
        resolver=resolver,
    )


def refused_hop(exc: AddressRefused) -> str:
    """The URL whose connection was refused ("" if unknown)."""
    try:
        return str(exc.request.url)
    except RuntimeError:  # raised outside a GuardedTransport: no request attached
        return ""


def _parse_ip(text: str) -> IPAddress | None:
    try:
        return ipaddress.ip_address(text)
    except ValueError:
        return None


def _embedded_ipv4(address: ipaddress.IPv6Address) -> tuple[str, ipaddress.IPv4Address] | None:
    """The IPv4 address an IPv6 one stands for, with the name of the form; None if none."""
    low32 = ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
    if address.ipv4_mapped is not None:
        return "IPv4-mapped", address.ipv4_mapped
    if int(address) >> 32 == 0 and int(address) > 1:  # ::a.b.c.d, neither :: nor ::1
        return "IPv4-compatible", low32
    if address in _NAT64:
        return "NAT64", low32
    if address.sixtofour is not None:
        return "6to4", address.sixtofour
    return None


def _first_kind(checks: tuple[tuple[str, bool], ...], address: IPAddress) -> str:
    """The first kind that applies; else "non-public" for any other non-global address."""
    return next((kind for kind, hit in checks if hit), "" if address.is_global else "non-public")


def _article(kind: str) -> str:
    return "an" if kind.startswith(("IPv4", "unspecified", "unparsable")) else "a"


def _attempt_timeout(deadline: float | None, remaining_addresses: int) -> float | None:
    if deadline is None:
        return None
    left = max(deadline - time.monotonic(), 0.0)
    return min(left, max(left / remaining_addresses, _MIN_ATTEMPT_SECONDS))
