"""``news-monitor``: the parser assembled from one module per command, and the dispatch
that turns errors into messages and exit codes.

Commands::

    news-monitor run [--once]          the daemon, or one poll-and-deliver pass   (cli.run)
    news-monitor check [--online]      validate the watch config (and fetch each feed) (cli.check)
    news-monitor match QUERY [FILE|-]  grep-like test of a query on a file        (cli.match)
    news-monitor send-test CHANNEL     send a sample alert, print the answer      (cli.send_test)
    news-monitor alerts [retry ID|--all]  pending, dead and recent alerts; requeue (cli.alerts)
    news-monitor feeds [enable FEED|import FILE.opml|add URL]  feed health; OPML import;
                                       find a site's feeds, add one    (cli.feeds, cli.feeds_add)
    news-monitor silence [add|list|expire ID]  mute a rule, story or channel      (cli.silence)
    news-monitor channels [enable NAME]  channel state; send again after a 410   (cli.channels)

Exit codes: 0 success (``match``: a match), 1 ``match`` found nothing or a
runtime failure (store unreachable), 2 invalid config, bad query or usage,
3 ``run --once`` finished with problems (a feed failed, an alert dead or pending).
Output piped into a command that stops reading (``news-monitor feeds | head -1``)
ends quietly: no traceback, the rest of the output is discarded, exit 141
(128 + SIGPIPE, what a shell reports for ``yes | head -1``).
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Callable, Sequence

from pydantic import ValidationError

from monitor import __version__
from monitor.cli.alerts import add_alerts_parser, cmd_alerts
from monitor.cli.channels import add_channels_parser, cmd_channels
from monitor.cli.check import add_check_parser, cmd_check
from monitor.cli.common import EXIT_BROKEN_PIPE, EXIT_FAILURE, EXIT_USAGE
from monitor.cli.feeds import add_feeds_parser, cmd_feeds
from monitor.cli.match import add_match_parser, cmd_match
from monitor.cli.run import add_run_parser, cmd_run
from monitor.cli.send_test import add_send_test_parser, cmd_send_test
from monitor.cli.silence import add_silence_parser, cmd_silence
from monitor.errors import ConfigError, MonitorError, QuerySyntaxError, StoreError
from monitor.log import get_logger
from monitor.settings import unknown_setting_warnings

#: Every command: its name, how it adds its parser, and what runs it.
COMMANDS: tuple[tuple[str, Callable[..., None], Callable[[argparse.Namespace], int]], ...] = (
    ("run", add_run_parser, cmd_run),
    ("check", add_check_parser, cmd_check),
    ("send-test", add_send_test_parser, cmd_send_test),
    ("alerts", add_alerts_parser, cmd_alerts),
    ("feeds", add_feeds_parser, cmd_feeds),
    ("channels", add_channels_parser, cmd_channels),
    ("silence", add_silence_parser, cmd_silence),
    ("match", add_match_parser, cmd_match),
)


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="news-monitor",
        description="Watch news feeds and alert when an article matches a watch rule.",
    )
    parser.add_argument("--version", action="version", version=f"news-monitor {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for _, add_parser, _ in COMMANDS:
        add_parser(sub)
    return parser


def _discard_stdout() -> None:
    """Point standard output at /dev/null, so the flush at exit cannot fail again."""
    devnull = os.open(os.devnull, os.O_WRONLY)
    try:
        os.dup2(devnull, sys.stdout.fileno())
    except (AttributeError, OSError, ValueError):  # not a real file (a test's stand-in)
        sys.stdout = open(os.devnull, "w")  # noqa: SIM115 - lives until the process ends
    finally:
        os.close(devnull)


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``news-monitor`` console script."""
    args = _parser().parse_args(argv)
    run = {name: cmd for name, _, cmd in COMMANDS}[args.command]
    for warning in unknown_setting_warnings():
        print(f"warning: {warning}", file=sys.stderr)
    try:
        code = run(args)
        sys.stdout.flush()  # a reader gone after the last write shows up here
        return code
    except BrokenPipeError:
        _discard_stdout()
        return EXIT_BROKEN_PIPE
    except ConfigError as e:
        for issue in e.issues:
            print(issue, file=sys.stderr)
        print(
            f"error: invalid config ({len(e.issues)} problem(s)); nothing started", file=sys.stderr
        )
        return EXIT_USAGE
    except ValidationError as e:  # a bad MONITOR_* setting
        for error in e.errors():
            message = error["msg"].removeprefix("Value error, ")
            if not error["loc"]:  # settings that do not work together: the message names them
                print(f"error: settings: {message}", file=sys.stderr)
                continue
            name = "MONITOR_" + "_".join(str(p) for p in error["loc"]).upper()
            print(f"error: setting {name}: {message}", file=sys.stderr)
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
