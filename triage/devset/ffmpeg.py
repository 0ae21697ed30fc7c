"""Running ffmpeg and ffprobe for the development set: deterministic H.264 MP4, no audio."""

from __future__ import annotations

import json
import subprocess
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

MAX_SIDE = 960
FRAME_RATE = 30

# One thread per encode (jobs run side by side instead) and bit-exact muxing, so that the
# same seed gives the same bytes.
ENCODE_ARGS = (
    "-an", "-c:v", "libx264", "-preset", "veryfast", "-pix_fmt", "yuv420p",
    "-threads", "1", "-fflags", "+bitexact", "-flags:v", "+bitexact",
    "-map_metadata", "-1", "-movflags", "+faststart",
)  # fmt: skip


class DevsetError(Exception):
    """Building the development set failed; the message names the step and ffmpeg's words."""


@dataclass(frozen=True, slots=True)
class Clip:
    """A video file made (or read) while building, with what its edits need to know."""

    path: Path
    width: int
    height: int
    duration: float

    @property
    def landscape(self) -> bool:
        return self.width >= self.height


def run(command: Sequence[str], *, stdin: bytes | None = None) -> None:
    done = subprocess.run(list(command), input=stdin, capture_output=True, check=False)
    if done.returncode != 0:
        tail = done.stderr.decode("utf-8", "replace").strip().splitlines()[-3:]
        raise DevsetError(f"{command[0]} failed ({done.returncode}): {' | '.join(tail)}")


def probe(path: Path) -> Clip:
    """Size and duration of the first video stream."""
    done = subprocess.run(
        ["ffprobe", "-v", "error", "-select_streams", "v:0", "-show_entries",
         "stream=width,height:format=duration", "-of", "json", str(path)],
        capture_output=True, check=False,
    )  # fmt: skip
    try:
        info = json.loads(done.stdout)
        stream = info["streams"][0]
        return Clip(path, int(stream["width"]), int(stream["height"]),
                    float(info["format"]["duration"]))  # fmt: skip
    except (ValueError, KeyError, IndexError) as exc:
        raise DevsetError(f"{path}: cannot probe: {done.stderr.decode(errors='replace')}") from exc


def even(value: float) -> int:
    """The nearest even integer ≥ 2 (H.264 in 4:2:0 needs even sizes)."""
    return max(2, round(value / 2) * 2)


def fit(width: int, height: int, max_side: int = MAX_SIDE) -> tuple[int, int]:
    """Even size with the same aspect and the long side at most `max_side`."""
    scale = min(1.0, max_side / max(width, height))
    return even(width * scale), even(height * scale)
