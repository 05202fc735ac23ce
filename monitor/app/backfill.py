"""Backfill: a rule that is added, or whose query changes, alerts once on the archived
articles of its ``backfill:`` window (default ``MONITOR_RULE_BACKFILL``).

Which rules are new or changed is decided against fingerprints kept in the store
(rule id -> a hash of what the rule matches: its query and its feeds), so it holds
across restarts: the same rule after a restart is not new. The fingerprints are
written only after the backfill's alerts are in the outbox; a crash in between
redoes the backfill, whose alerts have the ids the outbox already holds.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping, Sequence
from datetime import timedelta

from monitor.config.models import RuleConfig, WatchConfig
from monitor.log import get_logger
from monitor.polling.articles import ArticleProcessor
from monitor.store import StateStore

log = get_logger("monitor.backfill")


def rule_fingerprint(rule: RuleConfig) -> str:
    """What a rule matches, hashed: a change of query or feeds makes it a new rule."""
    feeds = sorted(rule.feeds) if rule.feeds is not None else None
    text = json.dumps([rule.query, feeds], ensure_ascii=False)
    return hashlib.sha256(text.encode()).hexdigest()[:24]


def backfill_windows(
    rules: Sequence[RuleConfig],
    known: Mapping[str, str],
    default: timedelta,
    now: float,
) -> dict[str, float]:
    """Rule id -> the earliest archive time to backfill from, for each rule that is new or
    changed against ``known`` fingerprints and has a window longer than 0."""
    windows: dict[str, float] = {}
    for rule in rules:
        window = rule.backfill if rule.backfill is not None else default
        seconds = window.total_seconds()
        if seconds > 0 and known.get(rule.id) != rule_fingerprint(rule):
            windows[rule.id] = now - seconds
    return windows


async def backfill_rules(
    store: StateStore,
    processor: ArticleProcessor,
    config: WatchConfig,
    default: timedelta,
    now: float,
) -> int:
    """Backfill the new and changed rules of ``config``, then record its fingerprints;
    how many alerts were queued."""
    known = await store.rule_fingerprints()
    windows = backfill_windows(config.rules, known, default, now)
    queued = 0
    if windows:
        entries = await store.archived_articles(min(windows.values()))
        names = {f.id: f.name or "" for f in config.feeds}
        queued = await processor.backfill(entries, windows, names)
    current = {rule.id: rule_fingerprint(rule) for rule in config.rules}
    if current != known:
        await store.set_rule_fingerprints(current)
    return queued
