"""What the store-backed commands share: the `--config` option and opening the store."""

from __future__ import annotations

import argparse
from collections.abc import Awaitable, Callable
from pathlib import Path

from triage.config import Settings
from triage.store import open_store
from triage.store.protocol import Store

CLI_ACTOR = "cli"
"""The actor the audit log names for changes made from the command line."""


def add_config(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--config", type=Path, default=None, help="settings file (default: ./config.yaml)"
    )


async def with_store(settings: Settings, work: Callable[[Store], Awaitable[int]]) -> int:
    """Run `work` on the configured store and close it afterwards."""
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    store = open_store(settings.store.url)
    try:
        await store.migrate()
        return await work(store)
    finally:
        await store.close()
