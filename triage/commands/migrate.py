"""`triage migrate`: create or upgrade the store's schema, as its own step.

`triage serve` and `triage worker` never migrate: they refuse a store that is not at the
newest revision and name this command, so an upgrade is something an operator does (after a
backup), not a side effect of a restart.
"""

from __future__ import annotations

import argparse
import asyncio
import sys

from triage.commands.exit_codes import EXIT_INPUT_FAILED, EXIT_OK
from triage.commands.store import StoreTarget, add_config, load_target, require_ready
from triage.store.schema import SchemaStatus, inspect_schema, migrate

EXAMPLES = """\
examples:
  triage migrate --config /etc/triage/config.yaml            upgrade an existing store
  triage migrate --config /etc/triage/config.yaml --create   make a new store
  triage migrate --check                 exit 1 unless the store is at the newest revision"""


def register(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = commands.add_parser(
        "migrate",
        help="create or upgrade the store's schema",
        description="Bring the store's schema to the newest revision this version ships. "
        "Run it after installing a new version (back up first) and before `triage serve`.",
        epilog=EXAMPLES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    add_config(parser, create=True)
    parser.add_argument(
        "--check",
        action="store_true",
        help="change nothing; exit 0 when the store is at the newest revision, else 1",
    )
    parser.set_defaults(handler=migrate_command)


async def migrate_store(target: StoreTarget, *, create: bool, check: bool = False) -> int:
    """`triage migrate`: report (`check`) or bring the store to the newest revision."""
    url = target.settings.store.url
    state = await inspect_schema(url)
    where = state.location
    if check:
        print(f"{where}: {state.status} (revision {state.revision or '-'}, newest {state.head})")
        return EXIT_OK if state.status is SchemaStatus.CURRENT else EXIT_INPUT_FAILED
    if url.startswith("memory://"):
        print("memory:// is made anew at each start: nothing to migrate", file=sys.stderr)
        return EXIT_OK
    if state.status is SchemaStatus.CURRENT:
        print(f"{where}: already at revision {state.head}", file=sys.stderr)
        return EXIT_OK
    if state.status is not SchemaStatus.BEHIND and not (
        create and state.status is SchemaStatus.MISSING
    ):
        require_ready(target, state, can_create=True)
    target.settings.data_dir.mkdir(parents=True, exist_ok=True)
    await migrate(url)
    before = "new store" if state.status is SchemaStatus.MISSING else state.revision
    print(f"{where}: migrated from {before} to revision {state.head}", file=sys.stderr)
    return EXIT_OK


def migrate_command(args: argparse.Namespace) -> int:
    target = load_target(args.config)
    return asyncio.run(migrate_store(target, create=args.create, check=args.check))
