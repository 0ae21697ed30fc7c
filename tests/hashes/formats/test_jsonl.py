from __future__ import annotations

import dataclasses
import json
import re
import stat
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from hashes.formats.jsonl import (
    FORMAT_NAME,
    FORMAT_VERSION,
    LEGACY_DESIGN,
    HashListEntry,
    dumps_record,
    iter_list,
    iter_records,
    loads_record,
    read_list,
    write_list,
)
from hashes.formats.vpdq import read_vpdq
from hashes.types import FormatError, VideoHashes, View

HASH_A = "e271017837246aaccddea259648fb7d62f435c89d9e99b2497763e216c8d055c"
HASH_B = "c0f11178372c6aaccddea259648fbfd62f434c89c9e99b249772be216c8d055c"


def _hashes(*rows: tuple[float, int, str], views: tuple[View, ...] = ()) -> VideoHashes:
    return VideoHashes(
        hashes=np.array([list(bytes.fromhex(h)) for _, _, h in rows], dtype=np.uint8),
        timestamps=np.array([t for t, _, _ in rows], dtype=np.float64),
        qualities=np.array([q for _, q, _ in rows], dtype=np.int16),
        views=views,
        duration_seconds=2.5,
        frame_count=len(rows),
    )


def _entry(reference_id: str = "attack-1", **kwargs: Any) -> HashListEntry:
    hashes = _hashes((0.0, 100, HASH_A), (0.5, 80, HASH_B))
    return HashListEntry(reference_id, hashes, **kwargs)


def _record(**changes: Any) -> dict[str, Any]:
    record: dict[str, Any] = json.loads(dumps_record(_entry()))
    for name, value in changes.items():
        if value is None:
            del record[name]
        else:
            record[name] = value
    return record


def _line(**changes: Any) -> str:
    return json.dumps(_record(**changes)) + "\n"


def _assert_same(read: HashListEntry, written: HashListEntry) -> None:
    full = written.hashes.full_frame()
    assert read.reference_id == written.reference_id
    assert (read.label, read.source) == (written.label, written.source)
    assert dict(read.metadata) == dict(written.metadata)
    np.testing.assert_array_equal(read.hashes.hashes, full.hashes)
    np.testing.assert_array_equal(read.hashes.qualities, full.qualities)
    np.testing.assert_array_equal(read.hashes.timestamps, full.timestamps)
    assert read.hashes.duration_seconds == full.duration_seconds
    assert read.hashes.frame_count == full.frame_count


def test_record_is_one_newline_terminated_line_with_the_documented_fields() -> None:
    entry = _entry(label="Attack video", source="vendor", metadata={"event": "e1"})
    text = dumps_record(entry)
    assert text.endswith("\n")
    assert text.count("\n") == 1
    assert json.loads(text) == {
        "format": FORMAT_NAME,
        "version": FORMAT_VERSION,
        "id": "attack-1",
        "label": "Attack video",
        "source": "vendor",
        "algorithm": "pdq",
        "duration_seconds": 2.5,
        "frame_count": 2,
        "frames": [[0.0, 100, HASH_A], [0.5, 80, HASH_B]],
        "metadata": {"event": "e1"},
    }


def test_record_keeps_only_full_frame_rows() -> None:
    hashes = _hashes(
        (0.0, 100, HASH_A),
        (0.0, 90, HASH_B),
        (1.0, 70, HASH_B),
        views=(View.FULL, View.DIHEDRAL, View.FULL),
    )
    record = json.loads(dumps_record(HashListEntry("r", hashes)))
    assert record["frames"] == [[0.0, 100, HASH_A], [1.0, 70, HASH_B]]


def test_record_with_no_full_frame_rows_cannot_be_written() -> None:
    hashes = _hashes((0.0, 100, HASH_A), views=(View.ACTIVE,))
    with pytest.raises(FormatError, match="no full-frame hashes"):
        dumps_record(HashListEntry("r", hashes))


def test_derived_rows_of_views_this_version_does_not_know_are_left_out() -> None:
    hashes = _hashes(
        (0.0, 100, HASH_A),
        (0.0, 90, HASH_B),
        (0.5, 80, HASH_A),
        views=(View.FULL, View.TILT, View.REGION),
    )
    record = json.loads(dumps_record(HashListEntry("r", hashes), derived=True))
    record["derived_frames"]["views"][0] = "a-view-of-a-newer-version"
    read = loads_record(json.dumps(record))
    assert read.hashes.views == (View.FULL, View.REGION)
    assert read.hashes.timestamps.tolist() == [0.0, 0.5]
    assert bytes(read.hashes.hashes[1]).hex() == HASH_A


# A record with derived rows as the service has written it since derived rows were exported:
# the dihedral variants are stored under the view name "flip".
_STORED_WITH_DIHEDRAL_ROWS = (
    '{"format":"triage.hashlist","version":1,"id":"attack-1","label":"","source":"",'
    '"algorithm":"pdq","duration_seconds":1.0,"frame_count":2,"frames":[[0.0,100,'
    '"e271017837246aaccddea259648fb7d62f435c89d9e99b2497763e216c8d055c"],[0.5,80,'
    '"c0f11178372c6aaccddea259648fbfd62f434c89c9e99b249772be216c8d055c"]],"metadata":{},'
    '"derived_frames":{"views":["flip","tilt"],"timestamps":[0.0,0.5],"qualities":[90,80],'
    '"hashes_base64":"wPEReDcsaqzN3qJZZI+/1i9DTInJ6Zskl3K+IWyNBVzicQF4NyRqrM3eollkj7fWL0Nc'
    'idnpmySXdj4hbI0FXA=="}}'
)


def test_stored_dihedral_rows_load_as_that_view_and_are_written_back_unchanged() -> None:
    read = loads_record(_STORED_WITH_DIHEDRAL_ROWS)
    assert read.hashes.views == (View.FULL, View.DIHEDRAL, View.FULL, View.TILT)
    assert bytes(read.hashes.hashes[1]).hex() == HASH_B
    assert dumps_record(read, derived=True) == _STORED_WITH_DIHEDRAL_ROWS + "\n"


def test_a_record_written_before_designs_were_named_reads_as_the_legacy_design() -> None:
    read = loads_record(_STORED_WITH_DIHEDRAL_ROWS)
    assert read.hashes.view_design == LEGACY_DESIGN
    assert read.hashes.made_with(LEGACY_DESIGN)
    assert not read.hashes.made_with("views-1;fps=4;every=1;active;crops;reframe")


def test_derived_rows_keep_the_design_that_made_them() -> None:
    hashes = _hashes((0.0, 100, HASH_A), (0.0, 90, HASH_B), views=(View.FULL, View.REGION))
    design = "views-1;fps=4;every=1;crops"
    line = dumps_record(HashListEntry("r", dataclasses.replace(hashes, view_design=design)),
                        derived=True)  # fmt: skip
    assert json.loads(line)["derived_frames"]["design"] == design
    read = loads_record(line).hashes
    assert read.view_design == design and read.made_with(design)
    assert not read.made_with(LEGACY_DESIGN)
    # Full frames alone are of every design: what other tools exchange.
    assert loads_record(dumps_record(HashListEntry("r", hashes))).hashes.made_with(design)


def test_rows_all_of_full_frames_write_no_derived_part() -> None:
    hashes = _hashes((0.0, 100, HASH_A), (0.5, 80, HASH_B), views=(View.FULL, View.FULL))
    record = json.loads(dumps_record(HashListEntry("r", hashes), derived=True))
    assert "derived_frames" not in record
    assert loads_record(json.dumps(record)).hashes.made_with("any design")


def test_record_round_trips() -> None:
    entry = _entry(label="l ☃ \u2028", source="s\n", metadata={"k": "v", "é": "\t"})
    _assert_same(loads_record(dumps_record(entry)), entry)


def test_list_of_interop_files_round_trips(tmp_path: Path, shared_data: Path) -> None:
    files = sorted((shared_data / "interop" / "vpdq").glob("*.txt"))
    entries = [HashListEntry(p.stem, read_vpdq(p), source=p.name) for p in files]
    path = tmp_path / "list.jsonl"
    write_list(path, entries)
    assert len(path.read_text(encoding="utf-8").splitlines()) == len(files)
    for read, written in zip(read_list(path), entries, strict=True):
        _assert_same(read, written)


def test_lists_joined_with_cat_read_as_one(tmp_path: Path) -> None:
    first, second = tmp_path / "a.jsonl", tmp_path / "b.jsonl"
    write_list(first, [_entry("one"), _entry("two")])
    write_list(second, [_entry("three")])
    joined = tmp_path / "joined.jsonl"
    joined.write_bytes(first.read_bytes() + second.read_bytes())
    assert [e.reference_id for e in read_list(joined)] == ["one", "two", "three"]


def test_iter_list_is_lazy_and_skips_blank_lines(tmp_path: Path) -> None:
    path = tmp_path / "list.jsonl"
    path.write_text(dumps_record(_entry("one")) + "\n" + "not json\n", encoding="utf-8")
    entries = iter_list(path)
    assert next(entries).reference_id == "one"
    with pytest.raises(FormatError, match=r"list\.jsonl: line 3: not a JSON record"):
        next(entries)


def test_duplicate_timestamps_are_allowed() -> None:
    line = _line(frames=[[1.0, 100, HASH_A], [1.0, 90, HASH_B]])
    assert list(loads_record(line).hashes.timestamps) == [1.0, 1.0]


def test_unknown_fields_are_ignored_and_optional_fields_default() -> None:
    entry = loads_record(_line(comment="added later", label=None, source=None, metadata=None))
    assert (entry.label, entry.source, dict(entry.metadata)) == ("", "", {})


def test_duplicate_ids_name_both_line_numbers(tmp_path: Path) -> None:
    path = tmp_path / "list.jsonl"
    path.write_text(
        dumps_record(_entry("x")) + dumps_record(_entry("y")) + dumps_record(_entry("x")),
        encoding="utf-8",
    )
    with pytest.raises(
        FormatError, match=r"line 3: duplicate reference id 'x' \(first on line 1\)"
    ):
        read_list(path)


def test_write_list_refuses_duplicate_ids_and_leaves_the_file_alone(tmp_path: Path) -> None:
    path = tmp_path / "list.jsonl"
    write_list(path, [_entry("kept")])
    before = path.read_bytes()
    with pytest.raises(FormatError, match=r"duplicate reference id 'x' \(entries 1 and 3\)"):
        write_list(path, [_entry("x"), _entry("y"), _entry("x")])
    assert path.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["list.jsonl"]


def test_write_list_replaces_atomically_and_keeps_the_mode(tmp_path: Path) -> None:
    path = tmp_path / "list.jsonl"
    write_list(path, [_entry("old")])
    assert stat.S_IMODE(path.stat().st_mode) == 0o644
    path.chmod(0o600)
    write_list(path, [_entry("new")])
    assert [e.reference_id for e in read_list(path)] == ["new"]
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert sorted(p.name for p in tmp_path.iterdir()) == ["list.jsonl"]


def test_write_list_of_a_bad_entry_leaves_no_temporary_file(tmp_path: Path) -> None:
    bad = HashListEntry("bad", _hashes((0.0, 100, HASH_A), views=(View.REGION,)))
    with pytest.raises(FormatError):
        write_list(tmp_path / "list.jsonl", [_entry("good"), bad])
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize(
    ("line", "problem"),
    [
        ("{", "not a JSON record"),
        ("[1, 2]", "a record is a JSON object, got list"),
        (_line(format=None), "missing field 'format'"),
        (_line(format="vpdq"), "unknown format 'vpdq' (expected 'triage.hashlist')"),
        (_line(version=2), "format version 2 is newer than this reader supports (up to 1)"),
        (_line(version=0), "invalid format version 0"),
        (_line(version="1"), "field 'version' must be an integer, got str"),
        (_line(version=True), "field 'version' must be an integer, got a boolean"),
        (_line(algorithm="md5"), "unknown algorithm 'md5'"),
        (_line(id=None), "missing field 'id'"),
        (_line(id=""), "a reference id must be a non-empty string"),
        (_line(id="a\nb"), "a reference id must not hold control characters"),
        (_line(frames=None), "missing field 'frames'"),
        (_line(frames=[]), "frames is empty"),
        (_line(duration_seconds=None), "missing field 'duration_seconds'"),
        (_line(duration_seconds=-1), "duration_seconds must be a finite number >= 0"),
        (_line(frame_count=None), "missing field 'frame_count'"),
        (_line(frame_count=1.5), "field 'frame_count' must be an integer, got float"),
        (_line(label=3), "field 'label' must be a string"),
        (_line(metadata={"k": 1}), "metadata['k'] must be a string, got int"),
        (_line(frames=[[0.0, 100]]), "frames[0]: expected [timestamp_seconds, quality, hex]"),
        (_line(frames=[[0.0, 100, HASH_A[:10]]]), "frames[0]: a PDQ hash is 64 hex digits"),
        (_line(frames=[[0.0, 100, "x" * 64]]), "frames[0]: not a hex PDQ hash"),
        (_line(frames=[[0.0, 100, 7]]), "frames[0]: hash must be a hex string"),
        (_line(frames=[[0.0, 101, HASH_A]]), "frames[0]: quality must be an integer 0-100"),
        (_line(frames=[[0.0, True, HASH_A]]), "frames[0]: quality must be an integer 0-100"),
        (_line(frames=[[-1, 100, HASH_A]]), "frames[0]: timestamp must be a finite number >= 0"),
        (
            _line(frames=[[7.5, 100, HASH_A]]).replace("7.5", "1e999"),
            "frames[0]: timestamp must be a finite",
        ),
        ('{"frames": [[NaN, 100, "00"]]}', "not a JSON record: NaN is not a number"),
        (
            _line(frames=[[1.0, 100, HASH_A], [0.5, 100, HASH_B]]),
            "frames[1]: timestamp 0.5 goes back from 1.0",
        ),
    ],
)
def test_bad_record_names_line_and_problem(line: str, problem: str) -> None:
    with pytest.raises(FormatError, match=rf"^line 7: {re.escape(problem)}"):
        loads_record(line, line_number=7)


def test_bad_record_without_line_number_names_just_the_problem() -> None:
    with pytest.raises(FormatError, match=r"^unknown format 'x'"):
        loads_record(_line(format="x"))


def test_entry_metadata_is_read_only_and_the_entry_hashable() -> None:
    source = {"k": "v"}
    entry = _entry(metadata=source)
    source["k"] = "changed"
    assert entry.metadata["k"] == "v"
    with pytest.raises(TypeError):
        entry.metadata["k"] = "x"  # type: ignore[index]
    assert entry in {entry}


def test_entry_rejects_non_string_metadata() -> None:
    with pytest.raises(FormatError, match="metadata maps strings to strings"):
        _entry(metadata={"k": 1})  # type: ignore[dict-item]


def test_iter_records_parses_lines_from_memory() -> None:
    body = dumps_record(_entry("one")) + dumps_record(_entry("two"))
    assert [e.reference_id for e in iter_records(body.splitlines(), name="upload")] == [
        "one",
        "two",
    ]
    with pytest.raises(FormatError, match=r"^upload: line 2: duplicate reference id 'one'"):
        list(iter_records((body.splitlines()[0],) * 2, name="upload"))


def test_list_with_byte_order_mark_and_crlf_is_read(tmp_path: Path) -> None:
    path = tmp_path / "list.jsonl"
    path.write_bytes(b"\xef\xbb\xbf" + dumps_record(_entry("one")).replace("\n", "\r\n").encode())
    assert [e.reference_id for e in read_list(path)] == ["one"]
