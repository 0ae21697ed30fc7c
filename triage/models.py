"""The service's domain records: what the store keeps and the API shows.

Every model is a frozen pydantic model: validated where it enters (API, store rows), immutable
inside. Times are timezone-aware UTC. Hash data stays an opaque text blob here: one JSONL record
line per reference or per media, written and read by `hashes.formats.jsonl`. The evidence a
result, a referral and a media carry is `triage.evidence`'s. A field's `description` is what
the API document says of it: the API's views of these records derive from them.
"""

from __future__ import annotations

import hashlib
import secrets
from datetime import datetime
from enum import StrEnum
from typing import Any, Self

from pydantic import BaseModel, ConfigDict, Field

from triage.evidence import FetchEvidence, MatchEvidence

__all__ = [
    "ApiKey",
    "AuditEntry",
    "FirstReport",
    "Job",
    "JobKind",
    "JobLane",
    "JobState",
    "Keyframe",
    "KeyframeInfo",
    "MatchRecord",
    "Media",
    "ParkedReferral",
    "ParkedState",
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
    "Submission",
    "SubmissionDetail",
    "SubmissionFilter",
    "SubmissionStatus",
    "SubmitOutcome",
    "Suppression",
    "Verdict",
    "WebSession",
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


class ReferenceImport(Frozen):
    """One record of an imported hash list, to be stored as an active reference."""

    reference_id: str
    label: str
    source: str
    hash_record: str
    frame_count: int = 0
    duration_seconds: float = 0.0


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


class JobLane(StrEnum):
    """Which worker slots may take a job, so that one huge file never holds up short ones."""

    SHORT = "short"
    LONG = "long"
    """Media over `jobs.long_media_bytes` or `jobs.long_media_seconds`: only the long-lane
    slots take it, and the other slots stay free for everything else."""


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
    key_id: str | None = None
    """The API key whose submission made the job (per-key fairness); None for internal jobs."""
    lane: JobLane = JobLane.SHORT
    claimed_at: datetime | None = None
    """When a worker last claimed it: claims go to the key served least recently first."""


OPEN_STATES = (JobState.QUEUED, JobState.FETCHING, JobState.HASHING, JobState.MATCHING)
"""States of work not finished yet: what a queue's depth counts."""


class QueueStat(Frozen):
    """Open jobs of one kind in one state (`OPEN_STATES`): how many, the age of the oldest
    (seconds since it was created) and, for `queued`, how long the job waiting longest for a
    worker has been due (seconds since its `run_after`; jobs still in backoff are not due)."""

    kind: JobKind
    state: JobState
    count: int
    oldest_age_seconds: float | None
    longest_due_seconds: float | None = None


# --- media, submissions, results ---------------------------------------------------------------


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


class SubmissionFilter(Frozen):
    """Which submissions `Store.list_submissions` returns; every field narrows the list."""

    key_id: str | None = None
    """Only those this key submitted."""
    hosts: tuple[str, ...] | None = None
    """Only those whose URL is on these hosts or their subdomains (uploads never)."""
    external_id: str | None = None
    media_id: str | None = None
    """Every report of this media's content: its own submissions and those of its copies
    (other URLs or uploads with the same bytes, `Media.same_as`)."""
    verdicts: frozenset[Verdict] | None = None
    statuses: frozenset[SubmissionStatus] | None = None


class SubmitOutcome(Frozen):
    """What `create_submission` did: a new submission, or the one an idempotency key names."""

    submission: Submission
    replayed: bool
    """True when the idempotency key named an earlier submission (nothing new was stored)."""
    deduplicated: bool
    """True when the URL or content was already known: linked to its media, no new job."""


# --- after the verdict: referrals, the match feed, review, suppression, audit ------------------


class FirstReport(Frozen):
    """The first submission that reported a media, as its referral and its match-feed entry
    carry it (all None for media nobody submitted)."""

    submission_id: str | None = Field(
        default=None, description="The first submission that reported this content."
    )
    external_id: str | None = Field(
        default=None, description="That submission's external_id (the reporter's own id)."
    )
    note: str | None = Field(
        default=None,
        description="That submission's note; sent only when referrals.share_notes is set.",
    )

    def as_shared(self, *, share_notes: bool) -> Self:
        """As platforms see it: the note only when `referrals.share_notes` is set."""
        return self if share_notes else self.model_copy(update={"note": None})


class Referral(FirstReport):
    """One URL to take down (for an upload without URL: its content), referred once.

    `cursor` orders the outbox.
    """

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


class MatchRecord(FirstReport):
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


class ParkedState(StrEnum):
    PARKED = "parked"
    """The sink's receiver refused it (HTTP 4xx) too often; set aside until an admin retries."""
    REQUEUED = "requeued"
    """An admin asked for another try; the relay offers it again before newer referrals."""
    DELIVERED = "delivered"
    """Taken by the receiver after a retry."""


class ParkedReferral(Frozen):
    """A referral one sink set aside so it stops blocking the referrals behind it."""

    sink: str = Field(description="The delivery sink that parked it (e.g. `webhook`).")
    referral: Referral
    state: ParkedState
    refusals: int = Field(
        description="Refusals in a row that parked it (the last run of them, after a retry)."
    )
    last_error: str
    parked_at: datetime
    updated_at: datetime


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
    note: str | None = Field(default=None, description="The reviewer's note on the decision.")
    claimed_by: str | None = Field(
        default=None,
        description="The key id of the reviewer working on it, if any (until claim_expires_at).",
    )
    claim_expires_at: datetime | None = None
    submission_id: str | None = Field(
        default=None, description="The first submission that reported this content."
    )
    external_id: str | None = Field(default=None, description="That submission's external_id.")
    submission_note: str | None = Field(
        default=None, description="That submission's note, for the reviewers."
    )
    upload_filename: str | None = Field(
        default=None, description="For an upload: the name of the file sent."
    )

    def claimed_by_other(self, key_id: str, now: datetime) -> bool:
        """True while another key holds an unexpired claim on the item."""
        return (
            self.claimed_by is not None
            and self.claimed_by != key_id
            and self.claim_expires_at is not None
            and self.claim_expires_at > now
        )


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


# --- pages: sign-in sessions and keyframes --------------------------------------------------------


class WebSession(Frozen):
    """A signed-in browser: the key it was opened with, valid until `expires_at`.

    The browser holds only the session token; the store keeps its SHA-256 (`digest`).
    """

    digest: str
    key: ApiKey
    csrf_token: str
    """Sent back in every form (and the JS's header): proves a request came from our page."""
    created_at: datetime
    expires_at: datetime


class Keyframe(Frozen):
    """A small JPEG of one frame of a media (a query) or of a reference video."""

    owner_id: str
    """The media id or reference id the frame was cut from."""
    of_reference: bool
    """True for a reference's frame (kept as long as the reference), False for a query's."""
    timestamp_millis: int
    jpeg: bytes


class KeyframeInfo(Frozen):
    """A stored keyframe without its bytes."""

    owner_id: str
    timestamp_millis: int
    size_bytes: int


def text_sha256(text: str) -> str:
    """Hex SHA-256 of a text blob (used for query hash records)."""
    return hashlib.sha256(text.encode("utf-8")).hexdigest()
