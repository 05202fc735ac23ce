"""What every command shares: exit codes, settings with a ``--rules-dir`` override, and
loading the watch config with its warnings printed and its secrets registered."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import TypeAlias

from monitor.config.load import LoadedConfig, load_config
from monitor.log import configure_logging, register_secrets
from monitor.settings import Settings

EXIT_OK, EXIT_NO_MATCH, EXIT_FAILURE, EXIT_USAGE = 0, 1, 1, 2
#: ``run --once`` finished, with problems (a feed failed, an alert dead or pending).
EXIT_PROBLEMS = 3
#: Standard output was a pipe whose reader went away (128 + SIGPIPE, as a shell reports it).
EXIT_BROKEN_PIPE = 141

#: The ``add_subparsers`` object every command module adds its parser to.
SubParsers: TypeAlias = "argparse._SubParsersAction[argparse.ArgumentParser]"


def add_rules_dir(parser: argparse.ArgumentParser) -> None:
    """The ``--rules-dir DIR`` option of commands that read the watch config."""
    parser.add_argument("--rules-dir", type=Path, help="override MONITOR_RULES_DIR")


def settings_for(rules_dir: Path | None) -> Settings:
    """The process settings (MONITOR_*, .env), with ``--rules-dir`` applied."""
    settings = Settings()
    if rules_dir is not None:
        settings = settings.model_copy(update={"rules_dir": rules_dir})
    return settings


def command_settings(rules_dir: Path | None, settings: Settings | None = None) -> Settings:
    """A store command's settings: ``settings`` (a test injects them) or the process's, with
    ``--rules-dir`` applied, and their secrets registered for redaction."""
    if settings is None:
        settings = settings_for(rules_dir)
    elif rules_dir is not None:
        settings = settings.model_copy(update={"rules_dir": rules_dir})
    register_secrets(settings.secret_values())
    return settings


def load_with_warnings(settings: Settings) -> LoadedConfig:
    """Load the watch config; print its warnings on standard error (errors raise)."""
    loaded = load_config(settings)
    for warning in loaded.warnings:
        print(f"warning: {warning}", file=sys.stderr)
    return loaded


def prepare(rules_dir: Path | None) -> tuple[Settings, LoadedConfig]:
    """Settings, logging and the loaded config of a command that talks to the outside,
    with every secret of both registered for redaction before anything is logged."""
    settings = settings_for(rules_dir)
    configure_logging(settings.log_level, settings.log_format)
    register_secrets(settings.secret_values())
    loaded = load_with_warnings(settings)
    register_secrets(loaded.secret_values())
    return settings, loaded
