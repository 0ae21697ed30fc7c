"""`triage bench scale` end to end on a tiny bench made in the test, loaded as a worker loads."""

from __future__ import annotations

import argparse
import json
import subprocess
from pathlib import Path

import numpy as np
import pytest

from triage.commands import bench, exit_codes
from triage.devset import footage, images
from workers.live_index import live_index_of


def _run(*argv: str) -> int:
    parser = argparse.ArgumentParser(prog="triage")
    bench.register(parser.add_subparsers(dest="command", required=True), live_list=live_index_of)
    args = parser.parse_args(list(argv))
    return int(args.handler(args))


@pytest.fixture(scope="module")
def tiny_bench(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("bench")
    (root / "references").mkdir()
    (root / "queries").mkdir()
    for seed, path in ((1, "references/a.mp4"), (3, "queries/other.mp4")):
        rng = np.random.default_rng(seed)
        footage.pan(images.scene(rng, 960, 640), root / path, (320, 180), 3.0, rng)
    subprocess.run(
        ["ffmpeg", "-v", "error", "-i", str(root / "references" / "a.mp4"), "-c:v", "libx264",
         "-crf", "32", "-preset", "veryfast", str(root / "queries" / "copy.mp4")],
        check=True,
    )  # fmt: skip
    manifest = {
        "references": [{"id": "a", "path": "references/a.mp4"}],
        "queries": [
            {"id": "copy", "path": "queries/copy.mp4", "expect": "a", "family": "reencode_low"},
            {"id": "other", "path": "queries/other.mp4", "expect": None, "family": "unrelated"},
        ],
    }
    (root / "manifest.json").write_text(json.dumps(manifest))
    return root


def test_each_size_loads_fillers_beside_the_planted_reference_and_scores_the_bench(
    tiny_bench: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code = _run("bench", "scale", "--bench-dir", str(tiny_bench), "--hours", "0.005,0.01",
                "--json", "--no-progress")  # fmt: skip
    assert code == exit_codes.EXIT_OK
    small, large = json.loads(capsys.readouterr().out)["sizes"]
    assert small["index"] == large["index"] == "exact"
    assert (small["hours"], large["hours"]) == (0.005, 0.01)
    assert small["index_rows"] < large["index_rows"]
    assert large["filler_rows"] > 1.8 * small["filler_rows"]
    assert large["record_bytes"] > small["record_bytes"]
    assert large["snapshot_bytes"] > small["snapshot_bytes"]
    # Every filler row and every planted row is in the index the worker's live index loaded.
    planted_rows = small["index_rows"] - small["filler_rows"]
    assert large["index_rows"] - large["filler_rows"] == planted_rows > 0
    assert set(small["filler_shares"]) == {"walk", "family", "masked", "near"}
    for size in (small, large):
        assert size["references"] > 1
        assert (size["found"], size["positives"], size["false_positives"]) == (1, 1, 0)
        assert size["negatives"] == 1
        assert size["pss_bytes"] > 0 and size["match_cpu_max_seconds"] > 0
        assert size["query_floor_cpu_seconds"] > 0
        # The store's records, and the snapshot a starting process opens, grow with the list.
        assert size["record_bytes"] > 0 and size["snapshot_bytes"] > 0
        assert size["snapshot_write_seconds"] >= 0 and size["snapshot_open_seconds"] >= 0
        # The exact index retrieves every reference.
        assert size["positives_retrieved"] == size["positives_within_48_bits"] == 1


def test_each_index_loads_the_same_list_and_the_others_agree_with_exact_on_the_best(
    tiny_bench: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code = _run("bench", "scale", "--bench-dir", str(tiny_bench), "--hours", "0.01",
                "--index", "exact,multihash,tiered", "--json", "--no-progress")  # fmt: skip
    assert code == exit_codes.EXIT_OK
    exact, *others = json.loads(capsys.readouterr().out)["sizes"]
    assert [size["index"] for size in (exact, *others)] == ["exact", "multihash", "tiered"]
    for other in others:
        assert exact["index_rows"] == other["index_rows"]
        # The same verdicts; a filler 32-48 bits from the planted reference, beyond the
        # retrieval radius of every query row, may be a further match of the exact index alone.
        for query, matches in other["top_matches"].items():
            assert matches[:1] == exact["top_matches"][query][:1]
            assert all(match in exact["top_matches"][query] for match in matches)
        assert other["positives_retrieved"] == other["positives_within_48_bits"] == 1
        assert exact["record_bytes"] == other["record_bytes"]  # one list, loaded again


def test_unknown_index_names_are_refused(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        _run("bench", "scale", "--index", "exact,hnsw")
    assert "indexes are exact, multihash, tiered" in capsys.readouterr().err


def test_hours_must_be_positive_numbers(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        _run("bench", "scale", "--hours", "10,-1")
    assert "hours must be positive" in capsys.readouterr().err


def test_markdown_table_has_a_row_per_size(
    tiny_bench: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code = _run("bench", "scale", "--bench-dir", str(tiny_bench), "--hours", "0.002",
                "--no-progress", "--limit", "1")  # fmt: skip
    assert code == exit_codes.EXIT_OK
    out = capsys.readouterr().out
    assert "| 0.002 |" in out
    assert "filler frames: walk" in out


def test_a_hash_only_list_holds_full_frames_alone_planted_and_filler(
    tiny_bench: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    args = ["bench", "scale", "--bench-dir", str(tiny_bench), "--hours", "0.005", "--json",
            "--no-progress"]  # fmt: skip
    assert _run(*args) == exit_codes.EXIT_OK
    (videos,) = json.loads(capsys.readouterr().out)["sizes"]
    assert _run(*args, "--hash-only") == exit_codes.EXIT_OK
    (hashes,) = json.loads(capsys.readouterr().out)["sizes"]
    assert (videos["references_as"], hashes["references_as"]) == ("video", "vpdq")
    # Full frames are one row of a sampled frame's many: the list shrinks by that much.
    assert hashes["index_rows"] * 20 < videos["index_rows"]
    assert hashes["filler_rows"] * 20 < videos["filler_rows"]
    assert hashes["positives"] == 1 and hashes["false_positives"] == 0
