"""Submitting links and files from a form, and following one's submissions as they progress."""

from __future__ import annotations

import contextlib
import secrets
from dataclasses import dataclass
from pathlib import Path

from aiohttp import BodyPartReader, web
from pydantic import AnyHttpUrl, ConfigDict, TypeAdapter, ValidationError

from triage.api.bodies import form_fields
from triage.api.context import context
from triage.api.fields import EXTERNAL_ID_MAX_CHARS, NOTE_MAX_CHARS
from triage.api.problems import Problem
from triage.api.schemas import SubmissionUploadFields
from triage.api.uploads import FormLimits, read_field, stream_to_file
from triage.metrics import submissions_total
from triage.models import Scope, SubmitOutcome, WebSession
from triage.pages.guard import guarded
from triage.pages.html import Html, fill, page, redirect
from triage.pages.sessions import check_csrf

MAX_LINKS = 100
MAX_FILES = 20
_URL = TypeAdapter(AnyHttpUrl)

_FORM = """<form class="card" method="post" action="/submit" enctype="multipart/form-data">
$error
<input type="hidden" name="csrf_token" value="$csrf">
<label for="links">Links, one per line</label>
<textarea id="links" name="links" rows="6" placeholder="https://example.com/post/123">$links</textarea>
<label for="files">Or files (videos or images)</label>
<input id="files" name="file" type="file" multiple accept="video/*,image/*">
<label for="note">Note for your colleagues</label>
<textarea id="note" name="note" rows="2" maxlength="$note_max">$note</textarea>
<p class="hint">Reviewers see the note; platforms see it only if your service shares notes.</p>
<label for="external_id">Your case id (optional)</label>
<input id="external_id" name="external_id" maxlength="$external_id_max" value="$external_id">
<p class="hint">Your own reference for this report: you can search for it, and platforms
receive it with any referral, so they can tie a takedown back to your case.</p>
<button type="submit" class="primary">Submit</button>
</form>"""


class _SubmitForm(SubmissionUploadFields):
    """The page's text fields, surrounding blanks dropped: links one per line, and the note
    and case id every submission made from them carries (with the API's limits)."""

    model_config = ConfigDict(str_strip_whitespace=True)

    links: str = ""


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
        note_max=NOTE_MAX_CHARS,
        external_id=external_id,
        external_id_max=EXTERNAL_ID_MAX_CHARS,
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
                size, sha256 = await stream_to_file(request, part, dest, limits)
                if size == 0:  # the empty part of a form sent without files
                    dest.unlink()
                    continue
                files.append(_SentFile(dest, part.filename, sha256))
            elif part.name:
                if len(fields) >= limits.max_fields:
                    raise Problem(413, f"a form may hold at most {limits.max_fields} fields")
                fields[part.name] = await read_field(part, part.name, limits.max_field_bytes)
    except BaseException:
        for sent in files:
            with contextlib.suppress(FileNotFoundError):
                sent.path.unlink()
        raise
    return fields, files


def _drop(files: list[_SentFile]) -> None:
    for sent in files:
        sent.path.unlink(missing_ok=True)


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


def _what_to_submit(
    fields: dict[str, str], files: list[_SentFile]
) -> tuple[_SubmitForm, list[str]]:
    """The form's fields and its links (without repeats), or a 422 saying what to fix."""
    form = form_fields(fields, _SubmitForm)
    links, bad = _links(form.links)
    if bad:
        raise Problem(422, "Not a web link: " + ", ".join(bad[:5]) + (" …" if len(bad) > 5 else ""))
    if len(links) > MAX_LINKS:
        raise Problem(422, f"At most {MAX_LINKS} links at once.")
    if not links and not files:
        raise Problem(422, "Give at least one link or file.")
    return form, links


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
        form, links = _what_to_submit(fields, files)
    except Problem as exc:
        _drop(files)
        if exc.status != 422:
            raise
        # Shown on the form, with what was typed, to be fixed and sent again.
        return _form_page(
            session,
            links=fields.get("links", ""),
            note=fields.get("note", "").strip(),
            external_id=fields.get("external_id", "").strip(),
            error=exc.detail,
        )
    except BaseException:
        _drop(files)
        raise
    outcomes: list[SubmitOutcome] = []
    for url in links:
        outcomes.append(
            await ctx.store.create_submission(
                url=url,
                key_id=session.key.id,
                note=form.note,
                external_id=form.external_id,
            )
        )
    for sent in files:
        outcome = await ctx.store.create_upload_submission(
            upload_path=str(sent.path.resolve()),
            sha256=sent.sha256,
            upload_filename=sent.filename,
            key_id=session.key.id,
            note=form.note,
            external_id=form.external_id,
        )
        if outcome.deduplicated:
            sent.path.unlink(missing_ok=True)  # the content is known: our copy is not needed
        outcomes.append(outcome)
    for outcome in outcomes:
        submissions_total.labels(outcome="deduplicated" if outcome.deduplicated else "new").inc()
    return redirect(f"/submissions?submitted={len(outcomes)}")
