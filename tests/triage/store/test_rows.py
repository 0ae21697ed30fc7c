"""Table rows to domain models: evidence stored as JSON by the builds before this one reads
back whole, and is written back the same."""

from __future__ import annotations

import json
from datetime import UTC, datetime

from triage.evidence import MatchEvidence, SegmentEvidence
from triage.store import rows

# One match as the build before evidence had a module of its own wrote it into
# `results.matches` and `referrals.evidence`: its `model_dump(mode="json")`, in its order.
STORED_MATCH = json.loads(
    '{"reference_id": "ref_a", "label": "chair attack", "score": 1.4, "query_coverage": 0.8, '
    '"reference_coverage": 0.5, "matched_seconds": 4.0, "segments": [{"query_start": 0.0, '
    '"query_end": 4.0, "reference_start": 1.0, "reference_end": 5.0, "score": 2.5, '
    '"matched_frames": 8, "mean_distance": 31.5}], "speed": 1.25, "views": ["full", "flip"]}'
)
EXPECTED = MatchEvidence(
    reference_id="ref_a",
    label="chair attack",
    score=1.4,
    query_coverage=0.8,
    reference_coverage=0.5,
    matched_seconds=4.0,
    segments=(
        SegmentEvidence(
            query_start=0.0,
            query_end=4.0,
            reference_start=1.0,
            reference_end=5.0,
            score=2.5,
            matched_frames=8,
            mean_distance=31.5,
        ),
    ),
    speed=1.25,
    views=("full", "flip"),
)
AT = datetime(2026, 1, 1, tzinfo=UTC)


def test_a_result_row_of_the_previous_build_reads_back_whole() -> None:
    row = {
        "media_id": "med_1",
        "verdict": "confirmed",
        "matches": [STORED_MATCH],
        "created_at": AT,
        "suppressed": 0,
        "seq": 3,
    }
    result = rows.result(row)
    assert result.matches == (EXPECTED,)
    assert rows.encode_matches(result.matches) == [STORED_MATCH]


def test_a_referral_row_of_the_previous_build_reads_back_whole() -> None:
    row = {
        "seq": 7,
        "id": "ref_evt_1",
        "media_id": "med_1",
        "url": "https://video.example/x",
        "host": "video.example",
        "sha256": "a" * 64,
        "reference_id": "ref_a",
        "label": "chair attack",
        "evidence": STORED_MATCH,
        "created_at": AT,
        "submission_id": "sub_1",
        "external_id": "case-1",
        "submission_note": "seen on a forum",
    }
    referral = rows.referral(row)
    assert referral.evidence == EXPECTED
    assert (referral.submission_id, referral.external_id, referral.note) == (
        "sub_1",
        "case-1",
        "seen on a forum",
    )


def test_a_match_feed_row_of_the_previous_build_reads_back_whole() -> None:
    row = {
        "seq": 3,
        "media_id": "med_1",
        "url": None,
        "host": None,
        "sha256": "a" * 64,
        "verdict": "review",
        "matches": [STORED_MATCH, {**STORED_MATCH, "reference_id": "ref_b", "score": 0.7}],
        "suppressed": False,
        "created_at": AT,
    }
    record = rows.match_record(row)
    assert record.matches[0] == EXPECTED
    assert (record.matches[1].reference_id, record.matches[1].score) == ("ref_b", 0.7)
    assert record.submission_id is None and record.note is None
