"""The evidence a verdict rests on, in the one shape the store keeps, the API sends and the
pages show: what the fetcher saw (`FetchEvidence`) and how a reference matched
(`MatchEvidence`, with its aligned stretches, `SegmentEvidence`).

`triage.verdicts.evidence_of` alone builds match evidence from a `hashes` match. The field
descriptions are the API document's.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

__all__ = ["FetchEvidence", "MatchEvidence", "SegmentEvidence"]


class _Evidence(BaseModel):
    # Every field is always sent, defaults included: the API document says so.
    model_config = ConfigDict(frozen=True, json_schema_serialization_defaults_required=True)


class _StoredEvidence(_Evidence):
    """Evidence kept in the store as JSON: fields a later build adds are ignored on reading,
    so rows written after an upgrade still load after a rollback; fields an earlier build did
    not write take their defaults."""

    model_config = ConfigDict(extra="ignore")


class SegmentEvidence(_StoredEvidence):
    """One aligned stretch: the query's [query_start, query_end] shows the reference's
    [reference_start, reference_end] (seconds)."""

    query_start: float
    query_end: float
    reference_start: float
    reference_end: float
    score: float
    matched_frames: int = Field(
        default=0,
        description="Query samples paired with reference frames along this stretch "
        "(0 for results stored before it was recorded).",
    )
    mean_distance: float | None = Field(
        default=None,
        description="Mean PDQ distance of those pairs, in bits of 256 (lower is closer).",
    )

    def reference_seconds_at(self, query_seconds: float) -> float:
        """The time in the reference aligned with `query_seconds` of the query."""
        query_span = self.query_end - self.query_start
        speed = (self.reference_end - self.reference_start) / query_span if query_span > 0 else 1.0
        return self.reference_start + (query_seconds - self.query_start) * speed


class MatchEvidence(_StoredEvidence):
    """How one reference appears in the query; higher `score` is stronger."""

    reference_id: str
    label: str
    score: float
    matched_seconds: float
    query_coverage: float
    reference_coverage: float
    speed: float = Field(
        default=1.0,
        description="Reference seconds per query second on the best segment: 1.0 is the "
        "original speed, 1.25 a sped-up copy.",
    )
    views: tuple[str, ...] = Field(
        default=(),
        description="Which views of the query frames matched: `full`, `active` (inside "
        "borders), `inner` (over a blurred copy), `region` (a crop or inset), `side` (a "
        "split screen's pane), `flip` (mirrored or turned 90°), `tilt` (a filmed screen), "
        "`zoom` (a part of the picture, zoomed into on a closer look at a lead). "
        "Empty for results stored before it was recorded.",
    )
    segments: tuple[SegmentEvidence, ...] = ()


class FetchEvidence(_Evidence):
    """What the fetcher saw: kept as evidence of what was hashed."""

    model_config = ConfigDict(extra="forbid")

    final_url: str | None = Field(
        description="The URL the bytes came from, after redirects and post-page resolution "
        "(null: an upload)."
    )
    sha256: str
    size_bytes: int
    content_type: str | None = Field(description="The media type sniffed from the bytes.")
    fetched_at: datetime
    resolver: dict[str, Any] | None = Field(
        default=None, description="Metadata of the post-page resolver, when one was used."
    )
