"""Submissions, media and results in memory, deduplicated like the SQL store."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime

from triage.errors import NotFound
from triage.evidence import FetchEvidence, MatchEvidence
from triage.models import (
    JobKind,
    JobLane,
    Media,
    QueryHashes,
    Result,
    Submission,
    SubmissionDetail,
    SubmissionFilter,
    SubmitOutcome,
    Verdict,
    text_sha256,
)
from triage.store import rules
from triage.store.memory.jobs import MemoryJobs
from triage.store.memory.outbox import MemoryOutbox


class MemorySubmissions(MemoryJobs, MemoryOutbox):
    """Submissions, media and results; a verdict writes its referral or review item."""

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
        self,
        *,
        url: str | None,
        upload_path: str | None,
        sha256: str | None,
        key_id: str,
        lane: JobLane,
    ) -> Media:
        now = self._now()
        media = Media(
            id=rules.new_id("med"), url=url, upload_path=upload_path, sha256=sha256, created_at=now
        )
        self._media[media.id] = media
        if url is not None:
            self._media_by_url[url] = media.id
        job = self._new_job(JobKind.PROCESS_MEDIA, media.id, now, key_id=key_id, lane=lane)
        self._media_job[media.id] = job.id
        return media

    def _submit(
        self,
        existing_media_id: Callable[[], str | None],
        *,
        url: str | None,
        upload_path: str | None,
        sha256: str | None,
        upload_filename: str | None,
        key_id: str,
        note: str | None,
        external_id: str | None,
        idempotency_key: str | None,
        lane: JobLane = JobLane.SHORT,
    ) -> SubmitOutcome:
        """Replay, or link to the media `existing_media_id` finds (requeued if it failed), or
        create new media and its job; then record the submission."""
        replay = self._replay(key_id, idempotency_key)
        if replay is not None:
            return replay
        media_id = existing_media_id()
        deduplicated = media_id is not None
        if media_id is None:
            media_id = self._new_media(
                url=url,
                upload_path=upload_path,
                sha256=sha256,
                key_id=key_id,
                lane=lane,
            ).id
        else:
            self._requeue_if_failed(media_id)
        return self._new_submission(
            media_id=media_id,
            url=url,
            upload_filename=upload_filename,
            key_id=key_id,
            note=note,
            external_id=external_id,
            idempotency_key=idempotency_key,
            deduplicated=deduplicated,
        )

    async def create_submission(
        self,
        *,
        url: str,
        key_id: str,
        note: str | None = None,
        external_id: str | None = None,
        idempotency_key: str | None = None,
    ) -> SubmitOutcome:
        return self._submit(
            lambda: self._media_by_url.get(url),
            url=url,
            upload_path=None,
            sha256=None,
            upload_filename=None,
            key_id=key_id,
            note=note,
            external_id=external_id,
            idempotency_key=idempotency_key,
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
        lane: JobLane = JobLane.SHORT,
    ) -> SubmitOutcome:
        return self._submit(
            lambda: self._canonical_media_id(sha256),
            url=None,
            upload_path=upload_path,
            sha256=sha256,
            upload_filename=upload_filename,
            key_id=key_id,
            note=note,
            external_id=external_id,
            idempotency_key=idempotency_key,
            lane=lane,
        )

    def _canonical_media_id(self, sha256: str) -> str | None:
        """The earliest media with this content that is not itself a copy."""
        for media in self._media.values():
            if media.sha256 == sha256 and media.same_as is None:
                return media.id
        return None

    async def get_submission(self, submission_id: str) -> SubmissionDetail:
        submission = self._submissions.get(submission_id)
        if submission is None:
            raise NotFound(f"no submission {submission_id}")
        return self._detail(submission)

    async def list_submissions(
        self, where: SubmissionFilter, *, before: str | None = None, limit: int = 100
    ) -> list[SubmissionDetail]:
        newest_first = sorted(
            self._submissions.values(), key=lambda s: (s.created_at, s.id), reverse=True
        )
        if before is not None:
            last = self._submissions.get(before)
            if last is None:
                raise NotFound(f"no submission {before}")
            newest_first = [
                s for s in newest_first if (s.created_at, s.id) < (last.created_at, last.id)
            ]
        found: list[SubmissionDetail] = []
        for submission in newest_first:
            detail = self._detail(submission)
            if rules.submission_wanted(detail, where):
                found.append(detail)
                if len(found) == limit:
                    break
        return found

    def _detail(self, submission: Submission) -> SubmissionDetail:
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
            to_refer = rules.referral_evidence(self._results[earlier.id])
            if to_refer is not None:
                self._refer(linked, to_refer)
        return earlier

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
        to_refer, to_review = rules.referral_evidence(result), rules.review_evidence(result)
        if to_refer is not None:
            self._refer_with_copies(media, to_refer)
        elif to_review is not None:
            self._open_review(media, to_review)
        return result

    async def get_result(self, media_id: str) -> Result | None:
        media = await self.get_media(media_id)
        return self._results.get(media.same_as or media.id)

    async def get_query_hashes(self, media_id: str) -> str | None:
        media = await self.get_media(media_id)
        return self._query_hashes.get(media.same_as or media.id)

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
