"""Reloading the watch config in a running Monitor (memory store, mock transports): a valid
edit is swapped in whole, a broken one is refused and the running config stays, alerts of a
removed channel stay queued, unchanged channels are kept, and backfill alerts once."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
from structlog.testing import capture_logs

from monitor.app import Monitor
from monitor.config.load import load_config
from monitor.settings import Settings
from monitor.store.memory import MemoryStore
from tests.servers import Item, rss

FEED_URL = "https://news.example.org/feed.xml"
HOOK = "https://hooks.example.org"

HEAD = (
    "feeds:\n"
    f'  - {{id: wire, name: "The Wire", url: "{FEED_URL}", interval: 1h}}\n'
    "channels:\n"
    f'  ops: {{type: webhook, url: "{HOOK}/ops"}}\n'
    f'  desk: {{type: webhook, url: "{HOOK}/desk"}}\n'
)


class Feed:
    """A feed body the test rewrites between polls."""

    def __init__(self) -> None:
        self.items: list[Item] = []

    def add(self, title: str, text: str, guid: str) -> None:
        link = f"https://news.example.org/{guid}"
        self.items.append(Item(title, link, text, datetime.now(UTC), guid))

    def transport(self) -> httpx.MockTransport:
        return httpx.MockTransport(
            lambda r: httpx.Response(
                200, text=rss(self.items), headers={"content-type": "application/rss+xml"}
            )
        )


class Receivers:
    """Records each webhook request's path and alert rule."""

    def __init__(self) -> None:
        self.got: list[tuple[str, str]] = []

    def transport(self) -> httpx.MockTransport:
        def answer(request: httpx.Request) -> httpx.Response:
            import json

            body = json.loads(request.content)
            for alert in body.get("alerts", [body]):
                self.got.append((request.url.path, alert["rule"]["id"]))
            return httpx.Response(204)

        return httpx.MockTransport(answer)


def write(rules_dir: Path, rules: str, head: str = HEAD) -> None:
    (rules_dir / "watch.yaml").write_text(head + "rules:\n" + rules)


def settings_for(tmp_path: Path, **changes: object) -> Settings:
    rules = tmp_path / "rules"
    rules.mkdir(exist_ok=True)
    base: dict[str, object] = {
        "rules_dir": rules,
        "data_dir": tmp_path / "data",
        "story_window": 0,
        "http_addr": "",
        "once_delivery_deadline": "5s",
    }
    return Settings(_env_file=None, **{**base, **changes})  # type: ignore[arg-type]


async def start(
    settings: Settings, feed: Feed, receivers: Receivers, store: MemoryStore | None = None
) -> Monitor:
    return await Monitor.create(
        settings,
        load_config(settings, env={}),
        store=store or MemoryStore(),
        fetch_transport=feed.transport(),
        delivery_transport=receivers.transport(),
    )


def reloads(monitor: Monitor, result: str) -> float | None:
    return monitor.metrics.registry.get_sample_value(
        "news_monitor_config_reloads_total", {"result": result}
    )


async def test_a_valid_edit_is_swapped_in(tmp_path: Path) -> None:
    settings = settings_for(tmp_path)
    write(settings.rules_dir, "  - {id: weather, query: weather}\n")
    feed, receivers = Feed(), Receivers()
    feed.add("Iran flies drones", "Iran drones over the gulf.", "a")
    async with await start(settings, feed, receivers) as monitor:
        await monitor.run_once()
        assert receivers.got == []  # no rule matched the drones story

        write(settings.rules_dir, "  - {id: drones, query: Iran AND drones, notify: [desk]}\n")
        assert await monitor.reload() is True
        assert reloads(monitor, "success") == 1 and reloads(monitor, "failure") == 0
        assert [r.id for r in monitor.config.rules] == ["drones"]
        assert monitor.metrics.registry.get_sample_value("news_monitor_rules") == 1

        feed.add("More Iran drones", "Iran drones again.", "b")
        await monitor.run_once()
        # The new rule alerts on what arrives from now on (no backfill asked: not on "a").
        assert receivers.got == [("/desk", "drones")]


async def test_a_broken_edit_is_refused_and_the_running_config_stays(tmp_path: Path) -> None:
    settings = settings_for(tmp_path)
    write(settings.rules_dir, "  - {id: drones, query: Iran AND drones, notify: [ops]}\n")
    feed, receivers = Feed(), Receivers()
    async with await start(settings, feed, receivers) as monitor:
        write(
            settings.rules_dir,
            "  - {id: drones, query: Iran AND drones, notify: [ops]}\n"
            "  - {id: broken, query: (Iran AND, notify: [nowhere]}\n",
        )
        with capture_logs() as events:
            assert await monitor.reload() is False
        assert reloads(monitor, "failure") == 1 and reloads(monitor, "success") == 0
        problems = [e["problem"] for e in events if e.get("status") == "refused" and "problem" in e]
        watch = str(settings.rules_dir / "watch.yaml")
        # Every problem, each with its file and line.
        assert len(problems) == 2
        assert all(p.startswith(f"{watch}:") for p in problems)
        assert any("nowhere" in p for p in problems)
        assert [r.id for r in monitor.config.rules] == ["drones"]

        feed.add("Iran drones", "Iran drones.", "a")
        await monitor.run_once()
        assert receivers.got == [("/ops", "drones")]  # alerts keep flowing on the old config


async def test_alerts_of_a_removed_channel_stay_queued(tmp_path: Path) -> None:
    settings = settings_for(tmp_path, once_delivery_deadline=0)
    write(settings.rules_dir, "  - {id: drones, query: Iran AND drones, notify: [desk]}\n")
    feed, receivers = Feed(), Receivers()
    feed.add("Iran drones", "Iran drones.", "a")
    async with await start(settings, feed, receivers) as monitor:
        await monitor.poll_feeds()  # queued for desk, not sent yet
        head = HEAD.replace(f'  desk: {{type: webhook, url: "{HOOK}/desk"}}\n', "")
        write(settings.rules_dir, "  - {id: drones, query: Iran AND drones}\n", head)
        with capture_logs() as events:
            assert await monitor.reload() is True
        removed = [e for e in events if e.get("status") == "channel_removed"]
        assert [(e["channel"], e["pending"]) for e in removed] == [("desk", 1)]
        counts = await monitor.worker.deliver_due()
        assert counts.attempted == 0 and counts.deferred == 1
        (entry,) = await monitor.store.pending()
        assert entry.alert.channel == "desk" and entry.attempts == 0
        assert await monitor.store.dead_letters() == []


async def test_unchanged_channels_are_kept_and_changed_ones_rebuilt(tmp_path: Path) -> None:
    settings = settings_for(tmp_path)
    write(settings.rules_dir, "  - {id: drones, query: Iran AND drones}\n")
    async with await start(settings, Feed(), Receivers()) as monitor:
        before = dict(monitor.worker.channels)
        head = HEAD.replace(f"{HOOK}/desk", f"{HOOK}/desk2")
        write(settings.rules_dir, "  - {id: drones, query: Iran AND drones}\n", head)
        assert await monitor.reload() is True
        after = monitor.worker.channels
        assert after["ops"] is before["ops"]
        assert after["desk"] is not before["desk"]
        assert monitor.wiring.retired == (before["desk"],)


async def test_a_rule_with_backfill_alerts_once_on_archived_articles(tmp_path: Path) -> None:
    settings = settings_for(tmp_path)
    write(settings.rules_dir, "  - {id: weather, query: weather}\n")
    feed, receivers = Feed(), Receivers()
    feed.add("Iran flies drones", "Iran drones over the gulf.", "a")
    feed.add("Drones over Kyiv", "Russia drones.", "b")
    store = MemoryStore()
    async with await start(settings, feed, receivers, store) as monitor:
        await monitor.run_once()
        assert receivers.got == []
        rules = "  - {id: drones, query: Iran AND drones, notify: [ops], backfill: 24h}\n"
        write(settings.rules_dir, rules)
        assert await monitor.reload() is True
        await monitor.run_once()
        assert receivers.got == [("/ops", "drones")]  # "a", from the archive
        assert await monitor.reload() is True  # the same rule again: nothing new
        await monitor.run_once()
        assert receivers.got == [("/ops", "drones")]
    # A restart with the same rule does not backfill again.
    async with await start(settings, feed, receivers, store) as monitor:
        await monitor.run_once()
    assert receivers.got == [("/ops", "drones")]


def alert_rules(receivers: Receivers) -> Callable[[], list[str]]:
    return lambda: [rule for _, rule in receivers.got]


async def test_a_changed_query_backfills_and_a_window_of_0_does_not(tmp_path: Path) -> None:
    settings = settings_for(tmp_path, rule_backfill=timedelta(hours=1))
    write(settings.rules_dir, "  - {id: watch, query: weather, notify: [ops]}\n")
    feed, receivers = Feed(), Receivers()
    feed.add("Iran flies drones", "Iran drones over the gulf.", "a")
    async with await start(settings, feed, receivers) as monitor:
        await monitor.run_once()
        # The query changed: MONITOR_RULE_BACKFILL (1h) applies.
        write(settings.rules_dir, "  - {id: watch, query: Iran AND drones, notify: [ops]}\n")
        assert await monitor.reload()
        await monitor.run_once()
        assert alert_rules(receivers)() == ["watch"]
        # A rule that says backfill: 0 does not look back.
        write(
            settings.rules_dir,
            "  - {id: watch, query: Iran AND drones, notify: [ops]}\n"
            "  - {id: gulf, query: gulf, notify: [ops], backfill: 0}\n",
        )
        assert await monitor.reload()
        await monitor.run_once()
        assert alert_rules(receivers)() == ["watch"]
