"""The store interface: every read and write the service makes, one async method each.

Implementations: `memory.MemoryStore` (in-process; tests and `memory://`) and
`sql.SqlStore` (SQLite and PostgreSQL through SQLAlchemy, one Alembic history). Every
implementation passes the same contract tests. Methods raise `NotFound`, `Conflict` (or its
`LeaseLost`), `InvalidInput` and `StoreError` from `triage.errors`; nothing driver-specific
leaks out.

Times are taken from the store's clock (injectable for tests); leases and backoff are relative
to it. A store is given its `JobPolicy` (attempts, backoff, lease) when it is opened: every job
it creates, fails or leases follows that policy.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from datetime import datetime
from typing import Any, Protocol

from triage.models import (
    ApiKey,
    AuditEntry,
    FetchEvidence,
    Job,
    JobKind,
    JobLane,
    JobState,
    Keyframe,
    KeyframeInfo,
    MatchEvidence,
    MatchRecord,
    Media,
    ParkedReferral,
    ParkedState,
    QueryHashes,
    QueueStat,
    Reference,
    ReferenceChanges,
    ReferenceImport,
    ReferenceStatus,
    Referral,
    Result,
    ReviewDecision,
    ReviewItem,
    ReviewState,
    Scope,
    SubmissionDetail,
    SubmissionFilter,
    SubmitOutcome,
    Suppression,
    Verdict,
    WebSession,
)


class Store(Protocol):
    # --- lifecycle ----------------------------------------------------------------------------

    async def migrate(self) -> None:
        """Bring the schema to the newest version; a no-op when it is already there."""

    async def close(self) -> None:
        """Release connections. The store is unusable afterwards."""

    async def ping(self) -> None:
        """Raise `StoreError` unless the database answers (for `/readyz`)."""

    # --- API keys -----------------------------------------------------------------------------

    async def create_api_key(
        self,
        name: str,
        scopes: Collection[Scope],
        digest: str,
        *,
        hosts: Sequence[str] | None = None,
    ) -> ApiKey:
        """Store a key by the SHA-256 `digest` of its token (`ApiKey.digest(token)`).

        `hosts` limits a read key to matches and referrals on those hosts. Raises `Conflict`
        if the digest is already stored, `InvalidInput` without scopes.
        """

    async def find_active_api_key(self, digest: str) -> ApiKey | None:
        """The unrevoked key with this digest, or None (unknown or revoked)."""

    async def list_api_keys(self) -> list[ApiKey]:
        """Every key, revoked ones included, oldest first."""

    async def revoke_api_key(self, key_id: str) -> ApiKey:
        """Revoke a key from now on; revoking twice keeps the first time. `NotFound`."""

    # --- references (the hash list) -----------------------------------------------------------

    async def add_reference(
        self,
        *,
        label: str,
        source: str,
        added_by: str,
        hash_record: str | None = None,
        frame_count: int = 0,
        duration_seconds: float = 0.0,
        upload_path: str | None = None,
        reference_id: str | None = None,
    ) -> Reference:
        """Add a reference: `active` with its `hash_record`, or, given only `upload_path`,
        `pending` with a `hash_reference` job enqueued in the same transaction.

        Exactly one of `hash_record` and `upload_path` is required (`InvalidInput`).
        `reference_id` defaults to a new id; an id already used raises `Conflict`.
        Bumps the hash-list version.
        """

    async def import_references(
        self, records: Sequence[ReferenceImport], *, added_by: str
    ) -> list[Reference]:
        """Add every record as an `active` reference in one transaction: all or none.

        An id already used (or given twice) raises `Conflict` naming it, and nothing is stored.
        Bumps the hash-list version once per reference.
        """

    async def get_reference(self, reference_id: str) -> Reference:
        """The reference, whatever its status. `NotFound`."""

    async def list_references(
        self, *, statuses: Collection[ReferenceStatus] | None = None
    ) -> list[Reference]:
        """References in the order they were added; `statuses` filters (default: all)."""

    async def set_reference_status(self, reference_id: str, status: ReferenceStatus) -> Reference:
        """Disable, re-enable or (soft) delete. Bumps the hash-list version.

        Only `active`, `disabled` and `deleted` may be set; a deleted reference stays deleted
        and a pending one cannot be activated before it has hashes (`Conflict`). `NotFound`.
        """

    async def get_reference_hashes(self, reference_id: str) -> str | None:
        """The reference's hash record (one JSONL line), None while pending. `NotFound`."""

    async def set_reference_hashes(
        self,
        reference_id: str,
        hash_record: str,
        *,
        frame_count: int,
        duration_seconds: float,
    ) -> Reference:
        """Store the hashes of a reference; a pending or failed one becomes `active`.

        Bumps the hash-list version. `NotFound`.
        """

    async def hashlist_version(self) -> int:
        """A number that grows with every change to the hash list (0 when never changed)."""

    async def references_changed_since(self, version: int) -> ReferenceChanges:
        """Every reference changed after `version`, in its latest state with its hash record.

        `references_changed_since(0)` is the whole list. Versions commit in increasing order,
        so polling with the returned `version` never misses a change.
        """

    # --- submissions and media ----------------------------------------------------------------

    async def create_submission(
        self,
        *,
        url: str,
        key_id: str,
        note: str | None = None,
        external_id: str | None = None,
        idempotency_key: str | None = None,
    ) -> SubmitOutcome:
        """Record a submission of a URL, in one transaction with its media and job.

        - The same `idempotency_key` from the same key returns the earlier submission
          (`replayed`), storing nothing.
        - A URL seen before links to its existing media (`deduplicated`), no new job; if that
          media's job had failed or died, it is queued again.
        - Otherwise a new media and a `process_media` job are created.
        """

    async def create_upload_submission(
        self,
        *,
        upload_path: str,
        sha256: str,
        upload_filename: str | None,
        key_id: str,
        note: str | None = None,
        external_id: str | None = None,
        idempotency_key: str | None = None,
        lane: JobLane = JobLane.SHORT,
    ) -> SubmitOutcome:
        """Like `create_submission` for a file already on disk whose SHA-256 is known; a new
        job goes on `lane` (the caller knows the file's size).

        Content seen before (same SHA-256, uploaded or fetched) links to that media
        (`deduplicated`); the caller may then delete its copy of the file.
        """

    async def get_submission(self, submission_id: str) -> SubmissionDetail:
        """The submission with its media, job and result. `NotFound`.

        When the media turned out to be a copy of earlier content (`Media.same_as`), the job
        and result are those of the earlier media, which every copy shares.
        """

    async def list_submissions(
        self, where: SubmissionFilter, *, before: str | None = None, limit: int = 100
    ) -> list[SubmissionDetail]:
        """Submissions matching `where`, newest first; page with `before` set to the id of
        the last one seen (`NotFound` for an unknown id)."""

    async def get_media(self, media_id: str) -> Media:
        """`NotFound`."""

    async def link_media_by_sha256(self, media_id: str, evidence: FetchEvidence) -> Media | None:
        """Record what the fetch of `media_id` found, and look for the same content.

        Returns the earlier media with the same SHA-256 that already has a result (the caller
        then completes its job without hashing: its submissions share that result, and
        `same_as` is set), or None when this content is new and must be hashed. When that
        result is `confirmed`, this media's URL is referred too, in the same transaction.
        `NotFound`.
        """

    # --- results ------------------------------------------------------------------------------

    async def record_result(
        self,
        media_id: str,
        *,
        verdict: Verdict,
        matches: Sequence[MatchEvidence],
        query_hashes: str,
        job_id: str | None = None,
        worker_id: str | None = None,
    ) -> Result:
        """Store the verdict, its evidence (best match first) and the query hash record.

        Given `job_id` and `worker_id`, completes that job in the same transaction (raising
        `LeaseLost` if the worker no longer holds it, and then storing nothing). Recording a
        second result for a media replaces the first (retro-matching) and moves it to the end
        of the match feed. `NotFound`.

        In the same transaction: content suppressed in review (same SHA-256 or same query
        hashes) is recorded with `suppressed` set and nothing more; otherwise `confirmed`
        writes a referral for the media's URL and for every copy linked to it (`same_as`),
        and `review` opens a review item (one open item per media).
        """

    async def get_result(self, media_id: str) -> Result | None:
        """The result of the media (following `same_as`), None while there is none."""

    async def get_query_hashes(self, media_id: str) -> str | None:
        """The query hash record stored with the result, None without a result."""

    # --- jobs ---------------------------------------------------------------------------------

    async def enqueue_job(
        self,
        kind: JobKind,
        target_id: str,
        *,
        run_after: datetime | None = None,
        key_id: str | None = None,
        lane: JobLane = JobLane.SHORT,
    ) -> Job:
        """A new `queued` job, due at `run_after` (default: now), on `lane`, for `key_id`, with
        the policy's `max_attempts`.

        Submissions give their media job the submitting key (`Job.key_id`) themselves."""

    async def get_job(self, job_id: str) -> Job:
        """`NotFound`."""

    async def list_jobs(
        self, *, states: Collection[JobState] | None = None, limit: int = 100
    ) -> list[Job]:
        """Jobs, oldest first, optionally only those in `states`."""

    async def claim_job(
        self,
        worker_id: str,
        *,
        kinds: Collection[JobKind] | None = None,
        lanes: Sequence[JobLane] | None = None,
        max_running_per_key: int | None = None,
    ) -> Job | None:
        """Take the next due job for `worker_id`, or None when there is none.

        Due: `queued` with `run_after` passed, or running with an expired lease (its worker
        died). The job enters `kind.first_state`, its attempts count one more, and the lease
        runs the policy's `lease_seconds`. Two concurrent claims never get the same job. An
        expired job that has used all its attempts becomes `dead` instead of being handed out.

        Fairness: only jobs on `lanes` are taken (default: any), an earlier lane first; a key
        (`Job.key_id`; internal jobs form one group) with `max_running_per_key` jobs under a
        live lease gets no more; among the rest, the key whose last claim is oldest (or that
        was never served) goes first, then the job due first. On PostgreSQL the per-key limit
        can be passed by claims racing in the same instant (rows are locked, not counts).
        """

    async def heartbeat(self, job_id: str, worker_id: str) -> Job:
        """Extend the lease to now + the policy's `lease_seconds`. `LeaseLost` if not held by
        the worker."""

    async def set_job_state(self, job_id: str, worker_id: str, state: JobState) -> Job:
        """Move a leased job between running states (fetching, hashing, matching).

        `LeaseLost` if not held by the worker; `InvalidInput` for a non-running state.
        """

    async def complete_job(self, job_id: str, worker_id: str) -> Job:
        """Mark the job `done` and drop its lease. `LeaseLost` if not held by the worker."""

    async def fail_job(
        self,
        job_id: str,
        worker_id: str,
        error: str,
        *,
        retryable: bool,
    ) -> Job:
        """Record a failed attempt, keeping `error`.

        Retryable with attempts left: back to `queued`, due after the policy's backoff,
        min(backoff_max, backoff_base * 2 ** (attempts - 1)) seconds. Retryable with none
        left: `dead`. Not retryable: `failed`. A `hash_reference` job that ends `failed` or
        `dead` takes its pending reference to `failed` with it. `LeaseLost` if not held by the
        worker.
        """

    async def move_job_to_lane(self, job_id: str, worker_id: str, lane: JobLane) -> Job:
        """Give a leased job back to the queue on another lane, due now, the attempt it used
        returned (its media turned out long once fetched). `LeaseLost` if not held."""

    async def release_job(self, job_id: str, worker_id: str) -> Job:
        """Give a job back unfinished (graceful shutdown): `queued`, due now, and the attempt
        it used is returned. `LeaseLost` if not held by the worker."""

    async def retry_job(self, job_id: str) -> Job:
        """Queue a `dead` or `failed` job again with its attempts reset (the last error is
        kept until the next failure); a failed reference it hashes is `pending` again.
        `Conflict` in any other state; `NotFound`."""

    async def queue_stats(self) -> list[QueueStat]:
        """One entry per job kind and open state (`OPEN_STATES`), every pair listed (count 0
        and ages None when empty). Finished jobs are not counted: a queue's depth is its open
        work, which goes back down."""

    # --- referrals (the outbox) ---------------------------------------------------------------

    async def list_referrals(
        self, *, after: int = 0, limit: int = 100, hosts: Collection[str] | None = None
    ) -> list[Referral]:
        """Referrals with a cursor above `after`, in cursor order (stable; new ones append).

        `hosts` keeps only URLs on those hosts or their subdomains (platform-scoped keys).
        """

    async def get_sink_cursor(self, sink: str) -> int:
        """The cursor of the last referral a delivery sink (e.g. "webhook") confirmed; 0."""

    async def set_sink_cursor(self, sink: str, cursor: int) -> int:
        """Move a sink's cursor forward to `cursor` (never back); returns the stored cursor."""

    async def park_referral(
        self, sink: str, referral_id: str, *, error: str, refusals: int
    ) -> ParkedReferral:
        """Set aside a referral the sink's receiver keeps refusing, in one transaction: it is
        recorded `parked` (again, if it was requeued) and the sink's cursor moves past it, so
        the referrals behind it are delivered. `NotFound` for an unknown referral."""

    async def list_parked_referrals(
        self,
        *,
        sink: str | None = None,
        states: Collection[ParkedState] | None = None,
        limit: int = 100,
    ) -> list[ParkedReferral]:
        """Parked deliveries in referral order; `states` defaults to parked and requeued."""

    async def requeue_parked_referral(self, referral_id: str) -> list[ParkedReferral]:
        """Every parked delivery of the referral becomes `requeued` (the relay offers it again).

        `NotFound` for an unknown referral, `Conflict` when no sink has it parked."""

    async def settle_parked_referral(self, sink: str, referral_id: str) -> ParkedReferral:
        """A requeued referral the sink delivered: `delivered`. `Conflict` unless requeued;
        `NotFound` when the sink never parked it."""

    # --- the match feed -----------------------------------------------------------------------

    async def list_matches(
        self,
        *,
        after: int = 0,
        limit: int = 100,
        verdicts: Collection[Verdict] | None = None,
        reference_id: str | None = None,
        hosts: Collection[str] | None = None,
    ) -> list[MatchRecord]:
        """Results with a cursor above `after`, in cursor order, filtered by verdict, by a
        reference among their matches, and by URL host (or subdomain)."""

    # --- review -------------------------------------------------------------------------------

    async def list_review_items(
        self,
        *,
        states: Collection[ReviewState] | None = None,
        limit: int = 100,
        offset: int = 0,
        by_priority: bool = False,
    ) -> list[ReviewItem]:
        """Review items, oldest first; `states` defaults to open ones only.

        `by_priority`: highest score first, then oldest (the order reviewers work in).
        Each item carries the first submission of its media (`submission_id`...).
        """

    async def claim_review_item(
        self, item_id: str, claimed_by: str, *, claim_seconds: float
    ) -> ReviewItem:
        """Hold an open item for `claimed_by` until now + `claim_seconds` (again: extends).

        `Conflict` if it is decided, or claimed by someone else whose claim has not expired.
        `NotFound`.
        """

    async def release_review_item(self, item_id: str, claimed_by: str) -> ReviewItem:
        """Drop `claimed_by`'s claim (nothing happens if another holds it). `NotFound`."""

    async def get_review_item(self, item_id: str) -> ReviewItem:
        """`NotFound`."""

    async def decide_review(
        self,
        item_id: str,
        decision: ReviewDecision,
        *,
        decided_by: str,
        note: str | None = None,
    ) -> ReviewItem:
        """Close an open review item, in one transaction with its consequences and audit entry.

        Confirm: the result becomes `confirmed` and its URLs are referred. Reject: the result
        becomes `none` and `suppressed`, and the content is suppressed from now on (its
        SHA-256 and its query hashes). `Conflict` if already decided, or claimed by another
        key than `decided_by` (unexpired); `NotFound`.
        """

    async def list_suppressions(self) -> list[Suppression]:
        """Every suppression, oldest first."""

    # --- retro-matching -----------------------------------------------------------------------

    async def list_query_hashes(
        self, *, since: datetime, after_media_id: str | None = None, limit: int = 100
    ) -> list[QueryHashes]:
        """Stored query hash records of results created at or after `since`, by media id;
        page with `after_media_id` set to the last id seen."""

    # --- audit log ----------------------------------------------------------------------------

    async def append_audit(
        self,
        *,
        actor: str,
        action: str,
        target: str | None = None,
        details: Mapping[str, Any] | None = None,
    ) -> AuditEntry:
        """Append one entry (who, what, to what); entries are never changed or removed."""

    async def list_audit(self, *, after: int = 0, limit: int = 100) -> list[AuditEntry]:
        """Audit entries with a cursor above `after`, oldest first."""

    # --- sign-in sessions (pages) -------------------------------------------------------------

    async def create_web_session(
        self, digest: str, key_id: str, *, csrf_token: str, lifetime_seconds: float
    ) -> WebSession:
        """A session of an active key, stored by the SHA-256 `digest` of its token, valid for
        `lifetime_seconds`. `NotFound` for an unknown or revoked key; `Conflict` for a digest
        already stored."""

    async def find_web_session(self, digest: str) -> WebSession | None:
        """The session, None once it has expired or ended or its key has been revoked."""

    async def end_web_session(self, digest: str) -> None:
        """Sign out: the session is no longer found (ending twice, or an unknown one, is fine)."""

    # --- keyframes ----------------------------------------------------------------------------

    async def put_keyframes(self, keyframes: Sequence[Keyframe]) -> None:
        """Store keyframes; one at the same owner and time replaces the one stored."""

    async def list_keyframes(self, owner_id: str) -> list[KeyframeInfo]:
        """The keyframes of a media or reference, by time (no bytes)."""

    async def get_keyframe(self, owner_id: str, timestamp_millis: int) -> Keyframe:
        """One keyframe with its JPEG. `NotFound`."""

    async def delete_query_keyframes_before(self, before: datetime) -> int:
        """Drop keyframes of queries (not of references) stored before `before`: the
        retention of `keyframes.query_retention_days`. Returns how many were dropped."""


__all__ = ["Store"]
