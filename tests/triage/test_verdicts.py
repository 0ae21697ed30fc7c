"""The verdict step: a `hashes` match becomes evidence in one place, every field carried."""

from __future__ import annotations

import dataclasses

from hashes.types import Segment, VideoMatch
from triage.verdicts import evidence_of


def test_evidence_of_carries_every_field_of_a_match_and_its_segments() -> None:
    match = VideoMatch(
        reference_id="ref_a",
        score=1.4,
        matched_seconds=4.0,
        query_coverage=0.8,
        reference_coverage=0.5,
        segments=(
            Segment(
                query_start=0.0,
                query_end=4.0,
                reference_start=1.0,
                reference_end=6.0,
                score=2.5,
                matched_frames=8,
                mean_distance=31.5,
            ),
        ),
        speed=1.25,
        views=("full", "flip"),
    )
    evidence = evidence_of(match, "chair attack")
    sent = dataclasses.asdict(match) | {"label": "chair attack"}
    assert evidence.model_dump() == {
        **sent,
        "segments": tuple(sent["segments"]),
    }
