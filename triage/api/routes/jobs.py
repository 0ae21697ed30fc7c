"""`/v1/jobs`: inspect the queue and retry dead or failed jobs (admin)."""

from __future__ import annotations

from aiohttp import web
from pydantic import BaseModel

from triage.api.auth import current_key
from triage.api.bodies import send
from triage.api.context import context
from triage.api.operation import Operation, Param
from triage.api.problems import Problem
from triage.api.schemas import JobView
from triage.models import Job, JobState, Scope

MAX_LIMIT = 1000


class JobList(BaseModel):
    items: list[JobView]


def job_view(job: Job) -> JobView:
    return JobView(
        id=job.id,
        kind=job.kind,
        target_id=job.target_id,
        state=job.state,
        attempts=job.attempts,
        max_attempts=job.max_attempts,
        last_error=job.last_error,
        key_id=job.key_id,
        lane=job.lane,
    )


async def list_jobs(request: web.Request) -> web.Response:
    raw_state = request.query.get("state")
    raw_limit = request.query.get("limit", "100")
    try:
        states = [JobState(s.strip()) for s in raw_state.split(",")] if raw_state else None
    except ValueError as exc:
        raise Problem(400, f"unknown job state in {raw_state!r}") from exc
    if not raw_limit.isdigit() or not 1 <= int(raw_limit) <= MAX_LIMIT:
        raise Problem(400, f"limit must be an integer from 1 to {MAX_LIMIT}")
    jobs = await context(request).store.list_jobs(states=states, limit=int(raw_limit))
    return send(JobList(items=[job_view(j) for j in jobs]))


async def retry_job(request: web.Request) -> web.Response:
    store = context(request).store
    job = await store.retry_job(request.match_info["id"])
    await store.append_audit(
        actor=current_key(request).id,
        action="job.retry",
        target=job.id,
        details={"kind": job.kind.value, "target_id": job.target_id},
    )
    return send(job_view(job))


OPERATIONS = [
    Operation(
        "GET",
        "/v1/jobs",
        list_jobs,
        "Jobs, oldest first.",
        Scope.ADMIN,
        "jobs",
        response=JobList,
        params=(
            Param("state", "query", "Comma-separated job states to keep."),
            Param("limit", "query", f"At most this many (1-{MAX_LIMIT}).", type_="integer"),
        ),
        errors=(400,),
    ),
    Operation(
        "POST",
        "/v1/jobs/{id}/retry",
        retry_job,
        "Queue a dead or failed job again, with its attempts reset.",
        Scope.ADMIN,
        "jobs",
        response=JobView,
        params=(Param("id", "path", "The job id."),),
        errors=(404, 409),
    ),
]
