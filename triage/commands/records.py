"""How list commands print: tab-separated with a header line, or `--json`.

Both show the same records with the same field names. `--json` writes one JSON array with one
record per line, so the output is valid JSON as a whole and still greps line by line. Records
are written as they come, so long listings stream.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from enum import Enum
from types import TracebackType
from typing import Any, TextIO


def add_json(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--json", action="store_true", help="a JSON array of records instead of TSV with a header"
    )


def _plain(value: Any) -> Any:
    """A value as JSON holds it: times as ISO 8601 UTC text, enums by value."""
    if isinstance(value, datetime):
        return value.astimezone(UTC).isoformat().replace("+00:00", "Z")
    if isinstance(value, Enum):
        return value.value
    if isinstance(value, (set, frozenset)):
        return sorted(_plain(v) for v in value)
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if isinstance(value, Mapping):
        return {str(k): _plain(v) for k, v in value.items()}
    return value


def _cell(value: Any) -> str:
    """One TSV cell: lists comma-joined, mappings as compact JSON, nothing for None."""
    plain = _plain(value)
    if plain is None:
        return ""
    if isinstance(plain, list):
        text = ",".join(str(v) for v in plain)
    elif isinstance(plain, dict):
        text = json.dumps(plain, sort_keys=True) if plain else ""
    elif isinstance(plain, bool):
        text = "true" if plain else "false"
    else:
        text = str(plain)
    # A tab or line break inside a value would shift every later column.
    return " ".join(text.replace("\t", " ").splitlines())


class RecordWriter:
    """Write records of `fields` as TSV (header first) or as a JSON array, to `out`."""

    def __init__(self, fields: Sequence[str], *, as_json: bool, out: TextIO | None = None) -> None:
        self.fields = tuple(fields)
        self.as_json = as_json
        self._out = out if out is not None else sys.stdout
        self._count = 0

    def __enter__(self) -> RecordWriter:
        if not self.as_json:
            self._out.write("\t".join(self.fields) + "\n")
        return self

    def write(self, record: Mapping[str, Any]) -> None:
        if self.as_json:
            line = json.dumps({name: _plain(record[name]) for name in self.fields})
            self._out.write(("[\n" if self._count == 0 else ",\n") + line)
        else:
            self._out.write("\t".join(_cell(record[name]) for name in self.fields) + "\n")
        self._count += 1
        self._out.flush()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        if self.as_json and exc_type is None:
            self._out.write("[]\n" if self._count == 0 else "\n]\n")
            self._out.flush()
