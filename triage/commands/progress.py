"""Progress bars for long commands: on stderr, shown on a terminal or when asked.

`--progress` forces the bar (a log file watched with `tail -f`), `--no-progress` hides it;
by default it shows only when stderr is a terminal, so scripts and CI logs stay clean.
"""

from __future__ import annotations

import argparse
import sys

from tqdm import tqdm


def add_progress(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--progress",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="a progress bar on stderr (default: only when stderr is a terminal)",
    )


def show_progress(args: argparse.Namespace) -> bool:
    chosen: bool | None = args.progress
    return sys.stderr.isatty() if chosen is None else chosen


def progress_bar(total: int | None, description: str, unit: str, *, show: bool) -> tqdm:  # type: ignore[type-arg]
    """A bar on stderr that leaves no line behind once done; a no-op unless `show`."""
    return tqdm(
        total=total, desc=description, unit=unit, file=sys.stderr, disable=not show, leave=False
    )
