from __future__ import annotations

import json
from pathlib import Path

import pytest

from triage.bench.manifest import ManifestError, load_manifest


def write(tmp_path: Path, document: object) -> Path:
    (tmp_path / "manifest.json").write_text(json.dumps(document))
    return tmp_path


def test_paths_resolve_against_the_bench_directory(tmp_path: Path) -> None:
    bench = write(tmp_path, {
        "references": [{"id": "r1", "path": "references/r1.mp4", "duration_s": 3}],
        "queries": [
            {"id": "q1", "path": "queries/q1.mp4", "expect": "r1", "family": "crop"},
            {"id": "q2", "path": "queries/q2.mp4", "expect": None, "family": "hard_negative",
             "hard_negative": True},
        ],
    })  # fmt: skip
    manifest = load_manifest(bench)
    assert manifest.references[0].path == tmp_path / "references/r1.mp4"
    assert manifest.queries[0].must_match and manifest.queries[0].expect == "r1"
    assert manifest.queries[1].hard_negative and not manifest.queries[1].must_match
    assert len(manifest.limited(1).queries) == 1


def test_unknown_expected_reference_is_rejected(tmp_path: Path) -> None:
    bench = write(tmp_path, {
        "references": [],
        "queries": [{"id": "q1", "path": "q1.mp4", "expect": "nope", "family": "crop"}],
    })  # fmt: skip
    with pytest.raises(ManifestError, match="unknown reference 'nope'"):
        load_manifest(bench)


def test_missing_field_is_named(tmp_path: Path) -> None:
    bench = write(tmp_path, {"references": [{"id": "r1"}], "queries": []})
    with pytest.raises(ManifestError, match="missing field 'path'"):
        load_manifest(bench)


def test_missing_manifest_names_the_directory(tmp_path: Path) -> None:
    with pytest.raises(ManifestError, match="no such file"):
        load_manifest(tmp_path)
