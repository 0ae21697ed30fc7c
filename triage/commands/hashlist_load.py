"""`triage hashlist load`: the bulk path into the service's store, for lists too large to
upload (the API takes a hash file of at most its upload limit).

Files are read one at a time and stored in batches, one transaction each, with the checks
the API's import makes (the design of derived views, one reference per id); each reference
is audited and queued for retro-matching as an imported one is. A bad file or an id already
stored stops the load with the references before it stored and says so: run it again with
`--skip-existing` to go on from there.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from hashes.formats.jsonl import HashListEntry, iter_list
from hashes.formats.vpdq import read_vpdq
from hashes.types import HashError
from triage.actors import CLI_ACTOR
from triage.commands.exit_codes import EXIT_OK
from triage.commands.store import add_config, load_target, with_store
from triage.errors import Conflict, InvalidInput
from triage.models import ReferenceImport
from triage.reference_imports import check_design, import_record
from triage.retro_scheduling import schedule_retro_match
from triage.store.protocol import Store

FORMATS = ("vpdq", "jsonl")
_SUFFIXES = {"vpdq": ".txt", "jsonl": ".jsonl"}

DESCRIPTION = """\
Add the references of hash files to the service's store (the one --config names), as the API
imports a hash file but without its upload limit: for lists of thousands of videos. A vPDQ
file is one reference, named by its file stem; a JSONL file holds any number. References are
stored in batches (--batch, one transaction each), audited and queued for retro-matching; the
service's processes index them within `index.sync_seconds`. A reference whose derived views
were made with other settings is refused, as the API refuses it. An id already in the store
stops the load (the references before it stay stored): --skip-existing passes over them,
which also resumes a load that stopped."""

EXAMPLES = """\
examples:
  triage hashlist load shared-vpdq/ --format vpdq --config /etc/triage/config.yaml
  triage hashlist load partner.jsonl --format jsonl --skip-existing"""


def register(actions: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    loader = actions.add_parser(
        "load",
        help="add the references of hash files to the service's store (bulk)",
        description=DESCRIPTION,
        epilog=EXAMPLES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    loader.add_argument(
        "files", metavar="FILE", type=Path, nargs="+",
        help="hash files, or folders: every .txt (vpdq) or .jsonl file in one, by name",
    )  # fmt: skip
    loader.add_argument("--format", required=True, choices=FORMATS, help="the files' format")
    loader.add_argument(
        "--skip-existing",
        action="store_true",
        help="pass over references whose id the store already holds (resumes a load)",
    )
    loader.add_argument(
        "--batch", type=_positive, default=500, metavar="N", help="references a transaction"
    )
    add_config(loader, create=True)
    loader.set_defaults(handler=load_command)


def _positive(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {value}")
    return value


@dataclass
class LoadSummary:
    stored: int = 0
    skipped: int = 0
    files: int = 0
    rows: int = 0
    started: float = field(default_factory=time.monotonic)

    def line(self) -> str:
        seconds = time.monotonic() - self.started
        return (
            f"{self.stored} references stored ({self.rows} full-frame rows), "
            f"{self.skipped} skipped as already stored, from {self.files} files in {seconds:.1f} s"
        )


def load_command(args: argparse.Namespace) -> int:
    target = load_target(args.config)
    design = target.settings.match.reference_params().design
    summary = LoadSummary()

    async def work(store: Store) -> int:
        await load(store, args.files, args.format, design, summary,
                   batch=args.batch, skip_existing=args.skip_existing)  # fmt: skip
        return EXIT_OK

    try:
        return asyncio.run(with_store(target, work, create=args.create))
    finally:
        print(f"triage hashlist load: {summary.line()}", file=sys.stderr)


async def load(
    store: Store,
    files: list[Path],
    fmt: str,
    design: str,
    summary: LoadSummary,
    *,
    batch: int,
    skip_existing: bool,
) -> None:
    """Store the references of `files`, `batch` a transaction; `summary` counts as it goes
    (what was stored before a failure stays stored, and is counted)."""
    stored = {reference.id for reference in await store.list_references()}
    seen: set[str] = set()
    pending: list[ReferenceImport] = []
    for path in _expanded(files, fmt):
        for entry in _entries(path, fmt):
            where = f"{path}: reference {entry.reference_id!r}"
            if entry.reference_id in seen:
                raise InvalidInput(f"{where} is given twice in this load")
            seen.add(entry.reference_id)
            if entry.reference_id in stored:
                if skip_existing:
                    summary.skipped += 1
                    continue
                raise Conflict(
                    f"{where} is already in the store; nothing after it was stored "
                    "(--skip-existing passes over stored references)"
                )
            try:
                check_design(entry, design)
            except InvalidInput as exc:
                raise InvalidInput(f"{path}: {exc}") from None
            pending.append(import_record(entry, fmt))
            summary.rows += len(entry.hashes.full_frame())
            if len(pending) >= batch:
                await _store(store, pending, fmt, summary)
        summary.files += 1
    await _store(store, pending, fmt, summary)


def _expanded(files: list[Path], fmt: str) -> Iterator[Path]:
    """`files`, a folder standing for its files of the format (a list of thousands of videos
    is more files than a command line holds)."""
    for path in files:
        if not path.is_dir():
            yield path
            continue
        found = sorted(path.glob(f"*{_SUFFIXES[fmt]}"))
        if not found:
            # A folder of another format, or the wrong folder: nothing loaded must say so.
            raise InvalidInput(f"{path}: holds no {_SUFFIXES[fmt]} files (--format {fmt})")
        yield from found


def _entries(path: Path, fmt: str) -> Iterator[HashListEntry]:
    """The references of one file, read as they are needed (a JSONL list line by line)."""
    try:
        if fmt == "vpdq":
            hashes = read_vpdq(path)
            yield HashListEntry(path.stem, hashes, label=path.stem, source=path.name)
            return
        yield from iter_list(path)
    except (HashError, OSError) as exc:
        problem = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
        if not problem.startswith(str(path)):
            problem = f"{path}: {problem}"
        raise InvalidInput(problem) from None


async def _store(
    store: Store, pending: list[ReferenceImport], fmt: str, summary: LoadSummary
) -> None:
    if not pending:
        return
    added = await store.import_references(pending, added_by=CLI_ACTOR)
    for reference in added:
        await store.append_audit(
            actor=CLI_ACTOR,
            action="reference.add",
            target=reference.id,
            details={"label": reference.label, "status": reference.status.value,
                     "source": f"{fmt} bulk load"},
        )  # fmt: skip
        await schedule_retro_match(store, reference.id)
    summary.stored += len(added)
    pending.clear()
    print(f"triage hashlist load: {summary.stored} references stored", file=sys.stderr)
