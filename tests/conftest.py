"""Shared fixtures: a real Redis server, the shared data directory, a frozen clock.

Redis, in order of preference: ``MONITOR_TEST_REDIS_URL``; a server already
listening on 127.0.0.1:6379; a ``redis-server`` we start ourselves on a free
port. If none is available the Redis tests skip on a laptop, and fail under
``CI=true``.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

# Private Redis servers (TLS, Sentinel, a Cluster) as session fixtures, for the connection
# tests and the store suite's Cluster backend (used wherever that suite's backends are).
pytest_plugins = ["tests.redis_servers"]

ROOT = Path(__file__).resolve().parent.parent
# The suite's feeds are served by local servers on 127.0.0.1, which the fetch address
# policy refuses by default (no SSRF): the whole run allows them, as a deployment would with
# MONITOR_ALLOW_PRIVATE_ADDRESSES=true, daemons included (tests.servers.monitor_env). The
# tests of the policy itself (tests/ingest/test_netpolicy*.py) set it explicitly.
ALLOW_PRIVATE_ENV = {"MONITOR_ALLOW_PRIVATE_ADDRESSES": "true"}
os.environ.update(ALLOW_PRIVATE_ENV)
# The test run's own Redis URL is read once and taken out of the environment: left in, every
# command a test runs would rightly warn about an unknown MONITOR_* setting.
TEST_REDIS_URL = os.environ.pop("MONITOR_TEST_REDIS_URL", None)
SHARED_DATA = Path(os.environ.get("MONITOR_SHARED_DATA", ROOT.parent / "shared" / "data"))
IN_CI = os.environ.get("CI", "").lower() in {"1", "true", "yes"}


def skip_or_fail(reason: str) -> None:
    """Skip on a laptop; under CI=true a missing prerequisite is a failure."""
    if IN_CI:
        pytest.fail(f"{reason} (CI=true: not skipping)")
    pytest.skip(reason)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _redis_answers(host: str, port: int) -> bool:
    try:
        with socket.create_connection((host, port), timeout=0.5) as s:
            s.sendall(b"PING\r\n")
            return s.recv(16).startswith(b"+PONG")
    except OSError:
        return False


@pytest.fixture(scope="session")
def redis_server_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """URL of a real Redis server for the whole session."""
    if url := TEST_REDIS_URL:
        yield url
        return
    if _redis_answers("127.0.0.1", 6379):
        yield "redis://127.0.0.1:6379/0"
        return
    binary = shutil.which("redis-server")
    if binary is None:
        skip_or_fail("no Redis server: set MONITOR_TEST_REDIS_URL or install redis-server")
    port = free_port()
    workdir = tmp_path_factory.mktemp("redis")
    proc = subprocess.Popen(
        [
            str(binary),
            "--port",
            str(port),
            "--bind",
            "127.0.0.1",
            "--save",
            "",
            "--appendonly",
            "no",
            "--dir",
            str(workdir),
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 10
        while not _redis_answers("127.0.0.1", port):
            if time.monotonic() > deadline or proc.poll() is not None:
                skip_or_fail("redis-server did not start")
            time.sleep(0.05)
        yield f"redis://127.0.0.1:{port}/0"
    finally:
        proc.terminate()
        proc.wait(timeout=10)


@pytest.fixture
def redis_prefix() -> str:
    """A key prefix unique to one test, so tests sharing a server never collide."""
    return f"nm-test-{uuid.uuid4().hex[:12]}"


@pytest.fixture
def shared_data() -> Path:
    """The shared third-party data directory (../shared/data)."""
    if not SHARED_DATA.is_dir():
        skip_or_fail(f"shared data not found at {SHARED_DATA}")
    return SHARED_DATA


class FrozenClock:
    """A clock that only moves when told to; inject it wherever code reads time."""

    def __init__(self, start: float = 1_800_000_000.0) -> None:
        self.now = start

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


@pytest.fixture
def clock() -> FrozenClock:
    return FrozenClock()
