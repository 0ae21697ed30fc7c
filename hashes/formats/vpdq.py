"""Meta's vPDQ hash files: one line per frame, ``frame_number,quality,pdq_hash_hex,timestamp``.

This is the text format Meta's vPDQ tools read and write (timestamps in seconds with three
decimals). Readers here accept blank lines, ``#`` comments and CRLF line ends, which Meta's
files do not contain but hand-edited ones might.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from pathlib import Path
from typing import TextIO

import numpy as np

from hashes.types import PDQ_BYTES, FloatArray, FormatError, PDQHash, VideoHashes

FIELD_COUNT = 4
MAX_QUALITY = 100


def read_vpdq(source: Path | str | TextIO) -> VideoHashes:
    """Read a vPDQ file (a path, or an open text stream) into full-frame `VideoHashes`.

    `frame_count` is the number of hash lines; `duration_seconds` is the last timestamp plus
    one frame interval (the median step between timestamps). Raises `FormatError` naming the
    file, the line number and the problem for any malformed line, and for a file without hashes.
    """
    if isinstance(source, str | Path):
        path = Path(source)
        try:
            # utf-8-sig: a byte-order mark left by a text editor is not part of line 1.
            with path.open(encoding="utf-8-sig", newline="") as stream:
                return _parse(stream, str(path))
        except UnicodeDecodeError as exc:
            raise FormatError(f"{path}: not a text file ({exc.reason})") from exc
    return _parse(source, str(getattr(source, "name", "<stream>")))


def write_vpdq(hashes: VideoHashes, out: TextIO) -> None:
    """Write the full-frame rows of `hashes` as vPDQ lines, frame numbers 0..n-1."""
    full = hashes.full_frame()
    for row in range(len(full)):
        digest = bytes(full.hashes[row]).hex()
        quality = int(full.qualities[row])
        out.write(f"{row},{quality},{digest},{float(full.timestamps[row]):.3f}\n")


def _parse(lines: Iterable[str], name: str) -> VideoHashes:
    digests: list[bytes] = []
    qualities: list[int] = []
    timestamps: list[float] = []
    previous_frame = -1
    for line_number, raw in enumerate(lines, start=1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        where = f"{name}: line {line_number}"
        frame, quality, digest, timestamp = _parse_line(line, where)
        if frame <= previous_frame:
            raise FormatError(
                f"{where}: frame number {frame} does not follow frame {previous_frame}"
            )
        if timestamps and timestamp < timestamps[-1]:
            raise FormatError(
                f"{where}: timestamp {timestamp:.3f} goes back from {timestamps[-1]:.3f}"
            )
        previous_frame = frame
        digests.append(digest)
        qualities.append(quality)
        timestamps.append(timestamp)
    if not digests:
        raise FormatError(f"{name}: no frame hashes in the file")
    times = np.array(timestamps, dtype=np.float64)
    return VideoHashes(
        hashes=np.frombuffer(b"".join(digests), dtype=np.uint8).reshape(-1, PDQ_BYTES).copy(),
        timestamps=times,
        qualities=np.array(qualities, dtype=np.int16),
        duration_seconds=_estimate_duration_seconds(times),
        frame_count=len(digests),
    )


def _parse_line(line: str, where: str) -> tuple[int, int, bytes, float]:
    fields = line.split(",")
    if len(fields) != FIELD_COUNT:
        raise FormatError(
            f"{where}: expected {FIELD_COUNT} comma-separated fields "
            f"(frame,quality,hash,timestamp), got {len(fields)}"
        )
    frame_text, quality_text, digest_text, timestamp_text = (f.strip() for f in fields)
    try:
        frame = int(frame_text)
    except ValueError:
        raise FormatError(f"{where}: frame number is not an integer: {frame_text!r}") from None
    if frame < 0:
        raise FormatError(f"{where}: frame number is negative: {frame}")
    try:
        quality = int(quality_text)
    except ValueError:
        raise FormatError(f"{where}: quality is not an integer: {quality_text!r}") from None
    if not 0 <= quality <= MAX_QUALITY:
        raise FormatError(f"{where}: quality {quality} is outside 0-{MAX_QUALITY}")
    try:
        digest = PDQHash.from_hex(digest_text).value
    except FormatError as exc:
        raise FormatError(f"{where}: {exc}") from None
    try:
        timestamp = float(timestamp_text)
    except ValueError:
        raise FormatError(f"{where}: timestamp is not a number: {timestamp_text!r}") from None
    if not math.isfinite(timestamp) or timestamp < 0:
        raise FormatError(f"{where}: timestamp must be finite and >= 0, got {timestamp_text!r}")
    return frame, quality, digest, timestamp


def _estimate_duration_seconds(timestamps: FloatArray) -> float:
    """Last timestamp plus one frame interval (the median positive step); a lone frame lasts 0."""
    if len(timestamps) == 0:
        return 0.0
    steps = np.diff(timestamps)
    steps = steps[steps > 0]
    interval = float(np.median(steps)) if len(steps) else 0.0
    # Rounded so float noise (6.866000000000001) does not leak into exported lists.
    return round(float(timestamps[-1]) + interval, 6)
