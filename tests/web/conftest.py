"""Fixtures of the console tests: a filled MemoryStore, the console over it, clients."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest

from monitor.store.memory import MemoryStore
from tests.web.console_support import Console, console_app, fill, load_watch

TOKEN = "s3cret-token-for-the-console-tests"
#: Where the tests say the console is (an open console answers only to a loopback name).
BASE = "http://127.0.0.1:8080"


@pytest.fixture
async def console(tmp_path: Path) -> Console:
    store = MemoryStore()
    await fill(store)
    return Console(load_watch(tmp_path), store)


def client_for(console: Console, token: str | None = None) -> httpx.AsyncClient:
    transport = httpx.ASGITransport(console_app(console, token))
    return httpx.AsyncClient(transport=transport, base_url=BASE)


@pytest.fixture
async def client(console: Console) -> AsyncIterator[httpx.AsyncClient]:
    """The console without a token (open, as on a loopback address)."""
    async with client_for(console) as http:
        yield http


@pytest.fixture
async def locked(console: Console) -> AsyncIterator[httpx.AsyncClient]:
    """The console with MONITOR_HTTP_TOKEN set, not logged in, no bearer."""
    async with client_for(console, TOKEN) as http:
        yield http
