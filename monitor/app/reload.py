"""What asks for a reload of the watch config, and how a candidate config is checked.

Two things ask: SIGHUP (``run`` installs the handler) and a change to a YAML file
under ``MONITOR_RULES_DIR`` (:func:`watch_rules`, with watchfiles; editors that
save in several steps are debounced into one change). Both only *request* a
reload; :func:`serve_reloads` carries requests out one at a time, so a burst of
saves and a SIGHUP make one or two reloads, never two at once.

:func:`load_candidate` validates exactly as ``news-monitor check`` does (the
same loader, the same warnings); the running Monitor swaps the result in
(``Monitor.reload``) or, on :class:`~monitor.errors.ConfigError`, logs each
problem with its file and line and keeps what it runs.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from pathlib import Path

from watchfiles import Change, awatch

from monitor.config.load import LoadedConfig, load_config
from monitor.errors import ConfigError
from monitor.log import get_logger, register_secrets
from monitor.settings import Settings

log = get_logger("monitor.reload")

#: Milliseconds of quiet after a change before the reload (editors write in several steps).
DEBOUNCE_MS = 400


def load_candidate(settings: Settings) -> LoadedConfig:
    """Load and validate the watch config as ``check`` does; raise ConfigError if invalid.
    Its secrets are registered for redaction before anything about it is logged."""
    loaded = load_config(settings)
    register_secrets(loaded.secret_values())
    for warning in loaded.warnings:
        log.warning("config_reload", status="warning", problem=str(warning))
    return loaded


def log_refused(error: ConfigError) -> None:
    """One error line per problem of a refused config (``file:line: message``)."""
    for issue in error.issues:
        log.error("config_reload", status="refused", problem=str(issue))
    log.error(
        "config_reload",
        status="refused",
        problems=len(error.issues),
        detail="the running config stays in force; fix the files and save again (or SIGHUP)",
    )


def _is_config_file(change: Change, path: str) -> bool:
    # Only the files the loader reads: not editor swap files, backups or a .git directory.
    return Path(path).suffix in {".yaml", ".yml"}


async def watch_rules(rules_dir: Path, request: Callable[[], None], stop: asyncio.Event) -> None:
    """Call ``request`` after each (debounced) change of a YAML file in ``rules_dir``,
    until ``stop`` is set. A directory that cannot be watched is logged, not fatal:
    SIGHUP still reloads."""
    try:
        async for changes in awatch(
            rules_dir,
            watch_filter=_is_config_file,
            stop_event=stop,
            debounce=DEBOUNCE_MS,
            recursive=False,
        ):
            log.info("config_changed", files=sorted(Path(p).name for _, p in changes))
            request()
    except (OSError, RuntimeError) as e:  # the directory vanished, inotify limits ...
        log.warning(
            "config_watch",
            status="stopped",
            error=str(e),
            detail="file changes are no longer picked up; SIGHUP still reloads",
        )


async def serve_reloads(
    wanted: asyncio.Event, reload: Callable[[], Awaitable[object]], stop: asyncio.Event
) -> None:
    """Run ``reload`` each time ``wanted`` is set, one at a time, until ``stop`` is set."""
    while True:
        waiters = [asyncio.ensure_future(wanted.wait()), asyncio.ensure_future(stop.wait())]
        try:
            await asyncio.wait(waiters, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for task in waiters:
                task.cancel()
        if stop.is_set():
            return
        wanted.clear()
        try:
            await reload()
        except Exception:  # a bug in the swap must not end reloading (nor the daemon)
            log.exception("config_reload", status="crashed")
