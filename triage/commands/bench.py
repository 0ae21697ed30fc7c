"""`triage bench` (score the matcher on a labelled set) and `triage devset build` (make the
development set that defaults are chosen on; the bench is only reported).

`triage.bench` and `triage.devset` are imported inside the command functions only, so the
processes of `triage serve` and `triage worker` never load them (tests/test_layering.py).
"""

from __future__ import annotations

import argparse
import functools
import json
import sys
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from hashes.types import HashError
from triage.commands.exit_codes import EXIT_INPUT_FAILED, EXIT_OK, EXIT_USAGE
from triage.commands.progress import add_progress, show_progress
from triage.config import Settings as ServiceSettings
from triage.config import load_settings
from triage.errors import TriageError
from triage.index_kinds import new_index
from triage.verdicts import VerdictPolicy, VerdictStep

if TYPE_CHECKING:
    _Kinds = argparse._SubParsersAction[argparse.ArgumentParser]
    from triage.bench.runner import Settings
    from triage.bench.scale import IndexFactory, LiveListFactory

DEFAULT_BENCH_DIR = Path("..") / "shared" / "data" / "bench"
DEFAULT_SOURCES_DIR = Path("..") / "shared" / "data" / "sources"


BENCH_EXAMPLES = """\
examples:
  triage bench --bench-dir ../shared/data/bench --config config.yaml
  triage bench --limit 20 --confirm-at 1.2 --json > bench.json
  triage bench --ablate --progress 2> bench.log"""

DEVSET_EXAMPLES = """\
examples:
  triage devset build -o /tmp/devset --seed 3 --per-family 2
  triage bench --bench-dir /tmp/devset"""


def _positive_int(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {value}")
    return value


def _hours(text: str) -> list[float]:
    try:
        hours = [float(part) for part in text.split(",") if part.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"hours are numbers separated by commas: {text!r}"
        ) from None
    if not hours or min(hours) <= 0:
        raise argparse.ArgumentTypeError(f"hours must be positive, got {text!r}")
    return hours


INDEX_NAMES = ("exact", "multihash", "tiered")


def _index_names(text: str) -> list[str]:
    names = [part.strip() for part in text.split(",") if part.strip()]
    unknown = sorted(set(names) - set(INDEX_NAMES))
    if not names or unknown:
        raise argparse.ArgumentTypeError(f"indexes are {', '.join(INDEX_NAMES)}, got {text!r}")
    return names


LimitsBench = Callable[[ServiceSettings, Path, Path, frozenset[str], int | None], int]
LIMITS_INPUTS = ("40mp-jpeg", "20min-4k", "2h-1080p")


def register(
    commands: argparse._SubParsersAction[argparse.ArgumentParser],
    *,
    live_list: LiveListFactory | None = None,
    limits_bench: LimitsBench | None = None,
) -> None:
    """The bench commands. The composition root passes what lives with the workers:
    `live_list` (the worker's wiring of a live index) for `bench scale`, `limits_bench` for
    `bench limits`; without them those subcommands do not exist."""
    bench = commands.add_parser(
        "bench",
        help="score the matcher per edit family on a labelled bench",
        description="Hash the references, match every query, and print per edit family: "
        "recall (confirmed on the right reference), queries left at review, false positives, "
        "recall at the strictest zero-FP threshold, and cost against the decode floor.",
        epilog=BENCH_EXAMPLES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    bench.add_argument("--bench-dir", type=Path, default=DEFAULT_BENCH_DIR, metavar="DIR")
    bench.add_argument("--json", action="store_true", help="one JSON document on stdout")
    bench.add_argument("--ablate", action="store_true",
                       help="re-run the query side once per use_* mechanism switched")  # fmt: skip
    bench.add_argument("--limit", type=_positive_int, metavar="N", help="only the first N queries")
    bench.add_argument("--config", type=Path, metavar="FILE", help="settings file")
    bench.add_argument("--confirm-at", type=float, help="override match.confirm_at")
    bench.add_argument("--review-at", type=float, help="override match.review_at")
    add_progress(bench)
    bench.add_argument(
        "--through-service",
        action="store_true",
        help="also run every query through a real `triage serve` (references uploaded as "
        "videos, then imported as the JSONL `triage hash` makes), with the --config settings "
        "(default: the shipped config.yaml; not TRIAGE_* variables), and compare query by query",
    )
    bench.add_argument(
        "--record",
        type=Path,
        metavar="FILE.md",
        help="append the tables to FILE.md under a heading naming commit, date and machine",
    )
    bench.set_defaults(handler=bench_command)
    if live_list is not None or limits_bench is not None:
        kinds = bench.add_subparsers(dest="bench_kind", required=False, metavar="KIND")
        if live_list is not None:
            _register_scale(kinds, live_list)
        if limits_bench is not None:
            _register_limits(kinds, limits_bench)

    devset = commands.add_parser("devset", help="the development set")
    actions = devset.add_subparsers(dest="devset_command", required=True, metavar="ACTION")
    builder = actions.add_parser(
        "build",
        help="build the seeded development set",
        description="Cut references from the source clips and make synthetic footage, then "
        "write seeded edits per family, unrelated clips and hard negatives, with a manifest "
        "that `triage bench --bench-dir DIR` reads.",
        epilog=DEVSET_EXAMPLES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    builder.add_argument("-o", "--output", type=Path, required=True, metavar="DIR")
    builder.add_argument("--seed", type=int, default=0)
    builder.add_argument("--sources", type=Path, default=DEFAULT_SOURCES_DIR, metavar="DIR")
    builder.add_argument("--per-family", type=_positive_int, default=3, metavar="N")
    builder.add_argument("--jobs", type=_positive_int, metavar="N", help="encodes side by side")
    # No setting changes the build; --config is taken (and checked) as by every command.
    builder.add_argument("--config", type=Path, metavar="FILE", help="settings file (checked)")
    add_progress(builder)
    builder.set_defaults(handler=devset_build_command)


SCALE_EXAMPLES = """\
examples:
  triage bench scale --hours 1                       one hour of fillers, the exact index
  triage bench scale --hours 0.25,1 --index exact,multihash --json"""


def _register_scale(kinds: _Kinds, live_list: LiveListFactory) -> None:
    scale = kinds.add_parser(
        "scale",
        help="the bench's references planted among hours of filler references",
        description="Per list size: generate seeded fillers (walks with cuts, shared title "
        "cards and flat frames, masked copies, near sequences), load the list from a store "
        "as a worker does, match every bench query, and print rows, memory, load time, "
        "matching CPU, cost against the decode floor and the bench's quality.",
        epilog=SCALE_EXAMPLES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    scale.add_argument("--hours", type=_hours, default=[1.0], metavar="H[,H...]",
                       help="list sizes in hours of filler video (default: 1)")  # fmt: skip
    scale.add_argument("--bench-dir", type=Path, default=DEFAULT_BENCH_DIR, metavar="DIR")
    scale.add_argument("--json", action="store_true", help="one JSON document on stdout")
    scale.add_argument("--limit", type=_positive_int, metavar="N", help="only the first N queries")
    scale.add_argument("--index", type=_index_names, default=["exact"], metavar="NAME[,NAME...]",
                       help="indexes to load each list into: exact, multihash, tiered "
                       "(default: exact)")  # fmt: skip
    scale.add_argument("--flips", type=int, default=1, choices=range(4),
                       help="multihash: bits flipped a chunk in probes (default: 1)")  # fmt: skip
    scale.add_argument("--seed", type=int, default=0, help="filler seed")
    scale.add_argument("--hash-only", action="store_true",
                       help="references as vPDQ hashes of full frames, without their videos "
                       "(as industry lists arrive), and fillers of that shape")  # fmt: skip
    scale.add_argument("--config", type=Path, metavar="FILE", help="settings file")
    add_progress(scale)
    scale.set_defaults(handler=functools.partial(scale_command, live_list=live_list),
                       confirm_at=None, review_at=None)  # fmt: skip


LIMITS_EXAMPLES = """\
examples:
  triage bench limits                                all three inputs (hours on a slow machine)
  triage bench limits --only 40mp-jpeg --only 20min-4k
  triage bench limits --excerpt-seconds 180          the first 3 minutes of each video"""


def _register_limits(kinds: _Kinds, limits_bench: LimitsBench) -> None:
    limits = kinds.add_parser(
        "limits",
        help="real media of the largest ordinary sizes under the hashing limits",
        description="Make (with ffmpeg, from a shared clip) a 2-hour 1080p video, a "
        "40-megapixel JPEG and a 20-minute 4K video, run each through the pipeline under the "
        "configured hashing limits, and print per input: time, the hashing child's peak "
        "memory and the verdict. Exit 1 unless all are confirmed.",
        epilog=LIMITS_EXAMPLES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
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
    from triage.bench.runner import Settings

    loaded = load_settings(args.config)
    config = loaded.match
    confirm_at = config.confirm_at if args.confirm_at is None else args.confirm_at
    review_at = config.review_at if args.review_at is None else args.review_at
    return Settings(
        verdicts=VerdictStep(VerdictPolicy(confirm_at=confirm_at, review_at=review_at)),
        reference_params=config.reference_params(),
        query_params=config.query_params(),
        match_params=config.match_params(),
        make_index=functools.partial(new_index, loaded.index),
    )


def bench_command(args: argparse.Namespace) -> int:
    from triage.bench.manifest import ManifestError, load_manifest
    from triage.bench.provenance import heading
    from triage.bench.report import markdown, to_json
    from triage.bench.runner import run_bench
    from triage.bench.service_comparison import compare_with_service

    try:
        settings = _settings(args)
        manifest = load_manifest(args.bench_dir).limited(args.limit)
    except (TriageError, HashError, ManifestError) as exc:
        print(f"triage bench: {exc}", file=sys.stderr)
        return EXIT_USAGE
    # Named before the run: the code measured is the code checked out when it started.
    title = f"`triage bench` on {manifest.root.name}" + (
        " (offline and through the service)" if args.through_service else ""
    )
    provenance = heading(title)
    result = run_bench(manifest, settings, ablate=args.ablate, progress=show_progress(args))
    for failure in result.failures:
        # Errors from `hashes` already name their file.
        where = "" if str(failure.path) in failure.problem else f"{failure.path}: "
        print(f"triage bench: {where}{failure.problem}", file=sys.stderr)
    text = markdown(result)
    comparison = None
    if args.through_service:
        comparison = compare_with_service(
            manifest, result, progress=show_progress(args), settings_file=args.config
        )
        text += "\n" + comparison.markdown
    disagreeing = comparison.disagreeing if comparison is not None else 0
    if args.json:
        document = json.loads(to_json(result))
        if comparison is not None:
            document["through_service"] = comparison.as_json()
        sys.stdout.write(json.dumps(document, indent=2) + "\n")
    else:
        sys.stdout.write(text)
    if args.record is not None:
        with args.record.open("a") as record:
            record.write("\n" + provenance + "\n" + text)
    if disagreeing:
        print(f"triage bench: {disagreeing} disagreement(s) with the service", file=sys.stderr)
    return EXIT_INPUT_FAILED if result.failures or disagreeing else EXIT_OK


def scale_command(args: argparse.Namespace, *, live_list: LiveListFactory) -> int:
    # Imported here: `triage serve` and `triage worker` never load the bench tools.
    from triage.bench import scale_report
    from triage.bench.manifest import ManifestError, load_manifest
    from triage.bench.scale import run_scale

    try:
        settings = _settings(args)
        manifest = load_manifest(args.bench_dir).limited(args.limit)
    except (TriageError, HashError, ManifestError) as exc:
        print(f"triage bench scale: {exc}", file=sys.stderr)
        return EXIT_USAGE
    try:
        results = run_scale(
            manifest, settings, args.hours, live_list, indexes=_index_factories(args),
            seed=args.seed, hash_only=args.hash_only, progress=show_progress(args),
        )  # fmt: skip
    except (HashError, OSError) as exc:
        print(f"triage bench scale: {exc}", file=sys.stderr)
        return EXIT_INPUT_FAILED
    sys.stdout.write(
        scale_report.to_json(results) + "\n" if args.json else scale_report.markdown(results)
    )
    return EXIT_OK


def _index_factories(args: argparse.Namespace) -> dict[str, IndexFactory]:
    """Each named kind made as the service makes it (`new_index`), from the settings file's
    `index` section with that kind and `--flips`."""
    index = load_settings(args.config).index
    return {
        name: functools.partial(
            new_index, index.model_copy(update={"kind": name, "multihash_flips": args.flips})
        )
        for name in args.index
    }


def devset_build_command(args: argparse.Namespace) -> int:
    from triage.devset.build import build
    from triage.devset.ffmpeg import DevsetError

    try:
        load_settings(args.config)
    except TriageError as exc:
        print(f"triage devset build: {exc}", file=sys.stderr)
        return EXIT_USAGE
    try:
        report = build(args.output, args.sources, seed=args.seed, per_family=args.per_family,
                       jobs=args.jobs, progress=show_progress(args))  # fmt: skip
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
