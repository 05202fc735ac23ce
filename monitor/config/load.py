"""Load the watch config: every ``*.yaml`` / ``*.yml`` in the rules directory.

Each file is read into plain data within bounds (``monitor.config.reading``:
at most 5 MB, aliases counted, every value keeping its line), ``${VAR}``
references are substituted from the environment (over the env file, ``.env``
or ``$MONITOR_ENV_FILE``: the real environment wins), the files are merged
(feeds and rules concatenated, channels joined; at most ``MAX_FEEDS`` feeds,
``MAX_RULES`` rules and ``MAX_CHANNELS`` channels in all), validated entry by
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

import sys
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from monitor.config.checks import cross_check
from monitor.config.models import CHANNEL_TYPES, EntityAliasConfig, WatchConfig
from monitor.config.reading import read_yaml
from monitor.config.validate import (
    Entries,
    Locator,
    Path_,
    describe,
    suggestion,
    validate_entries,
)
from monitor.delivery.channels.console import ConsoleChannelConfig
from monitor.delivery.templates import TEXT, Format, trial_render
from monitor.errors import ConfigError, ConfigIssue
from monitor.matching.entities import EntityCatalog, EntityConfigError, default_catalog
from monitor.settings import Settings, config_environ

_LIST_SECTIONS = ("feeds", "rules")
#: Mapping sections and what one of their entries is called in messages.
_MAP_SECTIONS = {"channels": "channel", "entities": "entity"}
#: Sections a single file sets whole (a second file setting one is an error).
_SINGLE_SECTIONS = ("feed_health",)
_SECTIONS = ("feeds", "channels", "rules", "entities", *_SINGLE_SECTIONS)
#: Most rules, feeds and channels a watch config may have, all files together (README,
#: "Limits"): far more than a deployment uses (10,000 rules load in about 6 s), few
#: enough that a config cannot keep ``check`` or a reload busy for hours.
MAX_RULES = 100_000
MAX_FEEDS = 100_000
MAX_CHANNELS = 1_000


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
        """Every secret string in the config (webhook and Apprise URLs, signing secrets; a
        feed's header and cookie values, auth password or token, proxy URL and
        credentials, in the forms they are sent), for redaction."""
        out: list[str] = []
        for feed in self.config.feeds:
            if (request := feed.request) is not None:
                out.extend(request.secrets())
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
                room = _limit(section) - offset
                if len(value) > room >= 0:
                    line = lines.get((section, room), where[1])
                    issues.append(ConfigIssue(file, line, _too_many(section)))
                    value = value[: max(room, 0)]
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
                if section == "channels" and len(merged[section] | value) > MAX_CHANNELS:
                    value = _cap_channels(merged[section], value, doc, issues)
                merged[section].update(value)
                _relocate(locator, doc, (section,), lambda p: p[0])
    return merged


def _limit(section: str) -> int:
    return MAX_RULES if section == "rules" else MAX_FEEDS


def _too_many(section: str) -> str:
    cap = {"rules": MAX_RULES, "feeds": MAX_FEEDS, "channels": MAX_CHANNELS}[section]
    return (
        f"too many {section}: at most {cap:,} may be configured, all files together; "
        f"the {section} from here on are not loaded"
    )


def _cap_channels(
    merged: dict[str, Any], value: dict[str, Any], doc: _Doc, issues: list[ConfigIssue]
) -> dict[str, Any]:
    """The channels of ``value`` that still fit under MAX_CHANNELS; the first one that does
    not is reported."""
    kept: dict[str, Any] = {}
    count = len(merged)
    for name, channel in value.items():
        if name not in merged:
            if count >= MAX_CHANNELS:
                line = doc.lines.get(("channels", name), 0)
                issues.append(ConfigIssue(doc.file, line, _too_many("channels")))
                break
            count += 1
        kept[name] = channel
    return kept


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
    _try_templates(entries, locator)
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
        read = read_yaml(path, env, issues)
        if read is None:
            unread.append(str(path))
            continue
        if not isinstance(read.data, dict):
            issues.append(
                ConfigIssue(
                    str(path), read.line, "expected a mapping with feeds, channels and rules"
                )
            )
            unread.append(str(path))
            continue
        docs.append(_Doc(str(path), read.data, read.lines, read.unset))
    return docs, unread


def _try_templates(entries: Entries, locator: Locator) -> None:
    """Render every template of every valid channel once with a sample alert (within the
    render limits of ``monitor.delivery.template_sandbox``) and report each that fails, at
    its line: one that always fails would send every alert of its channel to the
    dead-letter list."""
    for name, channel in entries.channels.items():
        if not channel.templates:
            continue
        # Each channel type's module defines the format of each part beside its model.
        module = sys.modules[type(channel).__module__]
        formats: dict[str, Format] = getattr(module, "TEMPLATE_FORMATS", {})
        parts = {part: formats.get(part, TEXT) for part in channel.templates}
        digest = getattr(channel, "digest", None)
        failures = trial_render(name, channel.templates, parts, digest=digest)
        for part, problem in failures.items():
            locator.report(
                ("channels", name, "templates", part), f"{problem} (rendering a sample alert)"
            )


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
