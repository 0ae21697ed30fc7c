"""Multipart uploads streamed to disk with a size cap, hashed (SHA-256) on the way."""

from __future__ import annotations

import contextlib
import errno
import hashlib
import secrets
from dataclasses import dataclass
from pathlib import Path

from aiohttp import BodyPartReader, web
from aiohttp.http_exceptions import HttpProcessingError

from triage.api.problems import Problem
from triage.config import ServerSettings

_CHUNK_BYTES = 256 * 1024
_DISK_FULL_RETRY_AFTER_SECONDS = 60


@dataclass(frozen=True, slots=True)
class FormLimits:
    """What a multipart body may hold: one file and a few short text fields."""

    max_file_bytes: int
    max_fields: int
    max_field_bytes: int
    max_overhead_bytes: int  # the body beyond the file: fields, part headers, boundaries

    @classmethod
    def of(cls, server: ServerSettings) -> FormLimits:
        return cls(
            max_file_bytes=server.max_upload_bytes,
            max_fields=server.max_form_fields,
            max_field_bytes=server.max_form_field_bytes,
            max_overhead_bytes=server.max_form_overhead_bytes,
        )

    @property
    def max_body_bytes(self) -> int:
        return self.max_file_bytes + self.max_overhead_bytes


@dataclass(frozen=True, slots=True)
class Upload:
    path: Path
    filename: str | None
    size_bytes: int
    sha256: str
    fields: dict[str, str]


def _body_too_large(limits: FormLimits) -> Problem:
    return Problem(413, f"a multipart body may not exceed {limits.max_body_bytes} bytes")


def _check_body_size(request: web.Request, limits: FormLimits) -> None:
    # total_bytes counts what arrived so far, so a body without Content-Length is capped too.
    if request.content.total_bytes > limits.max_body_bytes:
        raise _body_too_large(limits)


async def read_field(part: BodyPartReader, name: str, max_bytes: int) -> str:
    """A text part, whole, as UTF-8: 413 past `max_bytes`, 400 if it is not UTF-8."""
    # Read to the part's end: one read_chunk may stop at a chunk boundary, not the field's end.
    chunks: list[bytes] = []
    size = 0
    while chunk := await part.read_chunk(_CHUNK_BYTES):
        size += len(chunk)
        if size > max_bytes:
            raise Problem(413, f"form field {name!r} is longer than {max_bytes} bytes")
        chunks.append(chunk)
    try:
        return b"".join(chunks).decode("utf-8")
    except UnicodeDecodeError as exc:
        raise Problem(400, f"form field {name!r} is not UTF-8 text") from exc


async def stream_to_file(
    request: web.Request, part: BodyPartReader, dest: Path, limits: FormLimits
) -> tuple[int, str]:
    """A file part written to `dest` within the form's caps: (its size in bytes, SHA-256)."""
    digest = hashlib.sha256()
    size = 0
    max_bytes = limits.max_file_bytes
    try:
        with dest.open("wb") as out:
            while chunk := await part.read_chunk(_CHUNK_BYTES):
                size += len(chunk)
                if size > max_bytes:
                    raise Problem(413, f"the file is larger than the limit of {max_bytes} bytes")
                _check_body_size(request, limits)
                digest.update(chunk)
                out.write(chunk)
    except OSError as exc:
        if exc.errno in (errno.ENOSPC, errno.EDQUOT):
            raise disk_full() from exc
        raise
    return size, digest.hexdigest()


def disk_full() -> Problem:
    """507 with the reason `disk_full`: the server has no room for the upload right now."""
    return Problem(
        507,
        "disk_full: no space left on the server for the upload; try again later",
        headers={"Retry-After": str(_DISK_FULL_RETRY_AFTER_SECONDS)},
    )


async def receive_upload(
    request: web.Request, upload_dir: Path, limits: FormLimits, *, file_field: str = "file"
) -> Upload:
    """Read a multipart body: the `file_field` part goes to a new file in `upload_dir`, every
    other part is a short text field. The file is removed again if anything fails."""
    if not request.content_type.startswith("multipart/"):
        raise Problem(415, "expected multipart/form-data")
    if request.content_length is not None and request.content_length > limits.max_body_bytes:
        raise _body_too_large(limits)
    try:
        upload_dir.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        if exc.errno in (errno.ENOSPC, errno.EDQUOT):
            raise disk_full() from exc
        raise
    dest = upload_dir / f"upload-{secrets.token_hex(12)}"
    fields: dict[str, str] = {}
    found: tuple[int, str, str | None] | None = None
    try:
        reader = await request.multipart()
        while (part := await reader.next()) is not None:
            _check_body_size(request, limits)
            if not isinstance(part, BodyPartReader):
                raise Problem(400, "nested multipart bodies are not supported")
            name = part.name
            if not name:
                raise Problem(400, "every form part needs a name")
            if name == file_field:
                if found is not None:
                    raise Problem(400, f"only one {file_field!r} part is allowed")
                size, sha256 = await stream_to_file(request, part, dest, limits)
                found = (size, sha256, part.filename)
                continue
            if name in fields:
                raise Problem(400, f"form field {name!r} is given twice")
            if len(fields) >= limits.max_fields:
                raise Problem(413, f"a form may hold at most {limits.max_fields} text fields")
            fields[name] = await read_field(part, name, limits.max_field_bytes)
        _check_body_size(request, limits)
        if found is None:
            raise Problem(422, f"the form has no {file_field!r} part")
        if found[0] == 0:
            raise Problem(422, f"the {file_field!r} part is empty")
    except (ValueError, HttpProcessingError) as exc:
        # aiohttp's multipart parser raises these on a malformed body or part header.
        with contextlib.suppress(FileNotFoundError):
            dest.unlink()
        raise Problem(400, "malformed multipart body") from exc
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            dest.unlink()
        raise
    size, sha256, filename = found
    return Upload(path=dest, filename=filename, size_bytes=size, sha256=sha256, fields=fields)
