"""`triage hashlist load`: hash files into the service's store in batches, without the API's
upload limit, with the API import's checks; a stop leaves what was stored and says how to go
on."""

from __future__ import annotations

import asyncio
import dataclasses
import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from hashes.formats.jsonl import HashListEntry, dumps_record
from hashes.formats.vpdq import read_vpdq
from hashes.types import VideoHashes, View
from triage.cli import main
from triage.commands.exit_codes import EXIT_INPUT_FAILED, EXIT_OK
from triage.config import load_settings
from triage.models import JobKind, Reference, ReferenceStatus
from triage.store import open_store

VPDQ_FILES = 3


def _config(tmp_path: Path) -> Path:
    data = tmp_path / "data"
    config = tmp_path / "config.yaml"
    store = {"url": f"sqlite:///{data / 'triage.sqlite3'}"}
    config.write_text(json.dumps({"data_dir": str(data), "store": store}))
    return config


@pytest.fixture
def vpdq_files(shared_data: Path, tmp_path: Path) -> list[Path]:
    """Meta's vPDQ files of the sample clips, each one reference named by its stem."""
    folder = tmp_path / "vpdq"
    folder.mkdir()
    sources = sorted((shared_data / "interop" / "vpdq").glob("*.txt"))[:VPDQ_FILES]
    assert len(sources) == VPDQ_FILES
    return [Path(shutil.copy(path, folder / path.name)) for path in sources]


def _jsonl(path: Path, entries: list[HashListEntry]) -> Path:
    path.write_text("".join(dumps_record(entry, derived=True) for entry in entries))
    return path


def _entry(reference_id: str, seed: int, design: str = "") -> HashListEntry:
    """A reference with derived rows made with `design` (none without one)."""
    rng = np.random.default_rng(seed)
    rows = 8
    views = (View.FULL, View.ACTIVE) * (rows // 2) if design else ()
    hashes = VideoHashes(
        hashes=rng.integers(0, 256, size=(rows, 32), dtype=np.uint8),
        timestamps=(
            np.repeat(np.arange(rows // 2) * 0.25, 2) if design else np.arange(rows) * 0.25
        ).astype(np.float64),
        qualities=np.full(rows, 90, dtype=np.int16),
        views=views,
        duration_seconds=2.0,
        frame_count=rows // 2 if design else rows,
        view_design=design,
    )
    return HashListEntry(reference_id, hashes, label=f"label of {reference_id}")


def _stored(config: Path) -> tuple[dict[str, Reference], list[str], list[str]]:
    """The references (id -> status), the audit actions and the retro-match targets."""
    url = json.loads(config.read_text())["store"]["url"]

    async def read() -> tuple[dict[str, Reference], list[str], list[str]]:
        store = open_store(url)
        try:
            references = {r.id: r for r in await store.list_references()}
            audit = [f"{e.action} {e.target}" for e in await store.list_audit(limit=1000)]
            jobs = [
                j.target_id
                for j in await store.list_jobs(limit=1000)
                if j.kind is JobKind.RETRO_MATCH
            ]
            return references, audit, jobs
        finally:
            await store.close()

    return asyncio.run(read())


def test_vpdq_and_jsonl_files_are_stored_audited_and_queued_for_retro_matching(
    tmp_path: Path, vpdq_files: list[Path], capsys: pytest.CaptureFixture[str]
) -> None:
    config = _config(tmp_path)
    listing = _jsonl(tmp_path / "partner.jsonl", [_entry("p-1", 1), _entry("p-2", 2)])
    # A folder stands for its .txt files.
    (vpdq_files[0].parent / "notes.md").write_text("not a hash file")
    argv = ["hashlist", "load", str(vpdq_files[0].parent), "--format", "vpdq", "--config",
            str(config), "--create", "--batch", "2"]  # fmt: skip
    assert main(argv) == EXIT_OK
    argv = ["hashlist", "load", str(listing), "--format", "jsonl", "--config", str(config)]
    assert main(argv) == EXIT_OK
    references, audit, retro = _stored(config)
    expected = [p.stem for p in vpdq_files] + ["p-1", "p-2"]
    assert sorted(references) == sorted(expected)
    for path in vpdq_files:
        reference = references[path.stem]
        assert reference.status is ReferenceStatus.ACTIVE
        assert reference.full_frames_only
        assert reference.frame_count == len(read_vpdq(path))
    assert sorted(audit) == sorted(f"reference.add {r}" for r in expected)
    assert sorted(retro) == sorted(expected)
    err = capsys.readouterr().err
    assert f"{VPDQ_FILES} references stored" in err and "from 1 files" in err


def test_an_id_already_stored_stops_the_load_and_skip_existing_goes_on(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = _config(tmp_path)
    first = _jsonl(tmp_path / "first.jsonl", [_entry("a", 1), _entry("b", 2)])
    second = _jsonl(tmp_path / "second.jsonl", [_entry("c", 3), _entry("b", 2), _entry("d", 4)])
    base = ["--format", "jsonl", "--config", str(config), "--batch", "1"]
    assert main(["hashlist", "load", str(first), *base, "--create"]) == EXIT_OK
    capsys.readouterr()
    assert main(["hashlist", "load", str(second), *base]) == EXIT_INPUT_FAILED
    err = capsys.readouterr().err
    assert "reference 'b' is already in the store" in err and "--skip-existing" in err
    assert "1 references stored" in err  # c, before it: stored and said
    assert sorted(_stored(config)[0]) == ["a", "b", "c"]
    assert main(["hashlist", "load", str(second), *base, "--skip-existing"]) == EXIT_OK
    assert "1 references stored" in capsys.readouterr().err.splitlines()[-1]
    assert sorted(_stored(config)[0]) == ["a", "b", "c", "d"]


def test_derived_views_of_another_design_are_refused_naming_the_file(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = _config(tmp_path)
    design = load_settings(config).match.reference_params().design
    ours = _entry("ours", 1, design=design)
    theirs = _entry("theirs", 2, design="views-1;fps=all;every=2;active;crops;reframe")
    listing = _jsonl(tmp_path / "mixed.jsonl", [ours, theirs])
    argv = ["hashlist", "load", str(listing), "--format", "jsonl", "--config", str(config),
            "--create", "--batch", "1"]  # fmt: skip
    assert main(argv) == EXIT_INPUT_FAILED
    err = capsys.readouterr().err
    assert f"{listing}: reference 'theirs': its derived views were made with" in err
    assert sorted(_stored(config)[0]) == ["ours"]
    # Its full frames alone, as the list's export carries them, are of every design.
    full_only = dataclasses.replace(theirs, hashes=theirs.hashes.full_frame())
    again = _jsonl(tmp_path / "full.jsonl", [full_only])
    argv = ["hashlist", "load", str(again), "--format", "jsonl", "--config", str(config)]
    assert main(argv) == EXIT_OK


def test_an_id_twice_in_one_load_and_a_broken_file_are_refused(
    tmp_path: Path, vpdq_files: list[Path], capsys: pytest.CaptureFixture[str]
) -> None:
    config = _config(tmp_path)
    twice = [str(vpdq_files[0]), str(vpdq_files[0])]
    argv = ["hashlist", "load", *twice, "--format", "vpdq", "--config", str(config), "--create"]
    assert main(argv) == EXIT_INPUT_FAILED
    assert f"reference {vpdq_files[0].stem!r} is given twice in this load" in (
        capsys.readouterr().err
    )
    assert _stored(config)[0] == {}  # nothing reached a batch
    empty = tmp_path / "jsonl-lists"
    empty.mkdir()
    argv = ["hashlist", "load", str(empty), "--format", "jsonl", "--config", str(config)]
    assert main(argv) == EXIT_INPUT_FAILED
    assert f"{empty}: holds no .jsonl files (--format jsonl)" in capsys.readouterr().err
    broken = tmp_path / "broken.txt"
    broken.write_text("0,100,not-a-hash,0.0\n")
    argv = ["hashlist", "load", str(broken), "--format", "vpdq", "--config", str(config)]
    assert main(argv) == EXIT_INPUT_FAILED
    assert f"{broken}:" in capsys.readouterr().err
