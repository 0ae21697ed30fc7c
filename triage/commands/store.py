"""What the store-backed commands share: `--config`, `--create`, and opening the store only
when its schema is at this version's revision.

No command but `triage migrate` (and `--create`) makes a store: run from the wrong folder or
with the wrong `--config`, a command would otherwise write to a new, empty store while the
service reads another one.
"""

from __future__ import annotations

import argparse
import shlex
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path

from triage.config import DEFAULT_CONFIG_FILE, Settings, load_settings
from triage.errors import ConfigError
from triage.store import JobPolicy, open_store
from triage.store.protocol import Store
from triage.store.schema import (
    SchemaState,
    SchemaStatus,
    describe_location,
    inspect_schema,
    migrate,
)


def add_config(parser: argparse.ArgumentParser, *, create: bool = False) -> None:
    """Add `--config`, and with `create` the `--create` flag that allows a new store."""
    parser.add_argument(
        "--config",
        type=Path,
        default=None,
        metavar="FILE",
        help="settings file (default: ./config.yaml when present)",
    )
    if create:
        parser.add_argument(
            "--create",
            action="store_true",
            help="create the store (empty, at the newest schema) if it does not exist yet",
        )


@dataclass(frozen=True)
class StoreTarget:
    """The settings a command runs with, and the file they came from."""

    settings: Settings
    config_file: Path | None
    """Absolute; None when no file was read (defaults and `TRIAGE_*` variables only)."""

    @property
    def location(self) -> str:
        return describe_location(self.settings.store.url)

    def command(self, subcommand: str, *options: str) -> str:
        """The exact shell command that runs `triage <subcommand>` on this same store."""
        words = ["triage", *subcommand.split()]
        if self.config_file is not None:
            words += ["--config", str(self.config_file)]
        words += options
        line = shlex.join(words)
        if self._relative_paths():
            # Relative paths in the settings are taken from the current folder.
            return f"cd {shlex.quote(str(Path.cwd()))} && {line}"
        return line

    def _relative_paths(self) -> bool:
        url = self.settings.store.url
        sqlite_relative = url.startswith("sqlite:///") and not url.startswith("sqlite:////")
        return sqlite_relative or not self.settings.data_dir.is_absolute()


def load_target(config: Path | None) -> StoreTarget:
    """The settings from `config` (or ./config.yaml) and the absolute path of that file."""
    settings = load_settings(config)
    if config is None and DEFAULT_CONFIG_FILE.is_file():
        config = DEFAULT_CONFIG_FILE
    return StoreTarget(settings, config.absolute() if config is not None else None)


def require_ready(target: StoreTarget, state: SchemaState, *, can_create: bool) -> None:
    """Raise `ConfigError` with the command that fixes it unless the store can be used."""
    where = state.location
    if state.status is SchemaStatus.MISSING:
        in_use = str(target.config_file) if target.config_file else "none, defaults only"
        how = (
            "pass --create to make it"
            if can_create
            else f"create it with `{target.command('migrate', '--create')}`"
        )
        raise ConfigError(
            f"no store at {where} yet (settings file: {in_use}). If that is the wrong place, "
            f"check --config; to start a new, empty store, {how}"
        )
    if state.status is SchemaStatus.BEHIND:
        raise ConfigError(
            f"the store at {where} is at schema revision {state.revision}, this version needs "
            f"{state.head}: run `{target.command('migrate')}` first"
        )
    if state.status is SchemaStatus.UNKNOWN:
        if state.revision is None:
            raise ConfigError(f"{where} holds tables but no schema revision: not a triage store")
        raise ConfigError(
            f"the store at {where} is at schema revision {state.revision}, which this version "
            f"does not know (it is newer than {state.head}): run the version that migrated it"
        )


async def with_store(
    target: StoreTarget, work: Callable[[Store], Awaitable[int]], *, create: bool | None = None
) -> int:
    """Run `work` on the configured store, which must be at the newest schema revision.

    `create` is the command's `--create` (None: it has none): when true, a store that does
    not exist yet is made (empty, migrated) first.
    """
    url = target.settings.store.url
    state = await inspect_schema(url)
    if not (create and state.status is SchemaStatus.MISSING):
        require_ready(target, state, can_create=create is not None)
    target.settings.data_dir.mkdir(parents=True, exist_ok=True)
    if state.status is SchemaStatus.MISSING:
        await migrate(url)
    store = open_store(url, policy=JobPolicy.from_settings(target.settings.jobs))
    try:
        return await work(store)
    finally:
        await store.close()
