"""Fast decoding (`DecodeOptions.fast`): which work the decoder may skip without changing
the pictures it keeps."""

from __future__ import annotations

import subprocess
from pathlib import Path

import numpy as np
import pytest

from hashes import pdq
from hashes.decode import DecodeOptions, iter_frames

SAMPLE_FPS = 4.0


def _encode(source: Path, out: Path, *codec: str) -> Path:
    subprocess.run(
        ["ffmpeg", "-v", "error", "-y", "-i", str(source), "-t", "4", "-vf", "scale=640:-2",
         *codec, "-pix_fmt", "yuv420p", str(out)],
        check=True,
    )  # fmt: skip
    return out


def _hashes(path: Path, fast: bool) -> dict[float, bytes]:
    options = DecodeOptions(fps=None if not fast else SAMPLE_FPS, max_side=320, fast=fast)
    frames = list(iter_frames(path, options))
    grids = np.stack([pdq.downsample_64_fast(frame.luma) for frame in frames])
    hashes, _ = pdq.hash_grids(grids)
    return {round(f.timestamp, 3): bytes(h) for f, h in zip(frames, hashes, strict=True)}


def _bits(a: bytes, b: bytes) -> int:
    return int(np.unpackbits(np.frombuffer(a, np.uint8) ^ np.frombuffer(b, np.uint8)).sum())


@pytest.mark.parametrize(
    ("name", "codec"),
    [
        # x264's defaults: three B pictures, some of them references for others.
        ("h264", ("-c:v", "libx264", "-x264-params", "bframes=3:b-pyramid=normal")),
        # HEVC codes most reference pictures as B: skipping B pictures there would leave
        # almost nothing to decode.
        ("hevc", ("-c:v", "libx265", "-x265-params", "log-level=error:bframes=4:b-pyramid=1")),
    ],
)
def test_fast_decoding_keeps_the_sampling_rate_and_the_pictures(
    shared_data: Path, tmp_path: Path, name: str, codec: tuple[str, ...]
) -> None:
    clip = _encode(shared_data / "sources" / "te-doorknob-hd-no-bar.mp4", tmp_path / f"{name}.mp4",
                   *codec)  # fmt: skip
    every_frame = _hashes(clip, fast=False)
    sampled = _hashes(clip, fast=True)
    times = sorted(sampled)
    # Samples on the 4 fps grid, whatever the decoder skipped.
    assert len(times) == pytest.approx(4 * SAMPLE_FPS, abs=1)
    assert max(np.diff(times)) <= 1.5 / SAMPLE_FPS
    # The pictures kept are the ones a full decode gives: no reference lost, no deblocking
    # skipped (either error grows along the GOP, tens of bits on this grey wall).
    distances = [_bits(sampled[t], every_frame[t]) for t in times]
    assert max(distances) == 0, distances
