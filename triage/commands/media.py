"""`triage hash` and `triage match`: the same functions the service calls, on local files."""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from tqdm import tqdm

from hashes.cascade import match_query
from hashes.formats.jsonl import HashListEntry, read_list, write_list
from hashes.index import ExactIndex
from hashes.matcher import Matcher, MatchParams
from hashes.types import HashError, VideoMatch
from hashes.video.reference import hash_reference
from triage.commands.exit_codes import EXIT_INPUT_FAILED, EXIT_OK, EXIT_USAGE, input_failed
from triage.commands.progress import add_progress, progress_bar, show_progress
from triage.config import load_settings
from triage.errors import TriageError
from triage.models import Verdict
from triage.verdicts import VerdictStep

HASH_EXAMPLES = """\
examples:
  triage hash attack.mp4 --id case-1234 -o references.jsonl
  triage hash clips/*.mp4 -o references.jsonl --config /etc/triage/config.yaml --progress
  triage hash clip.mp4 --fps 25 -o clip.jsonl     denser than the service (its own design)"""

MATCH_EXAMPLES = """\
examples:
  triage match suspect.mp4 --list references.jsonl
  triage match downloads/*.mp4 --list references.jsonl --json --config config.yaml"""


def register(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    hash_parser = commands.add_parser(
        "hash",
        help="hash videos or images into a hash list (JSONL)",
        description="Hash videos or images into a hash list, as the service hashes references: "
        "frames sampled at match.reference_fps, plus the internal views the matcher uses (kept "
        "in the optional derived_frames field with the design that made them; exports leave "
        "them out). A list made with another --fps has another design, which a service with "
        "other settings refuses to import.",
        epilog=HASH_EXAMPLES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    hash_parser.add_argument("files", nargs="+", type=Path, metavar="FILE")
    hash_parser.add_argument("-o", "--output", type=Path, required=True, metavar="LIST.jsonl")
    hash_parser.add_argument("--id", dest="reference_id", help="reference id (one file only)")
    hash_parser.add_argument(
        "--fps", type=float, help="frames per second sampled (default: match.reference_fps)"
    )
    hash_parser.add_argument(
        "--config", type=Path, metavar="FILE", help="settings file (how references are hashed)"
    )
    add_progress(hash_parser)
    hash_parser.set_defaults(handler=hash_command)

    match_parser = commands.add_parser(
        "match",
        help="match query videos against a hash list",
        description="Match query videos or images against a hash list and print verdicts.",
        epilog=MATCH_EXAMPLES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    match_parser.add_argument("queries", nargs="+", type=Path, metavar="QUERY")
    match_parser.add_argument("--list", dest="list_path", type=Path, required=True)
    match_parser.add_argument("--json", action="store_true", help="one JSON line per query")
    match_parser.add_argument(
        "--config", type=Path, metavar="FILE", help="settings file (thresholds, query_fps)"
    )
    add_progress(match_parser)
    match_parser.set_defaults(handler=match_command)


def hash_command(args: argparse.Namespace) -> int:
    files: list[Path] = args.files
    if args.reference_id is not None and len(files) != 1:
        print("triage hash: --id needs exactly one FILE", file=sys.stderr)
        return EXIT_USAGE
    if args.fps is not None and args.fps <= 0:
        print("triage hash: --fps must be positive", file=sys.stderr)
        return EXIT_USAGE
    try:
        params = load_settings(args.config).match.reference_params()
        if args.fps is not None:
            params = dataclasses.replace(params, fps=args.fps)
    except TriageError as exc:
        print(f"triage hash: {exc}", file=sys.stderr)
        return EXIT_USAGE
    entries: list[HashListEntry] = []
    failed = False
    with progress_bar(len(files), "hash", "file", show=show_progress(args)) as bar:
        for path in files:
            bar.set_postfix_str(path.name, refresh=True)
            try:
                hashes = hash_reference(path, params)
            except HashError as exc:
                input_failed("triage", path, exc)
                failed = True
                continue
            finally:
                bar.update()
            reference_id = args.reference_id or path.stem
            entries.append(HashListEntry(reference_id, hashes, source=path.name))
            bar.write(f"{path}: {hashes.frame_count} frames hashed", file=sys.stderr)
    if entries:
        try:
            write_list(args.output, entries, derived=True)
        except (HashError, OSError) as exc:
            return input_failed("triage", args.output, exc)
    return EXIT_INPUT_FAILED if failed else EXIT_OK


def match_to_json(match: VideoMatch) -> dict[str, Any]:
    return {
        "reference_id": match.reference_id,
        "score": match.score,
        "query_coverage": match.query_coverage,
        "reference_coverage": match.reference_coverage,
        "matched_seconds": match.matched_seconds,
        "speed": match.speed,
        "views": list(match.views),
        "segments": [
            {
                "query_start": s.query_start,
                "query_end": s.query_end,
                "reference_start": s.reference_start,
                "reference_end": s.reference_end,
                "score": s.score,
                "matched_frames": s.matched_frames,
                "mean_distance": s.mean_distance,
            }
            for s in match.segments
        ],
    }


def build_matcher(entries: Iterable[HashListEntry], params: MatchParams) -> Matcher:
    index = ExactIndex()
    for entry in entries:
        index.add(entry.reference_id, entry.hashes)
    return Matcher(index, params)


def match_command(args: argparse.Namespace) -> int:
    try:
        settings = load_settings(args.config)
    except TriageError as exc:
        print(f"triage match: {exc}", file=sys.stderr)
        return EXIT_USAGE
    verdicts = VerdictStep.from_settings(settings)
    try:
        entries = read_list(args.list_path)
    except (HashError, OSError) as exc:
        return input_failed("triage", args.list_path, exc)
    matcher = build_matcher(entries, settings.match.match_params())
    query_params = settings.match.query_params()
    failed = False
    if not args.json:
        print(f"{'query':40} {'verdict':10} {'reference':24} {'score':>7} {'seconds':>8}  segments")
    with progress_bar(len(args.queries), "match", "file", show=show_progress(args)) as bar:
        for path in args.queries:
            try:
                matches = match_query(path, matcher, query_params).matches
            except HashError as exc:
                input_failed("triage", path, exc)
                failed = True
                continue
            finally:
                bar.update()
            verdict = verdicts.decide(matches).verdict
            if args.json:
                line = {
                    "query": str(path),
                    "verdict": verdict.value,
                    "matches": [match_to_json(m) for m in matches],
                }
                _emit(bar, json.dumps(line))
            else:
                _print_row(bar, str(path), verdict, matches)
    return EXIT_INPUT_FAILED if failed else EXIT_OK


def _print_row(bar: tqdm, query: str, verdict: Verdict, matches: list[VideoMatch]) -> None:  # type: ignore[type-arg]
    if not matches:
        _emit(bar, f"{query:40} {verdict.value:10} {'-':24} {'-':>7} {'-':>8}")
        return
    best = matches[0]
    segments = ", ".join(
        f"q {s.query_start:.1f}-{s.query_end:.1f}s = r {s.reference_start:.1f}-"
        f"{s.reference_end:.1f}s"
        for s in best.segments[:3]
    )
    _emit(
        bar,
        f"{query:40} {verdict.value:10} {best.reference_id:24} {best.score:7.2f} "
        f"{best.matched_seconds:8.1f}  {segments}",
    )


def _emit(bar: tqdm, line: str) -> None:  # type: ignore[type-arg]
    """One result line on stdout, at once (results stream), around the bar on stderr."""
    bar.write(line, file=sys.stdout)
    sys.stdout.flush()
