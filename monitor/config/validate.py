"""Validate the merged watch config entry by entry, so one bad entry hides nothing else.

``monitor.config.load`` merges the YAML files into one document; here each
feed, each channel (against the model its ``type:`` names), each rule, the
``feed_health`` section and each entity is validated on its own against its
model in ``monitor.config.models``, and every validation error becomes a
``ConfigIssue`` at the line of the offending key or value. What validates is
kept in :class:`Entries`; what does not is reported and left out, and the
cross-checks (``monitor.config.checks``) still run on everything.

Messages name the entry and the key; an unknown key or channel type comes with
the nearest valid one (``unknown key 'intervall' in feed 'bbc'; did you mean
'interval'?``). A value whose ``${VAR}`` was not set is reported once, as that
(see :meth:`Locator.report`), not again as an empty URL or an unknown name.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError
from pydantic_core import ErrorDetails

from monitor.config.models import (
    CHANNEL_TYPES,
    IDENTIFIER_PATTERN,
    EntityAliasConfig,
    FeedConfig,
    FeedHealthConfig,
    RuleConfig,
)
from monitor.delivery.channel_config import HTTP_URL_ERROR, ChannelConfig
from monitor.delivery.channels import REGISTRY
from monitor.errors import ConfigIssue, nearest

#: A path in the merged document: ``("feeds", 3, "url")``, ``("channels", "team", "type")``.
Path_ = tuple[str | int, ...]
M = TypeVar("M", bound=BaseModel)

#: What a key that names an entry may hold (feed and rule ids, channel names).
_ID_RULE = "may only contain letters, digits, '_', '.' and '-', and start with a letter or digit"


class Locator:
    """Where each path of the merged document came from (file and line), and the one way
    issues about the document are recorded."""

    def __init__(self, issues: list[ConfigIssue]) -> None:
        #: Path in the merged document -> (file, line).
        self.where: dict[Path_, tuple[str, int]] = {}
        #: Paths of values whose ``${VAR}`` was not set (each already reported as such).
        self.unset: set[Path_] = set()
        self.issues = issues

    def find(self, loc: Path_) -> tuple[str, int]:
        """File and line of ``loc``, or of its nearest ancestor that has one."""
        for end in range(len(loc), -1, -1):
            if loc[:end] in self.where:
                return self.where[loc[:end]]
        return ("<config>", 0)

    def report(self, loc: Path_, message: str) -> None:
        """Record ``message`` at the line of ``loc``; unless ``loc`` holds a ``${VAR}`` that
        was not set, whose issue already covers it (an empty URL, an unknown channel '')."""
        if loc not in self.unset:
            self.issues.append(ConfigIssue(*self.find(loc), message))


@dataclass
class Entries:
    """The entries that validated, each as its model; a bad entry is missing here."""

    #: Feeds by their position in the merged ``feeds`` list.
    feeds: dict[int, FeedConfig] = field(default_factory=dict)
    #: Channels by name.
    channels: dict[str, ChannelConfig] = field(default_factory=dict)
    #: Rules by their position in the merged ``rules`` list.
    rules: dict[int, RuleConfig] = field(default_factory=dict)
    #: The ``feed_health`` section, when it is there and valid.
    feed_health: FeedHealthConfig | None = None
    #: Entities by name, when every alias of the entity is valid.
    entities: dict[str, list[str | EntityAliasConfig]] = field(default_factory=dict)


def validate_entries(merged: Mapping[str, Any], locator: Locator) -> Entries:
    """Validate every entry of the merged document on its own, reporting each problem."""
    out = Entries()
    for i, raw in enumerate(merged.get("feeds", [])):
        feed = _entry(FeedConfig, raw, ("feeds", i), entry_label("feed", raw), locator)
        if feed is not None:
            out.feeds[i] = feed
    for name, raw in merged.get("channels", {}).items():
        channel = _channel(name, raw, locator)
        if channel is not None:
            out.channels[name] = channel
    for i, raw in enumerate(merged.get("rules", [])):
        rule = _entry(RuleConfig, raw, ("rules", i), entry_label("rule", raw), locator)
        if rule is not None:
            out.rules[i] = rule
    if "feed_health" in merged:
        out.feed_health = _entry(
            FeedHealthConfig, merged["feed_health"], ("feed_health",), "feed_health", locator
        )
    for name, raw in merged.get("entities", {}).items():
        aliases = _entity(name, raw, locator)
        if aliases is not None:
            out.entities[name] = aliases
    return out


def entry_label(kind: str, raw: Any) -> str:
    """How messages name a feed or rule: ``feed 'bbc'``, or ``this feed`` without an id."""
    ident = raw.get("id") if isinstance(raw, dict) else None
    return f"{kind} '{ident}'" if isinstance(ident, str) and ident else f"this {kind}"


def did_you_mean(word: object, candidates: list[str]) -> str:
    """``; did you mean 'x'?`` for the candidate nearest ``word``, or nothing."""
    close = nearest(str(word), candidates)
    return f"; did you mean '{close}'?" if close is not None else ""


def suggestion(word: object, candidates: list[str], noun: str) -> str:
    """:func:`did_you_mean`, or when no candidate is near, the list of them
    (`` (valid keys: a, b)``; nothing when there are none)."""
    hint = did_you_mean(word, candidates)
    if hint or not candidates:
        return hint
    return f" (valid {noun}: {', '.join(candidates)})"


def _entry(model: type[M], raw: Any, where: Path_, what: str, locator: Locator) -> M | None:
    """``raw`` validated as ``model``, or None after reporting every problem of it."""
    keys = ", ".join(model.model_fields)
    if not isinstance(raw, dict):
        if where == ("feed_health",):
            message = f"'feed_health': Input should be a valid dictionary (keys: {keys})"
        else:
            message = f"{what.replace('this ', 'a ', 1)} must be a mapping (keys: {keys})"
        locator.report(where, f"{message}, got {_kind(raw)}")
        return None
    try:
        return model.model_validate(raw)
    except ValidationError as e:
        errors = e.errors()
    # A misspelt required key is one mistake: "unknown key 'notfy' ...; did you mean 'notify'?"
    # says it all, without "missing required key 'notify'" as well.
    meant = {
        nearest(str(error["loc"][0]), list(model.model_fields))
        for error in errors
        if error["type"] == "extra_forbidden" and len(error["loc"]) == 1
    }
    for error in errors:
        if error["type"] == "missing" and len(error["loc"]) == 1 and error["loc"][0] in meant:
            continue
        locator.report((*where, *error["loc"]), describe(error, model, what))
    return None


def _channel(name: Any, raw: Any, locator: Locator) -> ChannelConfig | None:
    """Channel ``name`` validated as the model its ``type:`` names, or None (reported)."""
    where: Path_ = ("channels", name)
    what = f"channel '{name}'"
    if not isinstance(name, str) or not re.fullmatch(IDENTIFIER_PATTERN, name) or len(name) > 100:
        locator.report(where, f"channel name '{name}' {_ID_RULE}")
    types = ", ".join(CHANNEL_TYPES)
    if not isinstance(raw, dict):
        locator.report(
            where, f"{what} must be a mapping with a 'type' (one of: {types}), got {_kind(raw)}"
        )
        return None
    if "type" not in raw:
        typos = [key for key in raw if key != "type" and nearest(str(key), ["type"])]
        for key in typos:
            locator.report((*where, key), f"unknown key '{key}' in {what}; did you mean 'type'?")
        if not typos:
            locator.report(where, f"{what} needs a 'type' (one of: {types})")
        return None
    kind = raw["type"]
    channel_type = REGISTRY.get(kind) if isinstance(kind, str) else None
    if channel_type is None:
        hint = suggestion(kind, list(CHANNEL_TYPES), "types")
        locator.report((*where, "type"), f"unknown channel type '{kind}' in {what}{hint}")
        return None
    return _entry(channel_type.model, raw, where, what, locator)


def _entity(name: Any, raw: Any, locator: Locator) -> list[str | EntityAliasConfig] | None:
    """The aliases of entity ``name``, or None when one of them is bad (reported)."""
    where: Path_ = ("entities", name)
    what = f"entity '{name}'"
    if not isinstance(raw, list):
        locator.report(where, f"{what} must be a list of aliases, got {_kind(raw)}")
        return None
    aliases: list[str | EntityAliasConfig] = []
    for j, item in enumerate(raw):
        if isinstance(item, str):
            aliases.append(item)
        elif isinstance(item, dict):
            alias = _entry(EntityAliasConfig, item, (*where, j), what, locator)
            if alias is not None:
                aliases.append(alias)
        else:
            locator.report(
                (*where, j),
                f"{what}: an alias is a string or {{text, case_sensitive}}, got {_kind(item)}",
            )
    return aliases if len(aliases) == len(raw) else None


def describe(error: ErrorDetails, model: type[BaseModel], what: str) -> str:
    """One pydantic error of an entry (``what``: ``feed 'bbc'``) as a message for its line."""
    loc = error["loc"]
    key = loc[-1] if loc else ""
    where = _dotted(loc)
    kind = error["type"]
    if kind == "extra_forbidden":
        keys = list(model.model_fields) if len(loc) == 1 else []
        return f"unknown key '{key}' in {what}{suggestion(key, keys, 'keys')}"
    if kind == "missing":
        return f"missing required key '{where}' in {what}"
    if kind == HTTP_URL_ERROR:
        return f"'{where}' {error['msg']}"
    if kind == "string_pattern_mismatch" and key == "id":
        return f"'id' {_ID_RULE}, got '{error['input']}'"
    if kind == "string_pattern_mismatch" and key == "digest_at":
        return f"'digest_at' must be a time of day HH:MM (UTC), got '{error['input']}'"
    if not where:  # a check of the entry as a whole
        return f"{what}: {error['msg']}"
    return f"'{where}': {error['msg']}"


def _dotted(loc: tuple[str | int, ...]) -> str:
    """``("to", 0)`` -> ``to[0]``, ``("templates", "body")`` -> ``templates.body``."""
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


def _kind(value: Any) -> str:
    """What a YAML value is, for messages: ``a string``, ``a list``, ``nothing`` ..."""
    if value is None:
        return "nothing"
    if isinstance(value, bool):
        return "true/false"
    if isinstance(value, int | float):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, dict):
        return "a mapping"
    return f"a {type(value).__name__}"
