"""Frames by timestamp, via PyAV, as luminance planes: bounded memory whatever the length.

PDQ only needs luminance, so we take the decoder's Y plane (converted to full-range grey by
swscale, scaled down in the same pass when asked) and never build RGB frames. Frames are
yielded one at a time; nothing holds more than the current frame.

Every file is held to a pixel budget (`MediaBudget`, set per process with
`set_media_budget`) read from its header before any frame is decoded: a picture larger
than the budget raises `PictureTooLargeError`, media longer (seconds, frames, or a declared
frame rate no camera gives) raise `MediaTooLongError`; the decoded frames are counted
against the same budget, for headers that lie. Large stills are shrunk while decoding.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import av
import av.error
import cv2
import numpy as np
import numpy.typing as npt

from hashes.image_header import HEADER_BYTES, image_size
from hashes.types import MediaError, MediaTooLongError, PictureTooLargeError

IMAGE_SUFFIXES = frozenset({".jpg", ".jpeg", ".png", ".bmp", ".webp", ".tif", ".tiff"})

# Stills of more pixels than this are shrunk while decoding (JPEG by its DCT scaling, which
# never builds the full picture) by the largest of 2, 4, 8 that keeps their long side at
# REDUCED_MIN_SIDE or more: plenty for a 64x64 PDQ grid. Smaller stills, Meta's PDQ test
# images among them, are decoded at full size and keep their exact hashes.
REDUCE_ABOVE_PIXELS = 2048 * 2048
REDUCED_MIN_SIDE = 1024
_REDUCED_GRAYSCALE = {
    2: cv2.IMREAD_REDUCED_GRAYSCALE_2,
    4: cv2.IMREAD_REDUCED_GRAYSCALE_4,
    8: cv2.IMREAD_REDUCED_GRAYSCALE_8,
}


@dataclass(frozen=True, slots=True)
class MediaBudget:
    """What one file may ask of the decoder. Stills: `max_image_pixels`. Videos: pictures of
    `max_frame_pixels`, `max_duration_seconds`, `max_frames` decoded, and a declared frame
    rate of `max_frame_rate` at most."""

    max_image_pixels: int = 100_000_000
    max_frame_pixels: int = 40_000_000
    max_duration_seconds: float = 4 * 3600.0
    max_frames: int = 1_000_000
    max_frame_rate: float = 1000.0


_budget = MediaBudget()


def set_media_budget(budget: MediaBudget) -> None:
    """Hold every later decode in this process to `budget` (a hashing process sets it once,
    at its start, like its resource limits)."""
    global _budget
    _budget = budget


def media_budget() -> MediaBudget:
    """The budget decodes in this process are held to."""
    return _budget


@dataclass(frozen=True, slots=True)
class LumaFrame:
    """One decoded frame: its presentation time (seconds) and its luminance, uint8 (H, W)."""

    timestamp: float
    luma: npt.NDArray[np.uint8]


@dataclass(frozen=True, slots=True)
class DecodeOptions:
    """How to sample and decode.

    `fps=None` yields every frame. `max_side` scales frames down (area filter) so that their
    long side is at most that many pixels; None keeps the native size. `fast` lets the decoder
    skip frames nothing refers to: cheaper, and harmless when we sample a few frames per
    second.
    """

    fps: float | None = None
    max_side: int | None = None
    fast: bool = False


def _check_file(path: Path) -> None:
    if not path.exists():
        raise MediaError(f"{path}: no such file")
    if not path.is_file():
        raise MediaError(f"{path}: not a regular file")
    if path.stat().st_size == 0:
        raise MediaError(f"{path}: empty file")


def _rotate(luma: npt.NDArray[np.uint8], rotation: int) -> npt.NDArray[np.uint8]:
    # PyAV's rotation is the display-matrix angle, counter-clockwise in degrees.
    quarter_turns = round(rotation / 90) % 4
    if quarter_turns == 0:
        return luma
    return np.ascontiguousarray(np.rot90(luma, quarter_turns))


def _target_size(width: int, height: int, max_side: int | None) -> tuple[int, int]:
    if max_side is None or max(width, height) <= max_side:
        return width, height
    scale = max_side / max(width, height)
    return max(2, round(width * scale)), max(2, round(height * scale))


def read_image(path: Path, max_side: int | None = None) -> LumaFrame:
    """A still image as one frame at t=0 (luma computed from RGB the way PDQ does).

    Raises `PictureTooLargeError` when its header declares more pixels than the budget;
    a still above `REDUCE_ABOVE_PIXELS` is decoded shrunk, straight to grey.
    """
    _check_file(path)
    data = np.fromfile(str(path), dtype=np.uint8)
    size = image_size(data[:HEADER_BYTES].tobytes())
    if size is not None:
        _check_image_size(path, *size)
    factor = _reduction(size)
    if factor > 1:
        grey = cv2.imdecode(data, _REDUCED_GRAYSCALE[factor])
        if grey is None:
            raise MediaError(f"{path}: not a readable image")
        return LumaFrame(0.0, shrunk(np.asarray(grey, dtype=np.uint8), max_side))
    bgr = cv2.imdecode(data, cv2.IMREAD_COLOR)
    if bgr is None:
        raise MediaError(f"{path}: not a readable image")
    # Meta's BT.601 luma weights; cv2 gives BGR order.
    luma = (bgr.astype(np.float32) @ np.array([0.114, 0.587, 0.299], dtype=np.float32)).round()
    return LumaFrame(0.0, shrunk(np.clip(luma, 0, 255).astype(np.uint8), max_side))


def shrunk(image: npt.NDArray[np.uint8], max_side: int | None) -> npt.NDArray[np.uint8]:
    """`image` area-averaged down to `max_side` pixels on its long side, if it is larger."""
    width, height = _target_size(image.shape[1], image.shape[0], max_side)
    if (width, height) == (image.shape[1], image.shape[0]):
        return image
    return np.asarray(cv2.resize(image, (width, height), interpolation=cv2.INTER_AREA), np.uint8)


def _check_image_size(path: Path, width: int, height: int) -> None:
    limit = _budget.max_image_pixels
    if width * height > limit:
        raise PictureTooLargeError(
            f"{path.name}: a picture of {width}x{height} ({width * height / 1e6:.0f} megapixels),"
            f" more than the {limit / 1e6:g} megapixels allowed"
        )


def _reduction(size: tuple[int, int] | None) -> int:
    """By how much a still of `size` is shrunk while decoding (1: not at all)."""
    if size is None or size[0] * size[1] <= REDUCE_ABOVE_PIXELS:
        return 1
    long_side = max(size)
    for factor in (8, 4, 2):
        if long_side // factor >= REDUCED_MIN_SIDE:
            return factor
    return 1


@dataclass(frozen=True, slots=True)
class VideoInfo:
    duration_seconds: float
    width: int
    height: int
    average_fps: float


def iter_frames(path: Path, options: DecodeOptions = DecodeOptions()) -> Iterator[LumaFrame]:
    """Decode the first video stream of `path`, yielding sampled luminance frames in order.

    Raises MediaError when the file cannot be opened or holds no decodable video. A stream
    that breaks off midway ends the iteration with the frames decoded so far: a truncated
    re-upload still shows what it shows. If not one frame decodes, that is an error.
    """
    budget = _budget
    container = _open_video(path, budget)
    yielded = 0
    decoded = 0
    with container:
        if not container.streams.video:
            raise MediaError(f"{path}: no video stream")
        stream = container.streams.video[0]
        _check_video_header(path, container, stream, budget)
        context = stream.codec_context
        context.thread_count = 1  # the pipeline parallelises across files, not inside one
        codec_options = _decoder_limits(budget)
        if options.fast:
            # Only pictures nothing refers to: x264's B pyramid (its default) predicts P
            # pictures from B ones, so skipping every B picture smears the rest of the GOP.
            context.skip_frame = "NONREF"
            # The deblocking filter stays: later pictures are predicted from deblocked ones,
            # and without it the error grows along the GOP (17 bits of PDQ on average, up to
            # 76, on an x264 clip of a grey wall), for a tenth of the decoding time.
            codec_options["flags2"] = "+fast"
        context.options = codec_options
        next_time = -np.inf
        step = 1.0 / options.fps if options.fps else 0.0
        last_time = -np.inf
        try:
            for frame in container.decode(stream):
                timestamp = _frame_time(frame, stream, last_time)
                last_time = timestamp
                decoded += 1
                _check_decoded(path, frame, decoded, timestamp, budget)
                if step and timestamp + 1e-6 < next_time:
                    continue
                if step:
                    # Anchor to the grid so variable frame rates do not drift the sampling.
                    next_time = (np.floor(timestamp / step + 1e-9) + 1.0) * step
                rotation = int(getattr(frame, "rotation", 0) or 0)
                luma = _luma_of(frame, options.max_side)
                yielded += 1
                yield LumaFrame(timestamp, _rotate(luma, rotation))
        except (av.error.FFmpegError, ValueError) as exc:
            if yielded == 0:
                raise MediaError(f"{path}: cannot decode video ({_reason(exc)})") from exc
    if yielded == 0:
        raise MediaError(f"{path}: no decodable video frames")


# 8-bit formats whose first plane is the luma plane: read it as is, no conversion. Meta's
# vPDQ files agree best with the decoder's own Y values.
_Y_PLANE_FORMATS = frozenset(
    {"yuv420p", "yuvj420p", "yuv422p", "yuvj422p", "yuv444p", "yuvj444p", "nv12", "nv21", "gray"}
)


def _luma_of(frame: av.VideoFrame, max_side: int | None) -> npt.NDArray[np.uint8]:
    width, height = _target_size(frame.width, frame.height, max_side)
    if frame.format.name not in _Y_PLANE_FORMATS:
        luma = frame.to_ndarray(format="gray", width=width, height=height, interpolation="AREA")
        return np.ascontiguousarray(luma, dtype=np.uint8)
    plane = frame.planes[0]
    rows = np.frombuffer(memoryview(plane), dtype=np.uint8).reshape(-1, plane.line_size)
    luma = rows[: frame.height, : frame.width]
    if (width, height) != (frame.width, frame.height):
        return np.asarray(cv2.resize(luma, (width, height), interpolation=cv2.INTER_AREA), np.uint8)
    return np.array(luma, dtype=np.uint8)  # a copy: the decoder reuses its buffers


def _open_video(path: Path, budget: MediaBudget) -> av.container.InputContainer:
    _check_file(path)
    try:
        # The decoders' own pixel limit also holds while the container is probed.
        return av.open(
            str(path), mode="r", metadata_errors="ignore", options=_decoder_limits(budget)
        )
    except (av.error.FFmpegError, UnicodeDecodeError, OSError) as exc:
        raise MediaError(f"{path}: not a readable video ({_reason(exc)})") from exc


def _decoder_limits(budget: MediaBudget) -> dict[str, str]:
    # FFmpeg refuses to allocate a picture of more pixels than max_pixels.
    return {"max_pixels": str(budget.max_frame_pixels)}


def _declared_seconds(
    container: av.container.InputContainer, stream: av.video.stream.VideoStream
) -> float:
    if stream.duration is not None and stream.time_base is not None:
        return float(stream.duration * Fraction(stream.time_base))
    if container.duration is not None:
        return container.duration / 1_000_000
    return 0.0


def _check_video_header(
    path: Path,
    container: av.container.InputContainer,
    stream: av.video.stream.VideoStream,
    budget: MediaBudget,
) -> None:
    """The pixel budget against what the header declares, before any frame is decoded."""
    width, height = stream.codec_context.width, stream.codec_context.height
    if width * height > budget.max_frame_pixels:
        raise PictureTooLargeError(
            f"{path.name}: video pictures of {width}x{height}, more than the "
            f"{budget.max_frame_pixels / 1e6:g} megapixels allowed"
        )
    seconds = _declared_seconds(container, stream)
    if seconds > budget.max_duration_seconds:
        raise MediaTooLongError(
            f"{path.name}: {seconds:.0f} s of video, more than the "
            f"{budget.max_duration_seconds:g} s allowed"
        )
    rate = float(stream.average_rate or stream.base_rate or 0)
    if rate > budget.max_frame_rate:
        raise MediaTooLongError(
            f"{path.name}: a declared frame rate of {rate:g} per second, more than the "
            f"{budget.max_frame_rate:g} allowed"
        )
    frames = stream.frames or round(seconds * rate)
    if frames > budget.max_frames:
        raise MediaTooLongError(
            f"{path.name}: {frames} frames declared, more than the {budget.max_frames} allowed"
        )


def _check_decoded(
    path: Path, frame: av.VideoFrame, decoded: int, timestamp: float, budget: MediaBudget
) -> None:
    """The budget against what decoding shows, for headers that understate it."""
    if frame.width * frame.height > budget.max_frame_pixels:
        raise PictureTooLargeError(
            f"{path.name}: a video picture of {frame.width}x{frame.height}, more than the "
            f"{budget.max_frame_pixels / 1e6:g} megapixels allowed"
        )
    if decoded > budget.max_frames:
        raise MediaTooLongError(f"{path.name}: more than the {budget.max_frames} frames allowed")
    if timestamp > budget.max_duration_seconds:
        raise MediaTooLongError(
            f"{path.name}: video beyond the {budget.max_duration_seconds:g} s allowed"
        )


def _frame_time(frame: av.VideoFrame, stream: av.video.stream.VideoStream, last: float) -> float:
    if frame.pts is not None and stream.time_base is not None:
        start = stream.start_time or 0
        return float((frame.pts - start) * Fraction(stream.time_base))
    rate = float(stream.average_rate or 25)
    return max(0.0, last + 1.0 / rate) if np.isfinite(last) else 0.0


def video_info(path: Path) -> VideoInfo:
    """Duration, size and average frame rate from the container, without decoding."""
    with _open_video(path, _budget) as container:
        if not container.streams.video:
            raise MediaError(f"{path}: no video stream")
        stream = container.streams.video[0]
        return VideoInfo(
            duration_seconds=_declared_seconds(container, stream),
            width=stream.codec_context.width,
            height=stream.codec_context.height,
            average_fps=float(stream.average_rate or 0),
        )


def is_image(path: Path) -> bool:
    return path.suffix.lower() in IMAGE_SUFFIXES


def _reason(exc: BaseException) -> str:
    text = str(exc).strip() or type(exc).__name__
    # FFmpeg messages repeat the path; keep the part after it.
    return text.split(": '", 1)[0]
