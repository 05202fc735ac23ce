"""``docker-compose.yml`` runs any number of replicas on one persistent Redis.

No Docker daemon is needed: the file's shape is what makes ``docker compose up --scale
monitor=3`` work (no container name, no single fixed host port) and Redis keep its data
(an append-only file on a volume).
"""

from __future__ import annotations

from typing import Any

import yaml

from tests.conftest import ROOT


def compose() -> dict[str, Any]:
    loaded: dict[str, Any] = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    return loaded


def test_the_monitor_service_can_be_scaled() -> None:
    monitor = compose()["services"]["monitor"]
    assert "container_name" not in monitor
    for port in monitor.get("ports", []):
        host_ip, host_port, container = str(port).rsplit(":", 2)
        assert host_ip == "127.0.0.1"  # the console stays on the host's loopback
        assert container == "8080"
        first, _, last = host_port.partition("-")
        assert host_port == "" or int(last) - int(first) >= 2, port  # a range, or any port
    assert monitor["environment"]["MONITOR_REDIS_URL"] == "redis://redis:6379/0"
    assert ":?" in monitor["environment"]["MONITOR_HTTP_TOKEN"]  # required, as before


def test_redis_persists_to_an_append_only_file_on_a_volume() -> None:
    redis = compose()["services"]["redis"]
    command = redis["command"]
    assert command[command.index("--appendonly") + 1] == "yes"
    assert command[command.index("--appendfsync") + 1] == "everysec"
    assert any(v.endswith(":/data") for v in redis["volumes"])
    assert "redis-data" in compose()["volumes"]
