"""`triage hashlist import|export|list`: move hash lists between vPDQ text files and our
JSONL, and show what a list holds."""

from __future__ import annotations

import argparse
import dataclasses
import io
import sys
from pathlib import Path

from hashes.formats.atomic import write_text_atomically
from hashes.formats.jsonl import HashListEntry, read_list, write_list
from hashes.formats.vpdq import read_vpdq, write_vpdq
from hashes.types import HashError
from triage.commands import hashlist_load
from triage.commands.exit_codes import EXIT_OK, EXIT_USAGE, input_failed
from triage.commands.records import RecordWriter, add_json
from triage.config import load_settings
from triage.errors import TriageError

FORMATS = ("vpdq", "jsonl")

IMPORT_DESCRIPTION = """\
Read FILE (a vPDQ .txt file, or a JSONL hash list that is validated and rewritten) and write
its references to LIST.jsonl. If LIST.jsonl already exists, the two are merged: an entry with
the same reference id is replaced by the imported one, every other entry is kept. The list is
replaced in one step, so a reader never sees half of it."""

EXPORT_DESCRIPTION = """\
Write the references of LIST.jsonl as vPDQ text or JSONL (full-frame hashes only). For vPDQ,
OUT is a directory holding one <id>.txt per reference (created if needed; files of the same
name are overwritten); a list of one reference may also be exported to a single file OUT."""


LIST_FIELDS = ("reference_id", "label", "source", "frame_count", "duration_seconds",
               "hash_rows")  # fmt: skip

EXAMPLES = """\
examples:
  triage hashlist import meta-shared/attack-1.txt --format vpdq -o references.jsonl
  triage hashlist import partner.jsonl --format jsonl -o references.jsonl
  triage hashlist export references.jsonl --format vpdq -o shared-vpdq/
  triage hashlist list references.jsonl --json
  triage hashlist load shared-vpdq/ --format vpdq --config /etc/triage/config.yaml"""


def _add_config(parser: argparse.ArgumentParser) -> None:
    # Hash lists are files: no setting changes these actions, but every command takes
    # --config, and a broken settings file is reported wherever it is given.
    parser.add_argument("--config", type=Path, metavar="FILE", help="settings file (checked)")


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add `hashlist import`, `export`, `list` and `load` to the `triage` command line."""
    parser = subparsers.add_parser(
        "hashlist",
        help="import, export or list hash lists (vPDQ text, JSONL)",
        description="Import hash files into a JSONL hash list, export a list to share it, "
        "list what a list holds, or load hash files into the service's store.",
        epilog=EXAMPLES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    actions = parser.add_subparsers(dest="hashlist_action", required=True, metavar="ACTION")

    importer = actions.add_parser(
        "import",
        help="add the references of a vPDQ or JSONL file to a hash list",
        description=IMPORT_DESCRIPTION,
        epilog=EXAMPLES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    importer.add_argument("file", metavar="FILE", type=Path, help="the file to import")
    importer.add_argument("--format", required=True, choices=FORMATS, help="the format of FILE")
    importer.add_argument(
        "--id",
        dest="reference_id",
        metavar="ID",
        type=_reference_id,
        help="reference id (vpdq: defaults to the file stem; jsonl: only for a single record)",
    )
    importer.add_argument(
        "--label",
        metavar="LABEL",
        help="a readable label for the reference (jsonl: only for a single record)",
    )
    importer.add_argument(
        "-o",
        "--output",
        required=True,
        type=Path,
        metavar="LIST.jsonl",
        help="the hash list to write; merged with it when it exists",
    )
    _add_config(importer)
    importer.set_defaults(handler=import_command)

    exporter = actions.add_parser(
        "export",
        help="write a hash list as vPDQ text files or JSONL",
        description=EXPORT_DESCRIPTION,
        epilog=EXAMPLES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    exporter.add_argument("list_path", metavar="LIST.jsonl", type=Path, help="the hash list")
    exporter.add_argument("--format", required=True, choices=FORMATS, help="the format to write")
    exporter.add_argument(
        "-o",
        "--output",
        required=True,
        type=Path,
        metavar="OUT",
        help="vpdq: a directory (or a file, for a list of one reference); jsonl: a file",
    )
    _add_config(exporter)
    exporter.set_defaults(handler=export_command)

    lister = actions.add_parser(
        "list",
        help="list the references of a hash list",
        description="One record per reference of LIST.jsonl: " + ", ".join(LIST_FIELDS),
        epilog=EXAMPLES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    lister.add_argument("list_path", metavar="LIST.jsonl", type=Path, help="the hash list")
    add_json(lister)
    _add_config(lister)
    lister.set_defaults(handler=list_command)

    hashlist_load.register(actions)


def list_command(args: argparse.Namespace) -> int:
    """`triage hashlist list`: one record per reference of LIST.jsonl."""
    if (failed := _settings_failed("list", args.config)) is not None:
        return failed
    try:
        entries = read_list(args.list_path)
    except (HashError, OSError) as exc:
        return _input_failed(args.list_path, exc)
    with RecordWriter(LIST_FIELDS, as_json=args.json) as out:
        for entry in entries:
            out.write(
                {
                    "reference_id": entry.reference_id,
                    "label": entry.label,
                    "source": entry.source,
                    "frame_count": entry.hashes.frame_count,
                    "duration_seconds": round(entry.hashes.duration_seconds, 3),
                    "hash_rows": len(entry.hashes),
                }
            )
    return EXIT_OK


def _settings_failed(action: str, config: Path | None) -> int | None:
    try:
        load_settings(config)
    except TriageError as exc:
        return _usage_error(action, str(exc))
    return None


def import_command(args: argparse.Namespace) -> int:
    """`triage hashlist import`: read FILE, merge its references into LIST.jsonl."""
    if (failed := _settings_failed("import", args.config)) is not None:
        return failed
    source: Path = args.file
    output: Path = args.output
    try:
        imported = _read_import(source, args.format)
    except (HashError, OSError) as exc:
        return _input_failed(source, exc)
    if args.format == "jsonl" and len(imported) != 1:
        for option in ("reference_id", "label"):
            if getattr(args, option) is not None:
                flag = "--id" if option == "reference_id" else "--label"
                return _usage_error(
                    "import", f"{flag} needs a list of one record; {source} holds {len(imported)}"
                )
    if args.format == "vpdq" or args.reference_id is not None or args.label is not None:
        imported = [_renamed(entry, args.reference_id, args.label) for entry in imported]

    try:
        existing = read_list(output) if output.exists() else []
    except (HashError, OSError) as exc:
        return _input_failed(output, exc)
    merged, replaced = _merge(existing, imported)
    try:
        write_list(output, merged, derived=True)
    except (HashError, OSError) as exc:
        return _input_failed(output, exc)
    print(
        f"{output}: {len(merged)} references ({len(imported)} imported, {replaced} replaced)",
        file=sys.stderr,
    )
    return EXIT_OK


def export_command(args: argparse.Namespace) -> int:
    """`triage hashlist export`: write LIST.jsonl as vPDQ files or JSONL."""
    if (failed := _settings_failed("export", args.config)) is not None:
        return failed
    list_path: Path = args.list_path
    output: Path = args.output
    try:
        entries = read_list(list_path)
    except (HashError, OSError) as exc:
        return _input_failed(list_path, exc)
    if args.format == "jsonl":
        try:
            write_list(output, entries)
        except (HashError, OSError) as exc:
            return _input_failed(output, exc)
        print(f"{output}: {len(entries)} references", file=sys.stderr)
        return EXIT_OK

    if not entries:
        return _input_failed(list_path, ValueError("the list holds no references to export"))
    to_one_file = len(entries) == 1 and not output.is_dir()
    if not to_one_file and output.exists() and not output.is_dir():
        return _usage_error(
            "export",
            f"{output} is a file, but {list_path} holds {len(entries)} references: "
            "give a directory",
        )
    targets: list[tuple[Path, HashListEntry]] = []
    for entry in entries:
        if to_one_file:
            targets.append((output, entry))
            continue
        if not _is_safe_file_stem(entry.reference_id):
            return _input_failed(
                list_path,
                ValueError(f"reference id {entry.reference_id!r} cannot be used as a file name"),
            )
        targets.append((output / f"{entry.reference_id}.txt", entry))
    try:
        if not to_one_file:
            output.mkdir(parents=True, exist_ok=True)
        for target, entry in targets:
            text = io.StringIO()
            write_vpdq(entry.hashes, text)
            write_text_atomically(target, text.getvalue())
    except OSError as exc:
        return _input_failed(output, exc)
    print(f"{output}: {len(targets)} vPDQ files", file=sys.stderr)
    return EXIT_OK


def _read_import(source: Path, file_format: str) -> list[HashListEntry]:
    if file_format == "jsonl":
        return read_list(source)
    # The file name, not the full path: lists are shared and paths are local detail.
    return [HashListEntry(source.stem, read_vpdq(source), source=source.name)]


def _renamed(entry: HashListEntry, reference_id: str | None, label: str | None) -> HashListEntry:
    return dataclasses.replace(
        entry,
        reference_id=entry.reference_id if reference_id is None else reference_id,
        label=entry.label if label is None else label,
    )


def _merge(
    existing: list[HashListEntry], imported: list[HashListEntry]
) -> tuple[list[HashListEntry], int]:
    """Imported entries replace existing ones of the same id in place; new ones go last."""
    by_id = {entry.reference_id: entry for entry in existing}
    replaced = sum(1 for entry in imported if entry.reference_id in by_id)
    for entry in imported:
        by_id[entry.reference_id] = entry
    return list(by_id.values()), replaced


def _reference_id(text: str) -> str:
    if not text.strip() or any(ord(c) < 0x20 or c == "\x7f" for c in text):
        raise argparse.ArgumentTypeError(
            f"a reference id is non-empty text without control characters: {text!r}"
        )
    return text


def _is_safe_file_stem(reference_id: str) -> bool:
    return reference_id not in (".", "..") and not any(c in reference_id for c in "/\\\0")


def _input_failed(path: Path, exc: Exception) -> int:
    return input_failed("triage hashlist", path, exc)


def _usage_error(action: str, message: str) -> int:
    print(f"triage hashlist {action}: error: {message}", file=sys.stderr)
    return EXIT_USAGE
