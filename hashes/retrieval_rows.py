"""Which reference rows a retrieval stage probes; its verification reads every row.

A copy of a reference meets it in many frames and views at once, so finding it among the
candidates needs only a sample of the reference's rows, as long as the sample keeps a row of
each kind of view every so often: the full frame (re-uploads), the picture inside its borders
(letterboxes, pads), the centred crops (zooms) often, and each other crop, strip, band and
reframed part at least once every few seconds (a cropped re-upload keeps its crop for its
whole length). Measured on development sets (docs/scale.md, "A retrieval tier"): 25 rows a
second retrieved 294 of 299 confirmed copies within 47 bits, of 625 rows a second stored.

Rows are kept per *slot*: a view (full, active, ...) or, for a reference's crops and reframed
parts, their place among the frame's derived rows (the reference hasher writes them in a fixed
order, `hashes.views.crops`). A slot keeps the first row of each of its periods, by time, so
the sample does not depend on the frame rate a list was hashed at.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache

import numpy as np
import numpy.typing as npt

from hashes.index import code_of_view, view_codes
from hashes.types import VideoHashes, View
from hashes.views.crops import reference_crops

# Derived row k of a frame is slot `_PLACE_SLOTS + k`; smaller slots are the views' codes.
_PLACE_SLOTS = 64
_REGION = code_of_view(View.REGION)
_FULL = code_of_view(View.FULL)
_ACTIVE = code_of_view(View.ACTIVE)


@cache
def centred_crop_places() -> frozenset[int]:
    """Places, among a reference frame's derived rows, of the crops that keep the centre and
    cut width and height alike (to 90%, 80%, 70%): what a zoomed re-upload shows."""
    side = 1000
    places = set()
    for place, region in enumerate(reference_crops((0, side, 0, side))):
        top, bottom, left, right = region.box
        centred = top == side - bottom and left == side - right
        if region.name == "crop" and centred and bottom - top == right - left < side:
            places.add(place)
    return frozenset(places)


@dataclass(frozen=True, slots=True)
class RetrievalRows:
    """Seconds between the rows each slot keeps (0: every row)."""

    full_seconds: float = 1.0
    # A reference without derived rows (a hash-only import) has nothing but its full frames,
    # sampled as a hashed reference's are: every quarter second made the scan of a 1,000-hour
    # vPDQ list 4 times the rows, and found no bench copy more at 1 hour (docs/scale.md).
    full_alone_seconds: float = 1.0
    active_seconds: float = 0.5
    centred_crop_seconds: float = 1.0
    # Every other derived place once in this long, places staggered across it.
    other_place_seconds: float = 8.0
    # Views a reference does not carry today (queries' views, tests' rows).
    other_view_seconds: float = 1.0

    @property
    def design(self) -> str:
        """The sample in one string: a saved index was built with this one or is refused."""
        if self.keeps_every_row:
            return "all"
        fields = (
            self.full_seconds, self.full_alone_seconds, self.active_seconds,
            self.centred_crop_seconds, self.other_place_seconds, self.other_view_seconds,
        )  # fmt: skip
        return "sampled:" + ",".join(f"{f:g}" for f in fields)

    @property
    def keeps_every_row(self) -> bool:
        return self == EVERY_ROW

    def select(
        self, hashes: VideoHashes, among: npt.NDArray[np.bool_] | None = None
    ) -> npt.NDArray[np.bool_]:
        """Which of `hashes`' rows (sorted by time) the retrieval stage probes, chosen only
        `among` the rows given (the rows an index keeps; all when None)."""
        count = len(hashes)
        among = np.ones(count, dtype=bool) if among is None else among
        if self.keeps_every_row or count == 0:
            return among.copy()
        codes = view_codes(hashes).astype(np.int64)
        times = hashes.timestamps
        region = codes == _REGION
        # Each derived row's place among the rows of its frame (a frame's rows are together).
        starts = np.flatnonzero(np.r_[True, times[1:] != times[:-1]])
        frame = np.searchsorted(starts, np.arange(count), side="right") - 1
        regions_before = np.cumsum(region) - region
        place = regions_before - regions_before[starts][frame]
        slot = np.where(region, _PLACE_SLOTS + place, codes)
        period, phase = self._periods(slot, codes, place, derived=bool(region.any()))
        sampled = period > 0
        bins = np.arange(count, dtype=np.int64)  # a slot of period 0 keeps every row
        bins[sampled] = np.floor((times[sampled] + phase[sampled]) / period[sampled])
        candidates = np.flatnonzero(among)
        keys = np.stack([slot[candidates], bins[candidates]], axis=1)
        _, first = np.unique(keys, axis=0, return_index=True)
        keep = np.zeros(count, dtype=bool)
        keep[candidates[first]] = True
        return keep

    def _periods(
        self,
        slot: npt.NDArray[np.int64],
        codes: npt.NDArray[np.int64],
        place: npt.NDArray[np.int64],
        *,
        derived: bool,
    ) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.float64]]:
        period = np.full(len(slot), self.other_view_seconds)
        phase = np.zeros(len(slot))
        period[codes == _FULL] = self.full_seconds if derived else self.full_alone_seconds
        period[codes == _ACTIVE] = self.active_seconds
        in_place = slot >= _PLACE_SLOTS
        centred = in_place & np.isin(place, sorted(centred_crop_places()))
        period[centred] = self.centred_crop_seconds
        other = in_place & ~centred
        period[other] = self.other_place_seconds
        # Staggered: each place's rows fall at another second of the period.
        phase[other] = place[other] % max(int(self.other_place_seconds), 1)
        return period, phase


EVERY_ROW = RetrievalRows(0.0, 0.0, 0.0, 0.0, 0.0, 0.0)
SAMPLED_ROWS = RetrievalRows()
