from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from hashes.formats.jsonl import HashListEntry, dumps_record, read_list, write_list
from hashes.formats.vpdq import read_vpdq
from tests.conftest import REPO_ROOT
from triage.cli import main

CHAIR = "chair-orig-22-hd-no-bar"
DOORKNOB = "doorknob-hd-no-bar"


@pytest.fixture
def vpdq_dir(shared_data: Path) -> Path:
    return shared_data / "interop" / "vpdq"


def _ids(path: Path) -> list[str]:
    return [entry.reference_id for entry in read_list(path)]


def _stderr_line(capsys: pytest.CaptureFixture[str]) -> str:
    captured = capsys.readouterr()
    assert captured.out == ""
    lines = captured.err.splitlines()
    assert len(lines) == 1, captured.err
    return lines[0]


def test_import_vpdq_uses_the_file_stem_as_id(
    tmp_path: Path, vpdq_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    output = tmp_path / "list.jsonl"
    code = main(
        [
            "hashlist",
            "import",
            str(vpdq_dir / f"{CHAIR}.txt"),
            "--format",
            "vpdq",
            "-o",
            str(output),
        ]
    )
    assert code == 0
    assert "1 references" in _stderr_line(capsys)
    [entry] = read_list(output)
    expected = read_vpdq(vpdq_dir / f"{CHAIR}.txt")
    assert (entry.reference_id, entry.source, entry.label) == (CHAIR, f"{CHAIR}.txt", "")
    np.testing.assert_array_equal(entry.hashes.hashes, expected.hashes)
    np.testing.assert_array_equal(entry.hashes.timestamps, expected.timestamps)
    np.testing.assert_array_equal(entry.hashes.qualities, expected.qualities)


def test_import_vpdq_with_id_and_label(tmp_path: Path, vpdq_dir: Path) -> None:
    output = tmp_path / "list.jsonl"
    argv = ["hashlist", "import", str(vpdq_dir / f"{CHAIR}.txt"), "--format", "vpdq"]
    assert main([*argv, "--id", "attack-7", "--label", "Chair attack", "-o", str(output)]) == 0
    [entry] = read_list(output)
    assert (entry.reference_id, entry.label) == ("attack-7", "Chair attack")


def test_import_merges_replacing_same_id_and_keeping_others(tmp_path: Path, vpdq_dir: Path) -> None:
    output = tmp_path / "list.jsonl"
    for name in (CHAIR, DOORKNOB):
        assert (
            main(
                [
                    "hashlist",
                    "import",
                    str(vpdq_dir / f"{name}.txt"),
                    "--format",
                    "vpdq",
                    "-o",
                    str(output),
                ]
            )
            == 0
        )
    argv = ["hashlist", "import", str(vpdq_dir / f"{CHAIR}.txt"), "--format", "vpdq"]
    assert main([*argv, "--label", "relabelled", "-o", str(output)]) == 0
    entries = read_list(output)
    assert [(e.reference_id, e.label) for e in entries] == [(CHAIR, "relabelled"), (DOORKNOB, "")]


def test_import_jsonl_validates_and_merges(tmp_path: Path, vpdq_dir: Path) -> None:
    incoming = tmp_path / "incoming.jsonl"
    write_list(
        incoming,
        [
            HashListEntry(n, read_vpdq(vpdq_dir / f"{n}.txt"), label=n.upper())
            for n in (CHAIR, DOORKNOB)
        ],
    )
    output = tmp_path / "list.jsonl"
    write_list(output, [HashListEntry("kept", read_vpdq(vpdq_dir / "pattern-hd-no-bar.txt"))])
    assert main(["hashlist", "import", str(incoming), "--format", "jsonl", "-o", str(output)]) == 0
    assert _ids(output) == ["kept", CHAIR, DOORKNOB]
    assert read_list(output)[1].label == CHAIR.upper()


def test_import_jsonl_with_id_needs_a_single_record(
    tmp_path: Path, vpdq_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    incoming = tmp_path / "incoming.jsonl"
    hashes = read_vpdq(vpdq_dir / f"{DOORKNOB}.txt")
    write_list(incoming, [HashListEntry("a", hashes), HashListEntry("b", hashes)])
    output = tmp_path / "list.jsonl"
    argv = [
        "hashlist",
        "import",
        str(incoming),
        "--format",
        "jsonl",
        "--id",
        "x",
        "-o",
        str(output),
    ]
    assert main(argv) == 2
    assert "--id needs a list of one record" in _stderr_line(capsys)
    assert not output.exists()


def test_import_of_a_malformed_vpdq_file_names_file_and_line(
    tmp_path: Path, vpdq_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    lines = (vpdq_dir / f"{DOORKNOB}.txt").read_text(encoding="utf-8").splitlines()
    lines[4] = lines[4].replace(",", ";", 1)
    bad = tmp_path / "bad.txt"
    bad.write_text("\n".join(lines) + "\n", encoding="utf-8")
    output = tmp_path / "list.jsonl"
    assert main(["hashlist", "import", str(bad), "--format", "vpdq", "-o", str(output)]) == 1
    message = _stderr_line(capsys)
    assert f"{bad}: line 5: expected 4 comma-separated fields" in message
    assert not output.exists()


def test_import_of_a_missing_file_fails_with_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    missing = tmp_path / "missing.txt"
    assert (
        main(
            [
                "hashlist",
                "import",
                str(missing),
                "--format",
                "vpdq",
                "-o",
                str(tmp_path / "l.jsonl"),
            ]
        )
        == 1
    )
    assert _stderr_line(capsys) == f"triage hashlist: {missing}: No such file or directory"


def test_import_into_a_corrupt_list_fails_and_leaves_it_alone(
    tmp_path: Path, vpdq_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    output = tmp_path / "list.jsonl"
    output.write_text('{"format": "something else"}\n', encoding="utf-8")
    assert (
        main(
            [
                "hashlist",
                "import",
                str(vpdq_dir / f"{CHAIR}.txt"),
                "--format",
                "vpdq",
                "-o",
                str(output),
            ]
        )
        == 1
    )
    assert f"{output}: line 1: unknown format 'something else'" in _stderr_line(capsys)
    assert output.read_text(encoding="utf-8") == '{"format": "something else"}\n'


def _list_of(tmp_path: Path, vpdq_dir: Path, *names: str) -> Path:
    path = tmp_path / "list.jsonl"
    write_list(path, [HashListEntry(n, read_vpdq(vpdq_dir / f"{n}.txt")) for n in names])
    return path


def test_export_vpdq_reproduces_meta_files(tmp_path: Path, vpdq_dir: Path) -> None:
    list_path = _list_of(tmp_path, vpdq_dir, CHAIR, DOORKNOB)
    out = tmp_path / "exported"
    assert main(["hashlist", "export", str(list_path), "--format", "vpdq", "-o", str(out)]) == 0
    assert sorted(p.name for p in out.iterdir()) == [f"{CHAIR}.txt", f"{DOORKNOB}.txt"]
    for name in (CHAIR, DOORKNOB):
        assert (out / f"{name}.txt").read_bytes() == (vpdq_dir / f"{name}.txt").read_bytes()


def test_export_vpdq_of_one_reference_may_go_to_a_file(tmp_path: Path, vpdq_dir: Path) -> None:
    list_path = _list_of(tmp_path, vpdq_dir, DOORKNOB)
    out = tmp_path / "door.txt"
    assert main(["hashlist", "export", str(list_path), "--format", "vpdq", "-o", str(out)]) == 0
    assert out.read_bytes() == (vpdq_dir / f"{DOORKNOB}.txt").read_bytes()


def test_export_vpdq_of_many_references_to_a_file_is_a_usage_error(
    tmp_path: Path, vpdq_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    list_path = _list_of(tmp_path, vpdq_dir, CHAIR, DOORKNOB)
    out = tmp_path / "taken.txt"
    out.write_text("keep me\n", encoding="utf-8")
    assert main(["hashlist", "export", str(list_path), "--format", "vpdq", "-o", str(out)]) == 2
    assert "give a directory" in _stderr_line(capsys)
    assert out.read_text(encoding="utf-8") == "keep me\n"


def test_export_vpdq_refuses_an_id_that_is_not_a_file_name(
    tmp_path: Path, vpdq_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    hashes = read_vpdq(vpdq_dir / f"{DOORKNOB}.txt")
    list_path = tmp_path / "list.jsonl"
    write_list(list_path, [HashListEntry("ok", hashes), HashListEntry("../escape", hashes)])
    out = tmp_path / "exported"
    assert main(["hashlist", "export", str(list_path), "--format", "vpdq", "-o", str(out)]) == 1
    assert "'../escape' cannot be used as a file name" in _stderr_line(capsys)
    assert not (tmp_path / "escape.txt").exists()


def test_export_jsonl_rewrites_the_list(tmp_path: Path, vpdq_dir: Path) -> None:
    list_path = _list_of(tmp_path, vpdq_dir, CHAIR, DOORKNOB)
    out = tmp_path / "shared.jsonl"
    assert main(["hashlist", "export", str(list_path), "--format", "jsonl", "-o", str(out)]) == 0
    assert out.read_bytes() == list_path.read_bytes()


def test_export_of_a_list_with_duplicate_ids_fails(
    tmp_path: Path, vpdq_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    record = dumps_record(HashListEntry("same", read_vpdq(vpdq_dir / f"{DOORKNOB}.txt")))
    list_path = tmp_path / "list.jsonl"
    list_path.write_text(record + record, encoding="utf-8")
    assert (
        main(["hashlist", "export", str(list_path), "--format", "jsonl", "-o", str(tmp_path / "o")])
        == 1
    )
    assert "line 2: duplicate reference id 'same' (first on line 1)" in _stderr_line(capsys)


@pytest.mark.parametrize(
    "argv",
    [
        ["hashlist", "import", "x.txt", "-o", "l.jsonl"],
        ["hashlist", "import", "x.txt", "--format", "csv", "-o", "l.jsonl"],
        ["hashlist", "import", "x.txt", "--format", "vpdq", "--id", "", "-o", "l.jsonl"],
        ["hashlist", "export", "l.jsonl", "--format", "vpdq"],
        ["hashlist"],
    ],
)
def test_usage_errors_exit_2(argv: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as raised:
        main(argv)
    assert raised.value.code == 2
    assert "usage:" in capsys.readouterr().err


def test_help_says_existing_lists_are_merged(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        main(["hashlist", "import", "--help"])
    help_text = " ".join(capsys.readouterr().out.split())
    assert "an entry with the same reference id is replaced" in help_text
    assert "every other entry is kept" in help_text


def _run(*argv: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "triage.cli", *argv],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_subprocess_exit_codes_and_clean_streams(tmp_path: Path, vpdq_dir: Path) -> None:
    output = tmp_path / "list.jsonl"
    ok = _run(
        "hashlist", "import", str(vpdq_dir / f"{CHAIR}.txt"), "--format", "vpdq", "-o", str(output)
    )
    assert (ok.returncode, ok.stdout) == (0, "")
    assert ok.stderr == f"{output}: 1 references (1 imported, 0 replaced)\n"
    assert json.loads(output.read_text(encoding="utf-8"))["id"] == CHAIR

    bad = tmp_path / "bad.txt"
    bad.write_bytes(b"\x00\xff garbage")
    failed = _run("hashlist", "import", str(bad), "--format", "vpdq", "-o", str(output))
    assert (failed.returncode, failed.stdout) == (1, "")
    assert failed.stderr == f"triage hashlist: {bad}: not a text file (invalid start byte)\n"

    usage = _run("hashlist", "export", str(output))
    assert (usage.returncode, usage.stdout) == (2, "")
    assert "Traceback" not in usage.stderr
    assert "the following arguments are required: --format, -o/--output" in usage.stderr
