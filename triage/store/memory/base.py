"""The in-process store's state: dictionaries, counters, the clock and shared helpers.

Each method runs without awaiting, so under asyncio every call is atomic, like a transaction.
"""

from __future__ import annotations

from datetime import datetime

from triage.errors import NotFound
from triage.models import (
    ApiKey,
    AuditEntry,
    Job,
    JobKind,
    JobLane,
    JobState,
    Keyframe,
    Media,
    ParkedReferral,
    Reference,
    Referral,
    Result,
    ReviewItem,
    Submission,
    Suppression,
    WebSession,
)
from triage.store import rules
from triage.store.policy import DEFAULT_JOB_POLICY, JobPolicy
from triage.store.rules import Clock


class MemoryBase:
    """Every table as a dictionary, with the helpers every concern shares."""

    def __init__(
        self, *, policy: JobPolicy = DEFAULT_JOB_POLICY, clock: Clock = rules.utc_now
    ) -> None:
        self._policy = policy
        self._now = clock
        self._keys: dict[str, ApiKey] = {}
        self._key_by_digest: dict[str, str] = {}
        self._references: dict[str, Reference] = {}
        self._reference_hashes: dict[str, str | None] = {}
        self._hashlist_version = 0
        self._media: dict[str, Media] = {}
        self._media_by_url: dict[str, str] = {}
        self._submissions: dict[str, Submission] = {}
        self._submission_by_idempotency: dict[tuple[str, str], str] = {}
        self._jobs: dict[str, Job] = {}
        self._media_job: dict[str, str] = {}
        self._results: dict[str, Result] = {}
        self._query_hashes: dict[str, str] = {}
        self._cursors = {"results": 0, "referrals": 0, "audit": 0}
        self._referrals: list[Referral] = []
        self._referral_subjects: set[str] = set()
        self._sink_cursors: dict[str, int] = {}
        self._parked: dict[tuple[str, int], ParkedReferral] = {}
        self._review_items: dict[str, ReviewItem] = {}
        self._suppressions: list[Suppression] = []
        self._audit: list[AuditEntry] = []
        self._web_sessions: dict[str, WebSession] = {}
        self._keyframes: dict[tuple[str, int], tuple[Keyframe, datetime]] = {}

    async def migrate(self) -> None:
        return None

    async def close(self) -> None:
        return None

    async def ping(self) -> None:
        return None

    def _bump_version(self) -> int:
        self._hashlist_version += 1
        return self._hashlist_version

    def _reference(self, reference_id: str) -> Reference:
        reference = self._references.get(reference_id)
        if reference is None:
            raise NotFound(f"no reference {reference_id}")
        return reference

    def _update_reference(self, reference: Reference, **changes: object) -> Reference:
        changes.update(updated_at=self._now(), version=self._bump_version())
        updated = reference.model_copy(update=changes)
        self._references[reference.id] = updated
        return updated

    def _next(self, sequence: str) -> int:
        self._cursors[sequence] += 1
        return self._cursors[sequence]

    def _new_job(
        self,
        kind: JobKind,
        target_id: str,
        run_after: datetime,
        *,
        key_id: str | None = None,
        lane: JobLane = JobLane.SHORT,
    ) -> Job:
        now = self._now()
        job = Job(
            id=rules.new_id("job"),
            kind=kind,
            target_id=target_id,
            state=JobState.QUEUED,
            attempts=0,
            max_attempts=self._policy.max_attempts,
            run_after=run_after,
            created_at=now,
            updated_at=now,
            key_id=key_id,
            lane=lane,
        )
        self._jobs[job.id] = job
        return job

    def _save(self, job: Job, **changes: object) -> Job:
        changes["updated_at"] = self._now()
        updated = job.model_copy(update=changes)
        self._jobs[job.id] = updated
        return updated

    def _job(self, job_id: str) -> Job:
        job = self._jobs.get(job_id)
        if job is None:
            raise NotFound(f"no job {job_id}")
        return job

    def _leased(self, job_id: str, worker_id: str) -> Job:
        job = self._job(job_id)
        rules.check_lease_held(job, worker_id)
        return job

    def _first_submission(self, media_id: str) -> Submission | None:
        """The earliest submission of the media: the report a result is tied back to."""
        found = [s for s in self._submissions.values() if s.media_id == media_id]
        return min(found, key=lambda s: (s.created_at, s.id)) if found else None

    def _context(self, media_id: str) -> dict[str, str | None]:
        """`submission_id`, `external_id` and `note` of the media's first submission."""
        first = self._first_submission(media_id)
        if first is None:
            return {"submission_id": None, "external_id": None, "note": None}
        return {"submission_id": first.id, "external_id": first.external_id, "note": first.note}

    def _is_suppressed(self, sha256: str | None, query_hashes_sha256: str) -> bool:
        return any(
            (sha256 is not None and s.sha256 == sha256)
            or s.query_hashes_sha256 == query_hashes_sha256
            for s in self._suppressions
        )
