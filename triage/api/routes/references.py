"""`/v1/references`: the hash list. Upload a video (a worker hashes it) or import hash files."""

from __future__ import annotations

import io
import zipfile
from pathlib import Path

from aiohttp import web

from hashes.formats.jsonl import HashListEntry, dumps_record, loads_record
from hashes.formats.vpdq import read_vpdq, write_vpdq
from hashes.types import FormatError
from triage.api.after_commit import after_commit
from triage.api.auth import current_key
from triage.api.bodies import form_fields, send
from triage.api.context import context
from triage.api.operation import Handler, Operation, Param
from triage.api.problems import Problem
from triage.api.query import query_choice, query_choices
from triage.api.schemas import (
    ReferenceList,
    ReferenceUploadFields,
    ReferenceUploadForm,
    ReferenceView,
)
from triage.api.uploads import FormLimits, Upload, receive_upload
from triage.models import JobKind, JobState, Reference, ReferenceStatus, Scope
from triage.reference_imports import check_design, check_distinct_ids, import_record
from triage.retro_scheduling import schedule_retro_match

MAX_HASH_FILE_BYTES = 64 * 1024 * 1024
EXPORT_FORMATS = ("jsonl", "vpdq")


def reference_view(reference: Reference) -> ReferenceView:
    return ReferenceView(
        id=reference.id,
        label=reference.label,
        source=reference.source,
        status=reference.status,
        added_by=reference.added_by,
        created_at=reference.added_at,
        frame_count=reference.frame_count,
        duration_seconds=reference.duration_seconds,
        full_frames_only=reference.full_frames_only,
        source_kept=reference.status is not ReferenceStatus.PENDING
        and reference.upload_path is not None
        and Path(reference.upload_path).is_file(),
    )


def _read_text(upload: Upload) -> str:
    try:
        return upload.path.read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        raise Problem(422, f"the hash file is not UTF-8 text: {exc.reason}") from exc


def _entries_from_upload(upload: Upload, form: ReferenceUploadFields) -> list[HashListEntry]:
    stem = Path(upload.filename or "reference").stem
    entry_id, label = form.id, form.label
    text = _read_text(upload)
    try:
        if form.format == "vpdq":
            hashes = read_vpdq(io.StringIO(text))
            return [
                HashListEntry(
                    reference_id=entry_id or stem,
                    hashes=hashes,
                    label=label or entry_id or stem,
                    source=upload.filename or "vpdq import",
                )
            ]
        entries = [
            loads_record(line, line_number=number)
            for number, line in enumerate(text.splitlines(), start=1)
            if line.strip()
        ]
    except FormatError as exc:
        raise Problem(422, f"{upload.filename or 'the file'}: {exc}") from exc
    if not entries:
        raise Problem(422, "the hash list holds no records")
    if entry_id is not None or label is not None:
        if len(entries) != 1:
            raise Problem(422, "id and label apply to a file with a single record only")
        only = entries[0]
        entries = [
            HashListEntry(
                reference_id=entry_id or only.reference_id,
                hashes=only.hashes,
                label=label or only.label,
                source=only.source,
                metadata=only.metadata,
            )
        ]
    return entries


async def add_reference(request: web.Request) -> web.Response:
    ctx = context(request)
    key = current_key(request)
    upload = await receive_upload(
        request, ctx.settings.uploads_dir, FormLimits.of(ctx.settings.server)
    )
    keep_file = False
    try:
        form = form_fields(upload.fields, ReferenceUploadFields)
        fmt = form.format
        if fmt == "video":
            stem = Path(upload.filename or "upload").stem
            reference = await ctx.store.add_reference(
                label=form.label or stem,
                source=upload.filename or "upload",
                added_by=key.id,
                upload_path=str(upload.path.resolve()),
                reference_id=form.id,
            )
            keep_file = True  # the hash_reference job reads and then deletes it
            await _audit(request, "reference.add", reference, source="video upload")
            return send(reference_view(reference), 202)
        if upload.size_bytes > MAX_HASH_FILE_BYTES:
            raise Problem(413, f"a hash file may not exceed {MAX_HASH_FILE_BYTES} bytes")
        entries = _entries_from_upload(upload, form)
        check_distinct_ids(entries)
        design = ctx.settings.match.reference_params().design
        for entry in entries:
            check_design(entry, design)
        records = [import_record(entry, fmt) for entry in entries]
        # One transaction: a clash or a store failure leaves none of the file stored.
        added = await ctx.store.import_references(records, added_by=key.id)
        for reference in added:
            await _audit(request, "reference.add", reference, source=f"{fmt} import")
            await _schedule_retro(request, reference.id)
        return send(ReferenceList(items=[reference_view(r) for r in added]), 201)
    finally:
        if not keep_file:
            upload.path.unlink(missing_ok=True)


async def list_references(request: web.Request) -> web.Response:
    statuses = query_choices(request, "status", ReferenceStatus)
    references = await context(request).store.list_references(statuses=statuses)
    return send(ReferenceList(items=[reference_view(r) for r in references]))


async def get_reference(request: web.Request) -> web.Response:
    store = context(request).store
    reference = await store.get_reference(request.match_info["id"])
    view = reference_view(reference)
    if reference.status is ReferenceStatus.FAILED:
        # Why its upload could not be hashed: the error kept on its hashing job.
        jobs = await store.list_jobs(states=[JobState.FAILED, JobState.DEAD], limit=1000)
        errors = [
            j.last_error
            for j in jobs
            if j.kind is JobKind.HASH_REFERENCE and j.target_id == reference.id
        ]
        view = view.model_copy(update={"error": errors[-1] if errors else None})
    return send(view)


async def _audit(request: web.Request, action: str, reference: Reference, **details: str) -> None:
    # Always after the reference's change is stored: a failure here must not turn into an error.
    audit = context(request).store.append_audit(
        actor=current_key(request).id,
        action=action,
        target=reference.id,
        details={"label": reference.label, "status": reference.status.value, **details},
    )
    await after_commit("audit", audit, target=reference.id)


async def _schedule_retro(request: web.Request, reference_id: str) -> None:
    scheduled = schedule_retro_match(context(request).store, reference_id)
    await after_commit("retro-match scheduling", scheduled, target=reference_id)


async def _set_status(request: web.Request, status: ReferenceStatus) -> web.Response:
    reference = await context(request).store.set_reference_status(request.match_info["id"], status)
    await _audit(request, f"reference.{status.value}", reference)
    if status is ReferenceStatus.ACTIVE:
        await _schedule_retro(request, reference.id)
    return send(reference_view(reference))


async def export_references(request: web.Request) -> web.StreamResponse:
    fmt = query_choice(request, "format", EXPORT_FORMATS, "jsonl")
    store = context(request).store
    records: list[tuple[str, str]] = []
    for reference in await store.list_references(statuses=[ReferenceStatus.ACTIVE]):
        record = await store.get_reference_hashes(reference.id)
        if record is not None:
            records.append((reference.id, record))
    if fmt == "jsonl":
        # Full frames only, as industry lists are: the derived views are this matcher's own.
        return web.Response(
            text="".join(dumps_record(loads_record(record)) for _, record in records),
            content_type="application/x-ndjson",
            headers={"Content-Disposition": 'attachment; filename="hashlist.jsonl"'},
        )
    # vPDQ describes one video per file: one file per reference, in a zip.
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for reference_id, record in records:
            text = io.StringIO()
            write_vpdq(loads_record(record).hashes, text)
            archive.writestr(f"{_safe_name(reference_id)}.txt", text.getvalue())
    return web.Response(
        body=buffer.getvalue(),
        content_type="application/zip",
        headers={"Content-Disposition": 'attachment; filename="hashlist-vpdq.zip"'},
    )


def _safe_name(reference_id: str) -> str:
    return "".join(c if c.isalnum() or c in "-_." else "_" for c in reference_id).lstrip(".")


async def rehash_reference(request: web.Request) -> web.Response:
    """Hash a reference again from its kept video (`references.keep_source`), e.g. after the
    views the matcher uses changed; it stays matchable with its old hashes meanwhile."""
    ctx = context(request)
    reference = await ctx.store.get_reference(request.match_info["id"])
    if reference.upload_path is None or not Path(reference.upload_path).is_file():
        raise Problem(
            409,
            f"reference {reference.id} has no kept video to hash again: upload the video again "
            "as a new reference (and delete this one)",
        )
    if reference.status is ReferenceStatus.DELETED:
        raise Problem(409, f"reference {reference.id} is deleted")
    await ctx.store.enqueue_job(JobKind.HASH_REFERENCE, reference.id)
    await _audit(request, "reference.rehash", reference)
    return send(reference_view(reference), 202)


async def disable_reference(request: web.Request) -> web.Response:
    return await _set_status(request, ReferenceStatus.DISABLED)


async def enable_reference(request: web.Request) -> web.Response:
    return await _set_status(request, ReferenceStatus.ACTIVE)


async def delete_reference(request: web.Request) -> web.Response:
    return await _set_status(request, ReferenceStatus.DELETED)


_ID = Param("id", "path", "The reference id.")
_TAG = "references"


def _on_one(
    method: str,
    action: str,
    handler: Handler,
    summary: str,
    *,
    status: int = 200,
    errors: tuple[int, ...] = (404, 409),
) -> Operation:
    """An operation on the reference at `/v1/references/{id}` + `action` that answers with
    the reference."""
    return Operation(
        method,
        f"/v1/references/{{id}}{action}",
        handler,
        summary,
        Scope.ADMIN,
        _TAG,
        status=status,
        response=ReferenceView,
        params=(_ID,),
        errors=errors,
    )


OPERATIONS = [
    Operation(
        "GET",
        "/v1/references/export",
        export_references,
        "The active hash list to share: JSONL, or vPDQ files (one per reference) in a zip.",
        Scope.ADMIN,
        _TAG,
        response_content="application/x-ndjson",
        params=(Param("format", "query", "jsonl (default) or vpdq.", choices=EXPORT_FORMATS),),
        errors=(400,),
    ),
    Operation(
        "POST",
        "/v1/references",
        add_reference,
        "Add references: upload a video (202, hashed by a worker) or import a vPDQ or JSONL "
        "hash file (201).",
        Scope.ADMIN,
        _TAG,
        status=201,
        response=ReferenceList,
        other_successes=((202, ReferenceView),),
        requests=(("multipart/form-data", ReferenceUploadForm),),
        errors=(400, 409, 413, 415, 422),
    ),
    Operation(
        "GET",
        "/v1/references",
        list_references,
        "The hash list, in the order references were added.",
        Scope.ADMIN,
        _TAG,
        response=ReferenceList,
        params=(Param("status", "query", "Comma-separated statuses to keep."),),
        errors=(400,),
    ),
    _on_one("GET", "", get_reference, "One reference.", errors=(404,)),
    _on_one(
        "POST",
        "/rehash",
        rehash_reference,
        "Hash a reference again from its kept video (references.keep_source), with the views "
        "the matcher uses now.",
        status=202,
    ),
    _on_one("POST", "/disable", disable_reference, "Stop matching a reference (kept in the list)."),
    _on_one("POST", "/enable", enable_reference, "Match a disabled reference again."),
    _on_one(
        "DELETE",
        "",
        delete_reference,
        "Delete a reference: never matched again, kept for the record.",
    ),
]
