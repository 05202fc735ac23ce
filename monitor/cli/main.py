"""The ``news-monitor`` command line; the only place that handles signals.

Commands::

    news-monitor run [--once]          the daemon, or one poll-and-deliver pass
    news-monitor check                 validate the watch config offline
    news-monitor match QUERY [FILE|-]  grep-like test of a query on a text or feed file
    news-monitor send-test CHANNEL     send a sample alert, print the receiver's answer
    news-monitor alerts [retry ID|--all]  pending, dead-lettered and recent alerts; requeue
    news-monitor feeds [enable FEED|import FILE.opml]  feed health; re-enable; OPML import

Exit codes: 0 success (``match``: a match), 1 ``match`` found nothing or a
runtime failure (store unreachable), 2 invalid config, bad query or usage.
"""

from __future__ import annotations

import argparse
import asyncio
import signal
import sys
from collections.abc import Sequence
from pathlib import Path

from pydantic import ValidationError

from monitor import __version__
from monitor.cli.alerts import add_alerts_parser, cmd_alerts
from monitor.cli.feeds import add_feeds_parser, cmd_feeds
from monitor.config.load import LoadedConfig, load_config
from monitor.errors import ConfigError, MonitorError, QuerySyntaxError, StoreError
from monitor.log import configure_logging, get_logger, register_secrets
from monitor.settings import Settings

EXIT_OK, EXIT_NO_MATCH, EXIT_FAILURE, EXIT_USAGE = 0, 1, 1, 2


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="news-monitor",
        description="Watch news feeds and alert when an article matches a watch rule.",
    )
    parser.add_argument("--version", action="version", version=f"news-monitor {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    run = sub.add_parser("run", help="run the daemon (or one pass with --once)")
    run.add_argument(
        "--once",
        action="store_true",
        help="poll every feed once, deliver, and exit (for cron and tests)",
    )
    run.add_argument("--rules-dir", type=Path, help="override MONITOR_RULES_DIR")

    check = sub.add_parser("check", help="validate the watch config without touching the network")
    check.add_argument("--rules-dir", type=Path, help="override MONITOR_RULES_DIR")

    send_test = sub.add_parser(
        "send-test", help="send a sample alert to a channel and print what the receiver answered"
    )
    send_test.add_argument("channel", help="channel name from the watch config")
    send_test.add_argument("--rules-dir", type=Path, help="override MONITOR_RULES_DIR")

    add_alerts_parser(sub)
    add_feeds_parser(sub)

    match = sub.add_parser("match", help="test a query on a text file or a feed file, like grep")
    match.add_argument("query", help="a query in the rule language, e.g. 'Iran AND drones'")
    match.add_argument(
        "file",
        nargs="?",
        default="-",
        help="text or feed file to search; '-' or nothing reads standard input",
    )
    match.add_argument(
        "--explain", action="store_true", help="print the query tree, marking which clauses held"
    )
    match.add_argument(
        "--color",
        choices=["auto", "always", "never"],
        default="auto",
        help="highlight hits with terminal colours (default: when a terminal)",
    )
    return parser


def _settings(rules_dir: Path | None) -> Settings:
    settings = Settings()
    if rules_dir is not None:
        settings = settings.model_copy(update={"rules_dir": rules_dir})
    return settings


def _load(settings: Settings) -> LoadedConfig:
    loaded = load_config(settings)
    for warning in loaded.warnings:
        print(f"warning: {warning}", file=sys.stderr)
    return loaded


def _prepare(rules_dir: Path | None) -> tuple[Settings, LoadedConfig]:
    """Settings, logging and the loaded config of a command that talks to the outside,
    with every secret of both registered for redaction before anything is logged."""
    settings = _settings(rules_dir)
    configure_logging(settings.log_level, settings.log_format)
    register_secrets(settings.secret_values())
    loaded = _load(settings)
    register_secrets(loaded.secret_values())
    return settings, loaded


def cmd_check(args: argparse.Namespace) -> int:
    settings = _settings(args.rules_dir)
    loaded = _load(settings)
    from monitor.app import build_ruleset

    for rule_id in build_ruleset(loaded).unindexed_rule_ids():
        print(
            f"warning: rule '{rule_id}' cannot be indexed (it can match by negation alone), "
            "so it is evaluated for every article",
            file=sys.stderr,
        )
    c = loaded.config
    print(
        f"ok: {len(loaded.files)} file(s), {len(c.feeds)} feed(s), "
        f"{len(c.channels)} channel(s), {len(c.rules)} rule(s) in {settings.rules_dir}"
    )
    return EXIT_OK


def cmd_run(args: argparse.Namespace) -> int:
    settings, loaded = _prepare(args.rules_dir)
    return asyncio.run(_run(settings, loaded, once=args.once))


async def _run(settings: Settings, loaded: LoadedConfig, *, once: bool) -> int:
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


def cmd_send_test(args: argparse.Namespace) -> int:
    from monitor.cli.send_test import send_test

    settings, loaded = _prepare(args.rules_dir)
    return asyncio.run(send_test(settings, loaded, args.channel))


def cmd_match(args: argparse.Namespace) -> int:
    from monitor.cli.match import run_match

    color = args.color == "always" or (args.color == "auto" and sys.stdout.isatty())
    return run_match(args.query, args.file, explain=args.explain, color=color)


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``news-monitor`` console script."""
    args = _parser().parse_args(argv)
    commands = {
        "run": cmd_run,
        "check": cmd_check,
        "match": cmd_match,
        "send-test": cmd_send_test,
        "alerts": cmd_alerts,
        "feeds": cmd_feeds,
    }
    try:
        return commands[args.command](args)
    except ConfigError as e:
        for issue in e.issues:
            print(issue, file=sys.stderr)
        print(
            f"error: invalid config ({len(e.issues)} problem(s)); nothing started", file=sys.stderr
        )
        return EXIT_USAGE
    except ValidationError as e:  # a bad MONITOR_* setting
        for error in e.errors():
            name = "MONITOR_" + "_".join(str(p) for p in error["loc"]).upper()
            print(f"error: setting {name}: {error['msg']}", file=sys.stderr)
        return EXIT_USAGE
    except QuerySyntaxError as e:
        print(f"error: bad query: {e.pretty()}", file=sys.stderr)
        return EXIT_USAGE
    except StoreError as e:
        get_logger().error("store_unavailable", error=str(e))
        print(f"error: state store unavailable: {e}", file=sys.stderr)
        return EXIT_FAILURE
    except MonitorError as e:
        print(f"error: {e}", file=sys.stderr)
        return EXIT_FAILURE
    except KeyboardInterrupt:
        return 130
