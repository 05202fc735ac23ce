"""``news-monitor run [--once]``: the daemon, or one poll-and-deliver pass for cron.

The only place that handles signals: SIGTERM and SIGINT set the stop event
that ends ``Monitor.run_forever`` gracefully.
"""

from __future__ import annotations

import argparse
import asyncio
import signal

from monitor.cli.common import EXIT_OK, SubParsers, add_rules_dir, prepare
from monitor.config.load import LoadedConfig
from monitor.settings import Settings


def add_run_parser(sub: SubParsers) -> None:
    """Add ``run [--once] [--rules-dir DIR]``."""
    run = sub.add_parser("run", help="run the daemon (or one pass with --once)")
    run.add_argument(
        "--once",
        action="store_true",
        help="poll every feed once, deliver, and exit (for cron and tests)",
    )
    add_rules_dir(run)


def cmd_run(args: argparse.Namespace) -> int:
    """Run the daemon until SIGTERM/SIGINT, or one pass with ``--once``."""
    settings, loaded = prepare(args.rules_dir)
    return asyncio.run(_run(settings, loaded, once=args.once))


async def _run(settings: Settings, loaded: LoadedConfig, *, once: bool) -> int:
    # Imported here: the whole daemon (APScheduler, Redis, channels) loads only for ``run``,
    # so that ``match`` and ``check`` start fast.
    from monitor.app import Monitor

    async with await Monitor.create(settings, loaded) as monitor:
        if once:
            await monitor.run_once()
            return EXIT_OK
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, stop.set)
        await monitor.run_forever(stop)
    return EXIT_OK
