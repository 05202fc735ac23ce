"""``news-monitor alerts``: what the outbox holds, what died, what went out; requeue the dead.

``news-monitor alerts [--limit N] [--rules-dir DIR]`` prints three sections as aligned
plain-text tables: *pending* (queued or being delivered, oldest due first),
*dead letters* (most recent first) and *recent deliveries* (newest first),
at most ``N`` rows each. ``news-monitor alerts retry ID... | --all`` moves
dead letters back into the outbox, due now with a fresh retry schedule
(:meth:`~monitor.store.base.Outbox.requeue_many`: one round trip for many, not one per
alert) and records each one as "requeued" in the alert history; a running daemon picks
them up at its next delivery round. Exit 0 when every id was requeued, 1 when some id is
not in the dead-letter list (it is named on the output).

:func:`list_alerts` and :func:`retry_alerts` only read a store and write
text, with the time passed in, so tests drive them with a MemoryStore and a
frozen clock. :func:`add_alerts_parser` and :func:`cmd_alerts` are the CLI
wiring: the argparse sub-command, and opening and closing the store the
settings name. A store failure propagates as StoreError for the CLI to report.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from collections.abc import Sequence
from typing import Protocol, TextIO

from monitor.cli.common import SubParsers, add_rules_dir, command_settings
from monitor.model import Alert, Attempt, Clock, system_clock
from monitor.settings import Settings
from monitor.store.base import AlertHistory, Outbox
from monitor.store.history_rules import DEFAULT_RETENTION

#: Rows per section unless ``--limit`` says otherwise.
DEFAULT_LIMIT = 20
#: Characters of an article title shown (longer ones end in "…").
TITLE_WIDTH = 40
#: Characters of an error or receiver answer shown.
TEXT_WIDTH = 60
#: Exit codes of ``alerts retry``.
EXIT_OK, EXIT_NOT_FOUND = 0, 1


class RetryStore(Outbox, AlertHistory, Protocol):
    """What ``alerts retry`` uses: the outbox's dead letters, and the history it records
    each requeue in."""


# -- formatting -------------------------------------------------------------------


def _cell(text: str, width: int | None = None) -> str:
    """``text`` on one line (whitespace runs become one space), cut to ``width`` with "…"."""
    flat = " ".join(text.split())
    if width is not None and len(flat) > width:
        return flat[: width - 1].rstrip() + "…"
    return flat


def _span(seconds: float) -> str:
    """A duration in its largest whole unit: 42s, 3m, 5h, 2d."""
    s = int(seconds)
    for unit, size in (("d", 86_400), ("h", 3_600), ("m", 60)):
        if s >= size:
            return f"{s // size}{unit}"
    return f"{s}s"


def due_in(due_at: float, now: float) -> str:
    """When an outbox entry is due: "now" if it is (or is less than a second away), "in 3m"."""
    return "now" if due_at - now < 1 else f"in {_span(due_at - now)}"


def ago(at: float, now: float) -> str:
    """How long ago ``at`` was: "just now", "42s ago", "3h ago"."""
    return "just now" if now - at < 1 else f"{_span(now - at)} ago"


def _table(headers: Sequence[str], rows: Sequence[Sequence[str]], numeric: int) -> list[str]:
    """Rows under headers, columns padded to their widest cell; column ``numeric`` right-aligned."""
    widths = [max(len(row[i]) for row in (headers, *rows)) for i in range(len(headers))]
    lines = []
    for row in (headers, *rows):
        cells = [
            cell.rjust(width) if i == numeric else cell.ljust(width)
            for i, (cell, width) in enumerate(zip(row, widths, strict=True))
        ]
        lines.append("  " + "  ".join(cells).rstrip())
    return lines


def _section(
    out: TextIO, title: str, headers: Sequence[str], rows: Sequence[Sequence[str]], more: str
) -> None:
    """A titled table, "(none)" when there are no rows, and a note when rows were left out."""
    print(title, file=out)
    if rows:
        for line in _table(headers, rows, numeric=headers.index("ATTEMPTS")):
            print(line, file=out)
    else:
        print("  (none)", file=out)
    if more:
        print(f"  {more}", file=out)


def _row(alert: Alert, attempts: int, when: str, note: str) -> tuple[str, ...]:
    """One table row: the alert, its attempts, a time column and an error or detail."""
    return (
        alert.id,
        alert.channel,
        alert.rule_id,
        str(attempts),
        when,
        _cell(alert.article.title, TITLE_WIDTH),
        _cell(note, TEXT_WIDTH),
    )


# -- the commands ---------------------------------------------------------------


async def list_alerts(store: Outbox, now: float, *, limit: int, out: TextIO) -> None:
    """Print pending alerts, dead letters and recent deliveries, at most ``limit`` rows each.

    A pending alert being delivered right now shows as due when its lease
    ends. ``limit`` must be at least 1.
    """
    if limit < 1:
        raise ValueError(f"limit must be at least 1, not {limit}")
    pending = await store.pending()
    dead = await store.dead_letters()
    delivered = await store.recent_deliveries(now, limit + 1)  # one more tells "there are more"

    def more(total: int) -> str:
        return f"… and {total - limit} more (raise --limit to see them)" if total > limit else ""

    _section(
        out,
        f"pending ({len(pending)})",
        ("ID", "CHANNEL", "RULE", "ATTEMPTS", "DUE", "TITLE", "LAST ERROR"),
        [_row(e.alert, e.attempts, due_in(e.due_at, now), e.last_error) for e in pending[:limit]],
        more(len(pending)),
    )
    print(file=out)
    _section(
        out,
        f"dead letters ({len(dead)})",
        ("ID", "CHANNEL", "RULE", "ATTEMPTS", "WHEN", "TITLE", "LAST ERROR"),
        # A dead letter's due_at is when it died.
        [_row(e.alert, e.attempts, ago(e.due_at, now), e.last_error) for e in dead[:limit]],
        more(len(dead)),
    )
    print(file=out)
    _section(
        out,
        "recent deliveries",
        ("ID", "CHANNEL", "RULE", "ATTEMPTS", "WHEN", "TITLE", "DETAIL"),
        [_row(d.alert, d.attempts, ago(d.delivered_at, now), d.detail) for d in delivered[:limit]],
        "… older deliveries not shown (raise --limit to see them)"
        if len(delivered) > limit
        else "",
    )


async def retry_alerts(
    store: RetryStore,
    now: float,
    ids: Sequence[str],
    all_: bool,
    out: TextIO,
    *,
    history_retention: float = DEFAULT_RETENTION,
) -> int:
    """Requeue the dead letters ``ids`` (or every one, with ``all_``), due at ``now``.

    Prints one line per requeued id, then the ids that are not in the
    dead-letter list (unknown, still pending, or already delivered). Each
    requeued alert is recorded as "requeued" (status pending) in the alert
    history, after its requeue. Returns :data:`EXIT_OK` if every id was
    requeued (always, with ``all_``), else :data:`EXIT_NOT_FOUND`. Giving both
    ``ids`` and ``all_``, or neither, is a ValueError (the CLI parser rules it out).
    """
    if all_ == bool(ids):
        raise ValueError("give alert ids or all_, not both or neither")
    dead = {entry.alert.id: entry.alert for entry in await store.dead_letters()}
    requeued: list[Alert] = []
    if all_:
        # By id, the ones listed (the history names each one), in one round trip a batch
        # (not one per alert); then any that died since the listing, counted only.
        moved_ids = set(await store.requeue_many(list(dead), now))
        requeued = [alert for alert_id, alert in dead.items() if alert_id in moved_ids]
        moved = len(requeued) + await store.requeue_all_dead(now)
        print(f"requeued {moved} dead letter(s)", file=out)
        await _record_requeued(store, requeued, now, history_retention)
        return EXIT_OK
    missing = []
    wanted = list(dict.fromkeys(ids))  # a repeated id is requeued once, not reported missing
    moved_ids = set(await store.requeue_many(wanted, now))
    for alert_id in wanted:
        if alert_id in moved_ids:
            print(f"requeued {alert_id}", file=out)
            if alert_id in dead:
                requeued.append(dead[alert_id])
        else:
            missing.append(alert_id)
    await _record_requeued(store, requeued, now, history_retention)
    if missing:
        print(f"not in the dead-letter list: {' '.join(missing)}", file=out)
        return EXIT_NOT_FOUND
    return EXIT_OK


async def _record_requeued(
    store: AlertHistory, alerts: Sequence[Alert], now: float, retention: float
) -> None:
    if alerts and retention > 0:
        updates = [(alert, "pending", Attempt(now, "requeued")) for alert in alerts]
        await store.record_history(updates, retention)


# -- CLI wiring ------------------------------------------------------------------


def _positive(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, not {value}")
    return value


def add_alerts_parser(sub: SubParsers) -> None:
    """Add ``alerts [--limit N]`` and ``alerts retry ID... | --all`` to the CLI's sub-commands.

    Parsed arguments: ``limit``, ``alerts_action`` (None or "retry"), and
    for retry ``ids`` (a list) and ``all_``; exactly one of the two is given.
    """
    alerts = sub.add_parser(
        "alerts", help="list pending alerts, dead letters and recent deliveries"
    )
    add_rules_dir(alerts)  # like every command; the listing itself reads only the store
    alerts.add_argument(
        "--limit",
        type=_positive,
        default=DEFAULT_LIMIT,
        help=f"rows per section (default {DEFAULT_LIMIT})",
    )
    actions = alerts.add_subparsers(dest="alerts_action", metavar="ACTION")
    retry = actions.add_parser("retry", help="move dead letters back into the outbox")
    which = retry.add_mutually_exclusive_group(required=True)
    which.add_argument("ids", nargs="*", default=[], metavar="ID", help="alert ids to requeue")
    which.add_argument("--all", dest="all_", action="store_true", help="requeue every dead letter")


def cmd_alerts(
    args: argparse.Namespace,
    *,
    settings: Settings | None = None,
    out: TextIO | None = None,
    clock: Clock = system_clock,
) -> int:
    """Run ``alerts`` or ``alerts retry`` on the store the settings (MONITOR_*) name."""
    settings = command_settings(getattr(args, "rules_dir", None), settings)
    return asyncio.run(_alerts(settings, args, out or sys.stdout, clock))


async def _alerts(settings: Settings, args: argparse.Namespace, out: TextIO, clock: Clock) -> int:
    from monitor.store.factory import open_store  # imports redis: only when the command runs

    store = await open_store(settings)
    try:
        await store.ping()
        if args.alerts_action == "retry":
            return await retry_alerts(
                store,
                clock(),
                args.ids,
                args.all_,
                out,
                history_retention=settings.history_retention.total_seconds(),
            )
        await list_alerts(store, clock(), limit=args.limit, out=out)
        return EXIT_OK
    finally:
        await store.close()
