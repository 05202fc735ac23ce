"""The HTTP server on its own: endpoints answered from fake probes, on an ephemeral port;
uvicorn on the test's loop, leaving signals and logging alone; the loopback rule."""

from __future__ import annotations

import asyncio
import logging
import signal
import socket
from collections.abc import AsyncIterator, Mapping

import httpx
import pytest

from monitor.errors import ConfigError
from monitor.web import HttpServer, HttpServerError, Metrics, Probes
from monitor.web.auth import is_loopback
from monitor.web.server import check_exposure


class FakeDaemon:
    """Probe answers the tests set."""

    def __init__(self) -> None:
        self.alive: dict[str, bool] = {"scheduler": True, "worker": True}
        self.reason: str | None = None
        self.refreshed = 0
        self.ready_delay = 0.0

    def probes(self) -> Probes:
        def alive() -> Mapping[str, bool]:
            return dict(self.alive)

        async def not_ready() -> str | None:
            await asyncio.sleep(self.ready_delay)
            return self.reason

        async def refresh() -> None:
            self.refreshed += 1

        return Probes(alive=alive, not_ready=not_ready, refresh=refresh)


@pytest.fixture
def daemon() -> FakeDaemon:
    return FakeDaemon()


@pytest.fixture
async def client(daemon: FakeDaemon) -> AsyncIterator[httpx.AsyncClient]:
    server = HttpServer("127.0.0.1:0", daemon.probes(), Metrics(rules=3))
    await server.start()
    try:
        async with httpx.AsyncClient(base_url=f"http://{server.address}") as http:
            yield http
    finally:
        await server.stop()


async def test_healthz_says_which_parts_are_alive(
    client: httpx.AsyncClient, daemon: FakeDaemon
) -> None:
    ok = await client.get("/healthz")
    assert ok.status_code == 200
    assert ok.json() == {"status": "ok", "event_loop": True, "scheduler": True, "worker": True}

    daemon.alive["worker"] = False
    down = await client.get("/healthz")
    assert down.status_code == 503
    assert down.json()["status"] == "unhealthy"
    assert down.json()["worker"] is False
    assert down.json()["scheduler"] is True


async def test_readyz_is_503_with_the_reason(client: httpx.AsyncClient, daemon: FakeDaemon) -> None:
    ready = await client.get("/readyz")
    assert ready.status_code == 200
    assert ready.json()["status"] == "ready"

    daemon.reason = "store: connection refused"
    not_ready = await client.get("/readyz")
    assert not_ready.status_code == 503
    assert not_ready.json() == {"status": "not_ready", "reason": "store: connection refused"}


async def test_readyz_does_not_wait_forever_for_the_store(
    client: httpx.AsyncClient, daemon: FakeDaemon, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("monitor.web.probes.READY_TIMEOUT", 0.1)
    daemon.ready_delay = 5
    answer = await client.get("/readyz")
    assert answer.status_code == 503
    assert "no answer" in answer.json()["reason"]


async def test_metrics_are_the_prometheus_text_format(
    client: httpx.AsyncClient, daemon: FakeDaemon
) -> None:
    answer = await client.get("/metrics")
    assert answer.status_code == 200
    assert answer.headers["content-type"].startswith("text/plain; version=")
    assert "news_monitor_rules 3.0" in answer.text
    assert 'news_monitor_build_info{version="' in answer.text
    assert daemon.refreshed == 1


async def test_unknown_paths_are_404(client: httpx.AsyncClient) -> None:
    assert (await client.get("/nope")).status_code == 404


async def test_an_address_in_use_is_an_error_naming_it(daemon: FakeDaemon) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        server = HttpServer(f"127.0.0.1:{port}", daemon.probes(), Metrics())
        with pytest.raises(HttpServerError, match=f"127.0.0.1:{port}"):
            await server.start()
        await server.stop()  # harmless when it never started


async def test_stop_closes_the_port(daemon: FakeDaemon) -> None:
    server = HttpServer("127.0.0.1:0", daemon.probes(), Metrics())
    await server.start()
    url = f"http://{server.address}/healthz"
    async with httpx.AsyncClient() as http:
        assert (await http.get(url)).status_code == 200
        await server.stop()
        with pytest.raises(httpx.ConnectError):
            await http.get(url)


async def test_uvicorn_leaves_signals_and_logging_alone(daemon: FakeDaemon) -> None:
    handlers = {sig: signal.getsignal(sig) for sig in (signal.SIGTERM, signal.SIGINT)}
    root = logging.getLogger()
    root_handlers, root_level = list(root.handlers), root.level
    server = HttpServer("127.0.0.1:0", daemon.probes(), Metrics())
    await server.start()
    try:
        async with httpx.AsyncClient() as http:
            assert (await http.get(f"http://{server.address}/healthz")).status_code == 200
        assert {sig: signal.getsignal(sig) for sig in handlers} == handlers
        assert root.handlers == root_handlers
        assert root.level == root_level
    finally:
        await server.stop()
    assert {sig: signal.getsignal(sig) for sig in handlers} == handlers


async def test_a_request_in_flight_finishes_when_the_server_stops(daemon: FakeDaemon) -> None:
    daemon.ready_delay = 0.3
    server = HttpServer("127.0.0.1:0", daemon.probes(), Metrics())
    await server.start()
    async with httpx.AsyncClient() as http:
        slow = asyncio.create_task(http.get(f"http://{server.address}/readyz"))
        await asyncio.sleep(0.1)
        await server.stop()
        assert (await slow).status_code == 200


@pytest.mark.parametrize(
    ("host", "loopback"),
    [
        ("127.0.0.1", True),
        ("127.0.0.53", True),
        ("::1", True),
        ("[::1]", True),
        ("localhost", True),
        ("0.0.0.0", False),
        ("::", False),
        ("192.168.1.10", False),
        ("monitor.example.org", False),
    ],
)
def test_loopback_addresses(host: str, loopback: bool) -> None:
    assert is_loopback(host) is loopback


async def test_a_public_address_without_a_token_is_refused(daemon: FakeDaemon) -> None:
    check_exposure("0.0.0.0", "a-long-enough-token")  # with a token: fine
    server = HttpServer("0.0.0.0:0", daemon.probes(), Metrics())
    with pytest.raises(ConfigError, match="MONITOR_HTTP_TOKEN") as refused:
        await server.start()  # refused before anything is bound
    assert refused.value.issues[0].file == "MONITOR_HTTP_ADDR"
    await server.stop()
