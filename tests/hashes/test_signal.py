"""The frame-signal seam: every signal passes one contract, and the test-only 64-bit average
hash goes through the unchanged index and matcher as PDQ does."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import numpy.typing as npt
import pytest

from hashes.decode import DecodeOptions, LumaFrame, iter_frames
from hashes.index import ExactIndex
from hashes.matcher import Matcher
from hashes.pdq import hamming
from hashes.signal import PDQ, FrameSignal
from hashes.types import FormatError, HashError, VideoHashes
from tests.hashes.average_hash import AverageHash

REFERENCE = "te-chair-orig-22-sd-bar.mp4"
# The same footage with its first 3.7 s cut: query second 0 shows reference second 3.7.
TRIMMED = "te-chair-19-sd-bar.mp4"
CUT_SECONDS = 3.7
UNRELATED = "te-pattern-hd-no-bar.mp4"
REFERENCE_FPS = 8.0
QUERY_FPS = 4.0


def _texture(seed: int, shape: tuple[int, int] = (240, 320)) -> npt.NDArray[np.uint8]:
    """A smooth random picture: detail at every scale a signal samples."""
    coarse = np.random.default_rng(seed).integers(0, 256, size=(12, 16)).astype(np.float32)
    smooth = cv2.resize(coarse, (shape[1], shape[0]), interpolation=cv2.INTER_CUBIC)
    return np.asarray(np.clip(smooth, 0, 255), dtype=np.uint8)


def _flat(level: int = 90, shape: tuple[int, int] = (240, 320)) -> npt.NDArray[np.uint8]:
    return np.full(shape, level, dtype=np.uint8)


def _video_hashes(signal: FrameSignal, frames: list[LumaFrame], fps: float) -> VideoHashes:
    hashes, qualities = signal.hash_frames([frame.luma for frame in frames])
    timestamps = np.array([frame.timestamp for frame in frames], dtype=np.float64)
    return VideoHashes(
        hashes=hashes,
        timestamps=timestamps,
        qualities=qualities,
        duration_seconds=float(timestamps[-1]) + 1.0 / fps,
        frame_count=len(frames),
        hash_bits=signal.hash_bits,
    )


@pytest.fixture(scope="module")
def decoded(shared_data: Path) -> dict[str, list[LumaFrame]]:
    """The clips' frames, decoded once for every signal."""
    sources = shared_data / "sources"
    return {
        REFERENCE: list(iter_frames(sources / REFERENCE, DecodeOptions(fps=REFERENCE_FPS))),
        TRIMMED: list(iter_frames(sources / TRIMMED, DecodeOptions(fps=QUERY_FPS))),
        UNRELATED: list(iter_frames(sources / UNRELATED, DecodeOptions(fps=QUERY_FPS))),
    }


class FrameSignalContract:
    """What the matcher and the index rely on, for any signal."""

    signal: FrameSignal

    def test_hashes_have_the_declared_width_and_a_quality_each(self) -> None:
        hashes, qualities = self.signal.hash_frames([_texture(1), _texture(2), _flat()])
        assert self.signal.hash_bits % 8 == 0
        assert hashes.dtype == np.uint8 and hashes.shape == (3, self.signal.hash_bits // 8)
        assert qualities.dtype == np.int16 and qualities.shape == (3,)
        assert ((qualities >= 0) & (qualities <= 100)).all()

    def test_no_frames_give_no_hashes_of_the_declared_width(self) -> None:
        hashes, qualities = self.signal.hash_frames([])
        assert hashes.shape == (0, self.signal.hash_bits // 8) and len(qualities) == 0

    def test_a_frame_lies_near_its_reencode_and_far_from_another_picture(self) -> None:
        picture = _texture(3)
        _, encoded = cv2.imencode(".jpg", picture, [cv2.IMWRITE_JPEG_QUALITY, 60])
        reencoded = np.asarray(cv2.imdecode(encoded, cv2.IMREAD_GRAYSCALE), dtype=np.uint8)
        hashes, _ = self.signal.hash_frames([picture, reencoded, _texture(4)])
        distances = hamming(hashes[:1], hashes[1:])[0]
        assert distances[0] <= self.signal.near_distance
        assert distances[1] > self.signal.match_distance

    def test_a_detailed_frame_is_above_min_quality_and_a_flat_one_below(self) -> None:
        _, qualities = self.signal.hash_frames([_texture(5), _flat()])
        assert qualities[0] >= self.signal.min_quality > qualities[1]

    @pytest.mark.parametrize("use_quality", [True, False])
    def test_a_pair_counts_fully_when_near_and_never_beyond_the_match_distance(
        self, use_quality: bool
    ) -> None:
        s = self.signal
        distances = np.array(
            [0, s.near_distance, s.match_distance, s.match_distance + 1, s.hash_bits],
            dtype=np.int32,
        )
        detailed = np.full(len(distances), 100, dtype=np.int16)
        weights = s.weigh(distances, detailed, detailed, use_quality=use_quality)
        assert weights.tolist() == [1.0, 1.0, 0.0, 0.0, 0.0]

    def test_weights_never_grow_with_distance(self) -> None:
        s = self.signal
        distances = np.arange(s.hash_bits + 1, dtype=np.int32)
        for lower in (0, s.min_quality, 50, 100):
            qualities = np.full(len(distances), lower, dtype=np.int16)
            weights = s.weigh(distances, qualities, np.full_like(qualities, 100), use_quality=True)
            assert ((weights >= 0.0) & (weights <= 1.0)).all()
            assert (np.diff(weights) <= 0.0).all()

    def test_the_index_holds_and_finds_the_signals_hashes(self) -> None:
        frames = [LumaFrame(float(t), _texture(10 + t)) for t in range(5)]
        reference = _video_hashes(self.signal, frames, fps=1.0)
        index = ExactIndex(self.signal.hash_bits)
        index.add("textures", reference)
        found = index.search(reference.hashes[2:3], self.signal.match_distance)
        nearest = found.reference_times[found.distances == 0]
        assert nearest.tolist() == [2.0]

    def test_a_trimmed_copy_aligns_on_the_cut_and_unrelated_footage_does_not_match(
        self, decoded: dict[str, list[LumaFrame]]
    ) -> None:
        index = ExactIndex(self.signal.hash_bits)
        index.add("chair", _video_hashes(self.signal, decoded[REFERENCE], REFERENCE_FPS))
        matcher = Matcher(index, signal=self.signal)

        (best,) = matcher.match(_video_hashes(self.signal, decoded[TRIMMED], QUERY_FPS))
        first = best.segments[0]
        assert abs((first.reference_start - first.query_start) - CUT_SECONDS) < 0.5
        assert best.speed == 1.0 and best.reference_coverage > 0.7 and best.score > 2.0

        unrelated = matcher.match(_video_hashes(self.signal, decoded[UNRELATED], QUERY_FPS))
        assert all(match.score < 1.0 for match in unrelated)


class TestPdqSignal(FrameSignalContract):
    signal = PDQ


class TestAverageHash(FrameSignalContract):
    signal = AverageHash()


def test_an_index_holds_whole_bytes_only() -> None:
    with pytest.raises(HashError, match="whole bytes"):
        ExactIndex(hash_bits=60)


def test_an_index_refuses_hashes_of_another_width() -> None:
    frames = [LumaFrame(0.0, _texture(20))]
    short = _video_hashes(AverageHash(), frames, fps=1.0)
    index = ExactIndex()
    with pytest.raises(HashError, match="64-bit hashes; this index holds 256-bit"):
        index.add("short", short)
    with pytest.raises(HashError, match=r"shape \(n, 32\)"):
        index.search(short.hashes, 10)


def test_video_hashes_rows_must_match_their_declared_width() -> None:
    rows = np.zeros((1, 32), dtype=np.uint8)
    times, qualities = np.zeros(1), np.zeros(1, dtype=np.int16)
    with pytest.raises(FormatError, match=r"shape \(n, 8\)"):
        VideoHashes(rows, times, qualities, hash_bits=64)
    with pytest.raises(FormatError, match="multiple of 8"):
        VideoHashes(rows, times, qualities, hash_bits=255)
