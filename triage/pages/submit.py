"""Submitting links and files from a form, and following one's submissions as they progress."""

from __future__ import annotations

import contextlib
import secrets
from dataclasses import dataclass
from pathlib import Path

from aiohttp import BodyPartReader, web
from pydantic import AnyHttpUrl, TypeAdapter, ValidationError

from triage.api.context import context
from triage.api.problems import Problem
from triage.api.uploads import FormLimits, _read_field, _stream_to
from triage.metrics import submissions_total
from triage.models import Scope, SubmitOutcome, WebSession
from triage.pages.guard import guarded
from triage.pages.html import Html, fill, page, redirect
from triage.pages.sessions import check_csrf

MAX_LINKS = 100
MAX_FILES = 20
MAX_NOTE_CHARS = 2000
MAX_EXTERNAL_ID_CHARS = 200
_URL = TypeAdapter(AnyHttpUrl)

_FORM = """<form class="card" method="post" action="/submit" enctype="multipart/form-data">
$error
<input type="hidden" name="csrf_token" value="$csrf">
<label for="links">Links, one per line</label>
<textarea id="links" name="links" rows="6" placeholder="https://example.com/post/123">$links</textarea>
<label for="files">Or files (videos or images)</label>
<input id="files" name="file" type="file" multiple accept="video/*,image/*">
<label for="note">Note for your colleagues</label>
<textarea id="note" name="note" rows="2" maxlength="2000">$note</textarea>
<p class="hint">Reviewers see the note; platforms see it only if your service shares notes.</p>
<label for="external_id">Your case id (optional)</label>
<input id="external_id" name="external_id" maxlength="200" value="$external_id">
<p class="hint">Your own reference for this report: you can search for it, and platforms
receive it with any referral, so they can tie a takedown back to your case.</p>
<button type="submit" class="primary">Submit</button>
</form>"""


@dataclass(frozen=True, slots=True)
class _SentFile:
    path: Path
    filename: str | None
    sha256: str


@guarded(Scope.SUBMIT)
async def submit_form(request: web.Request, session: WebSession) -> web.StreamResponse:
    return _form_page(session, links="", note="", external_id="", error=None)


def _form_page(
    session: WebSession, *, links: str, note: str, external_id: str, error: str | None
) -> web.Response:
    message = fill('<p class="error" role="alert">$e</p>', e=error) if error else Html("")
    body = fill(
        _FORM,
        error=message,
        csrf=session.csrf_token,
        links=links,
        note=note,
        external_id=external_id,
    )
    return page("Submit", body, session=session, status=422 if error else 200)


async def _read_form(
    request: web.Request, upload_dir: Path, limits: FormLimits
) -> tuple[dict[str, str], list[_SentFile]]:
    """Text fields, and every non-empty `file` part streamed to its own file; the API's form
    limits apply (the files together within one upload's size)."""
    upload_dir.mkdir(parents=True, exist_ok=True)
    fields: dict[str, str] = {}
    files: list[_SentFile] = []
    try:
        reader = await request.multipart()
        while (part := await reader.next()) is not None:
            if not isinstance(part, BodyPartReader):
                raise Problem(400, "nested multipart bodies are not supported")
            if part.name == "file":
                if len(files) == MAX_FILES:
                    raise Problem(413, f"at most {MAX_FILES} files at once")
                dest = upload_dir / f"upload-{secrets.token_hex(12)}"
                size, sha256 = await _stream_to(request, part, dest, limits)
                if size == 0:  # the empty part of a form sent without files
                    dest.unlink()
                    continue
                files.append(_SentFile(dest, part.filename, sha256))
            elif part.name:
                if len(fields) >= limits.max_fields:
                    raise Problem(413, f"a form may hold at most {limits.max_fields} fields")
                fields[part.name] = await _read_field(part, part.name, limits.max_field_bytes)
    except BaseException:
        for sent in files:
            with contextlib.suppress(FileNotFoundError):
                sent.path.unlink()
        raise
    return fields, files


def _links(text: str) -> tuple[list[str], list[str]]:
    """(valid links, invalid lines) of the links box."""
    good: list[str] = []
    bad: list[str] = []
    for line in text.splitlines():
        line = line.strip()
        if not line:
            continue
        try:
            good.append(str(_URL.validate_python(line)))
        except ValidationError:
            bad.append(line)
    return list(dict.fromkeys(good)), bad


@guarded(Scope.SUBMIT)
async def submit(request: web.Request, session: WebSession) -> web.StreamResponse:
    ctx = context(request)
    if not request.content_type.startswith("multipart/"):
        raise Problem(415, "the form must be sent as multipart/form-data")
    fields, files = await _read_form(
        request, ctx.settings.uploads_dir, FormLimits.of(ctx.settings.server)
    )
    try:
        check_csrf(request, session, fields)
        note = fields.get("note", "").strip()[:MAX_NOTE_CHARS] or None
        external_id = fields.get("external_id", "").strip()[:MAX_EXTERNAL_ID_CHARS] or None
        links, bad = _links(fields.get("links", ""))
        error = None
        if bad:
            error = "Not a web link: " + ", ".join(bad[:5]) + (" …" if len(bad) > 5 else "")
        elif len(links) > MAX_LINKS:
            error = f"At most {MAX_LINKS} links at once."
        elif not links and not files:
            error = "Give at least one link or file."
        if error is not None:
            for sent in files:
                sent.path.unlink(missing_ok=True)
            return _form_page(
                session,
                links=fields.get("links", ""),
                note=note or "",
                external_id=external_id or "",
                error=error,
            )
    except BaseException:
        for sent in files:
            sent.path.unlink(missing_ok=True)
        raise
    outcomes: list[SubmitOutcome] = []
    for url in links:
        outcomes.append(
            await ctx.store.create_submission(
                url=url,
                key_id=session.key.id,
                note=note,
                external_id=external_id,
            )
        )
    for sent in files:
        outcome = await ctx.store.create_upload_submission(
            upload_path=str(sent.path.resolve()),
            sha256=sent.sha256,
            upload_filename=sent.filename,
            key_id=session.key.id,
            note=note,
            external_id=external_id,
        )
        if outcome.deduplicated:
            sent.path.unlink(missing_ok=True)  # the content is known: our copy is not needed
        outcomes.append(outcome)
    for outcome in outcomes:
        submissions_total.labels(outcome="deduplicated" if outcome.deduplicated else "new").inc()
    return redirect(f"/submissions?submitted={len(outcomes)}")
