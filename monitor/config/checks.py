"""Cross-checks of the merged watch config: what no single entry's model can see.

Duplicate feed and rule ids, rules and ``feed_health`` naming channels or feeds
that do not exist, queries that do not parse (or may not mean what they say: a
warning), what a channel type itself finds wrong (an email channel without
MONITOR_SMTP_HOST) and pacing keys without effect.

They run on the whole document even when some entries did not validate
(``monitor.config.validate``), reading the raw values of those entries where
they are usable: a feed with a misspelt key still has an id that rules may name
and that must be unique, a rule with a bad ``notify`` still has a query to check.
So ``check`` shows every problem at once. A name defined in a file that could
not be read is unknown here; the message says so rather than leave the user
hunting for a typo.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from monitor.config.models import FeedConfig
from monitor.config.validate import Entries, Locator, Path_, did_you_mean, entry_label
from monitor.errors import QuerySyntaxError
from monitor.matching import compile_query, lint_query
from monitor.matching.entities import EntityCatalog
from monitor.settings import Settings


def cross_check(
    merged: Mapping[str, Any],
    entries: Entries,
    locator: Locator,
    settings: Settings,
    catalog: EntityCatalog,
    *,
    unread: list[str],
) -> list[tuple[Path_, str]]:
    """Report every cross-entry problem through ``locator``; return the warnings as
    ``(path, message)``. ``unread``: the files that could not be read or parsed."""
    warnings: list[tuple[Path_, str]] = []
    note = _unread_note(unread)
    feeds: list[Any] = list(merged.get("feeds", []))
    channels = sorted(str(name) for name in merged.get("channels", {}))
    feed_ids = _check_feeds(feeds, entries, locator, "feed_health" in merged, warnings)

    def unknown_channel(loc: Path_, who: str, name: str) -> None:
        known = ", ".join(channels) or "none defined"
        hint = did_you_mean(name, channels)
        locator.report(
            loc, f"{who} notifies unknown channel '{name}'{hint} (channels: {known}{note})"
        )

    health = merged.get("feed_health")
    for j, name in _names(health, "notify"):
        if name not in channels:
            unknown_channel(("feed_health", "notify", j), "feed_health", name)
    for name, channel in entries.channels.items():
        # What the type's own check finds (email without MONITOR_SMTP_HOST; an apprise
        # channel without the extra or with a URL Apprise cannot use; never quoting a secret).
        for problem in channel.problems(name, settings):
            locator.report(("channels", name, *problem.where), problem.message)
        if channel.max_group not in (None, 1) and channel.ONE_ALERT_PER_MESSAGE:
            warnings.append(
                (
                    ("channels", name, "max_group"),
                    f"channel '{name}': max_group has no effect, a {channel.type} channel "
                    "sends one message per alert",
                )
            )
    seen_rules: set[str] = set()
    for i, raw in enumerate(merged.get("rules", [])):
        here: Path_ = ("rules", i)
        who = entry_label("rule", raw)
        rule_id = _text(raw, "id")
        if rule_id is not None:
            if rule_id in seen_rules:
                locator.report((*here, "id"), f"duplicate rule id '{rule_id}'")
            seen_rules.add(rule_id)
        for j, name in _names(raw, "notify"):
            if name not in channels:
                unknown_channel((*here, "notify", j), who, name)
        for j, name in _names(raw, "feeds"):
            if name not in feed_ids:
                hint = did_you_mean(name, sorted(feed_ids))
                extra = f" ({note.removeprefix('; ')})" if note else ""
                locator.report(
                    (*here, "feeds", j), f"{who} names unknown feed '{name}'{hint}{extra}"
                )
        query = _text(raw, "query")
        if query and (*here, "query") not in locator.unset:
            warnings += _check_query(query, (*here, "query"), who, catalog, locator)
    return warnings


def _check_feeds(
    feeds: list[Any],
    entries: Entries,
    locator: Locator,
    has_health: bool,
    warnings: list[tuple[Path_, str]],
) -> set[str]:
    """Report duplicate feed ids; warn about ``silent_after`` without ``feed_health`` and
    ``fulltext_*`` keys their ``fulltext`` ignores. Returns every feed id, of valid feeds
    or not (rules may name them)."""
    seen: set[str] = set()
    for i, raw in enumerate(feeds):
        feed_id = _text(raw, "id")
        if feed_id is None:
            continue
        if feed_id in seen:
            locator.report(("feeds", i, "id"), f"duplicate feed id '{feed_id}'")
        seen.add(feed_id)
        feed = entries.feeds.get(i)
        if feed is not None and feed.silent_after is not None and not has_health:
            warnings.append(
                (
                    ("feeds", i, "silent_after"),
                    f"feed '{feed.id}': silent_after has no effect without a feed_health "
                    "section naming the channels to notify",
                )
            )
        if feed is not None:
            warnings += _fulltext_warnings(feed, ("feeds", i))
    return seen


def _fulltext_warnings(feed: FeedConfig, where: Path_) -> list[tuple[Path_, str]]:
    """The ``fulltext_*`` keys set on ``feed`` that its ``fulltext`` ignores."""
    ignored = []
    if "fulltext_min_chars" in feed.model_fields_set and feed.fulltext != "auto":
        ignored.append(("fulltext_min_chars", "only applies with fulltext: auto"))
    if "fulltext_max_per_poll" in feed.model_fields_set and not feed.fulltext:
        ignored.append(("fulltext_max_per_poll", "has no effect without fulltext"))
    return [((*where, key), f"feed '{feed.id}': {key} {why}") for key, why in ignored]


def _check_query(
    query: str, where: Path_, who: str, catalog: EntityCatalog, locator: Locator
) -> list[tuple[Path_, str]]:
    """Report a query that does not parse (or names an unknown @Entity); else its remarks."""
    try:
        compile_query(query, catalog)  # parses, and resolves every @Entity
    except QuerySyntaxError as e:
        locator.report(where, f"{who}: bad query: {e.pretty()}")
        return []
    return [(where, f"{who}: {remark}") for remark in lint_query(query)]


def _unread_note(unread: list[str]) -> str:
    """``; not counting b.yaml, which could not be loaded`` when files were skipped."""
    if not unread:
        return ""
    names = ", ".join(Path(file).name for file in unread)
    return f"; not counting {names}, which could not be loaded"


def _text(raw: Any, key: str) -> str | None:
    """``raw[key]`` when ``raw`` is a mapping and that is a non-empty string."""
    value = raw.get(key) if isinstance(raw, dict) else None
    return value if isinstance(value, str) and value else None


def _names(raw: Any, key: str) -> list[tuple[int, str]]:
    """``(position, name)`` of each string in the list ``raw[key]`` (none if not a list)."""
    value = raw.get(key) if isinstance(raw, dict) else None
    if not isinstance(value, list):
        return []
    return [(j, name) for j, name in enumerate(value) if isinstance(name, str)]
