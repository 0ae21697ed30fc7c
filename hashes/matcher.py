"""Video matching: from query frame hashes to per-reference matches with aligned segments.

1. Radius search: every query hash (in every view) against every reference frame hash; the
   full frames first, and the derived views only when the full frames leave doubt.
2. Per (query time, reference, reference time), keep the best view, weighted by closeness
   and detail (flat frames count only when nearly identical to flat ones, uniform ones
   never); drop query frames that match many references (title cards, black, test patterns
   match everything).
3. Temporal alignment per reference (`hashes.alignment`): matched frames must lie on a line
   `reference_time = speed * query_time + offset`, found by voting over a grid of speeds
   (0.8x-1.25x) and offsets. Several lines per reference cover compilations and repeats.
4. The score counts well-matched query seconds on those lines, weighted by closeness, each
   stretch of the reference once, and compares them with what the query could show of the
   reference: a short excerpt that is all reference scores as high as a long re-upload.

The frame signal (`hashes.signal`, PDQ unless told) owns the search radius, the weights of a
pair and what counts as a near-flat frame; the alignment and the score work on any signal.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from hashes.alignment import (
    Pairs,
    best_line,
    fresh_strength,
    line_inliers,
    line_segments,
    union_length,
)
from hashes.index import HashIndex, Neighbours, code_of_view, view_codes, view_of_code
from hashes.signal import PDQ, FrameSignal
from hashes.types import Segment, VideoHashes, VideoMatch, View
from hashes.versions import Versions

# The order rows are searched in when the early accept is on: the full frames, which settle
# most copies; the derived views; and last the tilted views, which only a filmed screen needs.
SEARCH_STAGES: tuple[frozenset[View], ...] = (
    frozenset({View.FULL}),
    frozenset(View) - {View.FULL, View.TILT},
    frozenset({View.TILT}),
)
_STAGE_OF_VIEW = {view: stage for stage, views in enumerate(SEARCH_STAGES) for view in views}
# Query views that can only show a whole reference picture (a split screen scales each video
# whole into its pane): searched against the references' whole-picture rows alone, a few
# percent of the index, so they cost next to nothing.
WHOLE_PICTURE_QUERY_VIEWS = frozenset({View.SIDE})
_WHOLE_PICTURE_QUERY_CODES = [code_of_view(view) for view in WHOLE_PICTURE_QUERY_VIEWS]

# A real frame's hash has half its bits set, give or take a few coefficients tied at the median.
BALANCE_TOLERANCE_BITS = 4


@dataclass(frozen=True, slots=True)
class MatchParams:
    """Matching parameters; each `use_*` switch turns one mechanism on or off. Distances and
    pair weights are the frame signal's (`hashes.signal`)."""

    speeds: tuple[float, ...] = tuple(np.round(np.arange(0.8, 1.2501, 0.025), 3).tolist())
    offset_bin_seconds: float = 0.5
    inlier_seconds: float = 0.6  # distance from the line that still counts as aligned
    max_gap_seconds: float = 3.0  # a longer gap in query time splits a segment
    max_lines: int = 4
    min_line_frames: int = 3
    # A pair counts only within this many bits of the closest pair of its query row: a look-alike
    # (another cut of the scene, a near copy in a long list) lies tens of bits further from a
    # copy than the copy's own reference does, and takes none of its evidence.
    closest_pair_margin_bits: int = 16
    common_frame_references: int = 3  # a query frame matching this many references is noise
    # ... each within this many bits of the closest of them (`Matcher._common_times`).
    common_frame_margin_bits: int = 16
    # Seconds of aligned evidence that make a score of 1: a share of what the query could show
    # of the reference, bounded, so an excerpt inside a long compilation still counts.
    required_fraction: float = 0.35
    required_seconds_min: float = 1.0
    required_seconds_max: float = 2.0
    max_results: int = 10
    # A score at which the full frames alone settle the match (twice the evidence asked):
    # then the derived views are not searched.
    early_accept_score: float = 2.0
    # A query whose every view leaves its best match between these scores, a lead with less
    # evidence than asked, is worth a closer look (`hashes.cascade`); below, it is
    # what chance gives unrelated footage.
    closer_look_from: float = 0.3
    closer_look_below: float = 1.0
    # A segment counts in full when the reference advances at least this share of the query.
    min_progress: float = 0.8
    # Consecutive query samples whose full frames lie this close to the first of them show one
    # still picture (a title card, a freeze): together they count as one sample.
    still_bits: int = 2
    use_alignment: bool = True
    use_closest_pairs: bool = True
    use_common_frame_filter: bool = True
    # Listed versions of one video (re-encodes, trims) count as one video in that filter.
    use_versions: bool = True
    use_quality_filter: bool = True
    use_early_accept: bool = True
    use_still_moments: bool = True


@dataclass(frozen=True, slots=True)
class _QueryRows:
    """What the matcher reads of each query row beside its hash, worked out once per query
    (every search stage reads it again)."""

    views: npt.NDArray[np.int8]  # the view code of each row
    moments: npt.NDArray[np.int64]  # the still moment of each row's frame


class Matcher:
    """Matches query hashes against an index of references, both hashed with `signal`."""

    def __init__(
        self, index: HashIndex, params: MatchParams | None = None, signal: FrameSignal = PDQ
    ) -> None:
        self.index = index
        self.params = params or MatchParams()
        self.signal = signal
        self._versions = Versions(signal.min_quality)

    def match(self, query: VideoHashes) -> list[VideoMatch]:
        """Matches on every reference with any aligned evidence, strongest first."""
        p = self.params
        if len(query) == 0 or len(self.index) == 0:
            return []
        rows = np.arange(len(query))
        if p.use_quality_filter:
            # A uniform picture has no hash: its DCT is rounding noise, with ties at the median
            # that leave the bits unbalanced. Such frames match every other uniform frame.
            signal = self.signal
            rows = rows[(query.qualities >= signal.min_quality) | _balanced(query.hashes, signal)]
        if len(rows) == 0:
            return []
        query_step = _sample_step(query)
        # Flat frames (black, walls, title cards) cannot show a reference: evidence is only
        # asked of the informative part of the query.
        query_duration = max(
            _informative_seconds(query, self.signal.min_quality, query_step), query_step
        )
        facts = _QueryRows(view_codes(query), self._moments(query))
        if p.use_early_accept and query.views:
            return self._match_in_stages(query, facts, rows, query_step, query_duration)
        searched, neighbours = self._search(query, facts, rows)
        return self._match_rows(query, facts, searched, neighbours, query_step, query_duration)

    def _search(
        self,
        query: VideoHashes,
        facts: _QueryRows,
        rows: npt.NDArray[np.intp],
        known: frozenset[str] = frozenset(),
    ) -> tuple[npt.NDArray[np.intp], Neighbours]:
        """The pairs of `rows`, and the rows in the order the pairs index them: views that
        show only whole pictures come last, searched against whole-picture rows alone.

        The references `known` (found by earlier searches of the query) are candidates of
        each search, and a reference a search finds is searched for the rows searched before
        (`_backfill`): an index that retrieves before it verifies then gives every row the
        pairs of every reference any row of the query found, as the exact index does."""
        distance = self.signal.match_distance
        whole = np.isin(facts.views[rows], _WHOLE_PICTURE_QUERY_CODES)
        done = rows[:0]
        neighbours: Neighbours | None = None
        for part, whole_pictures in ((rows[~whole], False), (rows[whole], True)):
            if len(part) == 0:
                continue
            found = self.index.search(
                query.hashes[part], distance, whole_pictures=whole_pictures, candidates=known
            )
            neighbours = self._joined(query, facts, done, neighbours, found, known)
            known = known | _found(found)
            done = np.concatenate([done, part])
        if neighbours is None:
            return rows, self.index.search(query.hashes[rows], distance)
        return done, neighbours

    def _joined(
        self,
        query: VideoHashes,
        facts: _QueryRows,
        searched: npt.NDArray[np.intp],
        neighbours: Neighbours | None,
        found: Neighbours,
        searched_for: frozenset[str],
    ) -> Neighbours:
        """`neighbours` of the rows `searched` (against the references `searched_for`), then
        `found` of the rows after them; the rows searched before get the pairs of the
        references `found` brings (`_backfill`)."""
        if neighbours is None:
            return found
        new = _found(found) - searched_for
        neighbours = self._backfill(query, facts, searched, neighbours, new)
        return neighbours.followed_by(found, len(searched))

    def _backfill(
        self,
        query: VideoHashes,
        facts: _QueryRows,
        rows: npt.NDArray[np.intp],
        neighbours: Neighbours,
        new: frozenset[str],
    ) -> Neighbours:
        """`neighbours` of `rows` with the pairs of those rows with the references `new`
        (found since those rows were searched), when the index answers for the references
        it retrieves alone."""
        if self.index.exhaustive or not new or len(rows) == 0:
            return neighbours
        whole = np.isin(facts.views[rows], _WHOLE_PICTURE_QUERY_CODES)
        for positions, whole_pictures in ((np.flatnonzero(~whole), False),
                                          (np.flatnonzero(whole), True)):  # fmt: skip
            if len(positions) == 0:
                continue
            found = self.index.search(
                query.hashes[rows[positions]], self.signal.match_distance,
                whole_pictures=whole_pictures, candidates=new, retrieve=False,
            )  # fmt: skip
            neighbours = neighbours.followed_by(found.at_rows(positions), 0)
        return neighbours

    def _match_in_stages(
        self,
        query: VideoHashes,
        facts: _QueryRows,
        rows: npt.NDArray[np.intp],
        query_step: float,
        query_duration: float,
    ) -> list[VideoMatch]:
        """Search the rows stage by stage (`SEARCH_STAGES`), stopping as soon as the rows
        searched so far score twice the evidence asked: most copies are whole-frame
        re-uploads, and the derived views are nine in ten of the rows to search."""
        p = self.params
        stages = np.fromiter((_STAGE_OF_VIEW[v] for v in query.views), np.int8, len(query))
        stage_of = stages[rows]
        searched = rows[:0]
        neighbours: Neighbours | None = None
        matches: list[VideoMatch] = []
        for stage in range(len(SEARCH_STAGES)):
            in_stage = stage_of == stage
            if not in_stage.any():
                continue
            known = _found(neighbours) if neighbours is not None else frozenset()
            stage_rows, found = self._search(query, facts, rows[in_stage], known)
            neighbours = self._joined(query, facts, searched, neighbours, found, known)
            searched = np.concatenate([searched, stage_rows])
            matches = self._match_rows(
                query, facts, searched, neighbours, query_step, query_duration
            )
            if matches and matches[0].score >= p.early_accept_score:
                break
        return matches

    def _match_rows(
        self,
        query: VideoHashes,
        facts: _QueryRows,
        rows: npt.NDArray[np.intp],
        neighbours: Neighbours,
        query_step: float,
        query_duration: float,
    ) -> list[VideoMatch]:
        """Matches from the pairs found for `rows` of the query (`neighbours.query_rows`
        index into `rows`)."""
        p = self.params
        if p.use_closest_pairs:
            neighbours = neighbours.where(_near_the_closest(neighbours, p.closest_pair_margin_bits))
        if len(neighbours) == 0:
            return []
        times = query.timestamps[rows][neighbours.query_rows]
        query_views = facts.views[rows][neighbours.query_rows]
        moments = facts.moments[rows][neighbours.query_rows]
        query_qualities = query.qualities[rows][neighbours.query_rows]
        qualities = np.stack(
            [
                np.minimum(query_qualities, neighbours.reference_qualities),
                np.maximum(query_qualities, neighbours.reference_qualities),
            ],
            axis=1,
        )
        common = (
            self._common_times(times, qualities, neighbours)
            if p.use_common_frame_filter
            else np.zeros(0)
        )
        matches: list[VideoMatch] = []
        for code in np.unique(neighbours.references):
            reference_id = neighbours.reference_ids[int(code)]
            if reference_id not in self.index:
                continue
            selected = neighbours.references == code
            if len(common):
                selected &= ~np.isin(times, common)
            pairs = self._pairs(
                times[selected],
                qualities[selected],
                query_views[selected],
                moments[selected],
                neighbours,
                selected,
            )
            if len(pairs.query_times) == 0:
                continue
            found = self._match_reference(reference_id, pairs, query_step, query_duration)
            if found is not None:
                matches.append(found)
        matches.sort(key=lambda m: (-m.score, -m.matched_seconds, m.reference_id))
        return matches[: p.max_results]

    def _common_times(
        self,
        times: npt.NDArray[np.float64],
        qualities: npt.NDArray[np.int16],
        neighbours: Neighbours,
    ) -> npt.NDArray[np.float64]:
        """Query times whose frames count as evidence for too many references to mean
        anything (the same weighting as the evidence itself).

        A reference counts at a time only when its closest pair there is nearly as close as
        the closest of any reference: a title card or a logo meets every list that carries it
        about equally well, while the neighbours a long list holds by chance (or a
        look-alike sequence) lie tens of bits further than the copy's own reference, and
        must not take its evidence away."""
        strong = self._weights(neighbours.distances, qualities) > 0
        if not strong.any():
            return np.zeros(0)
        at, reference = times[strong], neighbours.references[strong]
        distance = neighbours.distances[strong]
        # The closest pair of each (time, reference), then of each time.
        order = np.lexsort((distance, reference, at))
        at, reference, distance = at[order], reference[order], distance[order]
        first = np.ones(len(at), dtype=bool)
        first[1:] = (np.diff(at) != 0) | (np.diff(reference) != 0)
        at, distance, reference = at[first], distance[first], reference[first]
        unique_times, slot = np.unique(at, return_inverse=True)
        closest = np.full(len(unique_times), np.iinfo(np.int64).max, dtype=np.int64)
        np.minimum.at(closest, slot, distance.astype(np.int64))
        near = distance <= closest[slot] + self.params.common_frame_margin_bits
        counts = np.bincount(slot[near], minlength=len(unique_times))
        common = counts >= self.params.common_frame_references
        if self.params.use_versions and common.any():
            common &= self._different_videos(slot[near], reference[near], common, neighbours)
        return unique_times[common]

    def _different_videos(
        self,
        slot: npt.NDArray[np.intp],
        reference: npt.NDArray[np.int32],
        common: npt.NDArray[np.bool_],
        neighbours: Neighbours,
    ) -> npt.NDArray[np.bool_]:
        """Of the times `common` marks, those whose references are that many different
        videos, not versions of fewer (`hashes.versions`)."""
        result = common.copy()
        decided: dict[frozenset[int], bool] = {}
        # The references of each time, by one sort (not a scan of every pair per time).
        order = np.argsort(slot, kind="stable")
        sorted_slots = slot[order]
        starts = np.flatnonzero(np.r_[True, np.diff(sorted_slots) != 0])
        groups = np.split(reference[order], starts[1:])
        for time_slot, group in zip(sorted_slots[starts], groups, strict=True):
            if not common[time_slot]:
                continue
            codes = frozenset(int(c) for c in group)
            if codes not in decided:
                infos = [
                    self.index.info(name)
                    for name in (neighbours.reference_ids[c] for c in sorted(codes))
                    if name in self.index
                ]
                enough = self.params.common_frame_references
                decided[codes] = self._versions.videos(infos, enough) >= enough
            result[time_slot] = decided[codes]
        return result

    def _weights(
        self, distances: npt.NDArray[np.int32], qualities: npt.NDArray[np.int16]
    ) -> npt.NDArray[np.float64]:
        """How much each pair counts, as the signal weighs it. `qualities` holds the lower and
        the higher quality of each pair's two frames."""
        return self.signal.weigh(
            distances,
            qualities[:, 0],
            qualities[:, 1],
            use_quality=self.params.use_quality_filter,
        )

    def _pairs(
        self,
        times: npt.NDArray[np.float64],
        qualities: npt.NDArray[np.int16],
        views: npt.NDArray[np.int8],
        moments: npt.NDArray[np.int64],
        neighbours: Neighbours,
        selected: npt.NDArray[np.bool_],
    ) -> Pairs:
        """One pair per (query time, reference time), with the query view that made it."""
        distances = neighbours.distances[selected]
        reference_times = neighbours.reference_times[selected]
        weights = self._weights(distances, qualities)
        # One pair per (query time, reference time): the best-weighted, then closest, view.
        order = np.lexsort((distances, -weights, reference_times, times))
        times, reference_times = times[order], reference_times[order]
        distances, views, weights = distances[order], views[order], weights[order]
        moments = moments[order]
        first = np.ones(len(times), dtype=bool)
        first[1:] = (np.diff(times) != 0) | (np.diff(reference_times) != 0)
        useful = first & (weights > 0)
        return Pairs(
            times[useful],
            reference_times[useful],
            weights[useful],
            distances[useful],
            views[useful],
            moments[useful],
        )

    def _moments(self, query: VideoHashes) -> npt.NDArray[np.int64]:
        """For each query row, the still moment its frame falls in: a run of samples whose
        full frames lie within `still_bits` of the run's first (each sample is its own moment
        when the switch is off, or when the picture moves)."""
        full = query.full_frame()
        stamps = full.timestamps
        if len(stamps) == 0:
            return np.zeros(len(query), dtype=np.int64)
        ids = np.arange(len(stamps), dtype=np.int64)
        if self.params.use_still_moments:
            current, first = 0, 0
            for i in range(1, len(stamps)):
                distance = int(np.unpackbits(full.hashes[first] ^ full.hashes[i]).sum())
                if distance > self.params.still_bits:
                    current, first = current + 1, i
                ids[i] = current
        return ids[np.clip(np.searchsorted(stamps, query.timestamps), 0, len(stamps) - 1)]

    def _match_reference(
        self, reference_id: str, pairs: Pairs, query_step: float, query_duration: float
    ) -> VideoMatch | None:
        p = self.params
        info = self.index.info(reference_id)
        reference_duration = max(info.duration_seconds, 1e-3)
        informative_reference = max(
            reference_duration * info.informative_fraction(self.signal.min_quality), query_step
        )
        remaining = np.ones(len(pairs.query_times), dtype=bool)
        segments: list[Segment] = []
        matched_views: set[str] = set()
        speed_of_best = 1.0
        for _ in range(p.max_lines if p.use_alignment else 1):
            if not remaining.any():
                break
            line = (
                best_line(
                    pairs, remaining, speeds=p.speeds, offset_bin_seconds=p.offset_bin_seconds
                )
                if p.use_alignment
                else None
            )
            inliers = line_inliers(pairs, remaining, line, inlier_seconds=p.inlier_seconds)
            frame_count = len(np.unique(pairs.query_times[inliers]))
            if frame_count < min(p.min_line_frames, _max_frames(query_duration, query_step)):
                break
            speed = line[0] if line is not None else 1.0
            new_segments = line_segments(
                pairs,
                inliers,
                query_step,
                speed,
                max_gap_seconds=p.max_gap_seconds,
                min_progress=p.min_progress,
            )
            if not segments and line is not None:
                speed_of_best = line[0]
            segments.extend(new_segments)
            matched_views.update(
                view_of_code(int(v)).value for v in np.unique(pairs.views[inliers])
            )
            # The same query frames cannot support another line.
            remaining &= ~np.isin(pairs.query_times, pairs.query_times[inliers])
        if not segments:
            return None
        matched_seconds = sum(s.query_end - s.query_start for s in segments)
        strength = fresh_strength(segments)
        possible = min(query_duration, informative_reference)
        required = float(
            np.clip(p.required_fraction * possible, p.required_seconds_min, p.required_seconds_max)
        )
        reference_seconds = union_length([(s.reference_start, s.reference_end) for s in segments])
        segments.sort(key=lambda s: s.query_start)
        return VideoMatch(
            reference_id=reference_id,
            score=round(strength / required, 4),
            matched_seconds=round(matched_seconds, 3),
            query_coverage=round(min(1.0, matched_seconds / query_duration), 4),
            reference_coverage=round(min(1.0, reference_seconds / reference_duration), 4),
            segments=tuple(segments),
            speed=speed_of_best,
            views=tuple(sorted(matched_views)),
        )


def _sample_step(query: VideoHashes) -> float:
    """Seconds one sampled query frame stands for (1 s for a still image).

    The mean gap, so that n samples stand for the seconds they span whatever the source's
    frame rate: sampling on a 0.25 s grid takes the first frame at or after each tick, and
    the gaps alternate between neighbouring frame intervals (0.24 s and 0.32 s from 12.5
    decoded frames a second), whose median would credit one copy 4% less than another.
    Gaps over twice the median are breaks (freezes, damaged stretches) and left out.
    """
    times = np.unique(query.timestamps)
    if len(times) < 2:
        return 1.0
    gaps = np.diff(times)
    regular = gaps[gaps <= 2.0 * np.median(gaps)]
    return float(min(1.0, regular.mean()))


def _informative_seconds(query: VideoHashes, min_quality: int, step: float) -> float:
    """Seconds of the query whose sampled frames have enough detail to match anything."""
    if len(query) == 0:
        return 0.0
    good_times = np.unique(query.timestamps[query.qualities >= min_quality])
    return float(len(good_times) * step)


def _balanced(hashes: npt.NDArray[np.uint8], signal: FrameSignal) -> npt.NDArray[np.bool_]:
    """Hashes with half their bits set, as a median threshold gives when values are distinct."""
    ones = np.unpackbits(hashes, axis=1).sum(axis=1, dtype=np.int64)
    return np.asarray(np.abs(ones - signal.hash_bits // 2) <= BALANCE_TOLERANCE_BITS)


def _found(neighbours: Neighbours) -> frozenset[str]:
    """The references `neighbours` holds pairs of."""
    return frozenset(neighbours.reference_ids[int(c)] for c in np.unique(neighbours.references))


def _near_the_closest(neighbours: Neighbours, margin_bits: int) -> npt.NDArray[np.bool_]:
    """The pairs within `margin_bits` of the closest pair of their query row."""
    rows = neighbours.query_rows
    if len(rows) == 0:
        return np.zeros(0, dtype=bool)
    closest = np.full(int(rows.max()) + 1, np.iinfo(np.int32).max, dtype=np.int64)
    np.minimum.at(closest, rows, neighbours.distances.astype(np.int64))
    return np.asarray(neighbours.distances <= closest[rows] + margin_bits)


def _max_frames(duration: float, step: float) -> int:
    return max(1, int(duration / step + 0.5))
