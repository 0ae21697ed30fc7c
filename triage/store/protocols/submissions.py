"""Submissions: what moderators report, the media behind them, and the result (verdict and
evidence) each media gets; the stored query hashes are what retro-matching reads."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Protocol

from triage.evidence import FetchEvidence, MatchEvidence
from triage.models import (
    JobLane,
    Media,
    QueryHashes,
    Result,
    SubmissionDetail,
    SubmissionFilter,
    SubmitOutcome,
    Verdict,
)


class Submissions(Protocol):
    """Submissions of URLs and uploads, their media, and the results recorded for them."""

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

    async def list_query_hashes(
        self, *, since: datetime, after_media_id: str | None = None, limit: int = 100
    ) -> list[QueryHashes]:
        """Stored query hash records of results created at or after `since`, by media id;
        page with `after_media_id` set to the last id seen."""
