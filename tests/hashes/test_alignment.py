"""Temporal alignment (`hashes.alignment`): pairs lined up in time, segments, fresh strength."""

from __future__ import annotations

import numpy as np

from hashes.alignment import (
    Pairs,
    best_line,
    fresh_strength,
    line_inliers,
    line_segments,
    union_length,
)
from hashes.matcher import MatchParams
from hashes.types import Segment

STEP = 0.25


def _pairs(query_times: list[float], reference_times: list[float]) -> Pairs:
    n = len(query_times)
    return Pairs(
        query_times=np.asarray(query_times, dtype=np.float64),
        reference_times=np.asarray(reference_times, dtype=np.float64),
        weights=np.ones(n),
        distances=np.zeros(n, dtype=np.int32),
        views=np.zeros(n, dtype=np.int8),
        moments=np.arange(n, dtype=np.int64),
    )


def _segment(reference_start: float, reference_end: float, score: float) -> Segment:
    return Segment(0.0, 1.0, reference_start, reference_end, score, 4, 0.0)


def test_the_line_of_a_sped_up_copy_wins_over_scattered_pairs() -> None:
    # A minute: long enough that the speeds beside 1.1 spread their offsets over more than the
    # bins of a line (ties go to the speed nearest 1.0).
    query = [i * STEP for i in range(240)]
    on_line = [3.0 + 1.1 * t for t in query]
    scattered = [7.0, 0.5, 12.0, 2.0]
    pairs = _pairs(query + query[:4], on_line + scattered)
    params = MatchParams()
    speed, offset = best_line(
        pairs,
        np.ones(len(pairs.query_times), dtype=bool),
        speeds=params.speeds,
        offset_bin_seconds=params.offset_bin_seconds,
    )
    assert speed == 1.1
    assert abs(offset - 3.0) < 0.01


def test_inliers_are_the_pairs_near_the_line_one_per_query_frame() -> None:
    pairs = _pairs([0.0, 0.0, 0.25, 0.5], [5.0, 5.1, 5.25, 9.0])
    remaining = np.ones(4, dtype=bool)
    inliers = line_inliers(pairs, remaining, (1.0, 5.0), inlier_seconds=0.6)
    assert inliers.tolist() == [True, False, True, False]


def test_a_gap_longer_than_allowed_splits_the_line_into_segments() -> None:
    query = [0.0, 0.25, 0.5, 5.0, 5.25]
    pairs = _pairs(query, [t + 1.0 for t in query])
    segments = line_segments(
        pairs,
        np.ones(5, dtype=bool),
        STEP,
        1.0,
        max_gap_seconds=3.0,
        min_progress=0.8,
    )
    assert [(s.query_start, s.query_end, s.matched_frames) for s in segments] == [
        (0.0, 0.75, 3),
        (5.0, 5.5, 2),
    ]
    assert [s.score for s in segments] == [0.75, 0.5]


def test_a_stretch_of_the_reference_shown_twice_counts_once() -> None:
    assert fresh_strength([_segment(0.0, 2.0, 1.0), _segment(0.0, 2.0, 0.8)]) == 1.0
    assert fresh_strength([_segment(0.0, 2.0, 1.0), _segment(1.0, 3.0, 0.8)]) == 1.4


def test_union_length_counts_overlaps_once() -> None:
    assert union_length([(0.0, 2.0), (1.0, 3.0), (5.0, 6.0)]) == 4.0
    assert union_length([]) == 0.0
