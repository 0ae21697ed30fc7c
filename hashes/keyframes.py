"""Keyframes: small colour JPEGs of a video (or image) at given times, for people to look at.

Reviewers compare a query with the reference it matched by eye, so these are colour pictures
scaled down to a long side of `max_side` pixels; hashing never uses them.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import av
import av.error
import cv2
import numpy as np
import numpy.typing as npt

from hashes.decode import is_image
from hashes.types import MediaError

# Farther than this ahead of the last decoded frame, seeking beats decoding the way there.
SEEK_GAP_SECONDS = 10.0


@dataclass(frozen=True, slots=True)
class CutFrame:
    """The JPEG of the first frame at or after `timestamp_seconds` (the last frame, past the
    end; the image itself, for a still)."""

    timestamp_seconds: float
    jpeg: bytes


def grid_timestamps(duration_seconds: float, every_seconds: float) -> list[float]:
    """0, every, 2·every, ... up to the duration: where a reference is cut."""
    if every_seconds <= 0:
        raise ValueError(f"every_seconds must be positive, got {every_seconds}")
    count = int(max(duration_seconds, 0.0) // every_seconds) + 1
    return [round(i * every_seconds, 3) for i in range(count)]


def cut_keyframes(
    path: Path, timestamps: Sequence[float], *, max_side: int = 320, quality: int = 70
) -> list[CutFrame]:
    """One JPEG per distinct timestamp (seconds, sorted on the way), at most `max_side` pixels
    on its long side. Raises MediaError for a file that is neither a video nor an image."""
    wanted = sorted({max(0.0, round(t, 3)) for t in timestamps})
    if not wanted:
        return []
    if is_image(path):
        image = cv2.imread(str(path), cv2.IMREAD_COLOR)
        if image is None:
            raise MediaError(f"{path}: not a readable image")
        jpeg = _jpeg(_fit(np.asarray(image, dtype=np.uint8), max_side), quality)
        return [CutFrame(t, jpeg) for t in wanted]
    return [
        CutFrame(t, _jpeg(picture, quality)) for t, picture in _pictures_at(path, wanted, max_side)
    ]


def _pictures_at(
    path: Path, wanted: list[float], max_side: int
) -> Iterator[tuple[float, npt.NDArray[np.uint8]]]:
    try:
        container = av.open(str(path), mode="r", metadata_errors="ignore")
    except (av.error.FFmpegError, UnicodeDecodeError, OSError) as exc:
        raise MediaError(f"{path}: not a readable video ({exc})") from exc
    with container:
        if not container.streams.video:
            raise MediaError(f"{path}: no video stream")
        stream = container.streams.video[0]
        stream.codec_context.thread_count = 1
        # Pictures nothing refers to are skipped: a keyframe a frame or two later is as good.
        stream.codec_context.skip_frame = "NONREF"
        time_base = Fraction(stream.time_base or Fraction(1, 1000))
        start = stream.start_time or 0
        pending = list(wanted)
        last: tuple[float, av.VideoFrame] | None = None
        while pending:
            target = pending[0]
            if last is None or target - last[0] > SEEK_GAP_SECONDS:
                offset = int(target / time_base) + start
                try:
                    container.seek(offset, stream=stream, backward=True, any_frame=False)
                except av.error.FFmpegError:
                    container.seek(0)
            found = False
            try:
                for frame in container.decode(stream):
                    if frame.pts is None:
                        continue
                    seconds = float((frame.pts - start) * time_base)
                    last = (seconds, frame)
                    while pending and seconds + 1e-3 >= pending[0]:
                        yield pending.pop(0), _picture(frame, max_side)
                        found = True
                    if found:
                        break
            except (av.error.FFmpegError, ValueError) as exc:
                if last is None:
                    raise MediaError(f"{path}: cannot decode video ({exc})") from exc
            if not found:
                # Past the end (or a broken tail): the last frame stands for the rest.
                if last is None:
                    raise MediaError(f"{path}: no decodable video frames")
                picture = _picture(last[1], max_side)
                for target in pending:
                    yield target, picture
                return


def _picture(frame: av.VideoFrame, max_side: int) -> npt.NDArray[np.uint8]:
    width, height = frame.width, frame.height
    scale = min(1.0, max_side / max(width, height))
    size = (max(2, round(width * scale)), max(2, round(height * scale)))
    bgr = frame.to_ndarray(format="bgr24", width=size[0], height=size[1], interpolation="AREA")
    quarter_turns = round(int(getattr(frame, "rotation", 0) or 0) / 90) % 4
    if quarter_turns:
        bgr = np.rot90(bgr, quarter_turns)
    return np.ascontiguousarray(bgr, dtype=np.uint8)


def _fit(image: npt.NDArray[np.uint8], max_side: int) -> npt.NDArray[np.uint8]:
    height, width = image.shape[:2]
    scale = min(1.0, max_side / max(width, height))
    if scale == 1.0:
        return image
    size = (max(2, round(width * scale)), max(2, round(height * scale)))
    return np.asarray(cv2.resize(image, size, interpolation=cv2.INTER_AREA), dtype=np.uint8)


def _jpeg(picture: npt.NDArray[np.uint8], quality: int) -> bytes:
    ok, encoded = cv2.imencode(".jpg", picture, [cv2.IMWRITE_JPEG_QUALITY, quality])
    if not ok:
        raise MediaError("the frame could not be encoded as JPEG")
    return bytes(encoded.tobytes())
