"""Add one feed entry to the text of a watch config file, keeping everything else as it is.

``news-monitor feeds add`` writes into a file people edit by hand, so the file is not
loaded and dumped again (that would drop its comments, blank lines, quoting and key
order): the entry is inserted as text. Where goes by the file's YAML structure
(PyYAML's composer, which keeps every node's position):

- no ``feeds:`` key (or an empty file): a ``feeds:`` list is added at the end;
- ``feeds:`` with nothing after it, or ``feeds: []``: the entry becomes its first item;
- a block list: the entry goes after the list's last item (before whatever comment or
  key follows it), indented like the first item.

A flow list with items (``feeds: [{id: a, url: ...}]``) or a ``feeds:`` that is not a
list cannot take an entry this way: :class:`AppendError`. The result is read back, and
must hold the old feeds plus the new entry, or nothing is returned.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from typing import Any

import yaml

#: Indentation of list items under a new ``feeds:`` key.
INDENT = "  "


class AppendError(ValueError):
    """The file cannot take the entry (the message says why)."""


def entry_lines(entry: Mapping[str, str], comments: Mapping[str, str] | None = None) -> list[str]:
    """A feed entry as list-item lines (``- id: x``, ``  url: y``), each value a YAML
    scalar that reads back as the same string; ``comments`` (key -> text) are written as
    comment lines after the entry's keys."""
    lines: list[str] = []
    for key, value in entry.items():
        lines.append(f"{'- ' if not lines else '  '}{key}: {scalar(value)}")
    for key, text in (comments or {}).items():
        lines.append(f"  # {key}: {' '.join(text.split())}")
    return lines


def scalar(value: str) -> str:
    """``value`` plain if YAML reads it back as that string, else double-quoted."""
    try:
        plain = yaml.safe_load(value) == value and "#" not in value and "\n" not in value
    except yaml.YAMLError:
        plain = False
    # A JSON string is a YAML double-quoted scalar (the escapes JSON makes read the same).
    return value if plain and value == value.strip() else json.dumps(value, ensure_ascii=False)


def append_feed(text: str, lines: list[str], expected: Mapping[str, str]) -> str:
    """``text`` with the entry ``lines`` (from :func:`entry_lines`) added to its feeds list;
    ``expected`` is the entry as it must read back."""
    newline = "\r\n" if "\r\n" in text else "\n"
    before = _feeds(text)
    try:
        root = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.YAMLError as exc:
        raise AppendError(f"not valid YAML: {_first_line(exc)}") from exc
    if root is not None and not isinstance(root, yaml.MappingNode):
        raise AppendError("its top level is not a mapping of feeds, channels and rules")
    value = _feeds_node(root) if root is not None else None
    if root is None or value is None:
        result = _at_end(text, ["feeds:", *(INDENT + line for line in lines)], newline)
    elif isinstance(value, yaml.ScalarNode) and value.tag.endswith(":null") and _empty(value):
        key_line = _key_line(root, value)
        result = _insert(text, key_line + 1, [INDENT + line for line in lines], newline)
    elif isinstance(value, yaml.SequenceNode) and value.flow_style and not value.value:
        # "feeds: []": the brackets go, the entry takes their place as a block list.
        start, end = value.start_mark.index, value.end_mark.index
        eol = text.find("\n", end)
        eol = len(text) if eol < 0 else eol + 1
        # What followed "]" on its line (a comment) stays on the "feeds:" line.
        tail = text[end:eol].rstrip("\r\n")
        block = "".join(INDENT + line + newline for line in lines)
        result = text[:start].rstrip(" ") + tail + newline + block + text[eol:]
    elif isinstance(value, yaml.SequenceNode) and not value.flow_style:
        dash = " " * value.start_mark.column
        last = _last_line(value)
        result = _insert(text, last + 1, [dash + line for line in lines], newline)
    elif isinstance(value, yaml.SequenceNode):
        raise AppendError("its 'feeds:' is a one-line [...] list; add the feed by hand")
    else:
        raise AppendError("its 'feeds:' is not a list")
    if _feeds(result) != [*before, dict(expected)]:
        raise AppendError("the entry did not read back as written (please report this)")
    return result


def _feeds(text: str) -> list[Any]:
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise AppendError(f"not valid YAML: {_first_line(exc)}") from exc
    feeds = data.get("feeds") if isinstance(data, dict) else None
    return list(feeds) if isinstance(feeds, list) else []


def _feeds_node(root: yaml.MappingNode) -> yaml.Node | None:
    """The value of the (last) top-level ``feeds`` key, or None."""
    found = None
    for key, value in root.value:
        if isinstance(key, yaml.ScalarNode) and key.value == "feeds":
            found = value
    return found


def _key_line(root: yaml.MappingNode, value: yaml.Node) -> int:
    return int(next(key.start_mark.line for key, v in root.value if v is value))


def _empty(node: yaml.ScalarNode) -> bool:
    """A null written as nothing at all (``feeds:``), not as ``~`` or ``null``."""
    return node.start_mark.index == node.end_mark.index


def _last_line(node: yaml.Node) -> int:
    """The last line (0-based) holding a value of ``node``'s subtree.

    A block collection's end mark is where the next token starts (possibly after
    comments and blank lines), so only scalars and flow collections, whose end marks
    are exact, are counted; a block scalar (``|``) ends at column 0 of the next line.
    """
    last = node.start_mark.line
    for child in _walk(node):
        exact = isinstance(child, yaml.ScalarNode) or (
            isinstance(child, yaml.CollectionNode) and child.flow_style
        )
        if exact:
            end = child.end_mark
            last = max(last, end.line if end.column > 0 else end.line - 1)
    return last


def _walk(node: yaml.Node) -> Iterator[yaml.Node]:
    seen: set[int] = set()
    stack = [node]
    while stack:
        current = stack.pop()
        if id(current) in seen:  # an alias is the same node object again
            continue
        seen.add(id(current))
        yield current
        if isinstance(current, yaml.SequenceNode):
            stack.extend(current.value)
        elif isinstance(current, yaml.MappingNode):
            for key, value in current.value:
                stack.extend((key, value))


def _insert(text: str, index: int, lines: list[str], newline: str) -> str:
    """``text`` with ``lines`` inserted before its line number ``index`` (0-based)."""
    existing = text.splitlines(keepends=True)
    if index > 0 and index <= len(existing) and not existing[index - 1].endswith("\n"):
        existing[index - 1] += newline
    block = "".join(line + newline for line in lines)
    return "".join(existing[:index]) + block + "".join(existing[index:])


def _at_end(text: str, lines: list[str], newline: str) -> str:
    if text and not text.endswith("\n"):
        text += newline
    separator = newline if text.strip() else ""
    return text + separator + "".join(line + newline for line in lines)


def _first_line(exc: yaml.YAMLError) -> str:
    return str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
