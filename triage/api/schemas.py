"""Request and response bodies of the HTTP API (pydantic): the OpenAPI spec is generated from
these, so what is documented is what is validated and sent.

Responses that show a domain record as it is derive from its model (`ReferralView` is a
`Referral`; evidence is sent as `triage.evidence` models); requests use the field types of
`triage.api.fields`, whether they come as JSON or as a multipart form.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from pydantic import AnyHttpUrl, BaseModel, BeforeValidator, ConfigDict, Field

from triage.api.fields import ExternalId, Label, Note, ReferenceId, UploadedFile
from triage.evidence import FetchEvidence, MatchEvidence
from triage.models import (
    AuditEntry,
    JobKind,
    JobLane,
    JobState,
    MatchRecord,
    ReferenceStatus,
    Referral,
    ReviewDecision,
    ReviewItem,
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
    note: Note | None = None
    external_id: ExternalId | None = None


class SubmissionAccepted(BaseModel):
    id: str
    status: SubmissionStatus
    status_url: str


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
    upload_filename: str | None = Field(default=None, description="For an upload: its name.")
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


class SubmissionPage(BaseModel):
    items: list[SubmissionView] = Field(description="Newest first.")
    next_before: str | None = Field(
        description="Pass as `before` for the next (older) page; null on the last page."
    )


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


def _choice_word(value: object) -> object:
    return value.strip().lower() if isinstance(value, str) else value


class ReferenceUploadFields(BaseModel):
    """The text fields of a reference upload (surrounding blanks dropped)."""

    model_config = ConfigDict(str_strip_whitespace=True)

    format: Annotated[Literal["video", "vpdq", "jsonl"], BeforeValidator(_choice_word)] = "video"
    label: Label | None = None
    id: ReferenceId | None = Field(default=None, description="Id for a single entry.")


class ReferenceUploadForm(ReferenceUploadFields):
    """multipart/form-data: a video in `file` (hashed by a worker), or hash files in `file`
    with `format` set to `vpdq` or `jsonl`."""

    file: UploadedFile


class SubmissionUploadFields(BaseModel):
    """The text fields of a media upload."""

    note: Note | None = None
    external_id: ExternalId | None = None


class SubmissionUploadForm(SubmissionUploadFields):
    """multipart/form-data: the media in `file`, streamed to disk."""

    file: UploadedFile


class JobView(BaseModel):
    id: str
    kind: JobKind
    target_id: str
    state: JobState
    attempts: int
    max_attempts: int
    last_error: str | None = None
    key_id: str | None = Field(
        default=None, description="The key whose submission made the job (null: internal)."
    )
    lane: JobLane = Field(default=JobLane.SHORT, description="long: taken by long-lane slots.")


class HealthView(BaseModel):
    status: Literal["ok", "unavailable"]
    checks: dict[str, bool] = Field(default_factory=dict)
    reasons: dict[str, str] = Field(
        default_factory=dict, description="Why each failing check is not ready."
    )


class ReferralView(Referral):
    """A referral as the API sends it (the note only with `referrals.share_notes`)."""


class ReferralPage(BaseModel):
    items: list[ReferralView]
    next_cursor: int = Field(description="Pass as `after` to get what follows.")


class MatchView(MatchRecord):
    """A result in the match feed as the API sends it (the note as on referrals)."""


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


class ReviewItemView(ReviewItem):
    """A review item as the API sends it."""


class ReviewList(BaseModel):
    items: list[ReviewItemView]


class ReviewDecisionIn(_Body):
    decision: ReviewDecision
    note: Note | None = None


class AuditEntryView(AuditEntry):
    """An audit-log line as the API sends it."""


class AuditPage(BaseModel):
    items: list[AuditEntryView]
    next_cursor: int
