"""Decisions every backend makes the same way: ids, the clock, backoff, allowed transitions."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Collection, Sequence
from datetime import UTC, datetime
from urllib.parse import urlsplit

from triage.errors import Conflict, InvalidInput, LeaseLost
from triage.evidence import MatchEvidence
from triage.models import (
    Job,
    JobState,
    ParkedReferral,
    ParkedState,
    Reference,
    ReferenceImport,
    ReferenceStatus,
    Result,
    ReviewItem,
    ReviewState,
    Scope,
    SubmissionDetail,
    SubmissionFilter,
    Verdict,
)

Clock = Callable[[], datetime]
"""Returns the current time, timezone-aware UTC; tests pass their own to move time."""

SETTABLE_REFERENCE_STATUSES = frozenset(
    {ReferenceStatus.ACTIVE, ReferenceStatus.DISABLED, ReferenceStatus.DELETED}
)
RETRYABLE_JOB_STATES = frozenset({JobState.FAILED, JobState.DEAD})
WAITING_PARKED_STATES = frozenset({ParkedState.PARKED, ParkedState.REQUEUED})


def utc_now() -> datetime:
    return datetime.now(UTC)


def new_id(prefix: str) -> str:
    """A random id that says what it names, e.g. ``sub_3f2a...``."""
    return f"{prefix}_{uuid.uuid4().hex}"


def backoff_seconds(attempts: int, base_seconds: float, max_seconds: float) -> float:
    """The wait before attempt `attempts + 1`: doubling from `base_seconds`, capped."""
    exponent = max(attempts - 1, 0)
    # Cap the exponent first so a large attempt count cannot overflow the float.
    return float(min(max_seconds, base_seconds * 2 ** min(exponent, 62)))


def check_retryable(job: Job) -> None:
    """Raise unless `retry_job` may queue `job` again."""
    if job.state not in RETRYABLE_JOB_STATES:
        raise Conflict(f"job {job.id} is {job.state}; only failed or dead jobs are retried")


def check_key_scopes(scopes: Collection[Scope]) -> None:
    if not scopes:
        raise InvalidInput("a key needs at least one scope")


def check_reference_source(hash_record: str | None, upload_path: str | None) -> None:
    """Raise unless a new reference has exactly one of a hash record and an upload."""
    if (hash_record is None) == (upload_path is None):
        raise InvalidInput("a reference needs either its hash record or an upload to hash")


def full_frames_only(hash_record: str | None) -> bool:
    """Whether a reference's hash record lacks the derived views (`derived_frames`) that
    `triage hash` and reference uploads store. A JSON key is never inside a string value,
    where its quotes would be escaped."""
    return hash_record is not None and '"derived_frames":' not in hash_record


def check_import_ids(records: Sequence[ReferenceImport], taken: Collection[str]) -> None:
    """Raise `Conflict` naming the first id that is already used or given twice."""
    seen: set[str] = set()
    for record in records:
        reference_id = record.reference_id
        if reference_id in taken:
            raise Conflict(f"a reference with id {reference_id!r} already exists")
        if reference_id in seen:
            raise Conflict(f"the import names reference id {reference_id!r} twice")
        seen.add(reference_id)


def new_reference_status(hash_record: str | None) -> ReferenceStatus:
    """A reference added with its hashes is active; an upload waits to be hashed."""
    return ReferenceStatus.ACTIVE if hash_record is not None else ReferenceStatus.PENDING


def check_review_open(item: ReviewItem) -> None:
    if item.state is not ReviewState.OPEN:
        raise Conflict(f"review item {item.id} was already decided ({item.state})")


def check_claimable(item: ReviewItem, claimed_by: str, now: datetime) -> None:
    """Raise unless `claimed_by` may claim `item`: open, and not held by someone else."""
    check_review_open(item)
    check_not_claimed_by_other(item, claimed_by, now)


def check_not_claimed_by_other(item: ReviewItem, key_id: str, now: datetime) -> None:
    if item.claimed_by_other(key_id, now):
        raise Conflict(
            f"review item {item.id} is claimed by another reviewer until "
            f"{item.claim_expires_at:%H:%M:%S} UTC"
        )


def review_priority(item: ReviewItem) -> tuple[float, datetime, str]:
    """Sort key of the review queue: highest score first, then oldest first."""
    return (-(item.score or 0.0), item.created_at, item.id)


def review_age(item: ReviewItem) -> tuple[datetime, str]:
    return (item.created_at, item.id)


def check_reference_status_change(reference: Reference, status: ReferenceStatus) -> None:
    """Raise unless `reference` may move to `status` through `set_reference_status`."""
    if status not in SETTABLE_REFERENCE_STATUSES:
        raise InvalidInput(
            f"a reference's status can be set to active, disabled or deleted, not {status}"
        )
    if reference.status is ReferenceStatus.DELETED and status is not ReferenceStatus.DELETED:
        raise Conflict(f"reference {reference.id} is deleted; deletion is final")
    if status is ReferenceStatus.ACTIVE and reference.status in (
        ReferenceStatus.PENDING,
        ReferenceStatus.FAILED,
    ):
        raise Conflict(f"reference {reference.id} has no hashes yet ({reference.status})")


def final_failure_state(job: Job, *, retryable: bool) -> JobState | None:
    """Where a failed attempt leaves `job` for good: FAILED when retrying cannot help, DEAD
    after its last attempt; None when it is queued again with backoff."""
    if not retryable:
        return JobState.FAILED
    if job.attempts >= job.max_attempts:
        return JobState.DEAD
    return None


def check_lease_held(job: Job, worker_id: str) -> None:
    """Raise `LeaseLost` unless `worker_id` holds the lease on `job`, which is running."""
    if not job.state.running or job.lease_owner != worker_id:
        raise LeaseLost(f"worker {worker_id} does not hold job {job.id} ({job.state})")


def reference_status_change(*, failed: bool) -> tuple[ReferenceStatus, ReferenceStatus]:
    """(from, to) for a reference whose hashing job failed for good, or was queued again.

    A reference follows its hashing job: failed with it, pending again on retry.
    """
    if failed:
        return ReferenceStatus.PENDING, ReferenceStatus.FAILED
    return ReferenceStatus.FAILED, ReferenceStatus.PENDING


def check_running_state(state: JobState) -> None:
    if not state.running:
        raise InvalidInput(f"set_job_state takes fetching, hashing or matching, not {state}")


def lease_expired_error(attempts: int, max_attempts: int) -> str:
    return (
        f"lease expired on attempt {attempts} of {max_attempts}: "
        "the worker stopped without finishing"
    )


def url_host(url: str | None) -> str | None:
    """The lower-case host name of a URL, None without one."""
    if url is None:
        return None
    try:
        host = urlsplit(url).hostname
    except ValueError:
        return None
    return host.lower().rstrip(".") if host else None


def host_allowed(host: str | None, hosts: Collection[str]) -> bool:
    """True when `host` is one of `hosts` or a subdomain of one."""
    if host is None:
        return False
    return any(host == allowed or host.endswith("." + allowed) for allowed in normal_hosts(hosts))


def normal_hosts(hosts: Collection[str]) -> list[str]:
    return [h.strip().lower().rstrip(".") for h in hosts if h.strip()]


def referral_subject(url: str | None, sha256: str | None) -> str | None:
    """What a referral is about, referred once: the URL, or for an upload its content."""
    if url is not None:
        return url
    return f"sha256:{sha256}" if sha256 is not None else None


def referral_evidence(result: Result) -> MatchEvidence | None:
    """The match to refer a result's content (and its copies) with: the best one, when the
    verdict is confirmed and the content not suppressed; otherwise None."""
    if result.verdict is Verdict.CONFIRMED and not result.suppressed:
        return result.best
    return None


def review_evidence(result: Result) -> MatchEvidence | None:
    """The match to open a review item on: the best one, when the verdict is review and the
    content not suppressed; otherwise None."""
    if result.verdict is Verdict.REVIEW and not result.suppressed:
        return result.best
    return None


def check_parked_found(referral_id: str, found: Collection[ParkedReferral]) -> None:
    """Raise unless some sink has the referral parked (what an admin's retry acts on)."""
    if not any(p.state is ParkedState.PARKED for p in found):
        raise Conflict(f"referral {referral_id} is not parked at any sink")


def check_requeued(parked: ParkedReferral) -> None:
    if parked.state is not ParkedState.REQUEUED:
        raise Conflict(
            f"referral {parked.referral.id} is {parked.state} at sink {parked.sink}, not requeued"
        )


def submission_wanted(detail: SubmissionDetail, where: SubmissionFilter) -> bool:
    """Whether `detail` passes `where` (the in-memory store's filter; SQL says the same)."""
    submission = detail.submission
    if where.key_id is not None and submission.key_id != where.key_id:
        return False
    if where.hosts is not None and not host_allowed(url_host(submission.url), where.hosts):
        return False
    if where.external_id is not None and submission.external_id != where.external_id:
        return False
    if where.media_id is not None and where.media_id not in (
        submission.media_id,
        detail.media.same_as,
    ):
        return False
    if where.verdicts is not None and (
        detail.result is None or detail.result.verdict not in where.verdicts
    ):
        return False
    return where.statuses is None or detail.status in where.statuses
