"""`triage hash` and `triage match` as a user runs them: outputs, JSON lines, exit codes."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from hashes.formats.jsonl import read_list
from tests.conftest import SHARED_DATA_DIR
from triage.cli import main

SOURCES = SHARED_DATA_DIR / "sources"


@pytest.mark.media
def test_hash_then_match_prints_one_json_line_per_query_and_exit_1_for_a_bad_input(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    hash_list = tmp_path / "list.jsonl"
    assert main(["hash", str(SOURCES / "te-pattern-hd-no-bar.mp4"), "--id", "pattern",
                 "-o", str(hash_list)]) == 0  # fmt: skip
    (entry,) = read_list(hash_list)
    hashes = entry.hashes
    assert entry.reference_id == "pattern"
    # Sampled as the service samples references (match.reference_fps), and marked so.
    assert hashes.frame_count == pytest.approx(4 * hashes.duration_seconds, abs=2)
    assert hashes.view_design == "views-1;fps=4;every=1;active;crops;reframe"
    capsys.readouterr()

    copy = SOURCES / "te-pattern-sd-grey-bar.mp4"
    other = SOURCES / "te-doorknob-hd-no-bar.mp4"
    missing = tmp_path / "missing.mp4"
    status = main(["match", "--json", "--list", str(hash_list), str(copy), str(other),
                   str(missing)])  # fmt: skip
    out, err = capsys.readouterr()
    assert status == 1
    lines = [json.loads(line) for line in out.splitlines()]
    assert [line["query"] for line in lines] == [str(copy), str(other)]
    assert lines[0]["verdict"] == "confirmed"
    assert lines[0]["matches"][0]["reference_id"] == "pattern"
    assert lines[0]["matches"][0]["segments"]
    assert lines[1]["verdict"] == "none"
    assert err.strip().splitlines() == [f"triage: {missing}: no such file"]


def test_hash_with_id_and_several_files_is_a_usage_error(tmp_path: Path) -> None:
    files = [str(SOURCES / "te-pattern-hd-no-bar.mp4"), str(SOURCES / "te-doorknob-hd-no-bar.mp4")]
    assert main(["hash", *files, "--id", "x", "-o", str(tmp_path / "l.jsonl")]) == 2
    assert not (tmp_path / "l.jsonl").exists()
