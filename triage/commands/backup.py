"""`triage backup` and `triage restore`: the whole store to one archive file and back.

See `triage.store.backup` for the format. A backup may run while `triage serve` does; a
restore needs the service stopped.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import time
from pathlib import Path

from tqdm import tqdm

from triage.commands.exit_codes import EXIT_OK
from triage.commands.progress import add_progress, progress_bar, show_progress
from triage.commands.store import add_config, load_target
from triage.store.backup import Progress, restore_backup, write_backup
from triage.store.schema import describe_location, head_revision

EXAMPLES = """\
examples:
  triage backup --config /etc/triage/config.yaml /var/backups/triage-$(date +%F).tar.gz
  triage restore --config /etc/triage/config.yaml /var/backups/triage-2026-12-01.tar.gz
  triage restore --config new-postgres.yaml --force triage-2026-12-01.tar.gz

A backup may run while the service runs; stop `triage serve` and `triage worker` before a
restore. A restore refuses a store that holds data unless --force."""


def register(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    backup = commands.add_parser(
        "backup",
        help="write the whole store to an archive file (online)",
        description="Write every table of the store (keys, references, submissions, verdicts, "
        "referrals and delivery cursors, review, audit...) with its schema revision to OUT, a "
        "gzipped tar of JSON lines, readable by its owner only. Safe while the service runs: "
        "the archive holds one consistent moment.",
        epilog=EXAMPLES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    add_config(backup)
    backup.add_argument("output", type=Path, metavar="OUT", help="the archive to write")
    add_progress(backup)
    backup.set_defaults(handler=backup_command)

    restore = commands.add_parser(
        "restore",
        help="load a backup archive into the store",
        description="Make the store's schema at the backup's revision, load every row, then "
        "migrate to the newest revision. Works across backends (SQLite to PostgreSQL).",
        epilog=EXAMPLES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    add_config(restore)
    restore.add_argument("archive", type=Path, metavar="IN", help="the archive to read")
    restore.add_argument(
        "--force", action="store_true", help="replace a store that holds data (it is lost)"
    )
    add_progress(restore)
    restore.set_defaults(handler=restore_command)


def _updater(bar: tqdm) -> Progress:  # type: ignore[type-arg]
    def update(rows: int, total: int) -> None:
        if bar.total != total:
            bar.total = total
        bar.update(rows)

    return update


def backup_command(args: argparse.Namespace) -> int:
    target = load_target(args.config)
    started = time.monotonic()
    with progress_bar(None, "backup", "row", show=show_progress(args)) as bar:
        manifest = asyncio.run(
            write_backup(target.settings.store.url, args.output, progress=_updater(bar))
        )
    size_mb = args.output.stat().st_size / 1e6
    print(
        f"backed up {manifest.rows} rows of {len(manifest.tables)} tables (schema "
        f"{manifest.schema_revision}) from {target.location} to {args.output.absolute()} "
        f"({size_mb:.1f} MB, {time.monotonic() - started:.1f} s)",
        file=sys.stderr,
    )
    return EXIT_OK


def restore_command(args: argparse.Namespace) -> int:
    target = load_target(args.config)
    url = target.settings.store.url
    started = time.monotonic()
    with progress_bar(None, "restore", "row", show=show_progress(args)) as bar:
        manifest = asyncio.run(
            restore_backup(url, args.archive, force=args.force, progress=_updater(bar))
        )
    print(
        f"restored {manifest.rows} rows of {len(manifest.tables)} tables (schema "
        f"{manifest.schema_revision}, backed up {manifest.created_at:%Y-%m-%d %H:%M:%S} UTC) "
        f"into {describe_location(url)}, now at revision {head_revision()} "
        f"({time.monotonic() - started:.1f} s)",
        file=sys.stderr,
    )
    return EXIT_OK
