"""``news-monitor check``: validate the watch config offline (``--online``: and each feed).

Prints a one-line summary, or the ``file:line: message`` errors (raised as
ConfigError, printed by ``main``, exit 2), and warnings: the loader's and rules
that cannot be indexed (they are evaluated for every article); and a note for each
rule that names languages with ``lang:``: which articles it reads and how its terms
fold there (the other rules read every article, their terms folded in its language). The loader
reports every problem of the config in one pass (a YAML error in one file, a
bad entry, a missing reference, a bad query: all of them, in file and line
order), so one ``check`` shows everything to fix. That includes every message
template, rendered once with the sample alert ``send-test`` sends (within the
render limits): one that fails there (an unknown attribute, a limit reached)
would dead-letter every alert of its channel, so it is an error at its line.

``check --online`` then fetches every feed once (:mod:`monitor.cli.check_online`) and
reports those that fail or do not answer with a feed (a web page: with the feeds it
names); exit 1 if any does.
"""

from __future__ import annotations

import argparse
import asyncio
import sys

from monitor.cli.check_online import check_feeds_online
from monitor.cli.common import (
    EXIT_FAILURE,
    EXIT_OK,
    SubParsers,
    add_rules_dir,
    load_with_warnings,
    settings_for,
)
from monitor.log import register_secrets
from monitor.matching import Lang, iter_nodes, parse_query
from monitor.matching.languages import language_note


def rule_languages(query: str) -> tuple[str, ...]:
    """The language codes a (valid) query names with ``lang:``, in order."""
    codes = (
        c for node in iter_nodes(parse_query(query)) if isinstance(node, Lang) for c in node.codes
    )
    return tuple(dict.fromkeys(codes))


def add_check_parser(sub: SubParsers) -> None:
    """Add ``check [--rules-dir DIR] [--online]``."""
    check = sub.add_parser(
        "check", help="validate the watch config (without touching the network unless --online)"
    )
    add_rules_dir(check)
    check.add_argument(
        "--online",
        action="store_true",
        help="also fetch every feed once and report those that fail or are not feeds",
    )


def cmd_check(args: argparse.Namespace) -> int:
    """Validate the config; exit 0 if it is valid (ConfigError otherwise)."""
    from monitor.app import build_ruleset  # the daemon's modules: only when needed

    settings = settings_for(args.rules_dir)
    loaded = load_with_warnings(settings)
    for rule_id in build_ruleset(loaded).unindexed_rule_ids():
        print(
            f"warning: rule '{rule_id}' cannot be indexed (it can match by negation alone), "
            "so it is evaluated for every article",
            file=sys.stderr,
        )
    for rule in loaded.config.rules:
        if codes := rule_languages(rule.query):
            print(
                f"note: rule '{rule.id}' names lang:{'/'.join(codes)}: its terms fold as "
                f"{language_note(codes)}",
                file=sys.stderr,
            )
    c = loaded.config
    print(
        f"ok: {len(loaded.files)} file(s), {len(c.feeds)} feed(s), "
        f"{len(c.channels)} channel(s), {len(c.rules)} rule(s) in {settings.rules_dir}"
    )
    if not getattr(args, "online", False):
        return EXIT_OK
    register_secrets(settings.secret_values())
    register_secrets(loaded.secret_values())
    failed = asyncio.run(check_feeds_online(settings, c.feeds, sys.stderr))
    print(f"online: {len(c.feeds) - failed} of {len(c.feeds)} feed(s) answer with a feed")
    return EXIT_FAILURE if failed else EXIT_OK
