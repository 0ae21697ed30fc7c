"""`/v1/submissions`: report a link or upload media; read its status, verdict and evidence."""

from __future__ import annotations

import logging
import re
from typing import TypeVar

from aiohttp import web

from triage.api.after_commit import after_commit
from triage.api.auth import current_key
from triage.api.bodies import form_fields, read_json, send
from triage.api.context import context
from triage.api.operation import Operation, Param
from triage.api.paging import DEFAULT_PAGE, MAX_PAGE
from triage.api.problems import Problem
from triage.api.schemas import (
    ErrorInfo,
    SubmissionAccepted,
    SubmissionCreate,
    SubmissionPage,
    SubmissionUploadFields,
    SubmissionUploadForm,
    SubmissionView,
)
from triage.api.uploads import FormLimits, receive_upload
from triage.logs import FIELDS_KEY, log_context
from triage.metrics import submissions_total
from triage.models import (
    ApiKey,
    Scope,
    SubmissionDetail,
    SubmissionFilter,
    SubmissionStatus,
    SubmitOutcome,
    Verdict,
)
from triage.store.rules import host_allowed, url_host

MAX_IDEMPOTENCY_KEY = 200
_REASON = re.compile(r"^([a-z][a-z0-9_]*): (.*)$", re.S)

_log = logging.getLogger(__name__)


def _idempotency_key(request: web.Request) -> str | None:
    value = request.headers.get("Idempotency-Key")
    if value is None:
        return None
    value = value.strip()
    if not value or len(value) > MAX_IDEMPOTENCY_KEY:
        raise Problem(400, f"Idempotency-Key must hold 1 to {MAX_IDEMPOTENCY_KEY} characters")
    return value


async def create_submission(request: web.Request) -> web.Response:
    ctx = context(request)
    key = current_key(request)
    idempotency_key = _idempotency_key(request)
    outcome: SubmitOutcome
    sent_url: str | None = None
    sent_sha256: str | None = None
    if request.content_type.startswith("multipart/"):
        upload = await receive_upload(
            request, ctx.settings.uploads_dir, FormLimits.of(ctx.settings.server)
        )
        try:
            form = form_fields(upload.fields, SubmissionUploadFields)
            outcome = await ctx.store.create_upload_submission(
                upload_path=str(upload.path.resolve()),
                sha256=upload.sha256,
                upload_filename=upload.filename,
                key_id=key.id,
                note=form.note,
                external_id=form.external_id,
                idempotency_key=idempotency_key,
                lane=ctx.settings.jobs.lane_for(upload.size_bytes),
            )
        except BaseException:
            upload.path.unlink(missing_ok=True)
            raise
        if outcome.replayed or outcome.deduplicated:
            # The content is already known (or this is a replay): our copy is not needed.
            upload.path.unlink(missing_ok=True)
        sent_sha256 = upload.sha256
    else:
        body = await read_json(request, SubmissionCreate)
        sent_url = str(body.url)
        outcome = await ctx.store.create_submission(
            url=str(body.url),
            key_id=key.id,
            note=body.note,
            external_id=body.external_id,
            idempotency_key=idempotency_key,
        )
    kind = "replayed" if outcome.replayed else "deduplicated" if outcome.deduplicated else "new"
    submissions_total.labels(outcome=kind).inc()
    submission_id = outcome.submission.id
    with log_context(submission_id=submission_id, media_id=outcome.submission.media_id):
        fields = {"outcome": kind, "key_id": key.id}
        _log.info("submission %s accepted (%s)", submission_id, kind, extra={FIELDS_KEY: fields})
    headers = {"Location": f"/v1/submissions/{submission_id}"}
    if outcome.replayed:
        # Nothing was stored by this request, so an error can still be answered.
        detail = await ctx.store.get_submission(submission_id)
        if detail.submission.url != sent_url or (
            sent_sha256 is not None and detail.media.sha256 != sent_sha256
        ):
            raise Problem(
                409,
                "this Idempotency-Key was already used for a different submission (URL or file)",
            )
        headers["Idempotent-Replayed"] = "true"
        status = detail.status
    else:
        # Stored: from here on the answer is 202, whatever the status read does.
        stored = await after_commit(
            "status read", ctx.store.get_submission(submission_id), target=submission_id
        )
        status = stored.status if stored is not None else SubmissionStatus.QUEUED
    accepted = SubmissionAccepted(
        id=submission_id, status=status, status_url=f"/v1/submissions/{submission_id}"
    )
    return send(accepted, 202, headers)


def error_info(text: str | None) -> ErrorInfo | None:
    """Job errors are stored as "<reason>: <detail>"; older or foreign ones have no reason."""
    if text is None:
        return None
    found = _REASON.match(text)
    if found is None:
        return ErrorInfo(reason="error", detail=text)
    return ErrorInfo(reason=found.group(1), detail=found.group(2))


def submission_view(detail: SubmissionDetail) -> SubmissionView:
    submission, result = detail.submission, detail.result
    return SubmissionView(
        id=submission.id,
        status=detail.status,
        verdict=result.verdict if result else None,
        score=result.best.score if result and result.best else None,
        suppressed=result.suppressed if result else False,
        url=submission.url,
        upload_filename=submission.upload_filename,
        note=submission.note,
        external_id=submission.external_id,
        created_at=submission.created_at,
        updated_at=detail.job.updated_at if detail.job else None,
        job_id=detail.job.id if detail.job else None,
        matches=list(result.matches) if result else [],
        fetch=detail.media.evidence,
        error=error_info(detail.error),
    )


async def get_submission(request: web.Request) -> web.Response:
    detail = await context(request).store.get_submission(request.match_info["id"])
    hosts = current_key(request).hosts
    if hosts is not None and not host_allowed(url_host(detail.submission.url), hosts):
        # A platform-scoped key sees only its own hosts; others do not exist for it.
        raise Problem(404, f"submission {detail.submission.id} not found")
    return send(submission_view(detail))


def visible_to(key: ApiKey) -> SubmissionFilter:
    """What a key may list: a host-scoped key its hosts' submissions; an admin or read key
    (which reads any submission by id) everything; a submit key the submissions it made."""
    if key.hosts is not None:
        return SubmissionFilter(hosts=key.hosts)
    if Scope.ADMIN in key.scopes or Scope.READ in key.scopes:
        return SubmissionFilter()
    return SubmissionFilter(key_id=key.id)


_Choice = TypeVar("_Choice", Verdict, SubmissionStatus)


def _choices(request: web.Request, name: str, kind: type[_Choice]) -> frozenset[_Choice] | None:
    raw = request.query.get(name)
    if not raw:
        return None
    try:
        return frozenset(kind(v.strip()) for v in raw.split(",") if v.strip())
    except ValueError as exc:
        known = ", ".join(v.value for v in kind)
        raise Problem(400, f"{name} must be among {known}, got {raw!r}") from exc


def submission_filter(request: web.Request, key: ApiKey) -> SubmissionFilter:
    """The key's visible submissions narrowed by the query's `external_id`, `verdict`,
    `status` and `media_id`."""
    return visible_to(key).model_copy(
        update={
            "external_id": request.query.get("external_id") or None,
            "media_id": request.query.get("media_id") or None,
            "verdicts": _choices(request, "verdict", Verdict),
            "statuses": _choices(request, "status", SubmissionStatus),
        }
    )


def page_limit(request: web.Request) -> int:
    raw = request.query.get("limit") or str(DEFAULT_PAGE)
    if not raw.isdigit() or not 1 <= int(raw) <= MAX_PAGE:
        raise Problem(400, f"limit must be an integer from 1 to {MAX_PAGE}, got {raw!r}")
    return int(raw)


async def list_submissions(request: web.Request) -> web.Response:
    key = current_key(request)
    limit = page_limit(request)
    before = request.query.get("before") or None
    found = await context(request).store.list_submissions(
        submission_filter(request, key), before=before, limit=limit
    )
    return send(
        SubmissionPage(
            items=[submission_view(d) for d in found],
            next_before=found[-1].submission.id if len(found) == limit else None,
        )
    )


_ID = Param("id", "path", "The submission id.")

OPERATIONS = [
    Operation(
        "POST",
        "/v1/submissions",
        create_submission,
        "Submit a link (JSON) or upload media (multipart); answers once it is stored.",
        Scope.SUBMIT,
        "submissions",
        status=202,
        response=SubmissionAccepted,
        requests=(
            ("application/json", SubmissionCreate),
            ("multipart/form-data", SubmissionUploadForm),
        ),
        params=(
            Param(
                "Idempotency-Key",
                "header",
                "Repeat a request safely: the same key returns the first submission.",
            ),
        ),
        errors=(400, 413, 415, 422),
    ),
    Operation(
        "GET",
        "/v1/submissions",
        list_submissions,
        "Submissions, newest first: a submit key's own, a host-scoped key's hosts', an "
        "admin's all; filtered and paged with `before`.",
        Scope.READ,
        "submissions",
        also_scope=Scope.SUBMIT,
        response=SubmissionPage,
        params=(
            Param("external_id", "query", "Only submissions with this external id."),
            Param("verdict", "query", "Comma-separated verdicts: confirmed, review, none."),
            Param(
                "status",
                "query",
                "Comma-separated: queued, fetching, hashing, matching, done, failed.",
            ),
            Param(
                "media_id",
                "query",
                "Every report of this media's content (its copies at other URLs included).",
            ),
            Param("before", "query", "The next_before of the previous page."),
            Param("limit", "query", f"Items per page, 1-{MAX_PAGE}.", type_="integer"),
        ),
        errors=(400, 404),
    ),
    Operation(
        "GET",
        "/v1/submissions/{id}",
        get_submission,
        "Status, verdict, matching references with aligned segments, and fetch evidence.",
        Scope.READ,
        "submissions",
        response=SubmissionView,
        params=(_ID,),
        errors=(404,),
    ),
]
