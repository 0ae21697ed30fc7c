"""Temporal alignment: one reference's matched frame pairs lined up in time.

Matched frames must lie on a line `reference_time = speed * query_time + offset`, found by
voting over a grid of speeds and offsets; the pairs on a line make segments, and each
stretch of the reference counts once towards the strength of a match. The matcher
(`hashes.matcher`) finds the pairs and turns the segments into a score.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from hashes.types import Segment


@dataclass(frozen=True, slots=True)
class Pairs:
    """Candidate pairs for one reference: query time, reference time, weight, distance, and
    the query view that made the pair."""

    query_times: npt.NDArray[np.float64]
    reference_times: npt.NDArray[np.float64]
    weights: npt.NDArray[np.float64]
    distances: npt.NDArray[np.int32]
    views: npt.NDArray[np.int8]
    moments: npt.NDArray[np.int64]  # which still moment of the query each pair's frame is in


def best_line(
    pairs: Pairs,
    remaining: npt.NDArray[np.bool_],
    *,
    speeds: tuple[float, ...],
    offset_bin_seconds: float,
) -> tuple[float, float]:
    """The (speed, offset) whose line collects the most weight, one vote per query frame."""
    q = pairs.query_times[remaining]
    r = pairs.reference_times[remaining]
    w = pairs.weights[remaining]
    speed_grid = np.asarray(speeds, dtype=np.float64)
    offsets = r[None, :] - speed_grid[:, None] * q[None, :]  # (speeds, pairs)
    bins = np.floor(offsets / offset_bin_seconds).astype(np.int64)
    best_score, best = -1.0, (1.0, 0.0)
    query_ids = np.unique(q, return_inverse=True)[1]
    for s_index, speed in enumerate(speed_grid):
        # Soft binning: a pair votes for its bin and its neighbour, so lines near a bin
        # edge are not split.
        for shift in (0, 1):
            b = (bins[s_index] + shift) // 2
            key = b * (len(q) + 1) + query_ids
            # max weight per (bin, query frame), then sum per bin
            order = np.lexsort((-w, key))
            first = np.ones(len(key), dtype=bool)
            first[1:] = np.diff(key[order]) != 0
            chosen = order[first]
            _, bin_index = np.unique(b[chosen], return_inverse=True)
            totals = np.bincount(bin_index, weights=w[chosen])
            top = int(np.argmax(totals))
            # Prefer speed 1.0 on ties: most copies are not sped up.
            total = float(totals[top]) - 1e-6 * abs(speed - 1.0)
            if total > best_score:
                best_score = total
                members = chosen[bin_index == top]
                offset = float(np.median(r[members] - speed * q[members]))
                best = (float(speed), offset)
    return best


def line_inliers(
    pairs: Pairs,
    remaining: npt.NDArray[np.bool_],
    line: tuple[float, float] | None,
    *,
    inlier_seconds: float,
) -> npt.NDArray[np.bool_]:
    """Pairs on the line, the best one per query frame."""
    candidates = remaining.copy()
    if line is not None:
        speed, offset = line
        predicted = speed * pairs.query_times + offset
        candidates &= np.abs(pairs.reference_times - predicted) <= inlier_seconds
    index = np.flatnonzero(candidates)
    if len(index) == 0:
        return candidates
    # Closest first among equal weights: the evidence shows the best pair of each frame.
    order = index[
        np.lexsort((pairs.distances[index], -pairs.weights[index], pairs.query_times[index]))
    ]
    first = np.ones(len(order), dtype=bool)
    first[1:] = np.diff(pairs.query_times[order]) != 0
    result = np.zeros(len(candidates), dtype=bool)
    result[order[first]] = True
    return result


def line_segments(
    pairs: Pairs,
    inliers: npt.NDArray[np.bool_],
    query_step: float,
    speed: float,
    *,
    max_gap_seconds: float,
    min_progress: float,
) -> list[Segment]:
    """The stretches of the `inliers` that run without a gap longer than `max_gap_seconds`,
    each scored by its evidence."""
    index = np.flatnonzero(inliers)
    index = index[np.argsort(pairs.query_times[index])]
    q = pairs.query_times[index]
    splits = np.flatnonzero(np.diff(q) > max_gap_seconds) + 1
    segments = []
    for part in np.split(np.arange(len(index)), splits):
        rows = index[part]
        if len(rows) == 0:
            continue
        qs, rs = pairs.query_times[rows], pairs.reference_times[rows]
        weights, distances = pairs.weights[rows], pairs.distances[rows]
        # Query frames piling onto one stretch of a still reference are not a copy playing
        # along: count the evidence only as far as the reference advances with the query.
        query_span = float(qs.max() - qs.min()) + query_step
        reference_span = float(rs.max() - rs.min()) + query_step
        progress = min(1.0, reference_span / (speed * query_span * min_progress))
        # A still picture shown for seconds is one frame of evidence, however long it lasts.
        moments = pairs.moments[rows]
        starts = np.flatnonzero(np.r_[True, np.diff(moments) != 0])
        evidence = float(np.maximum.reduceat(weights, starts).sum())
        segments.append(
            Segment(
                query_start=round(float(qs.min()), 3),
                query_end=round(float(qs.max()) + query_step, 3),
                reference_start=round(float(rs.min()), 3),
                reference_end=round(float(rs.max()) + query_step, 3),
                score=round(evidence * query_step * progress, 4),
                matched_frames=len(rows),
                mean_distance=round(float(distances.mean()), 2),
            )
        )
    return segments


def fresh_strength(segments: list[Segment]) -> float:
    """Summed segment scores, each counting only for the part of the reference that stronger
    lines have not shown yet: a still query lines up with one stretch of a reference at every
    speed, and that stretch must not count once per line."""
    total = 0.0
    shown: list[tuple[float, float]] = []
    for segment in sorted(segments, key=lambda s: -s.score):
        span = segment.reference_end - segment.reference_start
        if span <= 0:
            continue
        new = union_length([*shown, (segment.reference_start, segment.reference_end)])
        fresh = (new - union_length(shown)) / span
        total += segment.score * fresh
        shown.append((segment.reference_start, segment.reference_end))
    return total


def union_length(ranges: list[tuple[float, float]]) -> float:
    """The length of the union of `ranges`."""
    total, end = 0.0, -np.inf
    for start, stop in sorted(ranges):
        if stop <= end:
            continue
        total += stop - max(start, end)
        end = stop
    return total
