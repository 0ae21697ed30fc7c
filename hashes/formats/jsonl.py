"""Our hash-list format: one newline-terminated JSON record per reference, no header.

Lists can be joined with ``cat``. Each record carries its own ``format`` and ``version``, so a
reader can tell a record it cannot read from a broken one. Readers ignore fields they do not
know; a change that old readers cannot safely ignore gets a new version.
"""

from __future__ import annotations

import base64
import json
import math
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import Any

import numpy as np

from hashes.formats.atomic import write_text_atomically
from hashes.types import PDQ_BYTES, FormatError, PDQHash, VideoHashes, View

FORMAT_NAME = "triage.hashlist"
FORMAT_VERSION = 1
ALGORITHM = "pdq"
MAX_QUALITY = 100
# The design (`ReferenceParams.design`) of derived rows written before records named theirs:
# every frame, derived views on every second one, the view geometry of generation 1.
LEGACY_DESIGN = "views-1;fps=all;every=2;active;crops;reframe"


def _empty_metadata() -> Mapping[str, str]:
    return MappingProxyType({})


@dataclass(frozen=True, eq=False)
class HashListEntry:
    """One reference of a hash list: its id, its frame hashes and what a person needs to know.

    `metadata` is copied into a read-only mapping. Equality and hashing are by identity, as
    for `VideoHashes` (comparing hash arrays is the caller's business).
    """

    reference_id: str
    hashes: VideoHashes = field(repr=False)  # thousands of rows: too long to print
    label: str = ""
    source: str = ""
    metadata: Mapping[str, str] = field(default_factory=_empty_metadata)

    def __post_init__(self) -> None:
        if not isinstance(self.reference_id, str) or not self.reference_id.strip():
            raise FormatError("a reference id must be a non-empty string")
        if any(ord(c) < 0x20 or c == "\x7f" for c in self.reference_id):
            raise FormatError(
                f"a reference id must not hold control characters: {self.reference_id!r}"
            )
        for name in ("label", "source"):
            if not isinstance(getattr(self, name), str):
                raise FormatError(f"{name} must be a string")
        metadata = dict(self.metadata)
        for key, value in metadata.items():
            if not isinstance(key, str) or not isinstance(value, str):
                raise FormatError(f"metadata maps strings to strings, got {key!r}: {value!r}")
        object.__setattr__(self, "metadata", MappingProxyType(metadata))


def dumps_record(entry: HashListEntry, *, derived: bool = False) -> str:
    """One JSON line (with its trailing newline) for `entry`.

    `frames` holds the full-frame rows, the hashes other tools compute too. With `derived`,
    the internal views of a reference (inside borders, crops) go into `derived_frames`, a
    compact optional field that other readers ignore and that exports leave out.
    """
    full = entry.hashes.full_frame()
    if len(full) == 0:
        raise FormatError(f"reference {entry.reference_id!r} has no full-frame hashes to write")
    frames = [
        [float(t), int(q), bytes(h).hex()]
        for t, q, h in zip(full.timestamps, full.qualities, full.hashes, strict=True)
    ]
    record = {
        "format": FORMAT_NAME,
        "version": FORMAT_VERSION,
        "id": entry.reference_id,
        "label": entry.label,
        "source": entry.source,
        "algorithm": ALGORITHM,
        "duration_seconds": float(full.duration_seconds),
        "frame_count": int(full.frame_count),
        "frames": frames,
        "metadata": dict(entry.metadata),
    }
    if derived and not entry.hashes.full_frame_rows().all():
        record["derived_frames"] = _derived_record(entry.hashes)
    try:
        return json.dumps(record, separators=(",", ":"), allow_nan=False) + "\n"
    except ValueError as exc:  # a NaN or infinite timestamp or duration
        raise FormatError(f"reference {entry.reference_id!r}: {exc}") from exc


def loads_record(line: str, *, line_number: int | None = None) -> HashListEntry:
    """Parse and validate one record. Errors name the line number when it is given."""
    where = f"line {line_number}: " if line_number is not None else ""
    try:
        record = json.loads(line, parse_constant=_reject_constant)
    except (ValueError, RecursionError) as exc:
        raise FormatError(f"{where}not a JSON record: {exc}") from None
    if not isinstance(record, dict):
        raise FormatError(f"{where}a record is a JSON object, got {type(record).__name__}")
    try:
        return _entry_from_record(record)
    except FormatError as exc:
        raise FormatError(f"{where}{exc}") from None


def iter_records(lines: Iterable[str], *, name: str = "<stream>") -> Iterator[HashListEntry]:
    """Parse a list from its lines (an open file, an uploaded body split into lines) lazily.

    Blank lines are skipped. Raises `FormatError` naming `name` and the line for a bad record,
    and both line numbers for a reference id that appears twice.
    """
    first_line_of: dict[str, int] = {}
    for line_number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            entry = loads_record(line, line_number=line_number)
        except FormatError as exc:
            raise FormatError(f"{name}: {exc}") from None
        first = first_line_of.setdefault(entry.reference_id, line_number)
        if first != line_number:
            raise FormatError(
                f"{name}: line {line_number}: duplicate reference id "
                f"{entry.reference_id!r} (first on line {first})"
            )
        yield entry


def iter_list(path: Path) -> Iterator[HashListEntry]:
    """Read a list file lazily, record by record; see `iter_records` for the errors."""
    try:
        # utf-8-sig: a byte-order mark left by a text editor is not part of the first record.
        with Path(path).open(encoding="utf-8-sig") as stream:
            yield from iter_records(stream, name=str(path))
    except UnicodeDecodeError as exc:
        raise FormatError(f"{path}: not a text file ({exc.reason})") from None


def read_list(path: Path) -> list[HashListEntry]:
    """Read a whole list; see `iter_list` for the errors."""
    return list(iter_list(path))


def write_list(path: Path, entries: Iterable[HashListEntry], *, derived: bool = False) -> None:
    """Write a list atomically (a temporary file in the same folder, then a rename).

    `derived` keeps the internal views of references (see `dumps_record`).

    Raises `FormatError` before touching `path` if two entries share a reference id.
    """
    path = Path(path)
    position_of: dict[str, int] = {}
    lines: list[str] = []
    for position, entry in enumerate(entries, start=1):
        first = position_of.setdefault(entry.reference_id, position)
        if first != position:
            raise FormatError(
                f"{path}: duplicate reference id {entry.reference_id!r} "
                f"(entries {first} and {position})"
            )
        try:
            lines.append(dumps_record(entry, derived=derived))
        except FormatError as exc:
            raise FormatError(f"{path}: {exc}") from None
    write_text_atomically(path, "".join(lines))


def _reject_constant(name: str) -> float:
    raise ValueError(f"{name} is not a number")


def _entry_from_record(record: dict[str, Any]) -> HashListEntry:
    if "format" not in record:
        raise FormatError(f"missing field 'format' (expected {FORMAT_NAME!r})")
    if record["format"] != FORMAT_NAME:
        raise FormatError(f"unknown format {record['format']!r} (expected {FORMAT_NAME!r})")
    version = _required(record, "version", int)
    if version > FORMAT_VERSION:
        raise FormatError(
            f"format version {version} is newer than this reader supports "
            f"(up to {FORMAT_VERSION}); upgrade to read it"
        )
    if version < 1:
        raise FormatError(f"invalid format version {version}")
    algorithm = _required(record, "algorithm", str)
    if algorithm != ALGORITHM:
        raise FormatError(f"unknown algorithm {algorithm!r} (expected {ALGORITHM!r})")
    reference_id = _required(record, "id", str)
    duration_seconds = float(_required(record, "duration_seconds", (int, float)))
    if not math.isfinite(duration_seconds) or duration_seconds < 0:
        raise FormatError(f"duration_seconds must be a finite number >= 0, got {duration_seconds}")
    frame_count = _required(record, "frame_count", int)
    if frame_count < 0:
        raise FormatError(f"frame_count must be >= 0, got {frame_count}")
    metadata = _optional(record, "metadata", dict, {})
    for key, value in metadata.items():
        if not isinstance(value, str):
            raise FormatError(f"metadata[{key!r}] must be a string, got {type(value).__name__}")
    hashes = _parse_frames(_required(record, "frames", list), duration_seconds, frame_count)
    if "derived_frames" in record:
        hashes = _with_derived(hashes, _required(record, "derived_frames", dict))
    return HashListEntry(
        reference_id=reference_id,
        hashes=hashes,
        label=_optional(record, "label", str, ""),
        source=_optional(record, "source", str, ""),
        metadata=metadata,
    )


def _parse_frames(frames: list[Any], duration_seconds: float, frame_count: int) -> VideoHashes:
    if not frames:
        raise FormatError("frames is empty")
    digests: list[bytes] = []
    qualities: list[int] = []
    timestamps: list[float] = []
    for index, frame in enumerate(frames):
        at = f"frames[{index}]"
        if not isinstance(frame, list) or len(frame) != 3:
            raise FormatError(f"{at}: expected [timestamp_seconds, quality, hex], got {frame!r}")
        timestamp, quality, digest = frame
        if not _is_number(timestamp) or not math.isfinite(timestamp) or timestamp < 0:
            raise FormatError(f"{at}: timestamp must be a finite number >= 0, got {timestamp!r}")
        if timestamps and timestamp < timestamps[-1]:
            raise FormatError(f"{at}: timestamp {timestamp} goes back from {timestamps[-1]}")
        if not _is_int(quality) or not 0 <= quality <= MAX_QUALITY:
            raise FormatError(f"{at}: quality must be an integer 0-{MAX_QUALITY}, got {quality!r}")
        if not isinstance(digest, str):
            raise FormatError(f"{at}: hash must be a hex string, got {digest!r}")
        try:
            digests.append(PDQHash.from_hex(digest).value)
        except FormatError as exc:
            raise FormatError(f"{at}: {exc}") from None
        timestamps.append(float(timestamp))
        qualities.append(quality)
    return VideoHashes(
        hashes=np.frombuffer(b"".join(digests), dtype=np.uint8).reshape(-1, PDQ_BYTES).copy(),
        timestamps=np.array(timestamps, dtype=np.float64),
        qualities=np.array(qualities, dtype=np.int16),
        duration_seconds=duration_seconds,
        frame_count=frame_count,
    )


def _is_int(value: object) -> bool:
    # bool is an int subclass in Python but never a valid count or quality here.
    return isinstance(value, int) and not isinstance(value, bool)


def _is_number(value: object) -> bool:
    return _is_int(value) or isinstance(value, float)


def _required(record: dict[str, Any], name: str, kind: type | tuple[type, ...]) -> Any:
    if name not in record:
        raise FormatError(f"missing field {name!r}")
    return _checked(record[name], name, kind)


def _optional(record: dict[str, Any], name: str, kind: type, default: Any) -> Any:
    return _checked(record[name], name, kind) if name in record else default


def _checked(value: Any, name: str, kind: type | tuple[type, ...]) -> Any:
    kinds = kind if isinstance(kind, tuple) else (kind,)
    if isinstance(value, bool) and bool not in kinds:
        raise FormatError(f"field {name!r} must be {_kind_name(kinds)}, got a boolean")
    if not isinstance(value, kinds):
        raise FormatError(f"field {name!r} must be {_kind_name(kinds)}, got {type(value).__name__}")
    return value


def _kind_name(kinds: tuple[type, ...]) -> str:
    names = {
        int: "an integer",
        float: "a number",
        str: "a string",
        list: "a list",
        dict: "an object",
    }
    return " or ".join(names.get(k, k.__name__) for k in kinds)


_VIEW_NAMES = frozenset(view.value for view in View)


def _derived_record(hashes: VideoHashes) -> dict[str, Any]:
    keep = ~hashes.full_frame_rows()
    design = {} if hashes.view_design in ("", LEGACY_DESIGN) else {"design": hashes.view_design}
    return {
        **design,
        "views": [v.value for v in np.asarray(hashes.views, dtype=object)[keep]],
        "timestamps": [round(float(t), 6) for t in hashes.timestamps[keep]],
        "qualities": [int(q) for q in hashes.qualities[keep]],
        "hashes_base64": base64.b64encode(hashes.hashes[keep].tobytes()).decode("ascii"),
    }


def _with_derived(full: VideoHashes, derived: dict[str, Any]) -> VideoHashes:
    try:
        design = _optional(derived, "design", str, LEGACY_DESIGN)
        names = _required(derived, "views", list)
        timestamps = np.array(_required(derived, "timestamps", list), dtype=np.float64)
        qualities = np.array(_required(derived, "qualities", list), dtype=np.int16)
        raw = base64.b64decode(_required(derived, "hashes_base64", str), validate=True)
    except (ValueError, TypeError) as exc:
        raise FormatError(f"derived_frames: {exc}") from None
    if len(raw) != PDQ_BYTES * len(names) or not len(names) == len(timestamps) == len(qualities):
        raise FormatError(
            "derived_frames: views, timestamps, qualities and hashes differ in length"
        )
    # Rows of views this version does not know (written by a newer one) are left out: they
    # only add evidence, and the rest of the record still matches.
    known = np.array([name in _VIEW_NAMES for name in names], dtype=bool)
    views = [View(name) for name in np.asarray(names, dtype=object)[known]]
    timestamps, qualities = timestamps[known], qualities[known]
    derived_hashes = np.frombuffer(raw, dtype=np.uint8).reshape(-1, PDQ_BYTES)[known]
    hashes = np.concatenate([full.hashes, derived_hashes])
    all_times = np.concatenate([full.timestamps, timestamps])
    order = np.argsort(all_times, kind="stable")
    all_views = [View.FULL] * len(full) + views
    return VideoHashes(
        hashes=np.ascontiguousarray(hashes[order]),
        timestamps=all_times[order],
        qualities=np.concatenate([full.qualities, qualities])[order],
        views=tuple(all_views[i] for i in order),
        duration_seconds=full.duration_seconds,
        frame_count=full.frame_count,
        view_design=design,
    )
