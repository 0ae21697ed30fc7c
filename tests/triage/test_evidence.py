"""The evidence models: what a segment aligns, and the one shape the API document shows."""

from __future__ import annotations

from pydantic.json_schema import models_json_schema

from triage.evidence import FetchEvidence, MatchEvidence, SegmentEvidence


def _segment(query: tuple[float, float], reference: tuple[float, float]) -> SegmentEvidence:
    return SegmentEvidence(
        query_start=query[0],
        query_end=query[1],
        reference_start=reference[0],
        reference_end=reference[1],
        score=1.0,
    )


def test_a_sped_up_segment_aligns_query_times_at_its_speed() -> None:
    segment = _segment((2.0, 8.0), (10.0, 17.5))  # 7.5 reference seconds in 6 query seconds
    assert segment.reference_seconds_at(2.0) == 10.0
    assert segment.reference_seconds_at(6.0) == 15.0


def test_a_segment_of_one_instant_aligns_at_the_original_speed() -> None:
    assert _segment((3.0, 3.0), (10.0, 10.0)).reference_seconds_at(4.0) == 11.0


def test_the_api_document_lists_every_field_of_evidence_as_sent() -> None:
    """Defaults only fill in what older rows lack: every field is always sent, so the
    response schema requires each."""
    _, schema = models_json_schema(
        [(MatchEvidence, "serialization"), (FetchEvidence, "serialization")]
    )
    for model in (MatchEvidence, SegmentEvidence, FetchEvidence):
        shown = schema["$defs"][model.__name__]
        assert set(shown["required"]) == set(model.model_fields), model.__name__
