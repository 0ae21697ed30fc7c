"""The service's domain records: what the store keeps and the API shows.

Every model is a frozen pydantic model: validated where it enters (API, store rows), immutable
inside. Times are timezone-aware UTC. Hash data stays an opaque text blob here: one JSONL record
line per reference or per media, written and read by `hashes.formats.jsonl`.
"""

from __future__ import annotations

import hashlib
import secrets
from datetime import datetime
from enum import StrEnum
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

__all__ = [
    "ApiKey",
    "AuditEntry",
    "FetchEvidence",
    "Job",
    "JobKind",
    "JobState",
    "MatchEvidence",
    "MatchRecord",
    "Media",
    "QueryHashes",
    "QueueStat",
    "Reference",
    "ReferenceChanges",
    "ReferenceHashes",
    "ReferenceStatus",
    "Referral",
    "Result",
    "ReviewDecision",
    "ReviewItem",
    "ReviewState",
    "Scope",
    "SegmentEvidence",
    "Submission",
    "SubmissionDetail",
    "SubmissionStatus",
    "SubmitOutcome",
    "Suppression",
    "Verdict",
    "new_api_key_token",
    "text_sha256",
]


class Verdict(StrEnum):
    """What the service decided of one media: sent to referral, to a moderator, or neither."""

    CONFIRMED = "confirmed"
    REVIEW = "review"
    NONE = "none"


class Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


# --- keys -------------------------------------------------------------------------------------


class Scope(StrEnum):
    SUBMIT = "submit"
    READ = "read"
    REVIEW = "review"
    ADMIN = "admin"


API_KEY_PREFIX = "tt_"


def new_api_key_token() -> str:
    """A fresh random key to hand to its owner once; only its digest is stored."""
    return API_KEY_PREFIX + secrets.token_urlsafe(32)


class ApiKey(Frozen):
    """An API key as stored: the token itself is never kept, only its SHA-256 digest."""

    id: str
    name: str
    scopes: frozenset[Scope]
    hosts: tuple[str, ...] | None = None
    """For platform-scoped read keys: the only hosts whose matches and referrals it sees."""
    created_at: datetime
    revoked_at: datetime | None = None

    @property
    def active(self) -> bool:
        return self.revoked_at is None

    @staticmethod
    def digest(token: str) -> str:
        """The hex SHA-256 of a key token: what the store looks keys up by."""
        return hashlib.sha256(token.encode("utf-8")).hexdigest()


# --- references -------------------------------------------------------------------------------


class ReferenceStatus(StrEnum):
    PENDING = "pending"
    """Added from an upload; a `hash_reference` job has not produced its hashes yet."""
    ACTIVE = "active"
    DISABLED = "disabled"
    DELETED = "deleted"
    """Soft-deleted: kept for the record, never matched."""
    FAILED = "failed"
    """Its upload could not be hashed; the job's error says why."""


class Reference(Frozen):
    id: str
    label: str
    source: str
    """Where the reference came from: an upload's file name, an imported list, a partner."""
    added_by: str
    """The id of the key that added it (or a name, for references added from the CLI)."""
    added_at: datetime
    updated_at: datetime
    status: ReferenceStatus
    frame_count: int = 0
    duration_seconds: float = 0.0
    upload_path: str | None = None
    """The uploaded video waiting to be hashed, when added by upload."""
    version: int = 0
    """The hash-list version of its last change (see `Store.hashlist_version`)."""
    full_frames_only: bool = False
    """Its hashes are of whole frames only (an industry list, or a video hashed before the
    store kept every view): crops and reframings of it are found by the query's views alone."""

    @property
    def matchable(self) -> bool:
        return self.status is ReferenceStatus.ACTIVE


class ReferenceHashes(Frozen):
    """A reference with its hash record (one JSONL line), or None while it is pending."""

    reference: Reference
    hash_record: str | None


class ReferenceChanges(Frozen):
    """References changed after some hash-list version, in their latest state.

    A matcher applies them in order: active ones are (re)indexed, any other status is removed.
    Pass `version` to the next `references_changed_since` call.
    """

    version: int
    changed: tuple[ReferenceHashes, ...]


# --- jobs -------------------------------------------------------------------------------------


class JobKind(StrEnum):
    PROCESS_MEDIA = "process_media"
    """Fetch (or read the upload), hash and match one media."""
    HASH_REFERENCE = "hash_reference"
    """Hash an uploaded reference video into its hash record."""
    RETRO_MATCH = "retro_match"
    """Match stored query hashes against one newly added reference (target: reference id)."""

    @property
    def first_state(self) -> JobState:
        """The state a job enters when a worker claims it."""
        if self is JobKind.PROCESS_MEDIA:
            return JobState.FETCHING
        if self is JobKind.HASH_REFERENCE:
            return JobState.HASHING
        return JobState.MATCHING


class JobState(StrEnum):
    QUEUED = "queued"
    """Waiting for a worker, after `run_after` (also after a retryable failure, with backoff)."""
    FETCHING = "fetching"
    HASHING = "hashing"
    MATCHING = "matching"
    DONE = "done"
    FAILED = "failed"
    """Failed for good on an error that retrying cannot fix (a corrupt file, a refused URL)."""
    DEAD = "dead"
    """Failed on every one of its `max_attempts`; `retry` puts it back in the queue."""

    @property
    def running(self) -> bool:
        return self in RUNNING_STATES

    @property
    def final(self) -> bool:
        return self in (JobState.DONE, JobState.FAILED, JobState.DEAD)


RUNNING_STATES = frozenset({JobState.FETCHING, JobState.HASHING, JobState.MATCHING})


class Job(Frozen):
    id: str
    kind: JobKind
    target_id: str
    """The media id for `process_media`, the reference id for `hash_reference`."""
    state: JobState
    attempts: int
    """Claims so far; a claim counts as an attempt, a `release` gives it back."""
    max_attempts: int
    lease_owner: str | None = None
    lease_expires_at: datetime | None = None
    heartbeat_at: datetime | None = None
    run_after: datetime
    last_error: str | None = None
    created_at: datetime
    updated_at: datetime


class QueueStat(Frozen):
    """Jobs in one state: how many, and the age of the oldest (seconds since it was created)."""

    state: JobState
    count: int
    oldest_age_seconds: float | None


# --- media, submissions, results ---------------------------------------------------------------


class FetchEvidence(Frozen):
    """What the fetcher saw: kept as evidence of what was hashed."""

    final_url: str | None
    """The URL the bytes came from, after redirects and post-page resolution (None: upload)."""
    sha256: str
    size_bytes: int
    content_type: str | None
    """The media type sniffed from the bytes."""
    fetched_at: datetime
    resolver: dict[str, Any] | None = None
    """Metadata from resolving a post page (extractor, title, uploader, ...)."""


class Media(Frozen):
    """The shared unit of work: one per URL and one per uploaded content.

    After its fetch, a media whose SHA-256 was already seen points to that earlier media
    (`same_as`), whose result every submission of either shares.
    """

    id: str
    url: str | None
    """The submitted URL; None for uploads."""
    upload_path: str | None = None
    """For uploads: the file on disk, already streamed in and hashed with SHA-256."""
    sha256: str | None = None
    evidence: FetchEvidence | None = None
    same_as: str | None = None
    created_at: datetime


class StoredEvidence(BaseModel):
    """Evidence kept in the store as JSON: fields a later build adds are ignored on reading,
    so rows written after an upgrade still load after a rollback."""

    model_config = ConfigDict(frozen=True, extra="ignore")


class SegmentEvidence(StoredEvidence):
    query_start: float
    query_end: float
    reference_start: float
    reference_end: float
    score: float
    matched_frames: int = 0
    """Query samples paired with reference frames along this stretch (0: not recorded)."""
    mean_distance: float | None = None
    """Mean PDQ distance (bits of 256) of those pairs (None: not recorded)."""


class MatchEvidence(StoredEvidence):
    reference_id: str
    label: str
    score: float
    query_coverage: float
    reference_coverage: float
    matched_seconds: float
    segments: tuple[SegmentEvidence, ...] = Field(default_factory=tuple)
    speed: float = 1.0
    """Reference seconds per query second on the best segment (1.0: same speed)."""
    views: tuple[str, ...] = ()
    """The query views whose frames made the evidence (`full`, `flip`, `side`, `tilt`...):
    what a moderator looks for (a mirror image, a split screen's pane, a filmed screen)."""


class Result(Frozen):
    """The verdict on one media with its evidence, best match first."""

    media_id: str
    verdict: Verdict
    matches: tuple[MatchEvidence, ...]
    created_at: datetime
    suppressed: bool = False
    """The content was rejected in review before: no referral, no review item."""
    cursor: int = 0
    """Position in the match feed (`Store.list_matches`); a new result moves it to the end."""

    @property
    def best(self) -> MatchEvidence | None:
        return self.matches[0] if self.matches else None


class Submission(Frozen):
    id: str
    url: str | None
    upload_filename: str | None
    note: str | None
    external_id: str | None
    idempotency_key: str | None
    key_id: str
    """The key that submitted it."""
    media_id: str
    created_at: datetime


class SubmissionStatus(StrEnum):
    QUEUED = "queued"
    FETCHING = "fetching"
    HASHING = "hashing"
    MATCHING = "matching"
    DONE = "done"
    FAILED = "failed"


class SubmissionDetail(Frozen):
    """A submission with its media, the media's job and its result (shared with duplicates)."""

    submission: Submission
    media: Media
    job: Job | None
    result: Result | None

    @property
    def status(self) -> SubmissionStatus:
        if self.result is not None:
            return SubmissionStatus.DONE
        if self.job is None:
            return SubmissionStatus.QUEUED
        if self.job.state in (JobState.FAILED, JobState.DEAD):
            return SubmissionStatus.FAILED
        if self.job.state is JobState.DONE:
            # Done but no result to show yet: the worker is between completing and recording.
            return SubmissionStatus.MATCHING
        return SubmissionStatus(self.job.state.value)

    @property
    def error(self) -> str | None:
        """Why it failed, when it did."""
        if self.status is SubmissionStatus.FAILED and self.job is not None:
            return self.job.last_error
        return None


class SubmitOutcome(Frozen):
    """What `create_submission` did: a new submission, or the one an idempotency key names."""

    submission: Submission
    replayed: bool
    """True when the idempotency key named an earlier submission (nothing new was stored)."""
    deduplicated: bool
    """True when the URL or content was already known: linked to its media, no new job."""


# --- after the verdict: referrals, the match feed, review, suppression, audit ------------------


class Referral(Frozen):
    """One URL to take down (for an upload without URL: its content), referred once.

    `id` is the event id every delivery of it carries; `cursor` orders the outbox.
    """

    cursor: int
    id: str
    media_id: str
    url: str | None
    host: str | None
    sha256: str | None
    reference_id: str
    label: str
    evidence: MatchEvidence
    created_at: datetime


class MatchRecord(Frozen):
    """A result in the match feed, with the media it is about."""

    cursor: int
    media_id: str
    url: str | None
    host: str | None
    sha256: str | None
    verdict: Verdict
    matches: tuple[MatchEvidence, ...]
    suppressed: bool
    created_at: datetime


class ReviewState(StrEnum):
    OPEN = "open"
    CONFIRMED = "confirmed"
    REJECTED = "rejected"


class ReviewDecision(StrEnum):
    CONFIRM = "confirm"
    REJECT = "reject"


class ReviewItem(Frozen):
    """A `review` verdict waiting for a person (one open item per media)."""

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


class Suppression(Frozen):
    """Content rejected in review: later matches of it are kept quiet."""

    id: str
    sha256: str | None
    query_hashes_sha256: str | None
    """SHA-256 of the query hash record, so a re-encode with the same hashes is caught."""
    review_item_id: str | None
    created_by: str
    created_at: datetime


class QueryHashes(Frozen):
    """A stored query hash record, for retro-matching a new reference."""

    media_id: str
    query_hashes: str
    created_at: datetime


class AuditEntry(Frozen):
    """One line of the append-only audit log: who did what to what, when."""

    cursor: int
    at: datetime
    actor: str
    action: str
    target: str | None = None
    details: dict[str, Any] = Field(default_factory=dict)


def text_sha256(text: str) -> str:
    """Hex SHA-256 of a text blob (used for query hash records)."""
    return hashlib.sha256(text.encode("utf-8")).hexdigest()
