"""Which listed references are versions of one video (`hashes.versions`)."""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from hashes.index import ReferenceInfo
from hashes.versions import VERSION_BITS, Versions, near_share
from tests.hashes.index_contract import flipped

MIN_QUALITY = 50


def _info(name: str, hashes: npt.NDArray[np.uint8], quality: int = 90) -> ReferenceInfo:
    qualities = np.full(len(hashes), quality, dtype=np.int16)
    return ReferenceInfo(name, len(hashes) / 4, len(hashes), qualities, hashes)


def _frames(rng: np.random.Generator, count: int) -> npt.NDArray[np.uint8]:
    return rng.integers(0, 256, size=(count, 32), dtype=np.uint8)


def test_re_encodes_and_trims_are_versions_and_videos_sharing_an_intro_are_not() -> None:
    rng = np.random.default_rng(1)
    video = _frames(rng, 200)
    original = _info("original", video)
    re_encode = _info("re-encode", flipped(video, np.full(200, 8), rng))
    trimmed = _info("trimmed", flipped(video[30:], np.full(170, 8), rng))  # 15% cut
    half = _info("half", video[:100])
    intro = video[:20]
    other = _info("other", np.concatenate([flipped(intro, np.full(20, 4), rng), _frames(rng, 180)]))
    versions = Versions(MIN_QUALITY)
    assert versions.same_video(original, re_encode)
    assert versions.same_video(trimmed, original)
    assert not versions.same_video(original, half)  # half of it: a version of a part
    assert not versions.same_video(original, other)  # a shared intro
    assert versions.videos([original, re_encode, trimmed, other]) == 2
    # Counting stops once it has enough: the rest are never compared.
    many = [_info(f"v{i}", _frames(rng, 20)) for i in range(50)]
    counting = Versions(MIN_QUALITY)
    assert counting.videos(many, enough=3) == 3
    assert len(counting._pairs) <= 3
    assert counting.videos(many) == 50
    # Frames just beyond the distance do not count.
    far = _info("far", flipped(video, np.full(200, VERSION_BITS + 8), rng))
    assert near_share(original, far, MIN_QUALITY) < 0.05


def test_flat_frames_make_no_two_videos_versions() -> None:
    rng = np.random.default_rng(2)
    black = np.zeros((150, 32), dtype=np.uint8)
    a = _info("a", np.concatenate([black, _frames(rng, 50)]))
    b = _info("b", np.concatenate([black, _frames(rng, 50)]))
    a = ReferenceInfo("a", 50.0, 200, np.r_[np.zeros(150), np.full(50, 90)].astype(np.int16),
                      a.full_frame_hashes)  # fmt: skip
    b = ReferenceInfo("b", 50.0, 200, np.r_[np.zeros(150), np.full(50, 90)].astype(np.int16),
                      b.full_frame_hashes)  # fmt: skip
    assert not Versions(MIN_QUALITY).same_video(a, b)
    assert near_share(a, _info("empty", np.zeros((0, 32), np.uint8)), MIN_QUALITY) == 0.0
