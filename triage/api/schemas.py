"""Request and response bodies of the HTTP API (pydantic): the OpenAPI spec is generated from
these, so what is documented is what is validated and sent."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import AnyHttpUrl, BaseModel, ConfigDict, Field

from triage.models import (
    JobKind,
    JobState,
    ReferenceStatus,
    ReviewDecision,
    ReviewState,
    SubmissionStatus,
    Verdict,
)


class _Body(BaseModel):
    model_config = ConfigDict(extra="forbid")


class ProblemBody(BaseModel):
    """RFC 9457 problem details."""

    type: str = "about:blank"
    title: str
    status: int
    detail: str
    instance: str | None = None


class SubmissionCreate(_Body):
    url: AnyHttpUrl = Field(description="The link to check: a media file or a post page.")
    note: str | None = Field(default=None, max_length=2000)
    external_id: str | None = Field(default=None, max_length=200)


class SubmissionAccepted(BaseModel):
    id: str
    status: SubmissionStatus
    status_url: str


class SegmentView(BaseModel):
    query_start: float
    query_end: float
    reference_start: float
    reference_end: float
    score: float
    matched_frames: int = Field(
        description="Query samples paired with reference frames along this stretch "
        "(0 for results stored before it was recorded)."
    )
    mean_distance: float | None = Field(
        description="Mean PDQ distance of those pairs, in bits of 256 (lower is closer)."
    )


class MatchEvidence(BaseModel):
    reference_id: str
    label: str
    score: float
    matched_seconds: float
    query_coverage: float
    reference_coverage: float
    speed: float = Field(
        description="Reference seconds per query second on the best segment: 1.0 is the "
        "original speed, 1.25 a sped-up copy."
    )
    views: list[str] = Field(
        description="Which views of the query frames matched: `full`, `active` (inside "
        "borders), `inner` (over a blurred copy), `region` (a crop or inset), `side` (a "
        "split screen's pane), `flip` (mirrored or turned 90°), `tilt` (a filmed screen), "
        "`zoom` (a part of the picture, zoomed into on a closer look at a lead). "
        "Empty for results stored before it was recorded."
    )
    segments: list[SegmentView]


class FetchEvidence(BaseModel):
    final_url: str | None = None
    sha256: str
    size_bytes: int
    content_type: str | None = None
    fetched_at: datetime | None = None
    resolver: dict[str, Any] | None = Field(
        default=None, description="Metadata of the post-page resolver, when one was used."
    )


class ErrorInfo(BaseModel):
    reason: str = Field(description="A stable machine-readable reason, e.g. `not_media`.")
    detail: str


class SubmissionView(BaseModel):
    id: str
    status: SubmissionStatus
    verdict: Verdict | None = None
    score: float | None = None
    suppressed: bool = Field(
        default=False, description="Content a reviewer rejected earlier: no referral, no review."
    )
    url: str | None = None
    note: str | None = None
    external_id: str | None = None
    created_at: datetime
    updated_at: datetime | None = None
    job_id: str | None = Field(
        default=None, description="The job processing this submission's media (for retries)."
    )
    matches: list[MatchEvidence] = Field(
        default_factory=list, description="Matching references, best first."
    )
    fetch: FetchEvidence | None = None
    error: ErrorInfo | None = None


class ReferenceView(BaseModel):
    id: str
    label: str
    source: str
    status: ReferenceStatus
    added_by: str | None = None
    created_at: datetime
    frame_count: int | None = None
    duration_seconds: float | None = None
    error: str | None = None
    full_frames_only: bool = Field(
        default=False,
        description="Its hashes are of whole frames only: an industry hash list, or a video "
        "hashed before every view the matcher uses was stored. Crops and reframings of it are "
        "found by the query's own views alone; to add the rest, upload the video again (see "
        "the changelog) or, if it was kept, POST .../rehash.",
    )
    source_kept: bool = Field(
        default=False,
        description="The uploaded video is kept (`references.keep_source`), so it can be hashed "
        "again with POST /v1/references/{id}/rehash.",
    )


class ReferenceList(BaseModel):
    items: list[ReferenceView]


class ReferenceUploadForm(BaseModel):
    """multipart/form-data: a video in `file` (hashed by a worker), or hash files in `file`
    with `format` set to `vpdq` or `jsonl`."""

    file: bytes = Field(json_schema_extra={"format": "binary"})
    format: Literal["video", "vpdq", "jsonl"] = "video"
    label: str | None = Field(default=None, max_length=200)
    id: str | None = Field(default=None, max_length=100, description="Id for a single entry.")


class SubmissionUploadForm(BaseModel):
    """multipart/form-data: the media in `file`, streamed to disk."""

    file: bytes = Field(json_schema_extra={"format": "binary"})
    note: str | None = Field(default=None, max_length=2000)
    external_id: str | None = Field(default=None, max_length=200)


class JobView(BaseModel):
    id: str
    kind: JobKind
    target_id: str
    state: JobState
    attempts: int
    max_attempts: int
    last_error: str | None = None


class HealthView(BaseModel):
    status: Literal["ok", "unavailable"]
    checks: dict[str, bool] = Field(default_factory=dict)


class ReferralView(BaseModel):
    cursor: int
    id: str = Field(description="The event id every delivery of this referral carries.")
    media_id: str
    url: str | None = Field(description="The URL to take down; null for an upload.")
    host: str | None
    sha256: str | None
    reference_id: str
    label: str
    evidence: MatchEvidence
    created_at: datetime


class ReferralPage(BaseModel):
    items: list[ReferralView]
    next_cursor: int = Field(description="Pass as `after` to get what follows.")


class MatchView(BaseModel):
    cursor: int
    media_id: str
    url: str | None
    host: str | None
    sha256: str | None
    verdict: Verdict
    matches: list[MatchEvidence]
    suppressed: bool
    created_at: datetime


class MatchPage(BaseModel):
    items: list[MatchView]
    next_cursor: int


class FrameHashIn(_Body):
    timestamp: float = Field(ge=0)
    hash: str = Field(min_length=64, max_length=64, description="64 hex digits (PDQ).")
    quality: int = Field(default=100, ge=0, le=100)


class LookupResult(BaseModel):
    verdict: Verdict
    score: float | None
    matches: list[MatchEvidence]


class ReviewItemView(BaseModel):
    id: str
    media_id: str
    url: str | None
    sha256: str | None
    reference_id: str | None
    label: str | None
    score: float | None
    state: ReviewState
    created_at: datetime
    decided_by: str | None = None
    decided_at: datetime | None = None
    note: str | None = None


class ReviewList(BaseModel):
    items: list[ReviewItemView]


class ReviewDecisionIn(_Body):
    decision: ReviewDecision
    note: str | None = Field(default=None, max_length=2000)


class AuditEntryView(BaseModel):
    cursor: int
    at: datetime
    actor: str
    action: str
    target: str | None = None
    details: dict[str, Any] = Field(default_factory=dict)


class AuditPage(BaseModel):
    items: list[AuditEntryView]
    next_cursor: int
