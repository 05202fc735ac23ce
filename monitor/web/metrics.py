"""Prometheus metrics of one running Monitor: their names, and how the values are counted.

Each :class:`Metrics` owns its own ``CollectorRegistry`` (one per Monitor, so tests and
several monitors in one process never collide). Nothing in the pipeline knows about
it: the composition root hands it the values the pipeline already makes
(:class:`~monitor.polling.poller.PollReport` after each poll, a
:class:`~monitor.polling.push.PushReport` after each WebSub push, each
:class:`~monitor.model.DeliveryResult` the outbox worker records), and the gauges that
live in the store (outbox size and age, feeds down, channels disabled) are read when
``/metrics`` is scraped (:meth:`Metrics.refresh`).
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping, Sequence

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
)

from monitor import __version__
from monitor.delivery.base import Channel
from monitor.delivery.gone import in_force
from monitor.model import Clock, DeliveryResult
from monitor.polling.poller import PollReport
from monitor.polling.push import PushReport
from monitor.store import StateStore

#: Content-Type of the text exposition format.
CONTENT_TYPE = CONTENT_TYPE_LATEST
#: Outcomes of an article in a fetched body (``news_monitor_articles_total``).
ARTICLE_OUTCOMES = ("new", "seen", "too_old")
#: Outcomes of a recorded delivery attempt (``news_monitor_alerts_total``); "silenced": an
#: alert a silence muted when it was due, settled without a send.
ALERT_OUTCOMES = ("delivered", "retried", "dead", "silenced")
#: Results of a config reload (``news_monitor_config_reloads_total``).
RELOAD_RESULTS = ("success", "failure")
#: What became of a WebSub push (``news_monitor_websub_pushes_total``): processed; its
#: signature missing or wrong (answered 2xx, as WebSub asks, and discarded); no such
#: callback (404); larger than MONITOR_MAX_FEED_BYTES (413); signed but not a feed;
#: for a subscription being removed (discarded).
PUSH_OUTCOMES = ("accepted", "bad_signature", "unknown", "too_large", "not_a_feed", "ignored")
#: Results of a request to a hub (``news_monitor_websub_hub_requests_total``).
HUB_RESULTS = ("accepted", "failed")
#: Fetch duration buckets (seconds): a 304 takes milliseconds, a slow feed up to the timeout.
FETCH_BUCKETS = (0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0)


class Metrics:
    """Every news_monitor_* metric, in a registry of its own."""

    def __init__(self, *, rules: int = 0, version: str = __version__) -> None:
        self.registry = CollectorRegistry()
        r = self.registry
        self.polls = Counter(
            "news_monitor_polls", "Feed polls by status.", ["feed", "status"], registry=r
        )
        self.fetch_duration = Histogram(
            "news_monitor_fetch_duration_seconds",
            "Time a feed fetch took.",
            buckets=FETCH_BUCKETS,
            registry=r,
        )
        self.articles = Counter(
            "news_monitor_articles",
            "Articles in fetched (or pushed) bodies: new, seen before, or too old to alert.",
            ["outcome"],
            registry=r,
        )
        self.matches = Counter(
            "news_monitor_matches", "New articles matched, by rule.", ["rule"], registry=r
        )
        self.alerts = Counter(
            "news_monitor_alerts",
            "Recorded delivery attempts (and silenced alerts) by channel and outcome.",
            ["channel", "outcome"],
            registry=r,
        )
        self.outbox_pending = Gauge(
            "news_monitor_outbox_pending", "Alerts in the outbox (queued or sending).", registry=r
        )
        self.outbox_oldest_age = Gauge(
            "news_monitor_outbox_oldest_age_seconds",
            "Age of the oldest alert in the outbox; 0 when it is empty.",
            registry=r,
        )
        self.feeds_down = Gauge(
            "news_monitor_feeds_down",
            "Feeds whose last poll failed, or that are disabled (410 Gone).",
            registry=r,
        )
        self.channel_disabled = Gauge(
            "news_monitor_channel_disabled",
            "1 for a channel disabled because its receiver answered 410 Gone (it sends "
            "nothing until `news-monitor channels enable`), else 0.",
            ["channel"],
            registry=r,
        )
        self.rules = Gauge("news_monitor_rules", "Watch rules loaded.", registry=r)
        self.config_reloads = Counter(
            "news_monitor_config_reloads", "Config reloads by result.", ["result"], registry=r
        )
        self.store_resets = Counter(
            "news_monitor_store_resets",
            "Times this process found the store had lost its data (Redis restarted empty).",
            registry=r,
        )
        self.build_info = Gauge(
            "news_monitor_build_info", "Always 1; the version as a label.", ["version"], registry=r
        )
        self.websub_pushes = Counter(
            "news_monitor_websub_pushes",
            "WebSub pushes received, by outcome.",
            ["outcome"],
            registry=r,
        )
        self.websub_hub_requests = Counter(
            "news_monitor_websub_hub_requests",
            "Subscribe (renewals included) and unsubscribe requests sent to hubs, by result.",
            ["mode", "result"],
            registry=r,
        )
        self.websub_subscriptions = Gauge(
            "news_monitor_websub_subscriptions",
            "Feeds a hub pushes now (verified subscription, lease not over).",
            registry=r,
        )
        for outcome in ARTICLE_OUTCOMES:
            self.articles.labels(outcome)
        for outcome in PUSH_OUTCOMES:
            self.websub_pushes.labels(outcome)
        for result in RELOAD_RESULTS:
            self.config_reloads.labels(result)
        self.rules.set(rules)
        self.build_info.labels(version).set(1)

    def observe_poll(self, report: PollReport) -> None:
        """Count one poll of one feed."""
        self.polls.labels(report.feed_id, report.status).inc()
        if report.elapsed is not None:
            self.fetch_duration.observe(report.elapsed)
        if report.status == "ok":
            fresh = report.new - report.too_old
            seen = max(0, report.entries - report.new - report.deferred)
            self.articles.labels("new").inc(fresh)
            self.articles.labels("too_old").inc(report.too_old)
            self.articles.labels("seen").inc(seen)
        for rule in report.matched_rules:
            self.matches.labels(rule).inc()

    def observe_push(self, outcome: str, report: PushReport | None = None) -> None:
        """Count one WebSub push (``outcome`` in :data:`PUSH_OUTCOMES`) and, when it was
        processed, its articles and matches as a poll's are counted."""
        self.websub_pushes.labels(outcome).inc()
        if report is not None and not report.error:
            counts = report.counts
            self.articles.labels("new").inc(counts.new - counts.too_old)
            self.articles.labels("too_old").inc(counts.too_old)
            self.articles.labels("seen").inc(max(0, report.entries - counts.new - counts.deferred))
            for rule in counts.matched_rules:
                self.matches.labels(rule).inc()

    def observe_delivery(self, result: DeliveryResult, outcome: str) -> None:
        """Count one recorded attempt: ``outcome`` is one of :data:`ALERT_OUTCOMES`."""
        self.alerts.labels(result.channel, outcome).inc()

    async def refresh(
        self,
        store: StateStore,
        feed_ids: Sequence[str],
        clock: Clock,
        channels: Mapping[str, Channel] | None = None,
    ) -> None:
        """Read the gauges that live in the store: outbox size and age, feeds down, and which
        of ``channels`` (those in force) are disabled.

        The outbox gauges come from ``outbox_summary``, never from listing the outbox: a
        scrape must stay cheap when the outbox is largest (a receiver down for hours),
        which is when the gauges matter."""
        summary = await store.outbox_summary()
        now = clock()
        self.outbox_pending.set(summary.pending)
        oldest = summary.oldest_created_at
        self.outbox_oldest_age.set(max(0.0, now - oldest) if oldest is not None else 0.0)
        states = await asyncio.gather(*(store.get_feed_state(f) for f in feed_ids))
        self.feeds_down.set(
            sum(1 for s in states if s is not None and (s.consecutive_failures > 0 or s.disabled))
        )
        if channels is not None:
            disabled = in_force(await store.disabled_channels(), channels)
            self.channel_disabled.clear()  # a channel a reload removed is no longer reported
            for name in channels:
                self.channel_disabled.labels(name).set(1 if name in disabled else 0)

    def exposition(self) -> bytes:
        """The registry in the Prometheus text format."""
        return generate_latest(self.registry)
