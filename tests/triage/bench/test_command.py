"""`triage bench` end to end on a tiny bench made in the test."""

from __future__ import annotations

import argparse
import json
import subprocess
from pathlib import Path

import numpy as np
import pytest

from hashes.matcher import MatchParams
from hashes.video.params import QueryParams, ReferenceParams
from triage.bench.ablation import switches
from triage.commands import bench, exit_codes
from triage.devset import footage, images


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="triage")
    bench.register(parser.add_subparsers(dest="command", required=True))
    return parser


def _run(*argv: str) -> int:
    args = _parser().parse_args(list(argv))
    return int(args.handler(args))


def _pan(seed: int, out: Path) -> None:
    rng = np.random.default_rng(seed)
    footage.pan(images.scene(rng, 960, 640), out, (320, 180), 3.0, rng)


@pytest.fixture(scope="module")
def tiny_bench(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("bench")
    (root / "references").mkdir()
    (root / "queries").mkdir()
    _pan(1, root / "references" / "a.mp4")
    _pan(2, root / "references" / "b.mp4")
    subprocess.run(
        ["ffmpeg", "-v", "error", "-i", str(root / "references" / "a.mp4"), "-c:v", "libx264",
         "-crf", "32", "-preset", "veryfast", str(root / "queries" / "q1.mp4")],
        check=True,
    )  # fmt: skip
    _pan(3, root / "queries" / "q2.mp4")
    (root / "queries" / "q3.mp4").write_bytes(b"not a video at all")
    manifest = {
        "references": [
            {"id": "a", "path": "references/a.mp4"},
            {"id": "b", "path": "references/b.mp4"},
        ],
        "queries": [
            {"id": "q1", "path": "queries/q1.mp4", "expect": "a", "family": "reencode_low"},
            {"id": "q2", "path": "queries/q2.mp4", "expect": None, "family": "unrelated"},
            {"id": "q3", "path": "queries/q3.mp4", "expect": None, "family": "unrelated"},
        ],
    }
    (root / "manifest.json").write_text(json.dumps(manifest))
    return root


@pytest.mark.media
def test_json_scores_each_query_and_reports_the_broken_one(
    tiny_bench: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code = _run("bench", "--bench-dir", str(tiny_bench), "--json", "--no-progress")
    captured = capsys.readouterr()
    assert code == exit_codes.EXIT_INPUT_FAILED
    document = json.loads(captured.out)
    by_id = {q["id"]: q for q in document["queries"]}
    assert by_id["q1"]["found"] and by_id["q1"]["verdict"] == "confirmed"
    assert by_id["q2"]["verdict"] == "none"
    assert by_id["q3"]["error"]
    assert [f["path"] for f in document["failures"]] == [str(tiny_bench / "queries" / "q3.mp4")]
    assert "q3.mp4" in captured.err and "Traceback" not in captured.err
    assert document["totals"]["false_positives"] == 0
    assert document["cost"]["queries"]["decode_floor_cpu_seconds"] > 0
    assert document["cost"]["references"]["cpu_seconds"] > 0


@pytest.mark.media
def test_markdown_table_on_stdout_with_limit(
    tiny_bench: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code = _run("bench", "--bench-dir", str(tiny_bench), "--limit", "1", "--no-progress")
    out = capsys.readouterr().out
    assert code == exit_codes.EXIT_OK
    assert "| reencode_low (1) | 100% (1/1) |" in out
    assert "unrelated" not in out


def test_missing_bench_dir_is_a_usage_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code = _run("bench", "--bench-dir", str(tmp_path / "nowhere"), "--no-progress")
    err = capsys.readouterr().err
    assert code == exit_codes.EXIT_USAGE
    assert len(err.strip().splitlines()) == 1 and "manifest.json" in err


@pytest.mark.media
def test_ablation_runs_one_variant_per_mechanism(
    tiny_bench: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code = _run("bench", "--bench-dir", str(tiny_bench), "--limit", "2", "--ablate", "--json",
                "--no-progress")  # fmt: skip
    document = json.loads(capsys.readouterr().out)
    assert code == exit_codes.EXIT_OK
    expected = (
        [f"reference.{name}" for name in switches(ReferenceParams())]
        + [f"query.{name}" for name in switches(QueryParams())]
        + [f"match.{name}" for name in switches(MatchParams())]
    )
    runs = document["ablation"]
    assert [run["switch"] for run in runs] == [None, *expected]
    assert runs[0]["totals"] == document["totals"]
    assert all(run["cpu_seconds"] > 0 for run in runs)
