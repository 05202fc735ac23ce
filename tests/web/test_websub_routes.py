"""The WebSub callback routes (``monitor.web.websub``) over a scripted receiver: what each
answer is, what is counted, and that neither the console's token nor its loopback-only
rule closes them."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

import httpx
import pytest

from monitor.errors import StoreError
from monitor.web.asgi import build_app
from monitor.web.metrics import Metrics
from monitor.web.websub import PushResult
from tests.web.console_support import Console, load_watch, probes

TOKEN = "console-token"


class Receiver:
    """Answers verifications for ("wire", "tok") only; pushes by a scripted outcome."""

    max_body = 1000

    def __init__(self) -> None:
        self.outcome = "accepted"
        self.pushes: list[tuple[str, str, bytes, str, str | None]] = []
        self.down = False

    async def verify(self, feed_id: str, token: str, params: Mapping[str, str]) -> str | None:
        if self.down:
            raise StoreError("connection refused")
        if (feed_id, token) != ("wire", "tok"):
            return None
        return params.get("hub.challenge", "")

    async def receive(
        self, feed_id: str, token: str, body: bytes, content_type: str, signature: str | None
    ) -> PushResult:
        if self.down:
            raise StoreError("connection refused")
        self.pushes.append((feed_id, token, body, content_type, signature))
        return PushResult(self.outcome)


@pytest.fixture
def receiver() -> Receiver:
    return Receiver()


def client(app: object, base: str = "http://127.0.0.1:8080") -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=httpx.ASGITransport(app), base_url=base)  # type: ignore[arg-type]


def pushes(metrics: Metrics, outcome: str) -> float | None:
    return metrics.registry.get_sample_value(
        "news_monitor_websub_pushes_total", {"outcome": outcome}
    )


async def test_a_verification_echoes_the_challenge_or_is_a_404(receiver: Receiver) -> None:
    app = build_app(probes(), Metrics(), websub=receiver)
    async with client(app) as http:
        ok = await http.get(
            "/websub/wire/tok", params={"hub.mode": "subscribe", "hub.challenge": "c-123"}
        )
        assert ok.status_code == 200 and ok.text == "c-123"
        assert ok.headers["content-type"].startswith("text/plain")
        assert ok.headers["x-content-type-options"] == "nosniff"
        unknown = await http.get("/websub/wire/other", params={"hub.challenge": "c"})
        assert unknown.status_code == 404
        assert "c" not in unknown.text.split()


async def test_a_push_is_handed_over_and_counted(receiver: Receiver) -> None:
    metrics = Metrics()
    app = build_app(probes(), metrics, websub=receiver)
    async with client(app) as http:
        answer = await http.post(
            "/websub/wire/tok",
            content=b"<feed/>",
            headers={"content-type": "application/atom+xml", "x-hub-signature": "sha256=ab"},
        )
        assert answer.status_code == 202
        assert receiver.pushes == [("wire", "tok", b"<feed/>", "application/atom+xml", "sha256=ab")]
        receiver.outcome = "bad_signature"  # answered 2xx all the same, as WebSub asks
        assert (await http.post("/websub/wire/tok", content=b"x")).status_code == 202
        receiver.outcome = "unknown"
        assert (await http.post("/websub/wire/nope", content=b"x")).status_code == 404
    assert pushes(metrics, "accepted") == 1
    assert pushes(metrics, "bad_signature") == 1
    assert pushes(metrics, "unknown") == 1


async def test_a_body_over_the_cap_is_a_413_unread(receiver: Receiver) -> None:
    metrics = Metrics()
    app = build_app(probes(), metrics, websub=receiver)

    async def chunks():  # type: ignore[no-untyped-def]
        for _ in range(5):
            yield b"x" * 300  # no content-length: the cap is found while reading

    async with client(app) as http:
        declared = await http.post("/websub/wire/tok", content=b"x" * 1001)
        streamed = await http.post("/websub/wire/tok", content=chunks())
        exact = await http.post("/websub/wire/tok", content=b"x" * 1000)
    assert declared.status_code == 413 and streamed.status_code == 413
    assert exact.status_code == 202
    assert [len(p[2]) for p in receiver.pushes] == [1000]
    assert pushes(metrics, "too_large") == 2


async def test_a_store_outage_is_a_503_so_the_hub_retries(receiver: Receiver) -> None:
    receiver.down = True
    app = build_app(probes(), Metrics(), websub=receiver)
    async with client(app) as http:
        assert (await http.post("/websub/wire/tok", content=b"x")).status_code == 503
        assert (await http.get("/websub/wire/tok")).status_code == 503


async def test_the_callback_is_open_where_the_console_is_closed(
    receiver: Receiver, tmp_path: Path
) -> None:
    from monitor.store.memory import MemoryStore

    console = Console(load_watch(tmp_path), MemoryStore()).context()
    params = {"hub.mode": "subscribe", "hub.challenge": "c-1"}
    # With a token: no bearer needed on the callback, still needed on the API.
    locked = build_app(probes(), Metrics(), console=console, token=TOKEN, websub=receiver)
    async with client(locked) as http:
        assert (await http.get("/websub/wire/tok", params=params)).text == "c-1"
        assert (await http.get("/api/v1/feeds")).status_code == 401
    # Without a token, a hub calling through a reverse proxy names the public host.
    open_app = build_app(probes(), Metrics(), console=console, websub=receiver)
    async with client(open_app, "https://monitor.example.org") as http:
        assert (await http.get("/websub/wire/tok", params=params)).text == "c-1"
        assert (await http.get("/api/v1/feeds")).status_code == 403


async def test_without_a_receiver_there_is_no_callback() -> None:
    async with client(build_app(probes(), Metrics())) as http:
        assert (await http.get("/websub/wire/tok")).status_code == 404
