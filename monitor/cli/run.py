"""``news-monitor run [--once]``: the daemon, or one poll-and-deliver pass for cron.

The only place that handles signals: SIGTERM and SIGINT set the stop event
that ends ``Monitor.run_forever`` gracefully; SIGHUP asks for a reload of the
watch config (``Monitor.request_reload``), as a changed file under
``MONITOR_RULES_DIR`` does.

``run --once`` prints what it did on standard error in one line (feeds polled,
articles new and too old, alerts sent) and exits 0 when every feed was polled
and every alert delivered; 3 when it finished with problems (a feed failed or
is disabled, an alert went to the dead-letter list or is still pending after
a failed attempt), with a second line naming the counts (alerts held on
purpose for a digest, a rate limit or grouping are queued, not a problem);
2 on an invalid config; 1 when it could not run (store unreachable).
:func:`describe_run` and :func:`once_exit_code` are pure, so tests drive them
with a made-up :class:`~monitor.app.RunSummary`.
"""

from __future__ import annotations

import argparse
import asyncio
import signal
import sys
from typing import TYPE_CHECKING

from monitor.cli.common import EXIT_OK, EXIT_PROBLEMS, SubParsers, add_rules_dir, prepare
from monitor.config.load import LoadedConfig
from monitor.settings import Settings

if TYPE_CHECKING:
    from monitor.app import RunSummary


def describe_run(summary: RunSummary) -> str:
    """One line: feeds polled, articles new and too old, alerts queued and sent."""
    polls = summary.polls
    d = summary.deliveries
    return (
        f"run: {len(polls)} feed(s) polled, "
        f"{sum(p.new for p in polls)} new article(s) "
        f"({sum(p.too_old for p in polls)} too old to alert: older than MONITOR_MAX_AGE), "
        f"{sum(p.alerts + p.health_alerts for p in polls)} alert(s) queued, "
        f"{d.delivered} sent, {d.dead} dead, {summary.pending} still queued"
    )


def describe_problems(summary: RunSummary) -> str | None:
    """One line naming what went wrong, or None when every feed was polled and every alert
    delivered."""
    failed = [p.feed_id for p in summary.polls if p.status == "error"]
    disabled = [p.feed_id for p in summary.polls if p.status == "disabled"]
    dead, failing = summary.deliveries.dead, summary.failing
    if not (failed or disabled or dead or failing):
        return None
    parts = [f"{len(failed)} feed(s) failed" + (f" ({', '.join(failed)})" if failed else "")]
    if disabled:
        parts.append(f"{len(disabled)} feed(s) disabled ({', '.join(disabled)})")
    parts.append(f"{dead} alert(s) dead (see news-monitor alerts)")
    parts.append(f"{failing} alert(s) still pending after failing (retried next run)")
    return "problems: " + ", ".join(parts)


def once_exit_code(summary: RunSummary) -> int:
    """0 when every feed was polled and every alert delivered, else 3."""
    return EXIT_OK if describe_problems(summary) is None else EXIT_PROBLEMS


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
            summary = await monitor.run_once()
            print(describe_run(summary), file=sys.stderr)
            problems = describe_problems(summary)
            if problems is not None:
                print(problems, file=sys.stderr)
            return once_exit_code(summary)
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, stop.set)
        loop.add_signal_handler(signal.SIGHUP, monitor.request_reload)
        await monitor.run_forever(stop)
    return EXIT_OK
