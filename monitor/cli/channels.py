"""``news-monitor channels``: each channel's state; re-enable channels whose receiver was gone.

``news-monitor channels`` prints one aligned row per configured channel: its name, its
type and its state, ``ok`` or ``disabled since … (…)`` (its receiver answered 410 Gone,
recorded in the store by whichever daemon heard it, see ``monitor.delivery.gone``), then
a note per disabled channel saying how to send again and how many of its alerts are in
the dead-letter list. It reads the watch config (which channels, and where each sends
now: a mark recorded for an earlier URL does not apply) and the configured store, like
``news-monitor feeds``; a running daemon need not be stopped.

``news-monitor channels enable NAME...`` removes the mark: every daemon sharing the
store reads the marks at each delivery pass (about once a second while alerts are due;
no cache), so its next alerts are sent; those already dead-lettered stay there until
``news-monitor alerts retry``.

:func:`list_channels` and :func:`enable_channels` only read or write a store and write
text, so tests drive them with a MemoryStore; :func:`add_channels_parser` and
:func:`cmd_channels` are the CLI wiring. Exit codes: 0 done; 1 store unreachable, or a
channel to enable was not disabled; 2 invalid config or unknown channel.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from collections import Counter
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Protocol, TextIO

from monitor.cli.common import EXIT_FAILURE, EXIT_OK, EXIT_USAGE, SubParsers, command_settings
from monitor.config.load import LoadedConfig, load_config
from monitor.delivery.base import Channel
from monitor.delivery.channels import build_channel, build_delivery_client
from monitor.delivery.gone import in_force
from monitor.log import register_secrets
from monitor.model import Clock, DisabledChannel, system_clock
from monitor.polling.health import format_utc
from monitor.settings import Settings
from monitor.store.base import ChannelStateStore, Outbox

HEADERS = ("CHANNEL", "TYPE", "STATE")


class ChannelStore(ChannelStateStore, Outbox, Protocol):
    """What the commands read: the disabled marks, and the dead letters they count."""


def state_text(record: DisabledChannel | None) -> str:
    """The STATE cell of one channel."""
    if record is None:
        return "ok"
    return f"disabled since {format_utc(record.since)} ({record.reason})"


def _table(rows: Sequence[Sequence[str]]) -> list[str]:
    widths = [max(len(row[i]) for row in (HEADERS, *rows)) for i in range(len(HEADERS))]
    return [
        "  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip()
        for row in (HEADERS, *rows)
    ]


async def list_channels(
    store: ChannelStore, channels: Mapping[str, Channel], types: Mapping[str, str], out: TextIO
) -> None:
    """Print the state table of ``channels`` (config order), then a note per disabled one."""
    if not channels:
        print("no channels configured", file=out)
        return
    disabled = in_force(await store.disabled_channels(), channels)
    dead = Counter(e.alert.channel for e in await store.dead_letters()) if disabled else Counter()
    rows = [(name, types.get(name, ""), state_text(disabled.get(name))) for name in channels]
    for line in _table(rows):
        print(line, file=out)
    notes = [
        f"{name}: sends nothing since its receiver answered {record.reason} "
        f"({dead[name]} alert(s) in the dead-letter list); to send again, fix its url in "
        f"the watch config or run `news-monitor channels enable {name}`, then "
        "`news-monitor alerts retry --all`"
        for name, record in disabled.items()
    ]
    if notes:
        print(file=out)
        for note in notes:
            print(note, file=out)


async def enable_channels(
    store: ChannelStore,
    channels: Mapping[str, Channel],
    names: Sequence[str],
    out: TextIO,
    err: TextIO,
) -> int:
    """Remove the disabled mark of each channel in ``names``.

    Unknown names change nothing and return :data:`EXIT_USAGE`; a channel that is not
    disabled (no mark, or one recorded for an earlier URL) is named, and the result is
    :data:`EXIT_FAILURE`.
    """
    unknown = [n for n in dict.fromkeys(names) if n not in channels]
    if unknown:
        known = ", ".join(channels) or "none configured"
        print(f"error: unknown channel(s) {', '.join(unknown)} (channels: {known})", file=err)
        return EXIT_USAGE
    result = EXIT_OK
    disabled = in_force(await store.disabled_channels(), channels)
    waiting: Counter[str] | None = None
    for name in dict.fromkeys(names):
        if name not in disabled:
            print(f"{name} is not disabled", file=err)
            result = EXIT_FAILURE
            continue
        await store.enable_channel(name)
        if waiting is None:
            waiting = Counter(e.alert.channel for e in await store.dead_letters())
        print(
            f"enabled {name}: every daemon sends to it again from its next delivery pass; "
            f"its {waiting[name]} dead-lettered alert(s) stay there until "
            "`news-monitor alerts retry`",
            file=out,
        )
    return result


# -- CLI wiring ------------------------------------------------------------------


def add_channels_parser(sub: SubParsers) -> None:
    """Add ``channels`` and ``channels enable NAME...``.

    Parsed arguments: ``channels_action`` (None or "enable"), ``rules_dir``; for enable
    ``names``.
    """
    channels = sub.add_parser("channels", help="show each channel's state (ok, or disabled)")
    channels.add_argument("--rules-dir", type=Path, help="override MONITOR_RULES_DIR")
    actions = channels.add_subparsers(dest="channels_action", metavar="ACTION")
    enable = actions.add_parser(
        "enable", help="send again to channels disabled because their receiver answered 410 Gone"
    )
    enable.add_argument("names", nargs="+", metavar="CHANNEL", help="channel names to enable")
    # SUPPRESS: an unset option here must not clobber one given before "enable".
    enable.add_argument(
        "--rules-dir", type=Path, default=argparse.SUPPRESS, help="override MONITOR_RULES_DIR"
    )


def cmd_channels(
    args: argparse.Namespace,
    *,
    settings: Settings | None = None,
    out: TextIO | None = None,
    err: TextIO | None = None,
    clock: Clock = system_clock,
) -> int:
    """Run ``channels`` or ``channels enable`` (settings from MONITOR_*)."""
    settings = command_settings(getattr(args, "rules_dir", None), settings)
    loaded = load_config(settings)  # ConfigError: the CLI prints it, exit 2
    register_secrets(loaded.secret_values())
    return asyncio.run(_run(settings, args, loaded, out or sys.stdout, err or sys.stderr, clock))


async def _run(
    settings: Settings,
    args: argparse.Namespace,
    loaded: LoadedConfig,
    out: TextIO,
    err: TextIO,
    clock: Clock,
) -> int:
    from monitor.store.factory import open_store  # imports redis: only when the command runs

    configs = loaded.config.channels
    # Built (no I/O) for what each sends to now: a mark applies to the URL it was heard from.
    async with build_delivery_client(settings) as http:
        channels = {n: build_channel(n, c, settings, http, clock) for n, c in configs.items()}
        types = {name: config.type for name, config in configs.items()}
        store = await open_store(settings)
        try:
            await store.ping()
            if args.channels_action == "enable":
                return await enable_channels(store, channels, args.names, out, err)
            await list_channels(store, channels, types, out)
            return EXIT_OK
        finally:
            await store.close()
            for channel in channels.values():
                await channel.aclose()
