"""The benchmark manifest: which files are references, and what each query must match.

Only the scorer reads `expect`, `family` and `hard_negative`; the runner hands the matcher
nothing but file paths.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

MANIFEST_NAME = "manifest.json"


class ManifestError(Exception):
    """The bench directory or its manifest is missing or malformed; the message says where."""


@dataclass(frozen=True, slots=True)
class ReferenceEntry:
    id: str
    path: Path


@dataclass(frozen=True, slots=True)
class QueryEntry:
    id: str
    path: Path
    expect: str | None  # the reference it must match; None: it must match nothing
    family: str
    hard_negative: bool = False

    @property
    def must_match(self) -> bool:
        return self.expect is not None


@dataclass(frozen=True, slots=True)
class Manifest:
    root: Path
    references: tuple[ReferenceEntry, ...]
    queries: tuple[QueryEntry, ...]

    def limited(self, count: int | None) -> Manifest:
        """The first `count` queries (all references kept), for quick runs."""
        if count is None:
            return self
        return Manifest(self.root, self.references, self.queries[:count])


def _field(record: dict[str, Any], key: str, kind: type, where: str) -> Any:
    if key not in record:
        raise ManifestError(f"{where}: missing field {key!r}")
    value = record[key]
    if not isinstance(value, kind):
        raise ManifestError(f"{where}: field {key!r} must be {kind.__name__}, got {value!r}")
    return value


def _reference(record: Any, root: Path, where: str) -> ReferenceEntry:
    if not isinstance(record, dict):
        raise ManifestError(f"{where}: expected an object")
    return ReferenceEntry(
        id=_field(record, "id", str, where),
        path=root / _field(record, "path", str, where),
    )


def _query(record: Any, root: Path, known: set[str], where: str) -> QueryEntry:
    if not isinstance(record, dict):
        raise ManifestError(f"{where}: expected an object")
    expect = record.get("expect")
    if expect is not None and not isinstance(expect, str):
        raise ManifestError(f"{where}: field 'expect' must be a reference id or null")
    if expect is not None and expect not in known:
        raise ManifestError(f"{where}: expects unknown reference {expect!r}")
    hard = record.get("hard_negative", False)
    if not isinstance(hard, bool):
        raise ManifestError(f"{where}: field 'hard_negative' must be true or false")
    return QueryEntry(
        id=_field(record, "id", str, where),
        path=root / _field(record, "path", str, where),
        expect=expect,
        family=_field(record, "family", str, where),
        hard_negative=hard,
    )


def load_manifest(bench_dir: Path) -> Manifest:
    """Read `bench_dir/manifest.json`; paths in it are relative to `bench_dir`."""
    path = bench_dir / MANIFEST_NAME
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError as exc:
        raise ManifestError(f"{path}: no such file (is {bench_dir} a bench directory?)") from exc
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ManifestError(f"{path}: cannot read: {exc}") from exc
    if not isinstance(document, dict):
        raise ManifestError(f"{path}: expected a JSON object")
    references_raw = document.get("references")
    queries_raw = document.get("queries")
    if not isinstance(references_raw, list) or not isinstance(queries_raw, list):
        raise ManifestError(f"{path}: needs the lists 'references' and 'queries'")
    references = tuple(
        _reference(r, bench_dir, f"{path}: references[{i}]") for i, r in enumerate(references_raw)
    )
    ids = [r.id for r in references]
    if len(set(ids)) != len(ids):
        raise ManifestError(f"{path}: reference ids are not unique")
    known = set(ids)
    queries = tuple(
        _query(q, bench_dir, known, f"{path}: queries[{i}]") for i, q in enumerate(queries_raw)
    )
    return Manifest(root=bench_dir, references=references, queries=queries)
