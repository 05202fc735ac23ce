"""Read one YAML file of the watch config into plain data, within bounds.

A config file is data an operator (or whoever can write to the rules
directory) controls, so reading it must not be a way to exhaust the process:

- a file larger than ``MAX_FILE_BYTES`` (5 MB) is not read at all;
- the file is parsed as a stream of events (PyYAML's parser; libyaml's, 10-20
  times faster, for a file over 256 KB) and composed here, without recursion:
  nesting deeper than ``MAX_DEPTH`` levels stops the file;
- aliases are expanded as they are met, and what they add is counted: more than
  ``MAX_ALIAS_NODES`` nodes added by aliases (the "billion laughs": 1 KB that
  expands to 10^9 values), or more than ``MAX_NODES`` nodes in all, stops the
  file; an alias inside the value it names (``&x [*x]``) is refused;
- every parser, composer and constructor error becomes a ``file:line`` issue:
  a bad character, a second document, an unknown or duplicate anchor, a tag no
  safe loader knows (``!!python/object``), a value its tag cannot read
  (``!!int abc``).

Each value keeps the line it starts on (``lines``: path -> line); a value an
alias stands for is located at the alias. ``${VAR}`` references in string
values are substituted from the environment here (an unset one is an issue,
and the path is recorded in ``unset`` so that nothing reports it again).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from yaml.constructor import SafeConstructor
from yaml.resolver import Resolver

from monitor.errors import ConfigIssue

#: A path in one file's document: ``("feeds", 3, "url")``.
Path_ = tuple[str | int, ...]

#: Largest config file read, in bytes.
MAX_FILE_BYTES = 5 * 1024 * 1024
#: Most nodes (keys, values, list items; aliases expanded) one file may hold.
MAX_NODES = 1_000_000
#: Most nodes the aliases of one file may add, all together.
MAX_ALIAS_NODES = 100_000
#: Deepest nesting of lists and mappings (aliases expanded).
MAX_DEPTH = 100

_VAR = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}")
_TAG = "tag:yaml.org,2002:"
_STR = _TAG + "str"
#: Scalar tags read, and how (SafeConstructor's own functions); any other tag is refused.
_SCALAR_TAGS = {
    _TAG + name: SafeConstructor.yaml_constructors[_TAG + name]
    for name in ("null", "bool", "int", "float", "str", "timestamp", "binary")
}
#: Tags a list or a mapping may carry (the default ones, written out).
_COLLECTION_TAGS = {"seq": {None, "!", _TAG + "seq"}, "map": {None, "!", _TAG + "map"}}

#: Files longer than this (characters) are parsed by libyaml, when PyYAML has it.
_FAST_FROM = 256 * 1024

#: libyaml's parser (as its safe loader), when PyYAML was built with it.
_FastParser: Any = getattr(yaml, "CSafeLoader", None)


class _Stop(Exception):
    """The file cannot be read further: one issue, at ``line``."""

    def __init__(self, line: int, message: str) -> None:
        super().__init__(message)
        self.line = line
        self.message = message


@dataclass
class ReadFile:
    """One file's document as plain data."""

    #: The document: usually a mapping; None for an empty document.
    data: Any
    #: Line (1-based) of the document's root value.
    line: int
    #: Path -> line of each value (inside an alias's value: none; the alias's own line holds).
    lines: dict[Path_, int] = field(default_factory=dict)
    #: Paths of values already reported (a ``${VAR}`` that was not set, a tag that was
    #: refused): a later check must not report them again.
    unset: set[Path_] = field(default_factory=set)


def read_yaml(path: Path, env: Mapping[str, str], issues: list[ConfigIssue]) -> ReadFile | None:
    """``path`` read within the limits above, or None when it cannot be used at all (the
    reason added to ``issues``). An empty file is None without an issue."""
    file = str(path)
    try:
        with path.open("rb") as stream:
            raw = stream.read(MAX_FILE_BYTES + 1)
        if len(raw) > MAX_FILE_BYTES:
            issues.append(
                ConfigIssue(
                    file,
                    0,
                    f"file is larger than {MAX_FILE_BYTES // (1024 * 1024)} MB "
                    f"({MAX_FILE_BYTES:,} bytes), the most a config file may be; "
                    "split it into several files",
                )
            )
            return None
        text = raw.decode("utf-8")
    except (OSError, UnicodeDecodeError) as e:
        issues.append(ConfigIssue(file, 0, f"cannot read file: {e}"))
        return None
    composer = _Composer(file, env, issues)
    try:
        return composer.compose(_events(text))
    except _Stop as stop:
        issues.append(ConfigIssue(file, stop.line, stop.message))
    except yaml.YAMLError as e:
        line, problem = _describe(e, text)
        issues.append(ConfigIssue(file, line, f"invalid YAML: {problem}"))
    return None


def _events(text: str) -> Iterator[yaml.Event]:
    """The parser events of ``text``: PyYAML's own parser for a file of usual size (its
    error messages are the clearer ones), libyaml's for a large one (10-20 times faster)."""
    fast = _FastParser is not None and len(text) > _FAST_FROM
    parser: Any = _FastParser(text) if fast else yaml.SafeLoader(text)
    try:
        while True:
            event = parser.get_event()
            if event is None:
                return
            yield event
            if isinstance(event, yaml.StreamEndEvent):
                return
    finally:
        parser.dispose()


def _describe(error: yaml.YAMLError, text: str) -> tuple[int, str]:
    """Line and message of a parser error."""
    if isinstance(error, yaml.MarkedYAMLError):
        mark = error.problem_mark or error.context_mark
        return (mark.line + 1 if mark else 0), str(error.problem or error)
    if isinstance(error, yaml.reader.ReaderError):
        line = text.count("\n", 0, max(error.position, 0)) + 1
        code = error.character if isinstance(error.character, int) else ord(error.character)
        return line, f"character U+{code:04X} is not allowed in YAML (a control character)"
    return 0, str(error).splitlines()[0] if str(error) else type(error).__name__


class _Collection:
    """A list or mapping being composed."""

    __slots__ = ("anchor", "key", "line", "nodes_at_start", "path", "value")

    def __init__(
        self, value: Any, line: int, path: Path_ | None, anchor: str | None, nodes: int
    ) -> None:
        self.value = value
        self.line = line
        #: Where it goes in the document; None for a value that is read and dropped.
        self.path = path
        self.anchor = anchor
        self.nodes_at_start = nodes
        #: Mappings: the key read, waiting for its value (_NO_KEY: none yet).
        self.key: Any = _NO_KEY


_NO_KEY = object()
#: A key that cannot be used: its value is read and dropped.
_BAD_KEY = object()


class _Composer:
    """Builds plain data from parser events, counting nodes and depth."""

    def __init__(self, file: str, env: Mapping[str, str], issues: list[ConfigIssue]) -> None:
        self.file = file
        self.env = env
        self.issues = issues
        self.result = ReadFile(None, 0)
        self.stack: list[_Collection] = []
        #: Anchor -> (value, nodes it holds, depth it reaches below itself).
        self.anchors: dict[str, tuple[Any, int, int]] = {}
        self.anchor_lines: dict[str, int] = {}
        #: Anchors whose value is being composed (an alias to one of them is recursive).
        self.open_anchors: set[str] = set()
        self.nodes = 0
        self.alias_nodes = 0
        #: Deepest nesting of the anchor values being composed, per open collection.
        self.heights: list[int] = []
        self.resolver = Resolver()
        self.constructor = SafeConstructor()

    def compose(self, events: Iterator[yaml.Event]) -> ReadFile | None:
        documents = 0
        for event in events:
            line = event.start_mark.line + 1 if event.start_mark else 0
            if isinstance(event, yaml.DocumentStartEvent):
                documents += 1
                if documents > 1:
                    raise _Stop(
                        line,
                        "invalid YAML: a second document ('---'); a config file holds one",
                    )
            elif isinstance(event, yaml.ScalarEvent):
                self._scalar(event, line)
            elif isinstance(event, yaml.SequenceStartEvent | yaml.MappingStartEvent):
                self._open(event, line)
            elif isinstance(event, yaml.SequenceEndEvent | yaml.MappingEndEvent):
                self._close()
            elif isinstance(event, yaml.AliasEvent):
                self._alias(event, line)
        return self.result if documents else None

    # --- nodes ---------------------------------------------------------------------------

    def _count(self, line: int, nodes: int = 1) -> None:
        self.nodes += nodes
        if self.nodes > MAX_NODES:
            raise _Stop(
                line,
                f"more than {MAX_NODES:,} YAML nodes (keys, values and list items, aliases "
                "expanded) in one file; split it into several files",
            )

    def _path(self) -> Path_ | None:
        """Where the next value goes: None for a mapping key or a value that is dropped."""
        if not self.stack:
            return ()
        top = self.stack[-1]
        if top.path is None:
            return None
        if isinstance(top.value, list):
            return (*top.path, len(top.value))
        if top.key is _NO_KEY or top.key is _BAD_KEY:
            return None
        return (*top.path, top.key)

    def _anchor(self, anchor: str | None, line: int) -> None:
        if anchor is None:
            return
        if anchor in self.anchors or anchor in self.open_anchors:
            first = self.anchor_lines[anchor]
            raise _Stop(
                line, f"invalid YAML: anchor '&{anchor}' is defined twice (first at line {first})"
            )
        self.anchor_lines[anchor] = line
        self.open_anchors.add(anchor)

    def _scalar(self, event: yaml.ScalarEvent, line: int) -> None:
        self._count(line)
        self._anchor(event.anchor, line)
        path = self._path()
        value = self._construct(event, line, path)
        if isinstance(value, str) and path is not None:
            value = self._substitute(value, line, path)
        if event.anchor is not None:
            self._close_anchor(event.anchor, value, 1, 0)
        self._place(value, line, path, height=0)

    def _open(self, event: yaml.SequenceStartEvent | yaml.MappingStartEvent, line: int) -> None:
        self._count(line)
        if len(self.stack) >= MAX_DEPTH:
            raise _Stop(line, f"lists and mappings nested more than {MAX_DEPTH} levels deep")
        kind = "seq" if isinstance(event, yaml.SequenceStartEvent) else "map"
        self._anchor(event.anchor, line)
        path = self._path()
        if event.tag not in _COLLECTION_TAGS[kind]:
            problem = f"unknown tag '{_short(event.tag)}' (only plain lists and mappings are read)"
            self._refuse(line, path, problem)
        if path is not None:
            self.result.lines[path] = line
        value: Any = [] if kind == "seq" else {}
        self.stack.append(_Collection(value, line, path, event.anchor, self.nodes - 1))
        self.heights.append(0)

    def _close(self) -> None:
        done = self.stack.pop()
        height = self.heights.pop() + 1
        if done.anchor is not None:
            self._close_anchor(done.anchor, done.value, self.nodes - done.nodes_at_start, height)
        self._place(done.value, done.line, done.path, height)

    def _close_anchor(self, anchor: str, value: Any, nodes: int, height: int) -> None:
        self.open_anchors.discard(anchor)
        self.anchors[anchor] = (value, nodes, height)

    def _alias(self, event: yaml.AliasEvent, line: int) -> None:
        name = event.anchor
        if name in self.open_anchors:
            raise _Stop(
                line,
                f"recursive alias '*{name}': it is inside the value of '&{name}' it refers to",
            )
        if name not in self.anchors:
            raise _Stop(
                line, f"invalid YAML: alias '*{name}' refers to no anchor '&{name}' above it"
            )
        value, nodes, height = self.anchors[name]
        self.alias_nodes += nodes
        if self.alias_nodes > MAX_ALIAS_NODES:
            raise _Stop(
                line,
                f"YAML aliases expand to more than {MAX_ALIAS_NODES:,} nodes in one file "
                f"(at alias '*{name}'); write the values out, or use fewer aliases",
            )
        self._count(line, nodes)
        if len(self.stack) + height > MAX_DEPTH:
            raise _Stop(line, f"lists and mappings nested more than {MAX_DEPTH} levels deep")
        self._place(_copy(value), line, self._path(), height)

    def _place(self, value: Any, line: int, path: Path_ | None, height: int) -> None:
        """Put a finished value where it goes: the root, a list, or a mapping's key or value."""
        if path is not None:
            self.result.lines[path] = line
        if self.heights:
            self.heights[-1] = max(self.heights[-1], height)
        if not self.stack:
            self.result.data, self.result.line = value, line
            return
        top = self.stack[-1]
        if isinstance(top.value, list):
            top.value.append(value)
        elif top.key is _NO_KEY:
            if value is _BAD_KEY:  # a merge key, reported
                top.key = _BAD_KEY
            elif not isinstance(value, str | int) or isinstance(value, bool):
                if top.path is not None:
                    self._issue(line, "mapping keys must be plain words")
                top.key = _BAD_KEY
            elif value in top.value:
                if top.path is not None:
                    self._issue(line, f"duplicate key '{value}'")
                top.key = _BAD_KEY
            else:
                top.key = value
        else:
            if top.key is not _BAD_KEY:
                top.value[top.key] = value
            top.key = _NO_KEY

    # --- scalars -------------------------------------------------------------------------

    def _construct(self, event: yaml.ScalarEvent, line: int, path: Path_ | None) -> Any:
        tag = event.tag
        if tag is None or tag == "!":
            tag = self.resolver.resolve(yaml.ScalarNode, event.value, event.implicit)  # type: ignore[no-untyped-call]
        if tag == _STR:  # most values: no node to build
            return event.value
        build: Callable[[SafeConstructor, yaml.Node], Any] | None = _SCALAR_TAGS.get(tag)
        if build is None:
            if tag == _TAG + "merge":
                self._issue(line, "merge keys ('<<') are not supported; write the keys out")
                return _BAD_KEY
            self._refuse(
                line, path, f"unknown tag '{_short(tag)}' (only plain YAML values are read)"
            )
            return event.value
        node = yaml.ScalarNode(tag, event.value, None, None, event.style)
        try:
            return build(self.constructor, node)
        except Exception:
            shown = event.value if len(event.value) <= 40 else event.value[:40] + "…"
            self._refuse(line, path, f"'{shown}' is not a valid {_short(tag)}")
            return event.value

    def _refuse(self, line: int, path: Path_ | None, problem: str) -> None:
        self._issue(line, problem)
        if path is not None:
            self.result.unset.add(path)

    def _substitute(self, value: str, line: int, path: Path_) -> str:
        def replace(m: re.Match[str]) -> str:
            name, default = m.group(1), m.group(2)
            if name in self.env:
                return self.env[name]
            if default is not None:
                return default
            self.result.unset.add(path)
            self._issue(
                line,
                f"environment variable {name} is not set (set it, or write ${{{name}:-default}})",
            )
            return ""

        return _VAR.sub(replace, value)

    def _issue(self, line: int, message: str) -> None:
        self.issues.append(ConfigIssue(self.file, line, message))


def _short(tag: str | None) -> str:
    """``!!int`` for ``tag:yaml.org,2002:int``; other tags as written."""
    text = str(tag)
    return "!!" + text.removeprefix(_TAG) if text.startswith(_TAG) else text


def _copy(value: Any) -> Any:
    """A copy of an anchor's value for one alias (each place gets its own, as PyYAML's
    loader gives); depth is bounded by MAX_DEPTH, size by MAX_ALIAS_NODES."""
    if isinstance(value, dict):
        return {k: _copy(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_copy(v) for v in value]
    return value
