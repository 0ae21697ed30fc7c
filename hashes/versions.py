"""Listed versions of one video: references whose full frames are near copies of each other's.

A list holds many versions of one attack video (re-encodes, resized or watermarked copies,
trims; Meta counted some 800 of one). A copy of one version meets every version at every
frame, which the common-frame filter (`Matcher._common_times`) must not take for a moment many
*different* videos share (an intro, a logo, black): those it drops, and three versions would
otherwise drop a copy whole. Two references are versions when most of the informative full
frames of each lie within `VERSION_BITS` of some full frame of the other; two videos that
share an intro or a logo share a few of their seconds, not most of them.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Sequence

import faiss
import numpy as np

from hashes.index import ReferenceInfo

# Re-encodes and resizes of one video lie a few bits apart frame by frame; versions sampled
# at other instants (another frame rate, a trim by a fraction of a frame) up to about 20 in
# moving footage.
VERSION_BITS = 24
# Each version's informative frames that must meet the other: a trim of up to a fifth is a
# version, an intro shared by two videos is not.
VERSION_SHARE = 0.8
_REMEMBERED_PAIRS = 100_000


def near_share(a: ReferenceInfo, b: ReferenceInfo, min_quality: int) -> float:
    """Share of `a`'s informative full frames that have a full frame of `b` within
    `VERSION_BITS` (0 when either has none)."""
    ours = a.full_frame_hashes[a.full_frame_qualities >= min_quality]
    theirs = b.full_frame_hashes[b.full_frame_qualities >= min_quality]
    if len(ours) == 0 or len(theirs) == 0:
        return 0.0
    flat = faiss.IndexBinaryFlat(ours.shape[1] * 8)
    flat.add(np.ascontiguousarray(theirs, dtype=np.uint8))
    distances, _ = flat.search(np.ascontiguousarray(ours, dtype=np.uint8), 1)
    return float(np.mean(distances[:, 0] <= VERSION_BITS))


class Versions:
    """Which references are versions of one video, worked out when first asked and
    remembered per pair of reference infos (a re-added reference has a new info)."""

    def __init__(self, min_quality: int) -> None:
        self.min_quality = min_quality
        self._pairs: OrderedDict[tuple[ReferenceInfo, ReferenceInfo], bool] = OrderedDict()

    def same_video(self, a: ReferenceInfo, b: ReferenceInfo) -> bool:
        key = (a, b) if id(a) <= id(b) else (b, a)
        known = self._pairs.get(key)
        if known is None:
            known = (
                min(near_share(a, b, self.min_quality), near_share(b, a, self.min_quality))
                >= VERSION_SHARE
            )
            self._pairs[key] = known
            if len(self._pairs) > _REMEMBERED_PAIRS:
                self._pairs.popitem(last=False)
        else:
            self._pairs.move_to_end(key)
        return known

    def videos(self, infos: Sequence[ReferenceInfo], enough: int | None = None) -> int:
        """How many distinct videos `infos` are (versions of one video count once), counting
        no further than `enough`: a frame hundreds of listed videos share (a title card in a
        long list) is settled by its first few, not by comparing every pair."""
        groups: list[ReferenceInfo] = []  # one info per video found so far
        for info in infos:
            if enough is not None and len(groups) >= enough:
                break
            if not any(self.same_video(info, first) for first in groups):
                groups.append(info)
        return len(groups)
