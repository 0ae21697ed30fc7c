"""The in-process store: dictionaries behind the `Store` interface.

For tests and for single-process runs with `memory://`; everything is lost on exit. Each
method runs without awaiting, so under asyncio every call is atomic, like a transaction.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any

from triage.errors import Conflict, InvalidInput, LeaseLost, NotFound
from triage.models import (
    ApiKey,
    AuditEntry,
    FetchEvidence,
    Job,
    JobKind,
    JobState,
    MatchEvidence,
    MatchRecord,
    Media,
    QueryHashes,
    QueueStat,
    Reference,
    ReferenceChanges,
    ReferenceHashes,
    ReferenceStatus,
    Referral,
    Result,
    ReviewDecision,
    ReviewItem,
    ReviewState,
    Scope,
    Submission,
    SubmissionDetail,
    SubmitOutcome,
    Suppression,
    Verdict,
    text_sha256,
)
from triage.store import rules
from triage.store.rules import Clock


class MemoryStore:
    def __init__(self, *, clock: Clock = rules.utc_now) -> None:
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
        self._review_items: dict[str, ReviewItem] = {}
        self._suppressions: list[Suppression] = []
        self._audit: list[AuditEntry] = []

    # --- lifecycle ----------------------------------------------------------------------------

    async def migrate(self) -> None:
        return None

    async def close(self) -> None:
        return None

    async def ping(self) -> None:
        return None

    # --- API keys -----------------------------------------------------------------------------

    async def create_api_key(
        self,
        name: str,
        scopes: Collection[Scope],
        digest: str,
        *,
        hosts: Sequence[str] | None = None,
    ) -> ApiKey:
        if not scopes:
            raise InvalidInput("a key needs at least one scope")
        if digest in self._key_by_digest:
            raise Conflict("a key with this digest already exists")
        key = ApiKey(
            id=rules.new_id("key"),
            name=name,
            scopes=frozenset(scopes),
            hosts=tuple(hosts) if hosts is not None else None,
            created_at=self._now(),
        )
        self._keys[key.id] = key
        self._key_by_digest[digest] = key.id
        return key

    async def find_active_api_key(self, digest: str) -> ApiKey | None:
        key_id = self._key_by_digest.get(digest)
        key = self._keys.get(key_id) if key_id is not None else None
        return key if key is not None and key.active else None

    async def list_api_keys(self) -> list[ApiKey]:
        return list(self._keys.values())

    async def revoke_api_key(self, key_id: str) -> ApiKey:
        key = self._keys.get(key_id)
        if key is None:
            raise NotFound(f"no key {key_id}")
        if key.revoked_at is None:
            key = key.model_copy(update={"revoked_at": self._now()})
            self._keys[key_id] = key
        return key

    # --- references ---------------------------------------------------------------------------

    def _bump_version(self) -> int:
        self._hashlist_version += 1
        return self._hashlist_version

    def _reference(self, reference_id: str) -> Reference:
        reference = self._references.get(reference_id)
        if reference is None:
            raise NotFound(f"no reference {reference_id}")
        return reference

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
        max_attempts: int = 5,
    ) -> Reference:
        if (hash_record is None) == (upload_path is None):
            raise InvalidInput("a reference needs either its hash record or an upload to hash")
        reference_id = reference_id or rules.new_id("ref")
        if reference_id in self._references:
            raise Conflict(f"reference {reference_id} already exists")
        now = self._now()
        reference = Reference(
            id=reference_id,
            label=label,
            source=source,
            added_by=added_by,
            added_at=now,
            updated_at=now,
            status=ReferenceStatus.ACTIVE if hash_record is not None else ReferenceStatus.PENDING,
            frame_count=frame_count,
            duration_seconds=duration_seconds,
            upload_path=upload_path,
            version=self._bump_version(),
        )
        self._references[reference_id] = reference
        self._reference_hashes[reference_id] = hash_record
        if hash_record is None:
            self._new_job(JobKind.HASH_REFERENCE, reference_id, max_attempts, now)
        return reference

    async def get_reference(self, reference_id: str) -> Reference:
        return self._reference(reference_id)

    async def list_references(
        self, *, statuses: Collection[ReferenceStatus] | None = None
    ) -> list[Reference]:
        return [
            reference
            for reference in self._references.values()
            if statuses is None or reference.status in statuses
        ]

    async def set_reference_status(self, reference_id: str, status: ReferenceStatus) -> Reference:
        reference = self._reference(reference_id)
        rules.check_reference_status_change(reference, status)
        return self._update_reference(reference, status=status)

    def _update_reference(self, reference: Reference, **changes: object) -> Reference:
        changes.update(updated_at=self._now(), version=self._bump_version())
        updated = reference.model_copy(update=changes)
        self._references[reference.id] = updated
        return updated

    async def get_reference_hashes(self, reference_id: str) -> str | None:
        self._reference(reference_id)
        return self._reference_hashes[reference_id]

    async def set_reference_hashes(
        self,
        reference_id: str,
        hash_record: str,
        *,
        frame_count: int,
        duration_seconds: float,
    ) -> Reference:
        reference = self._reference(reference_id)
        status = reference.status
        if status in (ReferenceStatus.PENDING, ReferenceStatus.FAILED):
            status = ReferenceStatus.ACTIVE
        self._reference_hashes[reference_id] = hash_record
        return self._update_reference(
            reference, status=status, frame_count=frame_count, duration_seconds=duration_seconds
        )

    async def hashlist_version(self) -> int:
        return self._hashlist_version

    async def references_changed_since(self, version: int) -> ReferenceChanges:
        changed = sorted(
            (r for r in self._references.values() if r.version > version),
            key=lambda r: r.version,
        )
        return ReferenceChanges(
            version=max(self._hashlist_version, version),
            changed=tuple(
                ReferenceHashes(reference=r, hash_record=self._reference_hashes[r.id])
                for r in changed
            ),
        )

    # --- submissions and media ----------------------------------------------------------------

    def _replay(self, key_id: str, idempotency_key: str | None) -> SubmitOutcome | None:
        if idempotency_key is None:
            return None
        submission_id = self._submission_by_idempotency.get((key_id, idempotency_key))
        if submission_id is None:
            return None
        return SubmitOutcome(
            submission=self._submissions[submission_id], replayed=True, deduplicated=False
        )

    def _requeue_if_failed(self, media_id: str) -> None:
        job = self._jobs[self._media_job[media_id]]
        if job.state in rules.RETRYABLE_JOB_STATES:
            self._reset_job(job)

    def _new_submission(
        self,
        *,
        media_id: str,
        url: str | None,
        upload_filename: str | None,
        key_id: str,
        note: str | None,
        external_id: str | None,
        idempotency_key: str | None,
        deduplicated: bool,
    ) -> SubmitOutcome:
        submission = Submission(
            id=rules.new_id("sub"),
            url=url,
            upload_filename=upload_filename,
            note=note,
            external_id=external_id,
            idempotency_key=idempotency_key,
            key_id=key_id,
            media_id=media_id,
            created_at=self._now(),
        )
        self._submissions[submission.id] = submission
        if idempotency_key is not None:
            self._submission_by_idempotency[(key_id, idempotency_key)] = submission.id
        return SubmitOutcome(submission=submission, replayed=False, deduplicated=deduplicated)

    def _new_media(
        self, *, url: str | None, upload_path: str | None, sha256: str | None, max_attempts: int
    ) -> Media:
        now = self._now()
        media = Media(
            id=rules.new_id("med"), url=url, upload_path=upload_path, sha256=sha256, created_at=now
        )
        self._media[media.id] = media
        if url is not None:
            self._media_by_url[url] = media.id
        job = self._new_job(JobKind.PROCESS_MEDIA, media.id, max_attempts, now)
        self._media_job[media.id] = job.id
        return media

    async def create_submission(
        self,
        *,
        url: str,
        key_id: str,
        note: str | None = None,
        external_id: str | None = None,
        idempotency_key: str | None = None,
        max_attempts: int = 5,
    ) -> SubmitOutcome:
        replay = self._replay(key_id, idempotency_key)
        if replay is not None:
            return replay
        media_id = self._media_by_url.get(url)
        deduplicated = media_id is not None
        if media_id is None:
            media_id = self._new_media(
                url=url, upload_path=None, sha256=None, max_attempts=max_attempts
            ).id
        else:
            self._requeue_if_failed(media_id)
        return self._new_submission(
            media_id=media_id,
            url=url,
            upload_filename=None,
            key_id=key_id,
            note=note,
            external_id=external_id,
            idempotency_key=idempotency_key,
            deduplicated=deduplicated,
        )

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
        max_attempts: int = 5,
    ) -> SubmitOutcome:
        replay = self._replay(key_id, idempotency_key)
        if replay is not None:
            return replay
        existing = self._canonical_by_sha256(sha256)
        if existing is None:
            media_id = self._new_media(
                url=None, upload_path=upload_path, sha256=sha256, max_attempts=max_attempts
            ).id
        else:
            media_id = existing.id
            self._requeue_if_failed(media_id)
        return self._new_submission(
            media_id=media_id,
            url=None,
            upload_filename=upload_filename,
            key_id=key_id,
            note=note,
            external_id=external_id,
            idempotency_key=idempotency_key,
            deduplicated=existing is not None,
        )

    def _canonical_by_sha256(self, sha256: str) -> Media | None:
        """The earliest media with this content that is not itself a copy."""
        for media in self._media.values():
            if media.sha256 == sha256 and media.same_as is None:
                return media
        return None

    async def get_submission(self, submission_id: str) -> SubmissionDetail:
        submission = self._submissions.get(submission_id)
        if submission is None:
            raise NotFound(f"no submission {submission_id}")
        media = self._media[submission.media_id]
        shared_id = media.same_as or media.id
        return SubmissionDetail(
            submission=submission,
            media=media,
            job=self._jobs[self._media_job[shared_id]],
            result=self._results.get(shared_id),
        )

    async def get_media(self, media_id: str) -> Media:
        media = self._media.get(media_id)
        if media is None:
            raise NotFound(f"no media {media_id}")
        return media

    async def link_media_by_sha256(self, media_id: str, evidence: FetchEvidence) -> Media | None:
        media = await self.get_media(media_id)
        earlier = next(
            (
                other
                for other in self._media.values()
                if other.sha256 == evidence.sha256
                and other.same_as is None
                and other.id != media_id
                and other.id in self._results
            ),
            None,
        )
        linked = media.model_copy(
            update={
                "sha256": evidence.sha256,
                "evidence": evidence,
                "same_as": earlier.id if earlier is not None else None,
            }
        )
        self._media[media_id] = linked
        if earlier is not None:
            shared = self._results[earlier.id]
            if shared.verdict is Verdict.CONFIRMED and not shared.suppressed and shared.best:
                self._refer(linked, shared.best)
        return earlier

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
        media = await self.get_media(media_id)
        if job_id is not None:
            self._leased(job_id, worker_id or "")
        suppressed = self._is_suppressed(media.sha256, text_sha256(query_hashes))
        result = Result(
            media_id=media_id,
            verdict=verdict,
            matches=tuple(matches),
            created_at=self._now(),
            suppressed=suppressed,
            cursor=self._next("results"),
        )
        if job_id is not None:
            await self.complete_job(job_id, worker_id or "")
        self._results[media_id] = result
        self._query_hashes[media_id] = query_hashes
        best = result.best
        if not suppressed and best is not None:
            if result.verdict is Verdict.CONFIRMED:
                self._refer_with_copies(media, best)
            elif result.verdict is Verdict.REVIEW:
                self._open_review(media, best)
        return result

    async def get_result(self, media_id: str) -> Result | None:
        media = await self.get_media(media_id)
        return self._results.get(media.same_as or media.id)

    async def get_query_hashes(self, media_id: str) -> str | None:
        media = await self.get_media(media_id)
        return self._query_hashes.get(media.same_as or media.id)

    # --- jobs ---------------------------------------------------------------------------------

    def _new_job(
        self, kind: JobKind, target_id: str, max_attempts: int, run_after: datetime
    ) -> Job:
        if max_attempts < 1:
            raise InvalidInput(f"max_attempts must be at least 1, got {max_attempts}")
        now = self._now()
        job = Job(
            id=rules.new_id("job"),
            kind=kind,
            target_id=target_id,
            state=JobState.QUEUED,
            attempts=0,
            max_attempts=max_attempts,
            run_after=run_after,
            created_at=now,
            updated_at=now,
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
        if not job.state.running or job.lease_owner != worker_id:
            raise LeaseLost(f"worker {worker_id} does not hold job {job_id} ({job.state})")
        return job

    def _reset_job(self, job: Job) -> Job:
        if job.kind is JobKind.HASH_REFERENCE:
            self._set_reference_failed(job.target_id, failed=False)
        return self._save(
            job,
            state=JobState.QUEUED,
            attempts=0,
            run_after=self._now(),
            lease_owner=None,
            lease_expires_at=None,
        )

    def _set_reference_failed(self, reference_id: str, *, failed: bool) -> None:
        # A reference follows its hashing job: failed with it, pending again on retry.
        reference = self._references.get(reference_id)
        before, after = (
            (ReferenceStatus.PENDING, ReferenceStatus.FAILED)
            if failed
            else (ReferenceStatus.FAILED, ReferenceStatus.PENDING)
        )
        if reference is not None and reference.status is before:
            self._update_reference(reference, status=after)

    def _finish_failed(self, job: Job, state: JobState, error: str) -> Job:
        if job.kind is JobKind.HASH_REFERENCE:
            self._set_reference_failed(job.target_id, failed=True)
        return self._save(
            job, state=state, last_error=error, lease_owner=None, lease_expires_at=None
        )

    async def enqueue_job(
        self,
        kind: JobKind,
        target_id: str,
        *,
        max_attempts: int = 5,
        run_after: datetime | None = None,
    ) -> Job:
        return self._new_job(kind, target_id, max_attempts, run_after or self._now())

    async def get_job(self, job_id: str) -> Job:
        return self._job(job_id)

    async def list_jobs(
        self, *, states: Collection[JobState] | None = None, limit: int = 100
    ) -> list[Job]:
        jobs = [job for job in self._jobs.values() if states is None or job.state in states]
        return jobs[:limit]

    async def claim_job(
        self,
        worker_id: str,
        *,
        lease_seconds: float,
        kinds: Collection[JobKind] | None = None,
    ) -> Job | None:
        now = self._now()
        due: list[Job] = []
        for job in list(self._jobs.values()):
            if kinds is not None and job.kind not in kinds:
                continue
            expired = (
                job.state.running
                and job.lease_expires_at is not None
                and job.lease_expires_at <= now
            )
            if expired and job.attempts >= job.max_attempts:
                self._finish_failed(
                    job, JobState.DEAD, rules.lease_expired_error(job.attempts, job.max_attempts)
                )
            elif expired or (job.state is JobState.QUEUED and job.run_after <= now):
                due.append(job)
        if not due:
            return None
        job = min(due, key=lambda j: (j.run_after, j.created_at))
        return self._save(
            job,
            state=job.kind.first_state,
            attempts=job.attempts + 1,
            lease_owner=worker_id,
            lease_expires_at=now + timedelta(seconds=lease_seconds),
            heartbeat_at=now,
        )

    async def heartbeat(self, job_id: str, worker_id: str, *, lease_seconds: float) -> Job:
        job = self._leased(job_id, worker_id)
        now = self._now()
        return self._save(
            job, heartbeat_at=now, lease_expires_at=now + timedelta(seconds=lease_seconds)
        )

    async def set_job_state(self, job_id: str, worker_id: str, state: JobState) -> Job:
        rules.check_running_state(state)
        return self._save(self._leased(job_id, worker_id), state=state)

    async def complete_job(self, job_id: str, worker_id: str) -> Job:
        job = self._leased(job_id, worker_id)
        return self._save(job, state=JobState.DONE, lease_owner=None, lease_expires_at=None)

    async def fail_job(
        self,
        job_id: str,
        worker_id: str,
        error: str,
        *,
        retryable: bool,
        backoff_base_seconds: float = 2.0,
        backoff_max_seconds: float = 300.0,
    ) -> Job:
        job = self._leased(job_id, worker_id)
        if not retryable:
            return self._finish_failed(job, JobState.FAILED, error)
        if job.attempts >= job.max_attempts:
            return self._finish_failed(job, JobState.DEAD, error)
        delay = rules.backoff_seconds(job.attempts, backoff_base_seconds, backoff_max_seconds)
        return self._save(
            job,
            state=JobState.QUEUED,
            last_error=error,
            run_after=self._now() + timedelta(seconds=delay),
            lease_owner=None,
            lease_expires_at=None,
        )

    async def release_job(self, job_id: str, worker_id: str) -> Job:
        job = self._leased(job_id, worker_id)
        return self._save(
            job,
            state=JobState.QUEUED,
            attempts=max(job.attempts - 1, 0),
            run_after=self._now(),
            lease_owner=None,
            lease_expires_at=None,
        )

    async def retry_job(self, job_id: str) -> Job:
        job = self._job(job_id)
        if job.state not in rules.RETRYABLE_JOB_STATES:
            raise Conflict(f"job {job_id} is {job.state}; only failed or dead jobs are retried")
        return self._reset_job(job)

    async def queue_stats(self) -> list[QueueStat]:
        now = self._now()
        stats = []
        for state in JobState:
            jobs = [job for job in self._jobs.values() if job.state is state]
            oldest = min((job.created_at for job in jobs), default=None)
            stats.append(
                QueueStat(
                    state=state,
                    count=len(jobs),
                    oldest_age_seconds=(now - oldest).total_seconds() if oldest else None,
                )
            )
        return stats

    # --- after the verdict --------------------------------------------------------------------

    def _next(self, sequence: str) -> int:
        self._cursors[sequence] += 1
        return self._cursors[sequence]

    def _is_suppressed(self, sha256: str | None, query_hashes_sha256: str) -> bool:
        return any(
            (sha256 is not None and s.sha256 == sha256)
            or s.query_hashes_sha256 == query_hashes_sha256
            for s in self._suppressions
        )

    def _refer(self, media: Media, best: MatchEvidence) -> None:
        subject = rules.referral_subject(media.url, media.sha256)
        if subject is None or subject in self._referral_subjects:
            return
        self._referral_subjects.add(subject)
        self._referrals.append(
            Referral(
                cursor=self._next("referrals"),
                id=rules.new_id("rfl"),
                media_id=media.id,
                url=media.url,
                host=rules.url_host(media.url),
                sha256=media.sha256,
                reference_id=best.reference_id,
                label=best.label,
                evidence=best,
                created_at=self._now(),
            )
        )

    def _refer_with_copies(self, media: Media, best: MatchEvidence) -> None:
        self._refer(media, best)
        for copy in self._media.values():
            if copy.same_as == media.id:
                self._refer(copy, best)

    def _open_review(self, media: Media, best: MatchEvidence) -> None:
        if any(
            item.media_id == media.id and item.state is ReviewState.OPEN
            for item in self._review_items.values()
        ):
            return
        item = ReviewItem(
            id=rules.new_id("rev"),
            media_id=media.id,
            url=media.url,
            sha256=media.sha256,
            reference_id=best.reference_id,
            label=best.label,
            score=best.score,
            state=ReviewState.OPEN,
            created_at=self._now(),
        )
        self._review_items[item.id] = item

    async def list_referrals(
        self, *, after: int = 0, limit: int = 100, hosts: Collection[str] | None = None
    ) -> list[Referral]:
        found = [
            r
            for r in self._referrals
            if r.cursor > after and (hosts is None or rules.host_allowed(r.host, hosts))
        ]
        return found[:limit]

    async def get_sink_cursor(self, sink: str) -> int:
        return self._sink_cursors.get(sink, 0)

    async def set_sink_cursor(self, sink: str, cursor: int) -> int:
        self._sink_cursors[sink] = max(self._sink_cursors.get(sink, 0), cursor)
        return self._sink_cursors[sink]

    async def list_matches(
        self,
        *,
        after: int = 0,
        limit: int = 100,
        verdicts: Collection[Verdict] | None = None,
        reference_id: str | None = None,
        hosts: Collection[str] | None = None,
    ) -> list[MatchRecord]:
        records = []
        for result in sorted(self._results.values(), key=lambda r: r.cursor):
            media = self._media[result.media_id]
            host = rules.url_host(media.url)
            if (
                result.cursor <= after
                or (verdicts is not None and result.verdict not in verdicts)
                or (
                    reference_id is not None
                    and all(m.reference_id != reference_id for m in result.matches)
                )
                or (hosts is not None and not rules.host_allowed(host, hosts))
            ):
                continue
            records.append(
                MatchRecord(
                    cursor=result.cursor,
                    media_id=media.id,
                    url=media.url,
                    host=host,
                    sha256=media.sha256,
                    verdict=result.verdict,
                    matches=result.matches,
                    suppressed=result.suppressed,
                    created_at=result.created_at,
                )
            )
        return records[:limit]

    async def list_review_items(
        self, *, states: Collection[ReviewState] | None = None, limit: int = 100
    ) -> list[ReviewItem]:
        wanted = states if states is not None else {ReviewState.OPEN}
        items = [item for item in self._review_items.values() if item.state in wanted]
        return items[:limit]

    async def get_review_item(self, item_id: str) -> ReviewItem:
        item = self._review_items.get(item_id)
        if item is None:
            raise NotFound(f"no review item {item_id}")
        return item

    async def decide_review(
        self,
        item_id: str,
        decision: ReviewDecision,
        *,
        decided_by: str,
        note: str | None = None,
    ) -> ReviewItem:
        item = await self.get_review_item(item_id)
        if item.state is not ReviewState.OPEN:
            raise Conflict(f"review item {item_id} was already decided ({item.state})")
        media = self._media[item.media_id]
        result = self._results[media.id]
        now = self._now()
        if decision is ReviewDecision.CONFIRM:
            state = ReviewState.CONFIRMED
            self._results[media.id] = result.model_copy(
                update={"verdict": Verdict.CONFIRMED, "cursor": self._next("results")}
            )
            if result.best is not None:
                self._refer_with_copies(media, result.best)
        else:
            state = ReviewState.REJECTED
            self._results[media.id] = result.model_copy(
                update={
                    "verdict": Verdict.NONE,
                    "suppressed": True,
                    "cursor": self._next("results"),
                }
            )
            query_hashes = self._query_hashes.get(media.id)
            self._suppressions.append(
                Suppression(
                    id=rules.new_id("sup"),
                    sha256=media.sha256,
                    query_hashes_sha256=text_sha256(query_hashes) if query_hashes else None,
                    review_item_id=item.id,
                    created_by=decided_by,
                    created_at=now,
                )
            )
        decided = item.model_copy(
            update={"state": state, "decided_by": decided_by, "decided_at": now, "note": note}
        )
        self._review_items[item_id] = decided
        await self.append_audit(
            actor=decided_by,
            action=f"review.{decision.value}",
            target=item_id,
            details={"media_id": media.id, "note": note},
        )
        return decided

    async def list_suppressions(self) -> list[Suppression]:
        return list(self._suppressions)

    async def list_query_hashes(
        self, *, since: datetime, after_media_id: str | None = None, limit: int = 100
    ) -> list[QueryHashes]:
        found = sorted(
            (
                QueryHashes(media_id=media_id, query_hashes=record, created_at=result.created_at)
                for media_id, record in self._query_hashes.items()
                if (result := self._results[media_id]).created_at >= since
                and (after_media_id is None or media_id > after_media_id)
            ),
            key=lambda q: q.media_id,
        )
        return found[:limit]

    async def append_audit(
        self,
        *,
        actor: str,
        action: str,
        target: str | None = None,
        details: Mapping[str, Any] | None = None,
    ) -> AuditEntry:
        entry = AuditEntry(
            cursor=self._next("audit"),
            at=self._now(),
            actor=actor,
            action=action,
            target=target,
            details=dict(details or {}),
        )
        self._audit.append(entry)
        return entry

    async def list_audit(self, *, after: int = 0, limit: int = 100) -> list[AuditEntry]:
        return [entry for entry in self._audit if entry.cursor > after][:limit]
