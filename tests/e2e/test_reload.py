"""End to end: the real daemon reloads its watch config on SIGHUP and on a file edit,
refuses a broken edit while alerts keep flowing, and backfills a new rule once, across a
restart.

One feed and one webhook on loopback (pytest-httpserver), the SQLite store in a temporary
data directory, the daemon as a subprocess with its HTTP server on a free port: the test
watches ``/metrics`` and the webhook's requests, and reads the daemon's log at the end.
"""

from __future__ import annotations

import contextlib
import json
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest
from pytest_httpserver import HTTPServer
from werkzeug import Request, Response

from tests.conftest import free_port
from tests.servers import Item, monitor_env, report_text, rss

pytestmark = pytest.mark.e2e

DRONES = "  - {id: drones, query: Iran AND drones}\n"
SANCTIONS = "  - {id: sanctions, query: Russia AND sanctions, backfill: 1h}\n"
GULF = "  - {id: gulf, query: gulf}\n"
BROKEN = "  - {id: broken, query: (Iran AND}\n"


class Newsroom:
    """The feed the daemon polls (items added as the test goes) and the webhook it posts to."""

    def __init__(self, httpserver: HTTPServer) -> None:
        self.items: list[Item] = []
        #: (rule id, article title) of every alert the webhook received, in order.
        self.alerts: list[tuple[str, str]] = []
        httpserver.expect_request("/feed.xml").respond_with_handler(self._feed)
        httpserver.expect_request("/hook").respond_with_handler(self._hook)
        self.feed_url = httpserver.url_for("/feed.xml")
        self.hook_url = httpserver.url_for("/hook")

    def publish(self, n: int, title: str) -> None:
        text = f"{title}. {report_text(n, words=200)}"  # distinct stories: no story merge
        link = f"https://news.example.org/{n}"
        self.items.append(Item(title, link, text, datetime.now(UTC), f"item-{n}"))

    def _feed(self, request: Request) -> Response:
        return Response(rss(self.items), content_type="application/rss+xml")

    def _hook(self, request: Request) -> Response:
        body = json.loads(request.get_data())
        self.alerts.append((body["rule"]["id"], body["article"]["title"]))
        return Response("", status=204)


def write_rules(rules_dir: Path, newsroom: Newsroom, rules: str) -> None:
    (rules_dir / "watch.yaml").write_text(
        "feeds:\n"
        f'  - {{id: wire, url: "{newsroom.feed_url}", interval: 1s}}\n'
        "channels:\n"
        f'  siem: {{type: webhook, url: "{newsroom.hook_url}"}}\n'
        "rules:\n" + rules
    )


def wait_for(what: str, condition: Callable[[], bool], timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.1)


@contextlib.contextmanager
def daemon(env: dict[str, str], cwd: Path, log: Path) -> Iterator[subprocess.Popen[str]]:
    with log.open("a") as out:
        process = subprocess.Popen(
            [sys.executable, "-m", "monitor", "run"],
            env=env,
            cwd=cwd,
            stdout=out,
            stderr=subprocess.STDOUT,
            text=True,
        )
        try:
            yield process
            process.send_signal(signal.SIGTERM)
            assert process.wait(timeout=20) == 0, log.read_text()
        finally:
            if process.poll() is None:
                process.kill()
                process.wait()


def metric(addr: str, line: str) -> Callable[[], bool]:
    def present() -> bool:
        try:
            return line in httpx.get(f"http://{addr}/metrics", timeout=5).text
        except httpx.TransportError:
            return False

    return present


def test_sighup_and_file_edits_reload_and_a_broken_edit_is_refused(
    tmp_path: Path, httpserver: HTTPServer
) -> None:
    newsroom = Newsroom(httpserver)
    newsroom.publish(1, "Iran flies drones over the gulf")
    newsroom.publish(2, "Russia faces new sanctions")
    rules_dir = tmp_path / "rules"
    rules_dir.mkdir()
    write_rules(rules_dir, newsroom, DRONES)
    addr = f"127.0.0.1:{free_port()}"
    env = monitor_env(
        MONITOR_RULES_DIR=str(rules_dir),
        MONITOR_DATA_DIR=str(tmp_path / "data"),
        MONITOR_HTTP_ADDR=addr,
        MONITOR_LOG_FORMAT="json",
        MONITOR_WATCH_RULES="false",  # the first daemon reloads on SIGHUP only
    )
    log = tmp_path / "daemon.log"
    success = 'news_monitor_config_reloads_total{result="success"} 1.0'
    failure = 'news_monitor_config_reloads_total{result="failure"} 1.0'

    with daemon(env, tmp_path, log) as first:
        wait_for("the first alert", lambda: len(newsroom.alerts) == 1)
        assert newsroom.alerts == [("drones", "Iran flies drones over the gulf")]

        # SIGHUP adds a rule with backfill: it alerts once on the article read before.
        write_rules(rules_dir, newsroom, DRONES + SANCTIONS)
        first.send_signal(signal.SIGHUP)
        wait_for("the reload", metric(addr, success))
        wait_for("the backfilled alert", lambda: len(newsroom.alerts) == 2)
        assert newsroom.alerts[1] == ("sanctions", "Russia faces new sanctions")
        assert metric(addr, "news_monitor_rules 2.0")()

        # A broken edit is refused; the running rules keep alerting.
        write_rules(rules_dir, newsroom, DRONES + SANCTIONS + BROKEN)
        first.send_signal(signal.SIGHUP)
        wait_for("the refused reload", metric(addr, failure))
        assert metric(addr, "news_monitor_rules 2.0")()
        ready = httpx.get(f"http://{addr}/readyz", timeout=5)
        assert ready.status_code == 200
        newsroom.publish(3, "Iran drones strike again")
        wait_for("an alert after the refused edit", lambda: len(newsroom.alerts) == 3)
        assert newsroom.alerts[2] == ("drones", "Iran drones strike again")

    events = [json.loads(line) for line in log.read_text().splitlines() if line.startswith("{")]
    refused = [e for e in events if e.get("status") == "refused" and "problem" in e]
    assert len(refused) == 1
    assert refused[0]["problem"].startswith(f"{rules_dir / 'watch.yaml'}:8:")

    # A restart with the same rules: no second backfill. The daemon now watches the files.
    write_rules(rules_dir, newsroom, DRONES + SANCTIONS)
    env["MONITOR_WATCH_RULES"] = "true"
    with daemon(env, tmp_path, log):
        wait_for("a poll", metric(addr, 'news_monitor_polls_total{feed="wire"'))
        write_rules(rules_dir, newsroom, DRONES + SANCTIONS + GULF)  # no signal: a file edit
        wait_for("the reload after the edit", metric(addr, success))
        newsroom.publish(4, "Storm over the gulf")
        wait_for("the new rule's alert", lambda: len(newsroom.alerts) == 4)

    assert newsroom.alerts == [
        ("drones", "Iran flies drones over the gulf"),
        ("sanctions", "Russia faces new sanctions"),
        ("drones", "Iran drones strike again"),
        ("gulf", "Storm over the gulf"),
    ]
