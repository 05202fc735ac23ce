"""Fixtures of the store suite: each test that takes ``backend`` or ``store`` runs per backend.

``backend`` is parametrized over :data:`~tests.store.support.ALL` (memory,
sqlite, fakeredis, real Redis, a real Redis Cluster); a test narrows it with
``@pytest.mark.parametrize("backend", PERSISTENT, indirect=True)``.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from monitor.store.base import StateStore
from tests.store.support import ALL, Backend, make_backend


@pytest.fixture(params=ALL)
async def backend(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Backend]:
    b = make_backend(request, request.param, tmp_path)
    try:
        yield b
    finally:
        await b.aclose()


@pytest.fixture
async def store(backend: Backend) -> StateStore:
    return await backend.open()
