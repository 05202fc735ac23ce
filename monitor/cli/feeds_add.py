"""``news-monitor feeds add URL [--id ID] [-o FILE] [--pick N]``: find a site's feeds and
add one to the watch config.

The address may be a feed, a site's home page or an article. It is fetched like a feed
(the same address policy, size caps and deadline: ``MONITOR_ALLOW_PRIVATE_ADDRESSES``,
``MONITOR_MAX_FEED_BYTES``, ``MONITOR_FETCH_TIMEOUT``), and what it holds is found by
:func:`monitor.ingest.discover.discover`: the feed itself, the feeds a page names with
``<link rel="alternate">``, or those found at the usual feed paths of its site. They are
listed numbered (title, type, URL); one is chosen (the only one; ``--pick N``; asked on
a terminal; else the first, with a note), fetched and read to be sure it is a feed, and
appended as an entry (id from ``--id``, else a slug of its title or the site's host,
unique among the feeds of the file's directory) to ``FILE`` (default
``MONITOR_RULES_DIR/feeds.yaml``) as text, so the file keeps its comments and layout
(:mod:`monitor.config.feed_append`). Before anything is written the directory is
loaded with the new file by the loader ``news-monitor check`` uses; a config that
would not load is not written. A running daemon picks the new feed up by itself
(``MONITOR_WATCH_RULES``).

Exit codes: 0 added (or already configured: nothing written); 1 the address could not
be fetched, or no feed was found (or the one chosen is not a feed); 2 a bad URL, ``--id``,
``--pick`` or output file, a choice not made, or a config that would not be valid.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import re
import shutil
import sys
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TextIO
from urllib.parse import urlsplit

from monitor.config.feed_append import AppendError, append_feed, entry_lines
from monitor.config.load import config_files, load_config
from monitor.config.models import IDENTIFIER_PATTERN
from monitor.config.opml import existing_feeds, feed_url, slugify, unique_feed_id, url_key
from monitor.errors import ConfigError, ConfigIssue
from monitor.ingest.discover import Discovery, FoundFeed, discover, inspect_feed
from monitor.ingest.fetch import build_http_client, redact_url
from monitor.settings import Settings

#: Default file of ``feeds add`` in MONITOR_RULES_DIR.
ADD_FILE_NAME = "feeds.yaml"
#: Exit codes.
EXIT_OK, EXIT_NOT_FOUND, EXIT_USAGE = 0, 1, 2
#: Titles that say nothing about the feed (a link titled "RSS"): the id comes from the host.
GENERIC_TITLES = frozenset(
    {"rss", "atom", "feed", "feeds", "rss-feed", "atom-feed", "json-feed", "rss-2-0", "xml"}
)
#: Reads one answer to the question it is given (a test answers for the user).
Ask = Callable[[str], str | None]


class _Stop(Exception):
    """Ends the command with a message and an exit code."""

    def __init__(self, code: int, message: str) -> None:
        super().__init__(message)
        self.code = code


@dataclass(frozen=True, slots=True)
class _Target:
    """The file the feed goes into, and what its directory already configures."""

    path: Path
    #: Feed ids of the directory's files (lower case).
    taken: set[str]
    #: URL keys of the directory's feeds -> ``feed 'x' in file.yaml``.
    urls: dict[str, str]


def add_add_parser(actions: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add ``feeds add URL [--id ID] [-o FILE] [--pick N]``."""
    add = actions.add_parser(
        "add", help="find the feeds of a site or article address and add one to the config"
    )
    add.add_argument("url", metavar="URL", help="a feed, a site or an article address")
    add.add_argument("--id", dest="feed_id", metavar="ID", help="the new feed's id")
    add.add_argument(
        "--output",
        "-o",
        type=Path,
        help=f"YAML file to add it to (default: MONITOR_RULES_DIR/{ADD_FILE_NAME})",
    )
    add.add_argument("--pick", type=int, metavar="N", help="add the N-th feed found")
    add.add_argument(
        "--rules-dir", type=Path, default=argparse.SUPPRESS, help="override MONITOR_RULES_DIR"
    )


def add_feed(
    args: argparse.Namespace,
    settings: Settings,
    out: TextIO,
    err: TextIO,
    ask: Ask | None = None,
) -> int:
    """Run ``feeds add``; ``ask`` answers the question of which feed (None: the standard
    input when it is a terminal, else no question is asked)."""
    if ask is None and sys.stdin.isatty():
        ask = _ask_terminal(err)
    try:
        url = _address(args.url)
        target = _target(args.output or settings.rules_dir / ADD_FILE_NAME)
        if args.feed_id is not None:
            _check_id(args.feed_id, target)
        return asyncio.run(_add(args, settings, url, target, out, err, ask))
    except _Stop as stop:
        print(f"error: {stop}", file=err)
        return stop.code


async def _add(
    args: argparse.Namespace,
    settings: Settings,
    url: str,
    target: _Target,
    out: TextIO,
    err: TextIO,
    ask: Ask | None,
) -> int:
    deadline, cap = settings.fetch_timeout.total_seconds(), settings.max_feed_bytes
    async with build_http_client(settings) as client:
        found = await discover(client, url, total_timeout=deadline, max_bytes=cap)
        if found.error:
            raise _Stop(EXIT_NOT_FOUND, f"{redact_url(url)}: {found.error}")
        _show(found, out)
        chosen = _choose(found, args.pick, ask, err)
        if not chosen.verified:
            inspected = await inspect_feed(
                client, chosen.url, total_timeout=deadline, max_bytes=cap
            )
            if isinstance(inspected, str):
                raise _Stop(EXIT_NOT_FOUND, f"{chosen.url} is not a usable feed: {inspected}")
            chosen = FoundFeed(chosen.url, inspected.kind, inspected.title or chosen.title, True)
    known = target.urls.get(url_key(chosen.url))
    if known is not None:
        print(f"{chosen.url} is already configured ({known}); nothing written", file=out)
        return EXIT_OK
    feed_id = args.feed_id or _derived_id(chosen, found, target)
    entry = {"id": feed_id}
    # A title with "${" would read as a variable reference; the id names the feed then.
    if chosen.title and slugify(chosen.title) not in GENERIC_TITLES and "${" not in chosen.title:
        entry["name"] = chosen.title
    entry["url"] = chosen.url
    comments = {} if found.is_feed else {"site": redact_url(found.final_url or url)}
    try:
        # Read again: the file may have been edited while the site was being fetched.
        text = append_feed(_read(target.path), entry_lines(entry, comments), entry)
    except AppendError as exc:
        raise _Stop(EXIT_USAGE, f"cannot add to {target.path}: {exc}") from exc
    _validate(target.path, text, settings, err)
    _write(target.path, text, existed=target.path.exists())
    print(f"added feed '{feed_id}' ({chosen.url}) to {target.path}", file=out)
    return EXIT_OK


def _address(raw: str) -> str:
    """The http(s) URL to look at: ``feed:`` unwrapped, a bare host given https://."""
    text = raw.strip()
    if "://" not in text and not text.lower().startswith("feed:"):
        text = f"https://{text}"
    url, problem = feed_url(text)
    if problem:
        raise _Stop(EXIT_USAGE, f"{raw!r} is not a site or feed address: {problem}")
    return url


def _target(path: Path) -> _Target:
    """Check that ``path`` can take a feed before anything is fetched."""
    if path.suffix not in (".yaml", ".yml"):
        raise _Stop(EXIT_USAGE, f"{path}: the file must end in .yaml or .yml (only those load)")
    if not path.parent.is_dir():
        raise _Stop(EXIT_USAGE, f"cannot write {path}: directory {path.parent} does not exist")
    text = _read(path)
    probe = {"id": "probe", "url": "https://example.org/feed"}
    try:  # a file that could not take any entry is refused now, not after the fetch
        append_feed(text, entry_lines(probe), probe)
    except AppendError as exc:
        raise _Stop(EXIT_USAGE, f"cannot add to {path}: {exc}") from exc
    ids, urls = existing_feeds(path.parent)
    return _Target(path, {i.lower() for i in ids}, urls)


def _read(path: Path) -> str:
    """The file's text as it is ("" if it does not exist yet): bytes decoded, line ends
    untouched (a CRLF file stays one)."""
    try:
        return path.read_bytes().decode("utf-8") if path.exists() else ""
    except (OSError, UnicodeDecodeError) as exc:
        raise _Stop(EXIT_USAGE, f"cannot read {path}: {exc}") from exc


def _check_id(feed_id: str, target: _Target) -> None:
    if not re.fullmatch(IDENTIFIER_PATTERN, feed_id) or len(feed_id) > 100:
        raise _Stop(
            EXIT_USAGE,
            f"--id {feed_id!r}: an id is letters, digits, '_', '.' and '-' (at most 100), "
            "starting with a letter or digit",
        )
    if feed_id.lower() in target.taken:
        raise _Stop(EXIT_USAGE, f"--id {feed_id}: a feed in {target.path.parent} has that id")


def _show(found: Discovery, out: TextIO) -> None:
    """List what was found, numbered."""
    address = redact_url(found.url)
    if found.is_feed:
        feed = found.feeds[0]
        title = f"{feed.title} " if feed.title else ""
        print(f"{address} is a feed: {title}({feed.kind})", file=out)
        return
    how = (
        "its feeds:"
        if found.via == "links"
        else "it names no feed; found at the usual feed paths of its site:"
    )
    print(f"{address} is a web page; {how}", file=out)
    for n, feed in enumerate(found.feeds, 1):
        print(f"  {n}. {feed.title or '(untitled)'} ({feed.kind}) {feed.url}", file=out)


def _choose(found: Discovery, pick: int | None, ask: Ask | None, err: TextIO) -> FoundFeed:
    """The feed to add: ``--pick``, the only one, the user's answer, or the first."""
    count = len(found.feeds)
    if pick is not None:
        if not 1 <= pick <= count:
            raise _Stop(EXIT_USAGE, f"--pick {pick}: choose 1 to {count}")
        return found.feeds[pick - 1]
    if count == 1:
        return found.feeds[0]
    if ask is None:
        print(f"note: {count} feeds found; adding the first (choose with --pick N)", file=err)
        return found.feeds[0]
    while True:
        answer = ask(f"add which feed? [1-{count}, Enter for 1] ")
        if answer is None:  # end of input: the user left
            raise _Stop(EXIT_USAGE, "no feed chosen; nothing written")
        answer = answer.strip() or "1"
        if answer.isdigit() and 1 <= int(answer) <= count:
            return found.feeds[int(answer) - 1]
        print(f"  a number from 1 to {count}, please", file=err)


def _ask_terminal(err: TextIO) -> Ask:
    def ask(question: str) -> str | None:
        print(question, end="", file=err, flush=True)
        line = sys.stdin.readline()
        return line if line else None

    return ask


def _derived_id(feed: FoundFeed, found: Discovery, target: _Target) -> str:
    """A slug of the feed's title, or of the site's host when the title says nothing."""
    title = feed.title if slugify(feed.title) not in GENERIC_TITLES else ""
    host = urlsplit(found.final_url or found.url).hostname or ""
    site = re.sub(r"^www\d*\.", "", host)
    return unique_feed_id(title or site, feed.url, set(target.taken))


def _validate(path: Path, text: str, settings: Settings, err: TextIO) -> None:
    """Load the directory with ``path`` holding ``text`` (a copy, in a temporary
    directory), as ``news-monitor check`` would; stop on the first problem found."""
    directory = path.parent
    with tempfile.TemporaryDirectory(prefix="news-monitor-add-") as temp:
        for existing in config_files(directory):
            if existing.name != path.name:
                shutil.copyfile(existing, Path(temp) / existing.name)
        (Path(temp) / path.name).write_bytes(text.encode("utf-8"))
        try:
            load_config(settings.model_copy(update={"rules_dir": Path(temp)}))
        except ConfigError as exc:
            for issue in exc.issues:
                shown = issue.file.replace(temp, str(directory), 1)
                print(ConfigIssue(shown, issue.line, issue.message), file=err)
            raise _Stop(
                EXIT_USAGE,
                f"the watch config in {directory} would not be valid with this feed "
                f"({len(exc.issues)} problem(s)); nothing written",
            ) from exc


def _write(path: Path, text: str, *, existed: bool) -> None:
    """Write ``text`` at once: a new file exclusively, an existing one by atomic replace
    (keeping its permissions), so a daemon watching the directory never reads half."""
    try:
        if not existed:
            with path.open("x", encoding="utf-8", newline="") as handle:
                handle.write(text)
            return
        fd, temp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
        try:
            with os.fdopen(fd, "w", encoding="utf-8", newline="") as handle:
                handle.write(text)
            shutil.copymode(path, temp)
            os.replace(temp, path)
        except BaseException:
            Path(temp).unlink(missing_ok=True)
            raise
    except OSError as exc:
        raise _Stop(EXIT_USAGE, f"cannot write {path}: {exc.strerror or exc}") from exc
