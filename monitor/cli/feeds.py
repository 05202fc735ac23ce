"""``news-monitor feeds``: each feed's health; re-enable gone feeds; import OPML.

``news-monitor feeds`` prints one aligned row per configured feed: its state
(``ok``, ``failing since …``, ``silent since …``, ``disabled since …``,
``never polled``), when it last succeeded, when it last brought an entry it
had not carried before, how many entries it has carried, and when the daemon
polls it next; notes below the table tell about feeds that moved (a 301/308:
polled at the new URL, the YAML is not rewritten), were disabled (a 410), or answer
with a web page rather than a feed (naming the feeds the page links to).
It reads the watch config (which feeds) and the configured store (their
state), like ``news-monitor alerts``; a running daemon need not be stopped.

``news-monitor feeds enable FEED...`` clears the 410 mark so the daemon polls
the feed again at its next round (within one polling interval);
``news-monitor feeds import FILE.opml`` writes a feeds YAML file
(:mod:`monitor.config.opml`); ``news-monitor feeds add URL`` finds the feeds of a site
and adds one (:mod:`monitor.cli.feeds_add`).

:func:`list_feeds` and :func:`enable_feeds` only read or write a store and
write text, with the time passed in, so tests drive them with a MemoryStore
and a frozen clock; :func:`add_feeds_parser` and :func:`cmd_feeds` are the
CLI wiring. Exit codes: 0 done; 1 store unreachable, or a feed to enable was
not disabled; 2 invalid config, unknown feed, or a bad OPML import.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path
from typing import TextIO

from monitor.cli.common import SubParsers
from monitor.cli.feeds_add import add_add_parser, add_feed
from monitor.config.load import LoadedConfig, load_config
from monitor.config.models import FeedConfig, FeedHealthConfig
from monitor.config.opml import import_opml
from monitor.ingest.fetch import redact_url
from monitor.ingest.parse import WEB_PAGE
from monitor.log import register_secrets
from monitor.model import Clock, FeedState, system_clock
from monitor.polling.feed_state import rebase
from monitor.polling.health import error_reason, feed_problem, format_utc, health_policy, span
from monitor.settings import Settings
from monitor.store.base import FeedStateStore

#: Characters of a last error shown in the STATE column.
ERROR_WIDTH = 60
#: A next poll this far in the past shows as overdue (the daemon may not be running).
OVERDUE_AFTER = 60.0
#: Exit codes.
EXIT_OK, EXIT_NOT_DISABLED, EXIT_USAGE = 0, 1, 2
#: Default file name of ``feeds import`` in MONITOR_RULES_DIR.
IMPORT_FILE_NAME = "imported-feeds.yaml"

HEADERS = ("FEED", "STATE", "LAST SUCCESS", "LAST NEW ITEM", "ITEMS", "NEXT POLL")


# -- formatting -------------------------------------------------------------------


def _cut(text: str, width: int) -> str:
    flat = " ".join(text.split())
    return flat if len(flat) <= width else flat[: width - 1].rstrip() + "…"


def _ago(at: float | None, now: float) -> str:
    if at is None:
        return "never"
    return "just now" if now - at < 1 else f"{span(now - at)} ago"


def _next_poll(state: FeedState, now: float) -> str:
    if state.disabled:
        return "not polled"
    if state.next_poll_at is None:
        return "-"
    late = now - state.next_poll_at
    if late > OVERDUE_AFTER:
        return f"overdue {span(late)}"
    return "now" if state.next_poll_at - now < 1 else f"in {span(state.next_poll_at - now)}"


def state_text(
    feed: FeedConfig, state: FeedState | None, now: float, feed_health: FeedHealthConfig | None
) -> str:
    """The STATE cell of one feed."""
    if state is None or (
        state.last_success_at is None and not state.consecutive_failures and not state.disabled
    ):
        return "never polled"
    if state.disabled:
        since = f" since {format_utc(state.disabled_at)}" if state.disabled_at else ""
        return f"disabled{since} ({state.disabled_reason})"
    if state.consecutive_failures:
        since = f" since {format_utc(state.failing_since)}" if state.failing_since else ""
        reason = _cut(error_reason(state.last_error, feed.id), ERROR_WIDTH)
        detail = f"{state.consecutive_failures} failure(s)" + (f": {reason}" if reason else "")
        return f"failing{since} ({detail})"
    # Silent past the threshold of the feed's health policy (none configured: never).
    policy = health_policy(feed, feed_health)
    problem = feed_problem(state, now, policy) if policy is not None else None
    return f"silent since {format_utc(problem.since)}" if problem is not None else "ok"


def _table(rows: Sequence[Sequence[str]]) -> list[str]:
    """Rows under HEADERS, columns padded to their widest cell; ITEMS right-aligned."""
    numeric = HEADERS.index("ITEMS")
    widths = [max(len(row[i]) for row in (HEADERS, *rows)) for i in range(len(HEADERS))]
    return [
        "  ".join(
            cell.rjust(width) if i == numeric else cell.ljust(width)
            for i, (cell, width) in enumerate(zip(row, widths, strict=True))
        ).rstrip()
        for row in (HEADERS, *rows)
    ]


def _notes(feed: FeedConfig, state: FeedState | None) -> list[str]:
    if state is None:
        return []
    notes = []
    if state.moved_to:
        notes.append(
            f"{feed.id}: moved permanently to {redact_url(state.moved_to)} and polled there; "
            f"the watch config still says {redact_url(feed.url)} (update it to match)"
        )
    if state.disabled:
        notes.append(
            f"{feed.id}: not polled since it answered {state.disabled_reason}; to poll it again, "
            f"change its url in the watch config or run `news-monitor feeds enable {feed.id}`"
        )
    if state.consecutive_failures and WEB_PAGE in state.last_error:
        # The STATE column cuts the error short; the feeds the page names are the point.
        reason = error_reason(state.last_error, feed.id)
        advice = "; make one of them the feed's url" if "its feeds are" in reason else ""
        notes.append(f"{feed.id}: {redact_url(feed.url)}: {reason}{advice}")
    return notes


# -- the commands ---------------------------------------------------------------


async def list_feeds(
    store: FeedStateStore,
    feeds: Sequence[FeedConfig],
    now: float,
    *,
    feed_health: FeedHealthConfig | None,
    out: TextIO,
) -> None:
    """Print the health table of ``feeds`` (config order), then notes on moved and
    disabled feeds."""
    if not feeds:
        print("no feeds configured", file=out)
        return
    rows: list[tuple[str, ...]] = []
    notes: list[str] = []
    for feed in feeds:
        stored = await store.get_feed_state(feed.id)
        # State recorded for a URL the config no longer names: its marks do not apply.
        state = rebase(stored, feed.url) if stored is not None else None
        rows.append(
            (
                feed.id,
                state_text(feed, state, now, feed_health),
                _ago(state.last_success_at if state else None, now),
                _ago(state.last_new_item_at if state else None, now),
                str(state.items_seen if state else 0),
                _next_poll(state, now) if state else "-",
            )
        )
        notes.extend(_notes(feed, state))
    for line in _table(rows):
        print(line, file=out)
    if notes:
        print(file=out)
        for note in notes:
            print(note, file=out)


async def enable_feeds(
    store: FeedStateStore, feeds: Sequence[FeedConfig], ids: Sequence[str], out: TextIO, err: TextIO
) -> int:
    """Clear the disabled (410) mark of each feed in ``ids``.

    Unknown ids change nothing and return :data:`EXIT_USAGE`; a feed that is
    not disabled is named, and the result is :data:`EXIT_NOT_DISABLED`.
    The failure count is kept: the next successful poll resets it (and
    sends the recovered alert, if one is due).
    """
    by_id = {feed.id: feed for feed in feeds}
    unknown = [i for i in dict.fromkeys(ids) if i not in by_id]
    if unknown:
        known = ", ".join(by_id) or "none configured"
        print(f"error: unknown feed(s) {', '.join(unknown)} (feeds: {known})", file=err)
        return EXIT_USAGE
    result = EXIT_OK
    for feed_id in dict.fromkeys(ids):
        feed = by_id[feed_id]
        stored = await store.get_feed_state(feed_id)
        state = rebase(stored, feed.url) if stored is not None else None
        if state is None or not state.disabled:
            print(f"{feed_id} is not disabled", file=err)
            result = EXIT_NOT_DISABLED
            continue
        enabled = replace(state, disabled_reason="", disabled_at=None, next_poll_at=None)
        await store.put_feed_state(feed_id, enabled)
        print(f"enabled {feed_id}: the daemon polls it again at its next round", file=out)
    return result


# -- CLI wiring ------------------------------------------------------------------


def add_feeds_parser(sub: SubParsers) -> None:
    """Add ``feeds``, ``feeds enable FEED...``, ``feeds import FILE`` and ``feeds add URL``.

    Parsed arguments: ``feeds_action`` (None, "enable", "import" or "add"),
    ``rules_dir``; for enable ``ids``; for import ``file``, ``output``, ``force``; for add
    (:mod:`monitor.cli.feeds_add`) ``url``, ``feed_id``, ``output``, ``pick``.
    """
    feeds = sub.add_parser(
        "feeds", help="show each feed's state, last success, last new item and next poll"
    )
    feeds.add_argument("--rules-dir", type=Path, help="override MONITOR_RULES_DIR")
    actions = feeds.add_subparsers(dest="feeds_action", metavar="ACTION")
    enable = actions.add_parser("enable", help="poll feeds disabled by a 410 Gone again")
    enable.add_argument("ids", nargs="+", metavar="FEED", help="feed ids to enable")
    # SUPPRESS: an unset option here must not clobber one given before "enable".
    enable.add_argument(
        "--rules-dir", type=Path, default=argparse.SUPPRESS, help="override MONITOR_RULES_DIR"
    )
    imp = actions.add_parser("import", help="turn an OPML subscription list into a feeds file")
    imp.add_argument("file", type=Path, help="OPML 1.0 or 2.0 file")
    imp.add_argument(
        "--output",
        "-o",
        type=Path,
        help=f"YAML file to write (default: MONITOR_RULES_DIR/{IMPORT_FILE_NAME})",
    )
    imp.add_argument("--force", action="store_true", help="replace the output file if it exists")
    add_add_parser(actions)


def cmd_feeds(
    args: argparse.Namespace,
    *,
    settings: Settings | None = None,
    out: TextIO | None = None,
    err: TextIO | None = None,
    clock: Clock = system_clock,
) -> int:
    """Run ``feeds``, ``feeds enable``, ``feeds import`` or ``feeds add`` (settings from
    MONITOR_*)."""
    settings = settings if settings is not None else Settings()
    rules_dir = getattr(args, "rules_dir", None)
    if rules_dir is not None:
        settings = settings.model_copy(update={"rules_dir": rules_dir})
    out, err = out or sys.stdout, err or sys.stderr
    if args.feeds_action == "import":
        output = args.output or settings.rules_dir / IMPORT_FILE_NAME
        return import_opml(args.file, output, force=args.force, err=err)
    if args.feeds_action == "add":
        register_secrets(settings.secret_values())
        return add_feed(args, settings, out, err)
    register_secrets(settings.secret_values())
    loaded = load_config(settings)  # ConfigError: the CLI prints it, exit 2
    register_secrets(loaded.secret_values())
    return asyncio.run(_run(settings, args, loaded, out, err, clock))


async def _run(
    settings: Settings,
    args: argparse.Namespace,
    loaded: LoadedConfig,
    out: TextIO,
    err: TextIO,
    clock: Clock,
) -> int:
    from monitor.store.factory import open_store  # imports redis: only when the command runs

    feeds = loaded.config.feeds
    store = await open_store(settings)
    try:
        await store.ping()
        if args.feeds_action == "enable":
            return await enable_feeds(store, feeds, args.ids, out, err)
        await list_feeds(store, feeds, clock(), feed_health=loaded.config.feed_health, out=out)
        return EXIT_OK
    finally:
        await store.close()
