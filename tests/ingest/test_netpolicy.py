"""monitor.ingest.netpolicy without a network: which addresses are refused and how it is
said, and the pinned backend (resolve once, check, connect by address) with a fake resolver
and a recording connector, so nothing here ever connects to the address it names."""

from __future__ import annotations

import ipaddress
import re
import socket
from typing import Any

import httpcore
import pytest

from monitor.config.models import FeedConfig
from monitor.ingest.fetch import build_http_client, fetch_feed
from monitor.ingest.netpolicy import (
    AddressPolicy,
    AddressRefused,
    GuardedTransport,
    PinnedBackend,
    address_kind,
    address_refusal,
)
from monitor.model import FeedValidators, FetchStatus
from monitor.settings import Settings


class Refused(Exception):
    """What the recording connector raises: the test never really connects."""


class Recorder(httpcore.AsyncNetworkBackend):
    """A network backend that records every connection asked of it and makes none."""

    def __init__(self) -> None:
        self.connects: list[tuple[str, int]] = []

    async def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,  # noqa: ASYNC109 - httpcore's interface
        local_address: str | None = None,
        socket_options: Any = None,
    ) -> httpcore.AsyncNetworkStream:
        self.connects.append((host, port))
        raise httpcore.ConnectError(f"recorded {host}:{port}")


class FakeResolver:
    """Answers from a table, counting the questions."""

    def __init__(self, table: dict[str, list[str]]) -> None:
        self.table = table
        self.asked: list[str] = []

    async def __call__(self, host: str, port: int) -> list[str]:
        self.asked.append(host)
        if host not in self.table:
            raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")
        return self.table[host]


def strict_settings() -> Settings:
    return Settings(_env_file=None, allow_private_addresses=False)


async def fetch_through(
    url: str,
    resolver: FakeResolver,
    recorder: Recorder,
    policy: AddressPolicy | None = None,
    *,
    allow_private: bool = False,
) -> Any:
    transport = GuardedTransport(policy or AddressPolicy(), resolver=resolver, inner=recorder)
    async with build_http_client(strict_settings(), transport=transport) as client:
        return await fetch_feed(
            client,
            "f",
            url,
            FeedValidators(),
            total_timeout=5,
            max_bytes=10_000,
            allow_private=allow_private,
        )


# -- what is refused -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("address", "kind"),
    [
        ("127.0.0.1", "loopback"),
        ("127.255.0.9", "loopback"),
        ("10.0.0.1", "private"),
        ("172.16.5.4", "private"),
        ("192.168.1.1", "private"),
        ("169.254.169.254", "link-local"),
        ("100.64.0.1", "shared (CGNAT)"),
        ("0.0.0.0", "unspecified"),
        ("224.0.0.1", "multicast"),
        ("240.0.0.1", "reserved"),
        ("255.255.255.255", "reserved"),
        ("192.0.2.1", "non-public"),
        ("198.18.0.1", "non-public"),
        ("::1", "loopback"),
        ("::", "unspecified"),
        ("fe80::1", "link-local"),
        ("fec0::1", "site-local"),
        ("fc00::1", "unique-local"),
        ("fd12:3456::1", "unique-local"),
        ("ff02::1", "multicast"),
        ("2001:db8::1", "non-public"),
        ("::ffff:169.254.169.254", "IPv4-mapped link-local"),
        ("::ffff:127.0.0.1", "IPv4-mapped loopback"),
        ("::ffff:10.1.2.3", "IPv4-mapped private"),
        ("::127.0.0.1", "IPv4-compatible loopback"),
        ("64:ff9b::a9fe:a9fe", "NAT64 link-local"),
        ("64:ff9b:1::1", "private"),
        ("2002:7f00:1::", "6to4 loopback"),
    ],
)
def test_non_public_addresses_are_refused(address: str, kind: str) -> None:
    assert address_kind(ipaddress.ip_address(address)) == kind
    assert AddressPolicy().refusal(address, address, 80) is not None
    assert AddressPolicy(allow_private=True).refusal(address, address, 80) is None


@pytest.mark.parametrize(
    "address",
    ["93.184.216.34", "8.8.8.8", "2606:4700:4700::1111", "::ffff:8.8.8.8", "64:ff9b::808:808"],
)
def test_public_addresses_are_allowed(address: str) -> None:
    assert address_kind(ipaddress.ip_address(address)) == ""
    assert AddressPolicy().refusal(address, address, 443) is None


def test_the_refusal_says_what_the_address_is_and_what_allows_it() -> None:
    assert str(AddressRefused("127.0.0.1", "127.0.0.1", "loopback")) == (
        "refused: 127.0.0.1 is a loopback address (MONITOR_ALLOW_PRIVATE_ADDRESSES)"
    )
    assert str(AddressPolicy().refusal("localhost", "127.0.0.1", 80)) == (
        "refused: localhost is 127.0.0.1, a loopback address (MONITOR_ALLOW_PRIVATE_ADDRESSES)"
    )
    mapped = "::ffff:169.254.169.254"
    assert str(AddressPolicy().refusal(mapped, mapped, 80)) == (
        f"refused: {mapped} is an IPv4-mapped link-local address (MONITOR_ALLOW_PRIVATE_ADDRESSES)"
    )
    assert address_refusal("10.0.0.1").startswith("refused: 10.0.0.1 is a private address")
    assert address_refusal("intranet.example") == "", "a name needs resolving first"
    assert address_refusal("10.0.0.1", policy=AddressPolicy(allow_private=True)) == ""


def test_an_exemption_covers_one_address_and_port_only() -> None:
    policy = AddressPolicy(exempt=frozenset({(ipaddress.ip_address("127.0.0.1"), 8001)}))
    assert policy.refusal("127.0.0.1", "127.0.0.1", 8001) is None
    assert policy.refusal("127.0.0.1", "127.0.0.1", 8002) is not None
    assert policy.refusal("localhost", "::1", 8001) is not None


def test_private_addresses_are_refused_unless_the_setting_or_the_feed_allows_them(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("MONITOR_ALLOW_PRIVATE_ADDRESSES")
    assert Settings(_env_file=None).allow_private_addresses is False
    monkeypatch.setenv("MONITOR_ALLOW_PRIVATE_ADDRESSES", "true")
    assert AddressPolicy.from_settings(Settings(_env_file=None)).allow_private is True
    assert FeedConfig(id="f", url="http://x.example/").allow_private_addresses is False
    feed = FeedConfig(id="f", url="http://x.example/", allow_private_addresses=True)
    assert feed.allow_private_addresses is True


# -- the first request: refused before any connection ------------------------------


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("http://169.254.169.254/latest/meta-data/", "169.254.169.254 is a link-local address"),
        ("http://10.0.0.1/feed.xml", "10.0.0.1 is a private address"),
        ("http://[::ffff:169.254.169.254]/", "is an IPv4-mapped link-local address"),
        ("http://100.64.1.1/", "100.64.1.1 is a shared (CGNAT) address"),
        ("http://metadata.example/", "metadata.example is 169.254.169.254, a link-local"),
        ("http://intranet.example/", "intranet.example is 10.0.0.1, a private address"),
    ],
)
async def test_a_first_request_to_a_private_address_is_refused_without_connecting(
    url: str, message: str
) -> None:
    resolver = FakeResolver(
        {"metadata.example": ["169.254.169.254"], "intranet.example": ["10.0.0.1"]}
    )
    recorder = Recorder()
    outcome = await fetch_through(url, resolver, recorder)
    assert outcome.status is FetchStatus.ERROR
    assert outcome.refused is True
    assert outcome.retryable is False
    assert message in outcome.error
    assert outcome.error.endswith("(MONITOR_ALLOW_PRIVATE_ADDRESSES)")
    assert recorder.connects == [], "never connected"
    assert resolver.asked == ([] if "example" not in url else [url.split("/")[2]])


async def test_the_default_client_refuses_the_metadata_service_without_connecting() -> None:
    """build_http_client(settings) alone: the composition root's client."""
    async with build_http_client(strict_settings()) as client:
        outcome = await fetch_feed(
            client,
            "meta",
            "http://169.254.169.254/latest/meta-data/",
            FeedValidators(),
            total_timeout=0.5,  # a connection attempt would be a timeout instead
            max_bytes=1000,
        )
    assert outcome.refused and "169.254.169.254 is a link-local address" in outcome.error


async def test_the_resolved_address_is_connected_to_not_the_name() -> None:
    """Resolved once, checked, and connected to by address: no second lookup for DNS
    rebinding to answer differently."""
    resolver = FakeResolver({"feeds.example": ["10.9.9.9", "203.0.113.7", "93.184.216.34"]})
    recorder = Recorder()
    outcome = await fetch_through("http://feeds.example:8080/rss", resolver, recorder)
    assert resolver.asked == ["feeds.example"]
    # The private answer is dropped; 203.0.113.7 (documentation range) is not global either.
    assert recorder.connects == [("93.184.216.34", 8080)]
    assert outcome.status is FetchStatus.ERROR and not outcome.refused  # connect failed


async def test_a_name_with_no_address_is_an_ordinary_connect_error() -> None:
    outcome = await fetch_through("http://nowhere.example/", FakeResolver({}), Recorder())
    assert outcome.status is FetchStatus.ERROR and outcome.retryable and not outcome.refused
    assert "ConnectError: [Errno -2] Name or service not known" in outcome.error


async def test_a_feed_that_opted_in_may_reach_private_addresses() -> None:
    resolver = FakeResolver({"intranet.example": ["10.0.0.1"]})
    recorder = Recorder()
    outcome = await fetch_through(
        "http://intranet.example/feed.xml", resolver, recorder, allow_private=True
    )
    assert not outcome.refused
    assert recorder.connects == [("10.0.0.1", 80)]


async def test_the_connected_peer_is_checked_too() -> None:
    """Whatever led to it, a connection whose peer is a refused address is closed."""

    class Stream(httpcore.AsyncNetworkStream):
        closed = False

        def get_extra_info(self, info: str) -> Any:
            return ("127.0.0.1", 80) if info == "server_addr" else None

        async def aclose(self) -> None:
            Stream.closed = True

    class Lying(httpcore.AsyncNetworkBackend):
        async def connect_tcp(self, host: str, port: int, **kwargs: Any) -> Any:
            return Stream()

    backend = PinnedBackend(AddressPolicy(), inner=Lying())
    with pytest.raises(AddressRefused, match=re.escape("is 127.0.0.1, a loopback address")):
        await backend.connect_tcp("93.184.216.34", 80)
    assert Stream.closed
