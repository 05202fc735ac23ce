"""Load the watch config: every ``*.yaml`` / ``*.yml`` in the rules directory.

Each file is composed with PyYAML into nodes (so every value keeps its line),
``${VAR}`` references are substituted from the environment (over the env file,
``.env`` or ``$MONITOR_ENV_FILE``: the real environment wins), the files are
merged (feeds and rules concatenated, channels joined), validated entry by
entry against ``monitor.config.models`` (``monitor.config.validate``) and
cross-checked (``monitor.config.checks``: duplicate ids, references to missing
feeds or channels, bad queries). Every problem becomes a ``ConfigIssue``
naming file and line; ``load_config`` raises one ``ConfigError`` carrying all
of them, so nothing starts on an invalid config.

No stage stops the next: a file with a YAML error is skipped and the others
are read, an entry that does not validate is reported and the cross-checks
still run on every entry. One ``check`` shows every problem, in file and line
order; an unknown key or channel type comes with the nearest valid one.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from monitor.config.checks import cross_check
from monitor.config.models import CHANNEL_TYPES, EntityAliasConfig, WatchConfig
from monitor.config.validate import Locator, Path_, describe, suggestion, validate_entries
from monitor.delivery.channels.console import ConsoleChannelConfig
from monitor.errors import ConfigError, ConfigIssue
from monitor.matching.entities import EntityCatalog, EntityConfigError, default_catalog
from monitor.settings import Settings, config_environ

_VAR = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}")
_LIST_SECTIONS = ("feeds", "rules")
#: Mapping sections and what one of their entries is called in messages.
_MAP_SECTIONS = {"channels": "channel", "entities": "entity"}
#: Sections a single file sets whole (a second file setting one is an error).
_SINGLE_SECTIONS = ("feed_health",)
_SECTIONS = ("feeds", "channels", "rules", "entities", *_SINGLE_SECTIONS)


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


@dataclass
class _Doc:
    """One file's document as plain data, with the line of each path and the paths whose
    ``${VAR}`` was not set."""

    file: str
    data: dict[str, Any]
    lines: dict[Path_, int]
    unset: set[Path_]


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
        #: Paths of the values with a ``${VAR}`` that was not set (reported once, here).
        self.unset: set[Path_] = set()
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
        return self._substitute(value, line, path) if isinstance(value, str) else value

    def _scalar(self, node: yaml.Node) -> Any:
        if not isinstance(node, yaml.ScalarNode):
            return None
        return self._scalars.construct_object(node, deep=True)

    def _substitute(self, value: str, line: int, path: Path_) -> str:
        def replace(m: re.Match[str]) -> str:
            name, default = m.group(1), m.group(2)
            if name in self.env:
                return self.env[name]
            if default is not None:
                return default
            self.unset.add(path)
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


def _merge(docs: list[_Doc], issues: list[ConfigIssue], locator: Locator) -> dict[str, Any]:
    merged: dict[str, Any] = {"feeds": [], "channels": {}, "rules": [], "entities": {}}
    for doc in docs:
        file, lines = doc.file, doc.lines
        for section, value in doc.data.items():
            where = (file, lines.get((section,), 0))
            if section not in _SECTIONS:
                hint = suggestion(section, list(_SECTIONS), "top-level keys")
                issues.append(ConfigIssue(*where, f"unknown top-level key '{section}'{hint}"))
                continue
            if value is None:
                continue
            if section in _SINGLE_SECTIONS:
                if section in merged:
                    first = ":".join(map(str, locator.find((section,))))
                    issues.append(ConfigIssue(*where, f"'{section}' is already set at {first}"))
                    continue
                merged[section] = value
                _relocate(locator, doc, (section,), lambda p: p[0])
                continue
            if section in _LIST_SECTIONS:
                if not isinstance(value, list):
                    issues.append(ConfigIssue(*where, f"'{section}' must be a list"))
                    continue
                offset = len(merged[section])
                merged[section].extend(value)
                _relocate(locator, doc, (section,), lambda p, o=offset: p[0] + o)
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
                _relocate(locator, doc, (section,), lambda p: p[0])
    return merged


def _relocate(locator: Locator, doc: _Doc, prefix: Path_, first: Any) -> None:
    """Record where each element under ``prefix`` of one file lands in the merged document
    (and which of them hold a ``${VAR}`` that was not set)."""
    n = len(prefix)
    for path, line in doc.lines.items():
        if path[:n] == prefix and len(path) > n:
            merged_path = (*prefix, first(path[n:]), *path[n + 1 :])
            locator.where[merged_path] = (doc.file, line)
            if path in doc.unset:
                locator.unset.add(merged_path)
        elif path == prefix:
            locator.where.setdefault(prefix, (doc.file, line))


def load_config(settings: Settings, env: Mapping[str, str] | None = None) -> LoadedConfig:
    """Read, merge, validate and cross-check the watch config; raise ConfigError with every
    problem found (in file and line order) if it is invalid."""
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
    docs, unread = _read(files, env, issues)
    locator = Locator(issues)
    merged = _merge(docs, issues, locator)
    entries = validate_entries(merged, locator)
    catalog = _build_catalog(entries.entities, locator)
    remarks = cross_check(merged, entries, locator, settings, catalog, unread=unread)
    config = None if issues else _whole(merged, locator)
    if config is None or issues:
        raise ConfigError(sorted(issues, key=lambda issue: (issue.file, issue.line)))
    warnings = [ConfigIssue(*locator.find(loc), message) for loc, message in remarks]
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


def _read(
    files: list[Path], env: Mapping[str, str], issues: list[ConfigIssue]
) -> tuple[list[_Doc], list[str]]:
    """Each file as a document; and the files that could not be read, parsed or used (each
    reported), whose names the other files may still refer to."""
    docs: list[_Doc] = []
    unread: list[str] = []
    for path in files:
        node = _compose(path, issues)
        if node is None:
            unread.append(str(path))
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
            unread.append(str(path))
            continue
        docs.append(_Doc(str(path), data, converter.lines, converter.unset))
    return docs, unread


def _whole(merged: dict[str, Any], locator: Locator) -> WatchConfig:
    """The merged document as one WatchConfig, once every entry validated on its own (a
    failure here is reported like the others; it would mean the two disagree)."""
    try:
        return WatchConfig.model_validate(merged)
    except ValidationError as e:
        for error in e.errors():
            locator.report(_strip_tags(error["loc"]), describe(error, WatchConfig, "the config"))
        return WatchConfig()


def _build_catalog(
    entities: dict[str, list[str | EntityAliasConfig]], locator: Locator
) -> EntityCatalog:
    """The shipped catalog with the valid ``entities:`` applied; a bad override is reported."""
    catalog = default_catalog()
    if not entities:
        return catalog
    try:
        return catalog.with_overrides(entities)
    except EntityConfigError as e:
        where: Path_ = ("entities", e.entity) if e.entity is not None else ("entities",)
        locator.report(where, f"entities: {e}")
        return catalog


def _strip_tags(loc: tuple[str | int, ...]) -> Path_:
    """Drop the discriminator tags pydantic inserts into union error locations."""
    out: list[str | int] = []
    for i, part in enumerate(loc):
        if i == 2 and loc[0] == "channels" and part in CHANNEL_TYPES:
            continue
        out.append(part)
    return tuple(out)
