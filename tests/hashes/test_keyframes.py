"""Keyframes: small colour JPEGs at the asked times, of videos and stills."""

from __future__ import annotations

import subprocess
from pathlib import Path

import cv2
import numpy as np
import pytest

from hashes.keyframes import cut_keyframes, grid_timestamps
from hashes.types import MediaError


@pytest.fixture(scope="module")
def counter_clip(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """4 s at 10 fps whose picture changes colour every second (red, green, blue, white)."""
    out = tmp_path_factory.mktemp("keyframes") / "colours.mp4"
    colours = ["red", "green", "blue", "white"]
    inputs: list[str] = []
    for colour in colours:
        inputs += ["-f", "lavfi", "-i", f"color=c={colour}:s=640x360:r=10:d=1"]
    chain = "".join(f"[{i}:v]" for i in range(len(colours)))
    subprocess.run(
        ["ffmpeg", "-v", "error", "-y", *inputs, "-filter_complex",
         f"{chain}concat=n={len(colours)}:v=1:a=0", "-pix_fmt", "yuv420p", str(out)],
        check=True,
    )  # fmt: skip
    return out


def _bgr(jpeg: bytes) -> np.ndarray:
    image = cv2.imdecode(np.frombuffer(jpeg, np.uint8), cv2.IMREAD_COLOR)
    assert image is not None
    return np.asarray(image)


def test_frames_are_cut_at_the_asked_times_in_colour(counter_clip: Path) -> None:
    frames = cut_keyframes(counter_clip, [2.5, 0.2, 1.5, 0.2], max_side=160)
    assert [f.timestamp_seconds for f in frames] == [0.2, 1.5, 2.5]
    means = [_bgr(f.jpeg).reshape(-1, 3).mean(axis=0) for f in frames]  # B, G, R
    assert int(np.argmax(means[0])) == 2  # red at 0.2 s
    assert int(np.argmax(means[1])) == 1  # green at 1.5 s
    assert int(np.argmax(means[2])) == 0  # blue at 2.5 s


def test_frames_are_small(counter_clip: Path) -> None:
    [frame] = cut_keyframes(counter_clip, [1.0], max_side=160)
    assert _bgr(frame.jpeg).shape[:2] == (90, 160)


def test_a_time_past_the_end_gets_the_last_frame(counter_clip: Path) -> None:
    [frame] = cut_keyframes(counter_clip, [60.0], max_side=64)
    assert _bgr(frame.jpeg).reshape(-1, 3).mean() > 200  # white: the last second


def test_the_first_and_the_last_second_in_one_call(counter_clip: Path) -> None:
    frames = cut_keyframes(counter_clip, [0.0, 3.5], max_side=64)
    assert _bgr(frames[1].jpeg).reshape(-1, 3).mean() > 200


def test_a_still_image_is_the_frame_at_every_time(tmp_path: Path) -> None:
    image = tmp_path / "still.png"
    cv2.imwrite(str(image), np.full((400, 800, 3), (0, 0, 255), np.uint8))
    frames = cut_keyframes(image, [0.0, 1.0], max_side=200)
    assert len(frames) == 2 and frames[0].jpeg == frames[1].jpeg
    assert _bgr(frames[0].jpeg).shape[:2] == (100, 200)


def test_a_file_that_is_not_media_is_a_media_error(tmp_path: Path) -> None:
    junk = tmp_path / "junk.mp4"
    junk.write_bytes(b"not a video at all" * 100)
    with pytest.raises(MediaError):
        cut_keyframes(junk, [0.0])


def test_the_reference_grid_covers_the_duration() -> None:
    assert grid_timestamps(5.0, 2.0) == [0.0, 2.0, 4.0]
    assert grid_timestamps(0.0, 2.0) == [0.0]
