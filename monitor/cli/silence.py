"""``news-monitor silence``: mute the alerts of a rule, a story or a channel for a while.

``news-monitor silence add (--rule ID | --story ID | --channel ID) --for 2h
[--comment TEXT]`` stores a silence (``sil_`` + 16 hex digits, printed alone on
standard output, so a script can keep it) in the configured store, starting now:
every daemon sharing the store stops sending the alerts it mutes from its next
delivery pass (Alertmanager style: an alert is judged when it is due to be sent; a
muted one is settled as "silenced", never sent later). A rule or channel must exist
in the watch config (a typo gets a did-you-mean); a story is the id the alert
history and the console show. ``silence list`` prints the silences that are active,
pending or ended in the last day; ``silence expire ID`` ends one now (new matches
alert again).

Exit codes: 0 done; 1 the store is unreachable or no silence has that id; 2 bad
usage, an unknown rule or channel, or an invalid watch config.

:func:`add_silence`, :func:`list_silences` and :func:`expire_silence` only talk to
a store and write text, with the time passed in, so tests drive them with a
MemoryStore and a frozen clock; :func:`add_silence_parser` and :func:`cmd_silence`
are the CLI wiring.
"""

from __future__ import annotations

import argparse
import asyncio
import secrets
import sys
from collections.abc import Collection, Sequence
from pathlib import Path
from typing import TextIO

from monitor.cli.alerts import ago
from monitor.cli.common import EXIT_FAILURE, EXIT_OK, EXIT_USAGE, SubParsers, command_settings
from monitor.config.load import LoadedConfig, load_config
from monitor.errors import nearest
from monitor.log import register_secrets
from monitor.model import Clock, Silence, system_clock
from monitor.polling.health import HEALTH_RULE_ID, format_utc
from monitor.settings import Settings, parse_duration
from monitor.store.base import SilenceStore

#: How long ``silence list`` shows a silence after it ended.
SHOWN_AFTER_END = 86_400.0
#: Characters of a comment shown in the listing.
COMMENT_WIDTH = 50


def new_silence_id() -> str:
    """A fresh silence id: ``sil_`` and 16 random hex digits."""
    return f"sil_{secrets.token_hex(8)}"


def _span(seconds: float) -> str:
    """A duration in at most two units: 45s, 5m, 2h, 1h30m, 3d, 2d4h."""
    s = max(round(seconds), 0)
    units = (("d", 86_400), ("h", 3_600), ("m", 60), ("s", 1))
    parts: list[str] = []
    for unit, size in units:
        if s >= size and len(parts) < 2:
            parts.append(f"{s // size}{unit}")
            s %= size
        elif parts:
            break
    return "".join(parts) or "0s"


def unknown_target(kind: str, target: str, known: Collection[str]) -> str | None:
    """Why ``target`` is not a known rule or channel (with a did-you-mean), or None."""
    if target in known:
        return None
    close = nearest(target, known)
    hint = f"; did you mean {close!r}?" if close else ""
    listed = ", ".join(sorted(known)) or "none configured"
    return f"unknown {kind} {target!r}{hint} ({kind}s: {listed})"


async def add_silence(
    store: SilenceStore,
    kind: str,
    target: str,
    duration: float,
    now: float,
    *,
    comment: str = "",
    known: Collection[str] | None = None,
    out: TextIO,
    err: TextIO,
) -> int:
    """Silence ``target`` (a ``kind``: rule, story or channel) from ``now`` for
    ``duration`` seconds; print the new id. A rule or channel not in ``known`` (the
    config's ids; None: not checked) or a duration not above 0 is :data:`EXIT_USAGE`."""
    if duration <= 0:
        print(f"error: --for must be more than 0 seconds, not {duration:g}", file=err)
        return EXIT_USAGE
    if not target.strip():
        print(f"error: the {kind} to silence is empty", file=err)
        return EXIT_USAGE
    if known is not None and (problem := unknown_target(kind, target, known)):
        print(f"error: {problem}", file=err)
        return EXIT_USAGE
    silence = Silence(
        new_silence_id(), kind, target, now, now + duration, " ".join(comment.split()), "cli"
    )
    await store.add_silence(silence)
    print(silence.id, file=out)
    print(
        f"silenced {kind} {target} until {format_utc(silence.ends_at)} ({_span(duration)})",
        file=err,
    )
    return EXIT_OK


def _state(silence: Silence, now: float) -> str:
    if silence.active(now):
        return "active"
    return "pending" if now < silence.starts_at else "expired"


def _ends(silence: Silence, now: float) -> str:
    when = format_utc(silence.ends_at)
    if silence.ends_at > now:
        return f"{when} (in {_span(silence.ends_at - now)})"
    return f"{when} ({ago(silence.ends_at, now)})"


def _cell(text: str, width: int) -> str:
    flat = " ".join(text.split())
    return flat if len(flat) <= width else flat[: width - 1].rstrip() + "…"


async def list_silences(store: SilenceStore, now: float, *, out: TextIO) -> None:
    """Print the silences active, pending, or ended in the last day, by start time."""
    silences = await store.list_silences(now, expired_for=SHOWN_AFTER_END)
    if not silences:
        print("no silences (active, pending or ended in the last 24h)", file=out)
        return
    headers = ("ID", "STATE", "KIND", "TARGET", "STARTS", "ENDS", "COMMENT")
    rows = [
        (
            s.id,
            _state(s, now),
            s.kind,
            s.target,
            format_utc(s.starts_at),
            _ends(s, now),
            _cell(s.comment, COMMENT_WIDTH),
        )
        for s in silences
    ]
    widths = [max(len(row[i]) for row in (headers, *rows)) for i in range(len(headers))]
    for row in (headers, *rows):
        print("  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)).rstrip(), file=out)


async def expire_silence(
    store: SilenceStore, silence_id: str, now: float, *, out: TextIO, err: TextIO
) -> int:
    """End the silence ``silence_id`` now; :data:`EXIT_FAILURE` if there is none."""
    if not await store.expire_silence(silence_id, now):
        print(f"error: no silence {silence_id!r} (see `news-monitor silence list`)", file=err)
        return EXIT_FAILURE
    print(f"expired {silence_id}: its alerts are sent again from the next match", file=out)
    return EXIT_OK


# -- CLI wiring ------------------------------------------------------------------


def _duration(text: str) -> float:
    try:
        seconds = parse_duration(text).total_seconds()
    except ValueError as e:
        raise argparse.ArgumentTypeError(str(e)) from None
    if seconds <= 0:
        raise argparse.ArgumentTypeError(f"must be more than 0, not {text!r}")
    return seconds


def add_silence_parser(sub: SubParsers) -> None:
    """Add ``silence [list]``, ``silence add`` and ``silence expire ID`` to the CLI.

    Parsed arguments: ``silence_action`` (None, "list", "add" or "expire"),
    ``rules_dir``; for add ``rule``/``story``/``channel`` (one of them), ``duration``
    (seconds) and ``comment``; for expire ``id``.
    """
    silence = sub.add_parser("silence", help="mute a rule, a story or a channel for a while")
    silence.add_argument("--rules-dir", type=Path, help="override MONITOR_RULES_DIR")

    def rules_dir_after(parser: argparse.ArgumentParser) -> None:
        # SUPPRESS: an unset option after the action must not clobber one given before it.
        parser.add_argument(
            "--rules-dir", type=Path, default=argparse.SUPPRESS, help="override MONITOR_RULES_DIR"
        )

    actions = silence.add_subparsers(dest="silence_action", metavar="ACTION")
    add = actions.add_parser("add", help="silence a rule, a story or a channel, starting now")
    which = add.add_mutually_exclusive_group(required=True)
    which.add_argument("--rule", metavar="ID", help="a rule id of the watch config")
    which.add_argument("--story", metavar="ID", help="a story id (as the alert history shows)")
    which.add_argument("--channel", metavar="ID", help="a channel name of the watch config")
    add.add_argument(
        "--for",
        dest="duration",
        type=_duration,
        required=True,
        metavar="DURATION",
        help="how long: 30m, 2h, 1d, 1h30m",
    )
    add.add_argument("--comment", default="", help="why (shown by `silence list`)")
    rules_dir_after(add)
    rules_dir_after(actions.add_parser("list", help="active, pending and recent silences"))
    expire = actions.add_parser("expire", help="end a silence now")
    expire.add_argument("id", metavar="ID", help="the silence id (sil_…)")
    rules_dir_after(expire)


def _known(loaded: LoadedConfig, kind: str) -> Sequence[str] | None:
    """The ids a silence of ``kind`` may name (None: any)."""
    config = loaded.config
    if kind == "rule":
        health = [HEALTH_RULE_ID] if config.feed_health is not None else []
        return [rule.id for rule in config.rules] + health
    if kind == "channel":
        return list(config.channels)
    return None


def cmd_silence(
    args: argparse.Namespace,
    *,
    settings: Settings | None = None,
    out: TextIO | None = None,
    err: TextIO | None = None,
    clock: Clock = system_clock,
) -> int:
    """Run ``silence add``, ``silence list`` or ``silence expire`` on the configured store."""
    settings = command_settings(getattr(args, "rules_dir", None), settings)
    known: Sequence[str] | None = None
    kind = target = ""
    if args.silence_action == "add":
        kind = next(k for k in ("rule", "story", "channel") if getattr(args, k) is not None)
        target = getattr(args, kind)
        loaded = load_config(settings)  # ConfigError: the CLI prints it, exit 2
        register_secrets(loaded.secret_values())
        known = _known(loaded, kind)
    return asyncio.run(
        _silence(settings, args, kind, target, known, out or sys.stdout, err or sys.stderr, clock)
    )


async def _silence(
    settings: Settings,
    args: argparse.Namespace,
    kind: str,
    target: str,
    known: Sequence[str] | None,
    out: TextIO,
    err: TextIO,
    clock: Clock,
) -> int:
    from monitor.store.factory import open_store  # imports redis: only when the command runs

    store = await open_store(settings)
    try:
        await store.ping()
        if args.silence_action == "add":
            return await add_silence(
                store,
                kind,
                target,
                args.duration,
                clock(),
                comment=args.comment,
                known=known,
                out=out,
                err=err,
            )
        if args.silence_action == "expire":
            return await expire_silence(store, args.id, clock(), out=out, err=err)
        await list_silences(store, clock(), out=out)
        return EXIT_OK
    finally:
        await store.close()
