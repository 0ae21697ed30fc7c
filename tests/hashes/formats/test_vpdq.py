from __future__ import annotations

import io
import re
from pathlib import Path

import numpy as np
import pytest

from hashes.formats.vpdq import read_vpdq, write_vpdq
from hashes.types import FormatError, VideoHashes, View
from tests.conftest import SHARED_DATA_DIR

INTEROP_FILES = sorted((SHARED_DATA_DIR / "interop" / "vpdq").glob("*.txt"))
HASH_A = "e271017837246aaccddea259648fb7d62f435c89d9e99b2497763e216c8d055c"
HASH_B = "c0f11178372c6aaccddea259648fbfd62f434c89c9e99b249772be216c8d055c"


def _write(hashes: VideoHashes) -> str:
    out = io.StringIO()
    write_vpdq(hashes, out)
    return out.getvalue()


def test_interop_files_are_present() -> None:
    assert len(INTEROP_FILES) >= 10


@pytest.mark.parametrize("path", INTEROP_FILES, ids=lambda p: p.stem)
def test_interop_file_round_trips(path: Path) -> None:
    first = read_vpdq(path)
    second = read_vpdq(io.StringIO(_write(first)))
    np.testing.assert_array_equal(second.hashes, first.hashes)
    np.testing.assert_array_equal(second.qualities, first.qualities)
    np.testing.assert_allclose(second.timestamps, first.timestamps, rtol=0, atol=0.001)
    assert second.frame_count == first.frame_count


@pytest.mark.parametrize("path", INTEROP_FILES, ids=lambda p: p.stem)
def test_writer_reproduces_meta_files_byte_for_byte(path: Path) -> None:
    assert _write(read_vpdq(path)) == path.read_text(encoding="utf-8")


def test_read_counts_frames_and_estimates_duration(shared_data: Path) -> None:
    path = shared_data / "interop" / "vpdq" / "chair-19-sd-bar.txt"
    hashes = read_vpdq(path)
    lines = path.read_text(encoding="utf-8").splitlines()
    assert hashes.frame_count == len(hashes) == len(lines)
    last_timestamp = float(lines[-1].split(",")[3])
    # 30 fps source: last timestamp plus one ~33 ms frame interval.
    assert hashes.duration_seconds == pytest.approx(last_timestamp + 0.033, abs=0.001)
    assert str(bytes(hashes.hashes[0]).hex()) == lines[0].split(",")[2]
    assert hashes.views == ()


def test_read_accepts_str_path_and_keeps_low_qualities(shared_data: Path) -> None:
    hashes = read_vpdq(str(shared_data / "interop" / "vpdq" / "doorknob-hd-no-bar.txt"))
    assert int(hashes.qualities.min()) == 0
    assert int(hashes.qualities.max()) == 100


def test_read_tolerates_crlf_blank_lines_and_comments() -> None:
    text = f"# exported by hand\r\n0,100,{HASH_A},0.000\r\n\r\n1,90,{HASH_B},0.033\r\n"
    hashes = read_vpdq(io.StringIO(text))
    assert len(hashes) == 2
    assert [int(q) for q in hashes.qualities] == [100, 90]
    assert bytes(hashes.hashes[1]).hex() == HASH_B


def test_single_frame_lasts_zero_seconds_past_its_timestamp() -> None:
    hashes = read_vpdq(io.StringIO(f"0,100,{HASH_A},1.500\n"))
    assert hashes.duration_seconds == pytest.approx(1.5)


def test_writer_skips_rows_that_are_not_full_frame() -> None:
    hashes = VideoHashes(
        hashes=np.array([bytes.fromhex(h) for h in (HASH_A, HASH_B, HASH_A)], dtype="S32")
        .view(np.uint8)
        .reshape(3, 32),
        timestamps=np.array([0.0, 0.0, 0.5]),
        qualities=np.array([100, 80, 70], dtype=np.int16),
        views=(View.FULL, View.ACTIVE, View.FULL),
        duration_seconds=1.0,
        frame_count=2,
    )
    assert _write(hashes) == f"0,100,{HASH_A},0.000\n1,70,{HASH_A},0.500\n"


@pytest.mark.parametrize(
    ("line", "problem"),
    [
        (f"0,100,{HASH_A}", "expected 4 comma-separated fields"),
        (f"0,100,{HASH_A},0.0,extra", "expected 4 comma-separated fields"),
        (f"x,100,{HASH_A},0.0", "frame number is not an integer"),
        (f"-1,100,{HASH_A},0.0", "frame number is negative"),
        (f"0,high,{HASH_A},0.0", "quality is not an integer"),
        (f"0,101,{HASH_A},0.0", "quality 101 is outside 0-100"),
        (f"0,100,{HASH_A[:-2]},0.0", "64 hex digits"),
        (f"0,100,{HASH_A[:-1]}g,0.0", "not a hex PDQ hash"),
        (f"0,100,{HASH_A},soon", "timestamp is not a number"),
        (f"0,100,{HASH_A},nan", "timestamp must be finite"),
        (f"0,100,{HASH_A},-0.5", "timestamp must be finite and >= 0"),
    ],
)
def test_malformed_line_names_line_number_and_problem(line: str, problem: str) -> None:
    # The bad line is the third physical line, after a comment and a blank line.
    stream = io.StringIO(f"# header\n\n{line}\n")
    with pytest.raises(FormatError, match=rf"line 3: .*{re.escape(problem)}"):
        read_vpdq(stream)


def test_frame_numbers_must_increase() -> None:
    text = f"0,100,{HASH_A},0.000\n2,100,{HASH_B},0.033\n2,100,{HASH_B},0.067\n"
    with pytest.raises(FormatError, match="line 3: frame number 2 does not follow frame 2"):
        read_vpdq(io.StringIO(text))


def test_timestamps_must_not_go_back() -> None:
    text = f"0,100,{HASH_A},0.500\n1,100,{HASH_B},0.400\n"
    with pytest.raises(FormatError, match=r"line 2: timestamp 0\.400 goes back from 0\.500"):
        read_vpdq(io.StringIO(text))


def test_file_without_hashes_is_an_error(tmp_path: Path) -> None:
    path = tmp_path / "empty.txt"
    path.write_text("# nothing here\n\n", encoding="utf-8")
    with pytest.raises(FormatError, match=r"empty\.txt: no frame hashes"):
        read_vpdq(path)


def test_binary_file_is_a_format_error_naming_the_file(tmp_path: Path) -> None:
    path = tmp_path / "clip.txt"
    path.write_bytes(b"\x00\x9f\x92\x96" * 64)
    with pytest.raises(FormatError, match=r"clip\.txt: not a text file"):
        read_vpdq(path)


def test_error_names_the_file_it_came_from(tmp_path: Path) -> None:
    path = tmp_path / "list.txt"
    path.write_text(f"0,100,{HASH_A},0.000\n1,100,zz,0.033\n", encoding="utf-8")
    with pytest.raises(FormatError, match=r"list\.txt: line 2: "):
        read_vpdq(path)


def test_file_with_byte_order_mark_is_read(tmp_path: Path) -> None:
    path = tmp_path / "bom.txt"
    path.write_bytes(b"\xef\xbb\xbf" + f"0,100,{HASH_A},0.000\n".encode())
    assert bytes(read_vpdq(path).hashes[0]).hex() == HASH_A
