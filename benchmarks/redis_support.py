"""Redis for the benchmarks: a private ``redis-server`` for one run, and removing the keys a
run wrote on a shared server."""

from __future__ import annotations

import contextlib
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator

import redis
import redis.asyncio as aioredis


@contextlib.contextmanager
def private_redis_server() -> Iterator[str | None]:
    """The URL of a ``redis-server`` of the run's own (loopback, a free port, nothing kept on
    disk, stopped afterwards), so that its figures (memory, command counts) are the run's
    alone; None when no ``redis-server`` is installed (the caller picks a shared one)."""
    binary = shutil.which("redis-server")
    if binary is None:
        yield None
        return
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    with tempfile.TemporaryDirectory() as workdir:
        process = subprocess.Popen(
            [binary, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--dir", workdir],
            stdout=subprocess.DEVNULL,
        )
        try:
            client = redis.Redis(port=port)
            for _ in range(100):
                with contextlib.suppress(redis.ConnectionError):
                    client.ping()
                    break
                time.sleep(0.05)
            client.close()
            yield f"redis://127.0.0.1:{port}/0"
        finally:
            process.terminate()
            process.wait(timeout=10)


async def drop_prefix(url: str, prefix: str) -> None:
    """Delete every key under ``prefix``, so a shared server is left as the run found it."""
    client = aioredis.Redis.from_url(url)
    try:
        keys = [k async for k in client.scan_iter(match=f"{prefix}:*", count=1000)]
        for start in range(0, len(keys), 1000):
            await client.delete(*keys[start : start + 1000])
    finally:
        await client.aclose()
