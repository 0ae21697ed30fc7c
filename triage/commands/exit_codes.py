"""The exit statuses every `triage` command shares, so scripts can tell failures apart."""

import sys
from pathlib import Path

EXIT_OK = 0
EXIT_INPUT_FAILED = 1
"""The command ran, but an input (a file, a URL, a record) could not be used."""
EXIT_USAGE = 2
"""The command could not run as asked: arguments, configuration or setup (as argparse)."""


def input_failed(command: str, path: Path, exc: BaseException) -> int:
    """Say on one stderr line which input failed and why (naming the file once), and return
    `EXIT_INPUT_FAILED`."""
    problem = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
    problem = " ".join(problem.split("\n"))
    if not problem.startswith(f"{path}:"):
        problem = f"{path}: {problem}"
    print(f"{command}: {problem}", file=sys.stderr)
    return EXIT_INPUT_FAILED
