"""Private Redis servers on loopback for the connection tests: one over TLS, a master watched
by a Sentinel (with a replica, so a failover has somewhere to go), and a three-node Cluster.

Each is a real ``redis-server`` process (Sentinel is ``redis-server --sentinel``) on free
ports in a temporary directory, started by the first test that needs it and stopped at the
end of the session (the Cluster serves the whole store contract suite). Without
the binary the tests skip on a laptop and fail under ``CI=true`` (``.ci/run`` installs it).
"""

from __future__ import annotations

import shutil
import socket
import subprocess
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
import redis
import trustme

from tests.conftest import free_port, skip_or_fail

PASSWORD = "s3cret-redis-pw"
SENTINEL_PASSWORD = "s3cret-sentinel-pw"
MASTER = "mymaster"


def _binary() -> str:
    binary = shutil.which("redis-server")
    if binary is None:
        skip_or_fail("redis-server is not installed")
    assert binary is not None
    return binary


def _wait(
    check: Callable[[], bool], what: str, timeout: float = 15.0, log: Path | None = None
) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if check():
                return
        except (redis.RedisError, OSError):
            pass
        time.sleep(0.05)
    said = log.read_text(errors="replace")[-2000:] if log is not None and log.exists() else ""
    raise RuntimeError(f"{what} did not come up\n{said}")


def _ask(port: int, *command: str) -> bytes:
    """One command to a server without a password, its raw reply."""
    with redis.Redis(port=port) as client:
        reply = client.execute_command(*command)
    return reply if isinstance(reply, bytes) else str(reply).encode()


@dataclass
class Servers:
    """Processes started for a test module; :meth:`stop` ends them all."""

    workdir: Path
    procs: list[subprocess.Popen[bytes]] = field(default_factory=list)

    def start(self, *args: str, config: str | None = None) -> subprocess.Popen[bytes]:
        argv = [_binary()]
        if config is not None:
            path = self.workdir / f"conf-{len(self.procs)}.conf"
            path.write_text(config)
            argv.append(str(path))
        log = self.workdir / f"server-{len(self.procs)}.log"
        with log.open("wb") as out:  # the server's own words, if it does not come up
            proc = subprocess.Popen(
                [*argv, *args], cwd=self.workdir, stdout=out, stderr=subprocess.STDOUT
            )
        self.procs.append(proc)
        return proc

    def server(self, port: int, *args: str) -> subprocess.Popen[bytes]:
        # A directory of its own: a replica's sync writes dump.rdb, which another server
        # (a cluster node) must not load.
        own = self.workdir / f"node-{len(self.procs)}"
        own.mkdir()
        return self.start(
            "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
            "--dir", str(own), *args,
        )  # fmt: skip

    def stop(self) -> None:
        for proc in self.procs:
            proc.terminate()
        for proc in self.procs:
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()


@pytest.fixture(scope="session")
def servers(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Servers]:
    """Every process the session started, stopped at its end."""
    running = Servers(tmp_path_factory.mktemp("redis-servers"))
    try:
        yield running
    finally:
        running.stop()


# -- TLS ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class TlsServer:
    """A Redis serving TLS only, with a password and an ACL user ``alice``."""

    port: int
    #: The same, but it asks every client for a certificate signed by ``ca``.
    mtls_port: int
    ca_file: Path
    client_cert: Path
    #: A CA that signed nothing the server presents.
    other_ca_file: Path


@pytest.fixture(scope="session")
def tls_server(servers: Servers) -> TlsServer:
    ca, other = trustme.CA(), trustme.CA()
    leaf = ca.issue_cert("127.0.0.1", "localhost")
    client = ca.issue_cert("news-monitor-client")
    d = servers.workdir
    ca.cert_pem.write_to_path(str(d / "ca.pem"))
    other.cert_pem.write_to_path(str(d / "other-ca.pem"))
    leaf.private_key_pem.write_to_path(str(d / "server.key"))
    leaf.cert_chain_pems[0].write_to_path(str(d / "server.pem"))
    client.private_key_and_cert_chain_pem.write_to_path(str(d / "client.pem"))
    ports = free_port(), free_port()
    for port, auth_clients in zip(ports, ("no", "yes"), strict=True):
        servers.server(
            0,
            "--tls-port", str(port),
            "--tls-cert-file", str(d / "server.pem"),
            "--tls-key-file", str(d / "server.key"),
            "--tls-ca-cert-file", str(d / "ca.pem"),
            "--tls-auth-clients", auth_clients,
            "--requirepass", PASSWORD,
            "--user", "alice", "on", ">alice-pw", "~*", "&*", "+@all",
        )  # fmt: skip

    def answers(port: int) -> Callable[[], bool]:
        def check() -> bool:
            client = redis.Redis(
                port=port,
                password=PASSWORD,
                ssl=True,
                ssl_ca_certs=str(d / "ca.pem"),
                ssl_certfile=str(d / "client.pem"),
            )
            try:
                return bool(client.ping())
            finally:
                client.close()

        return check

    for port in ports:
        _wait(answers(port), f"TLS redis-server on {port}")
    return TlsServer(ports[0], ports[1], d / "ca.pem", d / "client.pem", d / "other-ca.pem")


# -- Sentinel ----------------------------------------------------------------------------


@dataclass(frozen=True)
class SentinelSetup:
    """A master and its replica (both with ``PASSWORD``), watched by one Sentinel that itself
    requires ``SENTINEL_PASSWORD``."""

    master_port: int
    replica_port: int
    sentinel_port: int


@pytest.fixture(scope="session")
def sentinel_setup(servers: Servers) -> SentinelSetup:
    master, replica, sentinel = free_port(), free_port(), free_port()
    auth = ("--requirepass", PASSWORD, "--masterauth", PASSWORD)
    servers.server(master, *auth)
    servers.server(replica, *auth, "--replicaof", "127.0.0.1", str(master))
    servers.start(
        "--sentinel",
        config=(
            f"port {sentinel}\nbind 127.0.0.1\ndir {servers.workdir}\n"
            f"requirepass {SENTINEL_PASSWORD}\n"
            f"sentinel monitor {MASTER} 127.0.0.1 {master} 1\n"
            f"sentinel auth-pass {MASTER} {PASSWORD}\n"
            f"sentinel down-after-milliseconds {MASTER} 1000\n"
            f"sentinel failover-timeout {MASTER} 5000\n"
        ),
    )

    def ready() -> bool:
        client = redis.Redis(port=sentinel, password=SENTINEL_PASSWORD)
        try:
            state = client.sentinel_master(MASTER)
            return bool(state.get("num-slaves")) and "o_down" not in state.get("flags", "")
        finally:
            client.close()

    _wait(ready, "redis sentinel (with the replica known)", timeout=30)
    return SentinelSetup(master, replica, sentinel)


# -- Cluster -----------------------------------------------------------------------------


def free_cluster_port() -> int:
    """A free port whose cluster bus port (10000 higher) is free too, and exists."""
    while True:
        port = free_port()
        if port + 10_000 > 65_535:
            continue
        with socket.socket() as s:
            try:
                s.bind(("127.0.0.1", port + 10_000))
            except OSError:
                continue
        return port


@pytest.fixture(scope="session")
def cluster_ports(servers: Servers) -> list[int]:
    """Three master nodes sharing the 16384 slots (no replicas)."""
    ports: list[int] = []
    while len(ports) < 3:
        if (port := free_cluster_port()) not in ports:
            ports.append(port)
    for port in ports:
        servers.server(
            port,
            "--cluster-enabled", "yes",
            "--cluster-config-file", f"nodes-{port}.conf",
            "--cluster-node-timeout", "5000",
        )  # fmt: skip
    for port in ports:
        log = servers.workdir / f"server-{len(servers.procs) - 3 + ports.index(port)}.log"
        _wait(lambda p=port: bool(_ask(p, "PING")), f"cluster node {port}", log=log)
    cli = shutil.which("redis-cli")
    if cli is None:
        skip_or_fail("redis-cli is not installed")
    assert cli is not None
    subprocess.run(
        [cli, "--cluster", "create", *(f"127.0.0.1:{p}" for p in ports), "--cluster-yes"],
        check=True,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        timeout=60,
    )

    def every_node_ok() -> bool:
        return all(b"cluster_state:ok" in _ask(p, "CLUSTER", "INFO") for p in ports)

    _wait(every_node_ok, "the Redis Cluster", timeout=30)
    return ports
