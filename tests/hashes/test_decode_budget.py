"""The pixel budget, read from headers before decoding, and stills shrunk while decoding."""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from pathlib import Path

import cv2
import numpy as np
import pytest

from hashes import pdq
from hashes.decode import (
    REDUCE_ABOVE_PIXELS,
    MediaBudget,
    iter_frames,
    media_budget,
    read_image,
    set_media_budget,
)
from hashes.image_header import image_size
from hashes.types import MediaTooLongError, PictureTooLargeError
from tests.workers import hostile_inputs


@pytest.fixture
def budget() -> Iterator[None]:
    """Restores the process's budget after a test that sets its own."""
    before = media_budget()
    yield
    set_media_budget(before)


def _ffmpeg(*args: str) -> None:
    subprocess.run(["ffmpeg", "-v", "error", "-y", *args], check=True)


@pytest.mark.parametrize("suffix", [".png", ".jpg", ".webp", ".bmp"])
def test_image_size_is_read_from_the_header(suffix: str) -> None:
    ok, encoded = cv2.imencode(suffix, np.zeros((37, 53, 3), np.uint8))
    assert ok
    assert image_size(encoded.tobytes()) == (53, 37)


def test_image_size_of_an_unknown_format_is_none() -> None:
    assert image_size(b"GIF89a" + bytes(32)) is None


def test_png_bomb_is_refused_before_decoding(tmp_path: Path) -> None:
    with pytest.raises(PictureTooLargeError, match="20000x20000"):
        read_image(hostile_inputs.png_bomb(tmp_path))


def test_jpeg_bomb_is_refused_before_decoding(tmp_path: Path) -> None:
    with pytest.raises(PictureTooLargeError, match="400 megapixels"):
        read_image(hostile_inputs.jpeg_bomb(tmp_path))


def test_large_still_is_decoded_shrunk_with_nearly_the_same_hash(
    tmp_path: Path, shared_data: Path
) -> None:
    # A frame of a shared clip at 4800x2700: decoded at a quarter of each side, to grey.
    path = tmp_path / "large.jpg"
    _ffmpeg("-ss", "2", "-i", str(shared_data / "sources" / "te-doorknob-hd-no-bar.mp4"),
            "-frames:v", "1", "-vf", "scale=4800:2700", "-q:v", "2", str(path))  # fmt: skip
    assert REDUCE_ABOVE_PIXELS < 4800 * 2700

    shrunk = read_image(path).luma
    colour = np.asarray(cv2.imread(str(path), cv2.IMREAD_COLOR), np.float32)
    full = np.clip((colour @ np.array([0.114, 0.587, 0.299], np.float32)).round(), 0, 255)

    assert shrunk.shape == (675, 1200)
    grids = np.stack([pdq.downsample_64(shrunk), pdq.downsample_64(full.astype(np.uint8))])
    hashes, _ = pdq.hash_grids(grids)
    assert int(np.unpackbits(hashes[0] ^ hashes[1]).sum()) <= 8


def test_still_within_budget_but_over_a_set_limit_is_refused(tmp_path: Path, budget: None) -> None:
    path = tmp_path / "still.png"
    cv2.imwrite(str(path), np.zeros((100, 100), np.uint8))
    set_media_budget(MediaBudget(max_image_pixels=9_999))
    with pytest.raises(PictureTooLargeError):
        read_image(path)


def test_video_longer_than_declared_budget_is_refused_from_its_header(
    tmp_path: Path, budget: None
) -> None:
    path = tmp_path / "clip.mp4"
    _ffmpeg("-f", "lavfi", "-i", "testsrc=s=64x64:r=25", "-t", "3", str(path))
    set_media_budget(MediaBudget(max_duration_seconds=2.0))
    with pytest.raises(MediaTooLongError, match="3 s of video"):
        next(iter_frames(path))


def test_video_pictures_beyond_budget_are_refused_from_the_header(
    tmp_path: Path, budget: None
) -> None:
    path = tmp_path / "clip.mp4"
    _ffmpeg("-f", "lavfi", "-i", "testsrc=s=320x240:r=25", "-t", "1", str(path))
    set_media_budget(MediaBudget(max_frame_pixels=320 * 240 - 1))
    with pytest.raises(PictureTooLargeError, match="320x240"):
        next(iter_frames(path))


def test_claimed_frame_rate_beyond_budget_is_refused(tmp_path: Path) -> None:
    with pytest.raises(MediaTooLongError, match="frame rate"):
        next(iter_frames(hostile_inputs.claimed_rate(tmp_path)))


def test_frames_are_counted_while_decoding_when_the_header_declares_none(
    tmp_path: Path, budget: None
) -> None:
    # A raw H.264 stream declares neither duration nor frame count.
    path = tmp_path / "raw.h264"
    _ffmpeg("-f", "lavfi", "-i", "testsrc=s=64x64:r=25", "-t", "4", "-f", "h264", str(path))
    set_media_budget(MediaBudget(max_frames=50))
    frames = iter_frames(path)
    for _ in range(50):
        next(frames)
    with pytest.raises(MediaTooLongError, match="50 frames"):
        next(frames)
