"""Footage for the development set: cuts of real clips, FFmpeg's generated sources, and
camera pans over generated stills (rendered here frame by frame and piped to the encoder)."""

from __future__ import annotations

import math
from pathlib import Path

import cv2
import numpy as np

from triage.devset.ffmpeg import ENCODE_ARGS, FRAME_RATE, MAX_SIDE, Clip, even, probe, run
from triage.devset.images import Image

REFERENCE_CRF = "18"


def _encode(out: Path, crf: str = REFERENCE_CRF) -> list[str]:
    return [*ENCODE_ARGS, "-crf", crf, "-r", str(FRAME_RATE), "-y", str(out)]


def _fit_filter(max_side: int = MAX_SIDE) -> str:
    long_side = f"{max_side}/max(iw,ih)"
    return (
        f"scale=w='trunc(min(1,{long_side})*iw/2)*2':h='trunc(min(1,{long_side})*ih/2)*2',setsar=1"
    )


def cut(source: Path, out: Path, start: float, seconds: float, max_side: int = MAX_SIDE) -> Clip:
    """`seconds` of `source` from `start`, re-encoded at most `max_side` on its long side."""
    run(["ffmpeg", "-v", "error", "-nostdin", "-ss", f"{start:.3f}", "-i", str(source),
         "-t", f"{seconds:.3f}", "-vf", _fit_filter(max_side), *_encode(out)])  # fmt: skip
    return probe(out)


def generated(source: str, out: Path, seconds: float, filters: str = "") -> Clip:
    """A clip from an FFmpeg lavfi source expression (`mandelbrot=...`, `life=...`)."""
    chain = ",".join(part for part in (filters, _fit_filter()) if part)
    run(["ffmpeg", "-v", "error", "-nostdin", "-f", "lavfi", "-i", source,
         "-t", f"{seconds:.3f}", "-vf", chain, *_encode(out)])  # fmt: skip
    return probe(out)


def still(image: Image, out: Path, seconds: float, filters: str = "") -> Clip:
    """A still image held for `seconds` (title cards, walls)."""
    png = out.with_suffix(".png")
    cv2.imwrite(str(png), image)
    chain = ",".join(part for part in (filters, _fit_filter()) if part)
    run(["ffmpeg", "-v", "error", "-nostdin", "-loop", "1", "-framerate", str(FRAME_RATE),
         "-i", str(png), "-t", f"{seconds:.3f}", "-vf", chain, *_encode(out)])  # fmt: skip
    png.unlink()
    return probe(out)


def pan(
    image: Image,
    out: Path,
    size: tuple[int, int],
    seconds: float,
    rng: np.random.Generator,
    region: tuple[float, float, float, float] = (0.0, 0.0, 1.0, 1.0),
) -> Clip:
    """A camera moving over `image`: drifting, zooming and turning a little, its centre kept
    inside `region` (fractions x0, y0, x1, y1 of the image), so two pans over disjoint regions
    of one still look alike but share no frame."""
    width, height = even(size[0]), even(size[1])
    image_h, image_w = image.shape[:2]
    x0, y0, x1, y1 = region
    # The view spans zoom × output size in image pixels; keep it inside the image.
    zoom_start, zoom_end = rng.uniform(0.9, 1.4, size=2)
    margin_x = width * max(zoom_start, zoom_end) / 2 / image_w
    margin_y = height * max(zoom_start, zoom_end) / 2 / image_h
    lo_x, hi_x = max(x0, margin_x), min(x1, 1 - margin_x)
    lo_y, hi_y = max(y0, margin_y), min(y1, 1 - margin_y)
    start = rng.uniform((lo_x, lo_y), (hi_x, hi_y))
    end = rng.uniform((lo_x, lo_y), (hi_x, hi_y))
    turn = rng.uniform(-6, 6)
    wobble_hz = rng.uniform(0.2, 0.6)
    frames = round(seconds * FRAME_RATE)
    raw = bytearray()
    for index in range(frames):
        progress = 0.5 - 0.5 * math.cos(math.pi * index / max(frames - 1, 1))
        centre_x = (start[0] + (end[0] - start[0]) * progress) * image_w
        centre_y = (start[1] + (end[1] - start[1]) * progress) * image_h
        centre_y += 0.01 * image_h * math.sin(2 * math.pi * wobble_hz * index / FRAME_RATE)
        zoom = zoom_start + (zoom_end - zoom_start) * progress
        matrix = cv2.getRotationMatrix2D((centre_x, centre_y), turn * progress, 1 / zoom)
        matrix[0, 2] += width / 2 - centre_x
        matrix[1, 2] += height / 2 - centre_y
        frame = cv2.warpAffine(image, matrix, (width, height), flags=cv2.INTER_LINEAR,
                               borderMode=cv2.BORDER_REFLECT)  # fmt: skip
        raw += frame.tobytes()
    run(["ffmpeg", "-v", "error", "-f", "rawvideo", "-pix_fmt", "bgr24", "-s",
         f"{width}x{height}", "-r", str(FRAME_RATE), "-i", "-", *_encode(out)],
        stdin=bytes(raw))  # fmt: skip
    return probe(out)
