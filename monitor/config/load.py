"""Load the watch config: every ``*.yaml`` / ``*.yml`` in the rules directory.

Each file is composed with PyYAML into nodes (so every value keeps its line),
``${VAR}`` references are substituted from the environment (over the env file,
``.env`` or ``$MONITOR_ENV_FILE``: the real environment wins), the files are
merged (feeds and rules concatenated, channels joined), validated against
``monitor.config.models`` and cross-checked (duplicate ids, references to
missing feeds or channels, bad queries). Every problem becomes a
``ConfigIssue`` naming file and line; ``load_config`` raises one
``ConfigError`` carrying all of them, so nothing starts on an invalid config.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from monitor.config.models import CHANNEL_TYPES, WatchConfig
from monitor.delivery.channels.console import ConsoleChannelConfig
from monitor.errors import ConfigError, ConfigIssue, QuerySyntaxError
from monitor.matching import compile_query, lint_query
from monitor.matching.entities import EntityCatalog, EntityConfigError, default_catalog
from monitor.settings import Settings, config_environ

_VAR = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}")
_LIST_SECTIONS = ("feeds", "rules")
#: Mapping sections and what one of their entries is called in messages.
_MAP_SECTIONS = {"channels": "channel", "entities": "entity"}
#: Sections a single file sets whole (a second file setting one is an error).
_SINGLE_SECTIONS = ("feed_health",)
_SECTIONS = ("feeds", "channels", "rules", "entities", *_SINGLE_SECTIONS)

Path_ = tuple[str | int, ...]


@dataclass
class LoadedConfig:
    """A validated watch config with where each part came from."""

    #: The merged, validated config.
    config: WatchConfig
    #: Files that were read, in load order.
    files: list[Path]
    #: Non-fatal remarks (lowercase operators in queries, implicit console channel ...).
    warnings: list[ConfigIssue] = field(default_factory=list)
    #: The shipped entity catalog with the config's ``entities:`` applied.
    catalog: EntityCatalog = field(default_factory=default_catalog)

    def secret_values(self) -> list[str]:
        """Every secret string in the config (webhook and Apprise URLs, signing secrets),
        for redaction."""
        out: list[str] = []
        for channel in self.config.channels.values():
            for field_value in channel.__dict__.values():
                # A list of secrets too: an apprise channel's ``urls``.
                values = field_value if isinstance(field_value, list) else [field_value]
                for value in values:
                    if hasattr(value, "get_secret_value") and value.get_secret_value():
                        out.append(value.get_secret_value())
        return out


class _Locator:
    """Maps a path in the merged document to the file and line it came from."""

    def __init__(self) -> None:
        self.where: dict[Path_, tuple[str, int]] = {}

    def find(self, loc: Path_) -> tuple[str, int]:
        for end in range(len(loc), -1, -1):
            if loc[:end] in self.where:
                return self.where[loc[:end]]
        return ("<config>", 0)


def _compose(path: Path, issues: list[ConfigIssue]) -> yaml.Node | None:
    try:
        return yaml.compose(path.read_text(encoding="utf-8"), Loader=yaml.SafeLoader)
    except yaml.MarkedYAMLError as e:
        mark = e.problem_mark or e.context_mark
        line = mark.line + 1 if mark else 0
        issues.append(ConfigIssue(str(path), line, f"invalid YAML: {e.problem or e}"))
    except (OSError, UnicodeDecodeError) as e:
        issues.append(ConfigIssue(str(path), 0, f"cannot read file: {e}"))
    return None


class _Converter:
    """Turns a YAML node tree into plain data, recording lines and substituting ${VAR}."""

    def __init__(self, file: str, env: Mapping[str, str], issues: list[ConfigIssue]) -> None:
        self.file = file
        self.env = env
        self.issues = issues
        self.lines: dict[Path_, int] = {}
        self._scalars = yaml.SafeLoader("")

    def convert(self, node: yaml.Node, path: Path_ = ()) -> Any:
        line = node.start_mark.line + 1
        self.lines[path] = line
        if isinstance(node, yaml.MappingNode):
            out: dict[Any, Any] = {}
            for key_node, value_node in node.value:
                key = self._scalar(key_node)
                if not isinstance(key, str | int):
                    self._issue(key_node, "mapping keys must be plain words")
                    continue
                if key in out:
                    self._issue(key_node, f"duplicate key '{key}'")
                    continue
                out[key] = self.convert(value_node, (*path, key))
            return out
        if isinstance(node, yaml.SequenceNode):
            return [self.convert(item, (*path, i)) for i, item in enumerate(node.value)]
        value = self._scalar(node)
        return self._substitute(value, line) if isinstance(value, str) else value

    def _scalar(self, node: yaml.Node) -> Any:
        if not isinstance(node, yaml.ScalarNode):
            return None
        return self._scalars.construct_object(node, deep=True)

    def _substitute(self, value: str, line: int) -> str:
        def replace(m: re.Match[str]) -> str:
            name, default = m.group(1), m.group(2)
            if name in self.env:
                return self.env[name]
            if default is not None:
                return default
            self.issues.append(
                ConfigIssue(
                    self.file,
                    line,
                    f"environment variable {name} is not set "
                    f"(set it, or write ${{{name}:-default}})",
                )
            )
            return ""

        return _VAR.sub(replace, value)

    def _issue(self, node: yaml.Node, message: str) -> None:
        self.issues.append(ConfigIssue(self.file, node.start_mark.line + 1, message))


def config_files(rules_dir: Path) -> list[Path]:
    """The YAML files of ``rules_dir`` (not recursive), sorted by name."""
    return sorted(p for p in rules_dir.iterdir() if p.is_file() and p.suffix in {".yaml", ".yml"})


def _merge(
    docs: list[tuple[str, dict[str, Any], dict[Path_, int]]],
    issues: list[ConfigIssue],
    locator: _Locator,
) -> dict[str, Any]:
    merged: dict[str, Any] = {"feeds": [], "channels": {}, "rules": [], "entities": {}}
    for file, doc, lines in docs:
        for section, value in doc.items():
            where = (file, lines.get((section,), 0))
            if section not in _SECTIONS:
                issues.append(
                    ConfigIssue(
                        *where,
                        f"unknown top-level key '{section}' "
                        f"(expected one of: {', '.join(_SECTIONS)})",
                    )
                )
                continue
            if value is None:
                continue
            if section in _SINGLE_SECTIONS:
                if section in merged:
                    first = ":".join(map(str, locator.find((section,))))
                    issues.append(ConfigIssue(*where, f"'{section}' is already set at {first}"))
                    continue
                merged[section] = value
                _relocate(locator, lines, file, (section,), lambda p: p[0])
                continue
            if section in _LIST_SECTIONS:
                if not isinstance(value, list):
                    issues.append(ConfigIssue(*where, f"'{section}' must be a list"))
                    continue
                offset = len(merged[section])
                merged[section].extend(value)
                _relocate(locator, lines, file, (section,), lambda p, o=offset: p[0] + o)
            else:
                if not isinstance(value, dict):
                    issues.append(ConfigIssue(*where, f"'{section}' must be a mapping of names"))
                    continue
                for name in value:
                    if name in merged[section]:
                        line = lines.get((section, name), 0)
                        what = _MAP_SECTIONS[section]
                        issues.append(ConfigIssue(file, line, f"duplicate {what} '{name}'"))
                merged[section].update(value)
                _relocate(locator, lines, file, (section,), lambda p: p[0])
    return merged


def _relocate(
    locator: _Locator, lines: dict[Path_, int], file: str, prefix: Path_, first: Any
) -> None:
    """Record where each element under ``prefix`` of one file lands in the merged document."""
    n = len(prefix)
    for path, line in lines.items():
        if path[:n] == prefix and len(path) > n:
            merged_path = (*prefix, first(path[n:]), *path[n + 1 :])
            locator.where[merged_path] = (file, line)
        elif path == prefix:
            locator.where.setdefault(prefix, (file, line))


def _describe(error: Any) -> str:
    loc = error["loc"]
    key = loc[-1] if loc else ""
    kind = error["type"]
    if kind == "extra_forbidden":
        return f"unknown key '{key}'"
    if kind == "missing":
        return f"missing required key '{key}'"
    if kind == "union_tag_invalid":
        return f"unknown channel type; expected one of: {', '.join(CHANNEL_TYPES)}"
    if kind == "union_tag_not_found":
        return f"channel needs a 'type' (one of: {', '.join(CHANNEL_TYPES)})"
    if kind == "string_pattern_mismatch" and key == "url":
        return "'url' must start with http:// or https://"
    if kind == "string_pattern_mismatch":
        return f"'{key}' may only contain letters, digits, '_', '.' and '-'"
    return f"'{key}': {error['msg']}" if isinstance(key, str) and key else str(error["msg"])


def _cross_check(
    config: WatchConfig,
    locator: _Locator,
    settings: Settings,
    issues: list[ConfigIssue],
    warnings: list[ConfigIssue],
    catalog: EntityCatalog,
) -> None:
    seen_feeds: set[str] = set()
    for i, feed in enumerate(config.feeds):
        if feed.id in seen_feeds:
            issues.append(
                ConfigIssue(*locator.find(("feeds", i, "id")), f"duplicate feed id '{feed.id}'")
            )
        seen_feeds.add(feed.id)
        if feed.silent_after is not None and config.feed_health is None:
            warnings.append(
                ConfigIssue(
                    *locator.find(("feeds", i, "silent_after")),
                    f"feed '{feed.id}': silent_after has no effect without a feed_health "
                    "section naming the channels to notify",
                )
            )
    for j, name in enumerate(config.feed_health.notify if config.feed_health else []):
        if name not in config.channels:
            known = ", ".join(sorted(config.channels)) or "none defined"
            issues.append(
                ConfigIssue(
                    *locator.find(("feed_health", "notify", j)),
                    f"feed_health notifies unknown channel '{name}' (channels: {known})",
                )
            )
    for name, channel in config.channels.items():
        # What the type's own check finds (email without MONITOR_SMTP_HOST; an apprise
        # channel without the extra or with a URL Apprise cannot use; never quoting a secret).
        for problem in channel.problems(name, settings):
            where = locator.find(("channels", name, *problem.where))
            issues.append(ConfigIssue(*where, problem.message))
        if channel.max_group not in (None, 1) and channel.ONE_ALERT_PER_MESSAGE:
            warnings.append(
                ConfigIssue(
                    *locator.find(("channels", name, "max_group")),
                    f"channel '{name}': max_group has no effect, a {channel.type} channel "
                    "sends one message per alert",
                )
            )
    seen_rules: set[str] = set()
    for i, rule in enumerate(config.rules):
        here = ("rules", i)
        if rule.id in seen_rules:
            issues.append(
                ConfigIssue(*locator.find((*here, "id")), f"duplicate rule id '{rule.id}'")
            )
        seen_rules.add(rule.id)
        for j, name in enumerate(rule.notify or []):
            if name not in config.channels:
                known = ", ".join(sorted(config.channels)) or "none defined"
                issues.append(
                    ConfigIssue(
                        *locator.find((*here, "notify", j)),
                        f"rule '{rule.id}' notifies unknown channel '{name}' (channels: {known})",
                    )
                )
        for j, name in enumerate(rule.feeds or []):
            if name not in seen_feeds:
                issues.append(
                    ConfigIssue(
                        *locator.find((*here, "feeds", j)),
                        f"rule '{rule.id}' names unknown feed '{name}'",
                    )
                )
        try:
            compile_query(rule.query, catalog)  # parses, and resolves every @Entity
        except QuerySyntaxError as e:
            issues.append(
                ConfigIssue(
                    *locator.find((*here, "query")), f"rule '{rule.id}': bad query: {e.pretty()}"
                )
            )
        else:
            for remark in lint_query(rule.query):
                warnings.append(
                    ConfigIssue(*locator.find((*here, "query")), f"rule '{rule.id}': {remark}")
                )


def load_config(settings: Settings, env: Mapping[str, str] | None = None) -> LoadedConfig:
    """Read, merge, validate and cross-check the watch config; raise ConfigError if invalid."""
    env = config_environ() if env is None else env
    rules_dir = settings.rules_dir
    if not rules_dir.is_dir():
        raise ConfigError(
            [ConfigIssue(str(rules_dir), 0, "rules directory not found (set MONITOR_RULES_DIR)")]
        )
    files = config_files(rules_dir)
    if not files:
        raise ConfigError([ConfigIssue(str(rules_dir), 0, "no *.yaml or *.yml files found")])
    issues: list[ConfigIssue] = []
    docs: list[tuple[str, dict[str, Any], dict[Path_, int]]] = []
    for path in files:
        node = _compose(path, issues)
        if node is None:
            continue
        converter = _Converter(str(path), env, issues)
        data = converter.convert(node)
        if not isinstance(data, dict):
            issues.append(
                ConfigIssue(
                    str(path),
                    node.start_mark.line + 1,
                    "expected a mapping with feeds, channels and rules",
                )
            )
            continue
        docs.append((str(path), data, converter.lines))
    locator = _Locator()
    merged = _merge(docs, issues, locator)
    try:
        config = WatchConfig.model_validate(merged)
    except ValidationError as e:
        for error in e.errors():
            issues.append(ConfigIssue(*locator.find(_strip_tags(error["loc"])), _describe(error)))
        raise ConfigError(issues) from None
    warnings: list[ConfigIssue] = []
    catalog = _build_catalog(config, locator, issues)
    _cross_check(config, locator, settings, issues, warnings, catalog)
    if issues:
        raise ConfigError(issues)
    if not config.channels:
        config = config.model_copy(
            update={"channels": {"console": ConsoleChannelConfig(type="console")}}
        )
        warnings.append(
            ConfigIssue(str(rules_dir), 0, "no channels configured: alerts print to the console")
        )
    if not config.feeds:
        warnings.append(ConfigIssue(str(rules_dir), 0, "no feeds configured"))
    return LoadedConfig(config=config, files=files, warnings=warnings, catalog=catalog)


def _build_catalog(
    config: WatchConfig, locator: _Locator, issues: list[ConfigIssue]
) -> EntityCatalog:
    """The shipped catalog with ``entities:`` applied; a bad override becomes an issue."""
    catalog = default_catalog()
    if not config.entities:
        return catalog
    try:
        return catalog.with_overrides(config.entities)
    except EntityConfigError as e:
        where = ("entities", e.entity) if e.entity is not None else ("entities",)
        issues.append(ConfigIssue(*locator.find(where), f"entities: {e}"))
        return catalog


def _strip_tags(loc: tuple[str | int, ...]) -> Path_:
    """Drop the discriminator tags pydantic inserts into union error locations."""
    out: list[str | int] = []
    for i, part in enumerate(loc):
        if i == 2 and loc[0] == "channels" and part in CHANNEL_TYPES:
            continue
        out.append(part)
    return tuple(out)
