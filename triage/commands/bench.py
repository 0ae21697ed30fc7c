"""`triage bench` (score the matcher on a labelled set) and `triage devset build` (make the
development set that defaults are chosen on; the bench is only reported)."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from pathlib import Path

from hashes.policy import VerdictPolicy
from hashes.types import HashError
from hashes.video import QueryParams, ReferenceParams
from triage.bench.manifest import ManifestError, load_manifest
from triage.bench.report import markdown, to_json
from triage.bench.runner import Settings, run_bench
from triage.commands.exit_codes import EXIT_INPUT_FAILED, EXIT_OK, EXIT_USAGE
from triage.config import Settings as ServiceSettings
from triage.config import load_settings
from triage.devset.build import build
from triage.devset.ffmpeg import DevsetError
from triage.errors import TriageError

DEFAULT_BENCH_DIR = Path("..") / "shared" / "data" / "bench"
DEFAULT_SOURCES_DIR = Path("..") / "shared" / "data" / "sources"


def _positive_int(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {value}")
    return value


LimitsBench = Callable[[ServiceSettings, Path, Path, frozenset[str], int | None], int]
LIMITS_INPUTS = ("40mp-jpeg", "20min-4k", "2h-1080p")


def register(
    commands: argparse._SubParsersAction[argparse.ArgumentParser],
    *,
    limits_bench: LimitsBench | None = None,
) -> None:
    """`limits_bench` runs `triage bench limits` (it lives with the workers, which the
    composition root alone may import); without it there is no such subcommand."""
    bench = commands.add_parser(
        "bench",
        help="score the matcher per edit family on a labelled bench",
        description="Hash the references, match every query, and print per edit family: "
        "recall (confirmed on the right reference), queries left at review, false positives, "
        "recall at the strictest zero-FP threshold, and cost against the decode floor.",
    )
    bench.add_argument("--bench-dir", type=Path, default=DEFAULT_BENCH_DIR, metavar="DIR")
    bench.add_argument("--json", action="store_true", help="one JSON document on stdout")
    bench.add_argument("--ablate", action="store_true",
                       help="re-run the query side once per use_* mechanism switched")  # fmt: skip
    bench.add_argument("--limit", type=_positive_int, metavar="N", help="only the first N queries")
    bench.add_argument("--config", type=Path, metavar="FILE", help="settings file")
    bench.add_argument("--confirm-at", type=float, help="override match.confirm_at")
    bench.add_argument("--review-at", type=float, help="override match.review_at")
    bench.add_argument("--no-progress", action="store_true", help="no progress bar on stderr")
    bench.set_defaults(handler=bench_command)
    if limits_bench is not None:
        _register_limits(bench, limits_bench)

    devset = commands.add_parser("devset", help="the development set")
    actions = devset.add_subparsers(dest="devset_command", required=True, metavar="ACTION")
    builder = actions.add_parser(
        "build",
        help="build the seeded development set",
        description="Cut references from the source clips and make synthetic footage, then "
        "write seeded edits per family, unrelated clips and hard negatives, with a manifest "
        "that `triage bench --bench-dir DIR` reads.",
    )
    builder.add_argument("-o", "--output", type=Path, required=True, metavar="DIR")
    builder.add_argument("--seed", type=int, default=0)
    builder.add_argument("--sources", type=Path, default=DEFAULT_SOURCES_DIR, metavar="DIR")
    builder.add_argument("--per-family", type=_positive_int, default=3, metavar="N")
    builder.add_argument("--jobs", type=_positive_int, metavar="N", help="encodes side by side")
    builder.add_argument("--no-progress", action="store_true", help="no progress bar on stderr")
    builder.set_defaults(handler=devset_build_command)


def _register_limits(bench: argparse.ArgumentParser, limits_bench: LimitsBench) -> None:
    kinds = bench.add_subparsers(dest="bench_kind", required=False, metavar="KIND")
    limits = kinds.add_parser(
        "limits",
        help="real media of the largest ordinary sizes under the hashing limits",
        description="Make (with ffmpeg, from a shared clip) a 2-hour 1080p video, a "
        "40-megapixel JPEG and a 20-minute 4K video, run each through the pipeline under the "
        "configured hashing limits, and print per input: time, the hashing child's peak "
        "memory and the verdict. Exit 1 unless all are confirmed.",
    )
    limits.add_argument("--config", type=Path, metavar="FILE", help="settings file")
    limits.add_argument("--sources", type=Path, default=DEFAULT_SOURCES_DIR, metavar="DIR")
    limits.add_argument("--work-dir", type=Path, default=Path("data") / "bench-limits",
                        metavar="DIR", help="where the inputs are made and kept")  # fmt: skip
    limits.add_argument("--only", action="append", choices=LIMITS_INPUTS, default=[],
                        help="run only this input (repeatable)")  # fmt: skip
    limits.add_argument("--excerpt-seconds", type=_positive_int, metavar="N",
                        help="hash only the first N s of each video (a slow machine)")  # fmt: skip

    def limits_command(args: argparse.Namespace) -> int:
        settings = load_settings(args.config)
        only = frozenset(args.only)
        return limits_bench(settings, args.sources, args.work_dir, only, args.excerpt_seconds)

    limits.set_defaults(handler=limits_command)


def _settings(args: argparse.Namespace) -> Settings:
    """Thresholds and query sampling from the config; flags override the thresholds."""
    config = load_settings(args.config).match
    confirm_at = config.confirm_at if args.confirm_at is None else args.confirm_at
    review_at = config.review_at if args.review_at is None else args.review_at
    return Settings(
        policy=VerdictPolicy(confirm_at=confirm_at, review_at=review_at),
        reference_params=ReferenceParams(derived_every=config.reference_derived_every),
        query_params=QueryParams(fps=config.query_fps),
    )


def bench_command(args: argparse.Namespace) -> int:
    try:
        settings = _settings(args)
        manifest = load_manifest(args.bench_dir).limited(args.limit)
    except (TriageError, HashError, ManifestError) as exc:
        print(f"triage bench: {exc}", file=sys.stderr)
        return EXIT_USAGE
    result = run_bench(manifest, settings, ablate=args.ablate, progress=not args.no_progress)
    for failure in result.failures:
        # Errors from `hashes` already name their file.
        where = "" if str(failure.path) in failure.problem else f"{failure.path}: "
        print(f"triage bench: {where}{failure.problem}", file=sys.stderr)
    sys.stdout.write(to_json(result) + "\n" if args.json else markdown(result))
    return EXIT_INPUT_FAILED if result.failures else EXIT_OK


def devset_build_command(args: argparse.Namespace) -> int:
    try:
        report = build(args.output, args.sources, seed=args.seed, per_family=args.per_family,
                       jobs=args.jobs, progress=not args.no_progress)  # fmt: skip
    except DevsetError as exc:
        print(f"triage devset build: {exc}", file=sys.stderr)
        return EXIT_INPUT_FAILED
    except OSError as exc:
        print(f"triage devset build: {exc}", file=sys.stderr)
        return EXIT_USAGE
    print(f"{report.references} references, {report.queries} queries in {report.out_dir} "
          f"({report.seconds:.0f} s)")  # fmt: skip
    for family, count in report.families.items():
        print(f"  {family}: {count}")
    return EXIT_OK
