"""Hostile hash files: whatever text the parsers get, they raise `FormatError` or nothing.

Three kinds of input, fixed seed: arbitrary text; text built from the formats' own pieces
(field names, numbers at the edges, hex of every length), which reaches the deep checks; and
valid records with characters changed. Hash lists arrive from other organisations and from
API callers, so any other exception would be a 500 or a crashed import.
"""

from __future__ import annotations

import contextlib
import io
import json
from typing import Any

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from hashes.formats.jsonl import HashListEntry, dumps_record, iter_records, loads_record
from hashes.formats.vpdq import read_vpdq, write_vpdq
from hashes.types import PDQ_BYTES, FormatError, VideoHashes

FUZZ_SETTINGS = settings(
    max_examples=200,
    deadline=None,
    database=None,
    derandomize=True,  # the same examples on every run, in CI too
    suppress_health_check=[HealthCheck.too_slow],
)

EDGE_NUMBERS = st.sampled_from(
    ["0", "-1", "1e309", "-0.0", "nan", "NaN", "inf", "-inf", "Infinity", "9" * 5000, "1.5",
     "0x10", "²", "٣", " 7", "100", "101", "", "1_0"]
)  # fmt: skip
HEX = st.text(alphabet="0123456789abcdefABCDEFxyz", max_size=70)


def _valid_hashes() -> VideoHashes:
    rows = 3
    return VideoHashes(
        hashes=np.arange(rows * PDQ_BYTES, dtype=np.uint8).reshape(rows, PDQ_BYTES),
        timestamps=np.array([0.0, 0.5, 1.0]),
        qualities=np.array([100, 90, 80], dtype=np.int16),
        duration_seconds=1.5,
        frame_count=rows,
    )


VALID_RECORD = dumps_record(HashListEntry(reference_id="ref-1", hashes=_valid_hashes()))
_vpdq_out = io.StringIO()
write_vpdq(_valid_hashes(), _vpdq_out)
VALID_VPDQ = _vpdq_out.getvalue()

json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats()
    | st.text(max_size=20)
    | HEX
    | EDGE_NUMBERS,
    lambda inner: st.lists(inner, max_size=5) | st.dictionaries(st.text(max_size=8), inner),
    max_leaves=30,
)
RECORD_FIELDS = [
    "format", "version", "algorithm", "id", "label", "source", "metadata", "frames",
    "duration_seconds", "frame_count", "derived",
]  # fmt: skip


@st.composite
def near_records(draw: st.DrawFn) -> str:
    """A JSON object with the record's field names and values of any shape."""
    base: dict[str, Any] = json.loads(VALID_RECORD)
    for name in draw(st.lists(st.sampled_from(RECORD_FIELDS), max_size=5)):
        if draw(st.booleans()):
            base.pop(name, None)
        else:
            base[name] = draw(json_values)
    if draw(st.booleans()):
        frame = [draw(json_values), draw(json_values), draw(json_values | HEX)]
        base["frames"] = (
            [frame, *base.get("frames", [])] if isinstance(base.get("frames"), list) else [frame]
        )
    return json.dumps(base) if _dumpable(base) else "{}"


def _dumpable(value: object) -> bool:
    try:
        json.dumps(value)
    except (ValueError, TypeError):
        return False
    return True


@st.composite
def mutated(draw: st.DrawFn, text: str) -> str:
    """`text` with a few characters replaced, inserted or deleted."""
    chars = list(text)
    for _ in range(draw(st.integers(1, 6))):
        at = draw(st.integers(0, max(0, len(chars) - 1)))
        action = draw(st.sampled_from(["replace", "insert", "delete"]))
        new = draw(st.characters())
        if action == "replace" and chars:
            chars[at] = new
        elif action == "insert":
            chars.insert(at, new)
        elif chars:
            del chars[at]
    return "".join(chars)


@st.composite
def near_vpdq(draw: st.DrawFn) -> str:
    """Lines of four comma-separated fields (sometimes more or fewer) from the edge values."""
    lines = []
    for _ in range(draw(st.integers(1, 6))):
        fields = [draw(EDGE_NUMBERS), draw(EDGE_NUMBERS), draw(HEX), draw(EDGE_NUMBERS)]
        count = draw(st.sampled_from([4, 4, 4, 3, 5]))
        lines.append(",".join((fields * 2)[:count]))
    return "\n".join(lines)


def _parse_jsonl(text: str) -> None:
    with contextlib.suppress(FormatError):
        loads_record(text, line_number=1)
    with contextlib.suppress(FormatError):
        list(iter_records(text.splitlines(), name="fuzz"))


def _parse_vpdq(text: str) -> None:
    with contextlib.suppress(FormatError):
        read_vpdq(io.StringIO(text))


@FUZZ_SETTINGS
@given(text=st.text())
def test_jsonl_arbitrary_text_raises_only_format_errors(text: str) -> None:
    _parse_jsonl(text)


@FUZZ_SETTINGS
@given(text=near_records())
def test_jsonl_records_with_any_field_values_raise_only_format_errors(text: str) -> None:
    _parse_jsonl(text)


@FUZZ_SETTINGS
@given(text=mutated(VALID_RECORD))
def test_jsonl_corrupted_records_raise_only_format_errors(text: str) -> None:
    _parse_jsonl(text)


@FUZZ_SETTINGS
@given(text=st.text())
def test_vpdq_arbitrary_text_raises_only_format_errors(text: str) -> None:
    _parse_vpdq(text)


@FUZZ_SETTINGS
@given(text=near_vpdq())
def test_vpdq_lines_of_edge_values_raise_only_format_errors(text: str) -> None:
    _parse_vpdq(text)


@FUZZ_SETTINGS
@given(text=mutated(VALID_VPDQ))
def test_vpdq_corrupted_files_raise_only_format_errors(text: str) -> None:
    _parse_vpdq(text)


def test_the_seeds_are_valid_files() -> None:
    # The mutations start from files that parse, so they probe near the accepting paths.
    assert loads_record(VALID_RECORD).reference_id == "ref-1"
    assert len(read_vpdq(io.StringIO(VALID_VPDQ))) == 3
