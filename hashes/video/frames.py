"""The frames a hashing pass reads: decoded from a video or an image, in chunks."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import numpy as np

from hashes.decode import DecodeOptions, LumaFrame, is_image, iter_frames, read_image

CHUNK_FRAMES = 16  # layout statistics gather over a chunk before its frames are hashed


def media_frames(path: Path, options: DecodeOptions) -> Iterator[LumaFrame]:
    """The frames of the video at `path`, or the image there as one frame at t=0."""
    if is_image(path):
        yield read_image(path, options.max_side)
        return
    yield from iter_frames(path, options)


def chunks(frames: Iterator[LumaFrame], size: int) -> Iterator[list[LumaFrame]]:
    chunk: list[LumaFrame] = []
    for frame in frames:
        chunk.append(frame)
        if len(chunk) == size:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


def observed(
    chunks: Iterator[list[LumaFrame]],
    observe: Callable[[list[LumaFrame]], None],
    *,
    ahead: bool,
) -> Iterator[list[LumaFrame]]:
    """Each chunk after `observe` has seen it (and, with `ahead`, the next one too)."""
    held: list[LumaFrame] | None = None
    for chunk in chunks:
        observe(chunk)
        if not ahead:
            yield chunk
            continue
        if held is not None:
            yield held
        held = chunk
    if held is not None:
        yield held


def duration_of(frame_times: list[float]) -> float:
    """Seconds a video of frames at `frame_times` lasts: to the last frame's end, a frame
    lasting the usual step between frames (1 s for a single frame)."""
    if len(frame_times) < 2:
        return 0.0 if not frame_times else 1.0
    steps = np.diff(np.asarray(frame_times))
    step = float(np.median(steps)) if len(steps) else 0.0
    return float(frame_times[-1] + max(step, 0.0))
