"""`/v1/jobs`: inspect the queue and retry dead or failed jobs (admin)."""

from __future__ import annotations

from aiohttp import web
from pydantic import BaseModel

from triage.api.after_commit import after_commit
from triage.api.auth import current_key
from triage.api.bodies import send
from triage.api.context import context
from triage.api.operation import Operation, Param
from triage.api.query import query_choices, query_integer
from triage.api.schemas import JobView
from triage.models import Job, JobState, Scope

MAX_LIMIT = 1000
DEFAULT_LIMIT = 100


class JobList(BaseModel):
    items: list[JobView]


def job_view(job: Job) -> JobView:
    """The job's fields the API shows (not its lease)."""
    return JobView.model_validate(job, from_attributes=True)


async def list_jobs(request: web.Request) -> web.Response:
    states = query_choices(request, "state", JobState)
    limit = query_integer(request, "limit", default=DEFAULT_LIMIT, low=1, high=MAX_LIMIT)
    jobs = await context(request).store.list_jobs(states=states, limit=limit)
    return send(JobList(items=[job_view(j) for j in jobs]))


async def retry_job(request: web.Request) -> web.Response:
    store = context(request).store
    job = await store.retry_job(request.match_info["id"])
    audit = store.append_audit(
        actor=current_key(request).id,
        action="job.retry",
        target=job.id,
        details={"kind": job.kind.value, "target_id": job.target_id},
    )
    await after_commit("audit", audit, target=job.id)  # the retry is stored: answer it
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
            Param(
                "limit",
                "query",
                f"At most this many (1-{MAX_LIMIT}, default {DEFAULT_LIMIT}).",
                type_="integer",
                minimum=1,
                maximum=MAX_LIMIT,
            ),
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
