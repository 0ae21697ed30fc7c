"""`triage --version`: the package version and the schema revision it migrates stores to."""

from __future__ import annotations

from importlib.metadata import PackageNotFoundError, version

from triage.store.schema import head_revision

DISTRIBUTION = "takedown-triage"


def version_line() -> str:
    try:
        package = version(DISTRIBUTION)
    except PackageNotFoundError:  # run from a source tree that was never installed
        package = "unknown"
    return f"triage {package} (store schema {head_revision()})"
