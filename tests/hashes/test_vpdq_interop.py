"""Our every-frame video hashes against Meta's vPDQ files of the same clips."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from hashes.formats.vpdq import read_vpdq
from hashes.video.params import ReferenceParams
from hashes.video.reference import hash_reference
from tests.conftest import SHARED_DATA_DIR

pytestmark = pytest.mark.media

SOURCES = SHARED_DATA_DIR / "sources"
VPDQ = SHARED_DATA_DIR / "interop" / "vpdq"


def _pairs() -> list[tuple[Path, Path]]:
    pairs = []
    for clip in sorted(SOURCES.glob("te-*.mp4")):
        hashes = VPDQ / (clip.stem.removeprefix("te-") + ".txt")
        if hashes.exists():
            pairs.append((clip, hashes))
    return pairs


@pytest.mark.parametrize(("clip", "hash_file"), _pairs(), ids=lambda p: p.stem)
def test_every_frame_hashes_are_close_to_meta_vpdq(clip: Path, hash_file: Path) -> None:
    theirs = read_vpdq(hash_file)
    ours = hash_reference(
        clip, ReferenceParams(fps=None, use_active=False, use_crops=False, use_reframe=False)
    )
    assert ours.views == ()  # full-frame only
    count = min(len(ours), len(theirs))
    assert abs(len(ours) - len(theirs)) <= 2, "same frames decoded"
    good = theirs.qualities[:count] >= 50
    xor = np.bitwise_xor(ours.hashes[:count][good], theirs.hashes[:count][good])
    distances = np.unpackbits(xor, axis=1).sum(axis=1)
    assert np.median(distances) <= 4
    assert np.percentile(distances, 95) <= 10
    assert np.allclose(ours.timestamps[:count], theirs.timestamps[:count], atol=0.01)
