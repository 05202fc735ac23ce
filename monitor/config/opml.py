"""OPML subscription lists -> a feeds YAML file (``news-monitor feeds import``).

Owns reading OPML 1.0/2.0 safely, walking its nested outlines (folders, or
"categories") down to the feed outlines, choosing a unique valid feed id for
each, skipping what cannot be imported (with the reason), and rendering YAML
that ``news-monitor check`` accepts next to the other files of its directory.

Safety: the file is parsed with expat directly, and a DOCTYPE (the only
place entities can be declared) is refused before anything is expanded, the
same rule the feed fetcher applies: OPML never needs one, and entity
expansion is how a small file eats gigabytes. External entities are never
loaded.

The pure steps (:func:`read_outlines`, :func:`plan_import`,
:func:`render_yaml`) take and return values; :func:`import_opml` does the
file I/O for the CLI.
"""

from __future__ import annotations

import json
import os
import re
import tempfile
import unicodedata
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TextIO
from urllib.parse import urlsplit
from xml.parsers import expat

import yaml
from pydantic import ValidationError

from monitor.config.models import FeedConfig

#: Longest generated feed id (the config allows 100; ids show up in tables and alerts).
MAX_ID_LENGTH = 60
#: Largest OPML file read (a subscription list of 10,000 feeds is about 2 MB).
MAX_OPML_BYTES = 20 * 1024 * 1024
#: Exit codes: done, or bad input / usage.
EXIT_OK, EXIT_USAGE = 0, 2


class OpmlError(ValueError):
    """An OPML file that cannot be imported; the message says where and why."""


@dataclass(frozen=True, slots=True)
class Outline:
    """One ``<outline>`` of the body, as read."""

    #: Line of its start tag.
    line: int
    #: Its ``text`` attribute, else its ``title`` (whitespace collapsed), or "".
    label: str
    #: ``xmlUrl``: the feed's URL, "" for a folder or a plain outline.
    xml_url: str
    #: ``htmlUrl``: the site's URL, or "".
    html_url: str
    #: ``type`` (``rss``, ``include``, ``link`` ...), lower case, or "".
    type: str
    #: Labels of the folders it sits in, outermost first.
    folders: tuple[str, ...]
    #: Whether it contains other outlines.
    has_children: bool


@dataclass(frozen=True, slots=True)
class ImportedFeed:
    """A feed the generated file will carry."""

    #: Generated id: a slug of the label (or URL), unique in the rules directory.
    id: str
    #: The feed URL.
    url: str
    #: Display name (the outline's label), or "".
    name: str
    #: The site's URL, written as a comment, or "".
    html_url: str
    #: Folders the outline sat in, written as a comment.
    folders: tuple[str, ...]
    #: Line of the outline in the OPML file.
    line: int


@dataclass(frozen=True, slots=True)
class Skipped:
    """An outline that was not imported, and why."""

    #: Line of the outline in the OPML file.
    line: int
    #: Its label ("" if it has none).
    label: str
    #: Why it was skipped.
    reason: str


@dataclass(frozen=True, slots=True)
class ImportPlan:
    """What an import writes and what it leaves out."""

    feeds: tuple[ImportedFeed, ...]
    skipped: tuple[Skipped, ...]


# -- reading ------------------------------------------------------------------------


class _Refused(Exception):
    """Raised from inside expat to stop at a DOCTYPE."""


def read_outlines(data: bytes) -> list[Outline]:
    """Every ``<outline>`` inside ``<body>``, in document order.

    Raises :class:`OpmlError` for a file that is not well-formed XML, whose
    root is not ``<opml>``, or that has a DOCTYPE.
    """
    parser = expat.ParserCreate()
    parser.SetParamEntityParsing(expat.XML_PARAM_ENTITY_PARSING_NEVER)
    # Frames of the open elements: (name, outline attributes or None, child count holder).
    stack: list[tuple[str, dict[str, str] | None, list[int]]] = []
    found: list[tuple[int, dict[str, str], tuple[str, ...], list[int]]] = []
    root: list[str] = []

    def refuse(*_: Any) -> None:
        raise _Refused

    def start(name: str, attributes: dict[str, str]) -> None:
        if not root:
            root.append(name)
        attrs = {key.lower(): value for key, value in attributes.items()}
        in_body = any(frame[0] == "body" for frame in stack)
        if name != "outline" or not in_body:
            stack.append((name, None, [0]))
            return
        if stack and stack[-1][1] is not None:
            stack[-1][2][0] += 1  # the parent outline has a child
        folders = tuple(
            _label(frame[1]) for frame in stack if frame[1] is not None and not _xml_url(frame[1])
        )
        children = [0]
        found.append((parser.CurrentLineNumber, attrs, folders, children))
        stack.append((name, attrs, children))

    def end(name: str) -> None:
        stack.pop()

    parser.StartDoctypeDeclHandler = refuse
    parser.EntityDeclHandler = refuse
    parser.StartElementHandler = start
    parser.EndElementHandler = end
    try:
        parser.Parse(data, True)
    except _Refused:
        raise OpmlError(
            f"line {parser.CurrentLineNumber}: refused: a DOCTYPE or entity declaration "
            "(OPML needs neither, and entity expansion can exhaust memory)"
        ) from None
    except expat.ExpatError as exc:
        message = f"line {exc.lineno}: not well-formed XML: {expat.ErrorString(exc.code)}"
        raise OpmlError(message) from None
    if root != ["opml"]:
        raise OpmlError(f"not an OPML file: the root element is <{root[0] if root else ''}>")
    return [
        Outline(
            line=line,
            label=_label(attrs),
            xml_url=_xml_url(attrs),
            html_url=attrs.get("htmlurl", "").strip(),
            type=attrs.get("type", "").strip().lower(),
            folders=folders,
            has_children=children[0] > 0,
        )
        for line, attrs, folders, children in found
    ]


def _label(attrs: Mapping[str, str]) -> str:
    return clean_text(attrs.get("text", "")) or clean_text(attrs.get("title", ""))


def _xml_url(attrs: Mapping[str, str]) -> str:
    return attrs.get("xmlurl", "").strip()


def clean_text(text: str) -> str:
    """``text`` on one line, whitespace runs collapsed, non-printable characters removed
    (YAML refuses control characters even in comments)."""
    return "".join(c for c in " ".join(text.split()) if c.isprintable())


# -- planning -----------------------------------------------------------------------

_FEED_SCHEME = re.compile(r"^feed:(?://)?", re.IGNORECASE)
_HTTP = re.compile(r"^(https?)://", re.IGNORECASE)


def feed_url(raw: str) -> tuple[str, str]:
    """``(url, "")`` for an importable feed URL, normalized; else ``("", reason)``.

    The scheme is lower-cased (the config wants ``http://`` or ``https://``),
    and the old ``feed:`` pseudo-scheme (``feed://host/rss``,
    ``feed:https://host/rss``) is unwrapped.
    """
    url = raw.strip()
    if _FEED_SCHEME.match(url):
        rest = _FEED_SCHEME.sub("", url)
        url = rest if _HTTP.match(rest) else f"http://{rest}"
    scheme = _HTTP.match(url)
    if scheme is None:
        return "", "not an http(s) URL"
    url = scheme.group(1).lower() + url[len(scheme.group(1)) :]
    if any(c.isspace() or not c.isprintable() for c in url):
        return "", "the URL contains spaces or control characters"
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 - raises ValueError for a port that is not a number in range
    except ValueError as exc:
        return "", f"invalid URL: {exc}"
    if not parts.hostname:
        return "", "the URL has no host"
    return url, ""


def url_key(url: str) -> str:
    """What makes two feed URLs the same: scheme and host case-insensitive, the rest exact."""
    parts = urlsplit(url)
    return parts._replace(scheme=parts.scheme.lower(), netloc=parts.netloc.lower()).geturl()


def slugify(text: str) -> str:
    """A feed id from free text: ASCII letters and digits joined by ``-``, lower case."""
    ascii_text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    slug = re.sub(r"[^a-z0-9]+", "-", ascii_text.lower()).strip("-")
    return slug[:MAX_ID_LENGTH].rstrip("-")


def unique_feed_id(label: str, url: str, taken: set[str]) -> str:
    """A feed id from ``label`` (else the URL's host and path), made unique against
    ``taken`` (lower-cased ids, which it joins)."""
    parts = urlsplit(url)
    base = slugify(label) or slugify(f"{parts.hostname or ''} {parts.path}") or "feed"
    candidate, n = base, 1
    # Compared case-insensitively: "BBC" and "bbc" as two feeds would only confuse.
    while candidate.lower() in taken:
        n += 1
        suffix = f"-{n}"
        candidate = base[: MAX_ID_LENGTH - len(suffix)].rstrip("-") + suffix
    taken.add(candidate.lower())
    return candidate


def plan_import(
    outlines: Iterable[Outline],
    *,
    taken_ids: Iterable[str] = (),
    known_urls: Mapping[str, str] | None = None,
) -> ImportPlan:
    """Decide which outlines become feeds, with which ids, and why the others do not.

    ``taken_ids`` are feed ids already configured next to the output file;
    ``known_urls`` maps their URLs (as :func:`url_key`) to descriptions such
    as ``feed 'bbc' in feeds.yaml``: such a URL is skipped, not duplicated.
    Folders (outlines without ``xmlUrl`` that contain others) are not
    reported; every other outline that is not imported is.
    """
    taken = {i.lower() for i in taken_ids}
    seen = dict(known_urls or {})
    feeds: list[ImportedFeed] = []
    skipped: list[Skipped] = []
    for outline in outlines:
        if not outline.xml_url:
            if outline.has_children:
                continue  # a folder
            reason = (
                "an OPML inclusion (type=include): included files are not followed"
                if outline.type == "include"
                else "no xmlUrl: not a feed"
            )
            skipped.append(Skipped(outline.line, outline.label, reason))
            continue
        url, problem = feed_url(outline.xml_url)
        if problem:
            skipped.append(Skipped(outline.line, outline.label, problem))
            continue
        key = url_key(url)
        if key in seen:
            skipped.append(Skipped(outline.line, outline.label, f"same URL as {seen[key]}"))
            continue
        feed = ImportedFeed(
            id=unique_feed_id(outline.label, url, taken),
            url=url,
            name=outline.label,
            html_url=outline.html_url if feed_url(outline.html_url)[0] else "",
            folders=outline.folders,
            line=outline.line,
        )
        try:  # the same checks `news-monitor check` makes; the rules above should ensure it
            FeedConfig(id=feed.id, url=feed.url, name=feed.name or None)
        except ValidationError as exc:
            skipped.append(Skipped(outline.line, outline.label, f"invalid feed: {exc}"))
            continue
        seen[key] = f"feed '{feed.id}' (line {outline.line})"
        feeds.append(feed)
    return ImportPlan(tuple(feeds), tuple(skipped))


# -- writing ------------------------------------------------------------------------


def _scalar(text: str) -> str:
    # A JSON string is a YAML double-quoted scalar; clean text has no control characters,
    # so only \" and \\ escapes appear, which both read the same way.
    return json.dumps(text, ensure_ascii=False)


def render_yaml(plan: ImportPlan, *, source: str) -> str:
    """The feeds YAML file: a header, then each feed under a comment naming its folder."""
    lines = [
        f"# Feeds imported from {clean_text(source)} by `news-monitor feeds import`.",
        "# Review them, then run `news-monitor check`. `interval:` and `silent_after:`",
        "# may be added to any feed (see README, Watch config).",
        "feeds:",
    ]
    folder: tuple[str, ...] | None = None
    for feed in plan.feeds:
        if feed.folders != folder:
            folder = feed.folders
            lines.append(f"  # {' / '.join(folder) or '(top level)'}")
        # A slug such as "2024" or "yes" would read back as a number or a boolean.
        plain = yaml.safe_load(feed.id) == feed.id
        lines.append(f"  - id: {feed.id if plain else _scalar(feed.id)}")
        if feed.name:
            lines.append(f"    name: {_scalar(feed.name)}")
        lines.append(f"    url: {_scalar(feed.url)}")
        if feed.html_url:
            lines.append(f"    # site: {feed.html_url}")
    text = "\n".join(lines) + "\n"
    _check_round_trip(text, plan.feeds)
    return text


def _check_round_trip(text: str, feeds: Sequence[ImportedFeed]) -> None:
    """The YAML must read back as exactly the planned feeds (a bug here must not write)."""
    expected = []
    for feed in feeds:
        entry = {"id": feed.id}
        if feed.name:
            entry["name"] = feed.name
        entry["url"] = feed.url
        expected.append(entry)
    if (yaml.safe_load(text) or {}).get("feeds") != expected:
        raise AssertionError("generated YAML does not read back as the planned feeds")


def existing_feeds(directory: Path, exclude: Path | None = None) -> tuple[set[str], dict[str, str]]:
    """Feed ids and URLs already in the YAML files of ``directory`` (except ``exclude``).

    Those files are merged with the output by ``news-monitor check``, so
    their ids must not be reused nor their URLs repeated. A file that does
    not parse is passed over here; ``check`` reports it.
    """
    ids: set[str] = set()
    urls: dict[str, str] = {}
    if not directory.is_dir():
        return ids, urls
    for path in sorted(directory.iterdir()):
        if path.suffix not in (".yaml", ".yml") or not path.is_file():
            continue
        if exclude is not None and path.resolve() == exclude.resolve():
            continue
        try:
            data = yaml.safe_load(path.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, yaml.YAMLError):
            continue
        feeds = data.get("feeds") if isinstance(data, dict) else None
        for feed in feeds if isinstance(feeds, list) else []:
            if not isinstance(feed, dict):
                continue
            feed_id, url = feed.get("id"), feed.get("url")
            if isinstance(feed_id, str):
                ids.add(feed_id)
            if isinstance(url, str) and isinstance(feed_id, str):
                normalized, _ = feed_url(url)
                if normalized:
                    urls[url_key(normalized)] = f"feed '{feed_id}' in {path.name}"
    return ids, urls


def import_opml(source: Path, output: Path, *, force: bool, err: TextIO) -> int:
    """Read ``source``, write ``output``, report on ``err``; the exit code.

    Never overwrites ``output`` unless ``force``; writes nothing when no
    outline can be imported. 0 when a file was written, 2 otherwise.
    """

    def fail(message: str) -> int:
        print(f"error: {message}", file=err)
        return EXIT_USAGE

    try:
        with source.open("rb") as handle:
            data = handle.read(MAX_OPML_BYTES + 1)
    except OSError as exc:
        return fail(f"cannot read {source}: {exc.strerror or exc}")
    if len(data) > MAX_OPML_BYTES:
        return fail(f"{source}: larger than {MAX_OPML_BYTES} bytes; is it really an OPML file?")
    try:
        outlines = read_outlines(data)
    except OpmlError as exc:
        return fail(f"{source}: {exc}")
    if not output.parent.is_dir():
        return fail(f"cannot write {output}: directory {output.parent} does not exist")
    if output.exists() and not force:
        return fail(f"{output} exists; choose another --output, or add --force to replace it")
    taken, known = existing_feeds(output.parent, output)
    plan = plan_import(outlines, taken_ids=taken, known_urls=known)
    _report_skipped(plan.skipped, source, err)
    if not plan.feeds:
        return fail(f"{source}: no feed to import ({len(outlines)} outline(s) read)")
    text = render_yaml(plan, source=source.name)
    try:
        _write(output, text, force=force)
    except FileExistsError:  # created since the check above
        return fail(f"{output} exists; choose another --output, or add --force to replace it")
    except OSError as exc:
        return fail(f"cannot write {output}: {exc.strerror or exc}")
    print(
        f"imported {len(plan.feeds)} feed(s) from {source} into {output}; "
        f"skipped {len(plan.skipped)} outline(s)",
        file=err,
    )
    return EXIT_OK


def _report_skipped(skipped: Sequence[Skipped], source: Path, err: TextIO) -> None:
    for item in skipped:
        label = f" {_scalar(item.label)}" if item.label else ""
        print(f"{source}:{item.line}: skipped outline{label}: {item.reason}", file=err)


def _write(output: Path, text: str, *, force: bool) -> None:
    """Write ``text``: exclusive creation, or with ``force`` an atomic replace."""
    if not force:
        with output.open("x", encoding="utf-8") as handle:
            handle.write(text)
        return
    fd, temp = tempfile.mkstemp(dir=output.parent, prefix=f".{output.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
        os.replace(temp, output)
    except BaseException:
        Path(temp).unlink(missing_ok=True)
        raise
