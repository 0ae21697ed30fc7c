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

_CHUNK_BYTES = 256 * 1024
_DISK_FULL_RETRY_AFTER_SECONDS = 60
_MAX_FIELD_BYTES = 8 * 1024


@dataclass(frozen=True, slots=True)
class Upload:
    path: Path
    filename: str | None
    size_bytes: int
    sha256: str
    fields: dict[str, str]


async def _read_field(part: BodyPartReader) -> str:
    data = await part.read_chunk(_MAX_FIELD_BYTES + 1)
    if len(data) > _MAX_FIELD_BYTES or not part.at_eof():
        raise Problem(413, f"form field {part.name!r} is longer than {_MAX_FIELD_BYTES} bytes")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise Problem(400, f"form field {part.name!r} is not UTF-8 text") from exc


async def _stream_to(part: BodyPartReader, dest: Path, max_bytes: int) -> tuple[int, str]:
    digest = hashlib.sha256()
    size = 0
    try:
        with dest.open("wb") as out:
            while chunk := await part.read_chunk(_CHUNK_BYTES):
                size += len(chunk)
                if size > max_bytes:
                    raise Problem(413, f"the file is larger than the limit of {max_bytes} bytes")
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
    request: web.Request, upload_dir: Path, *, max_bytes: int, file_field: str = "file"
) -> Upload:
    """Read a multipart body: the `file_field` part goes to a new file in `upload_dir`, every
    other part is a short text field. The file is removed again if anything fails."""
    if not request.content_type.startswith("multipart/"):
        raise Problem(415, "expected multipart/form-data")
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
            if not isinstance(part, BodyPartReader):
                raise Problem(400, "nested multipart bodies are not supported")
            if part.name == file_field:
                if found is not None:
                    raise Problem(400, f"only one {file_field!r} part is allowed")
                size, sha256 = await _stream_to(part, dest, max_bytes)
                found = (size, sha256, part.filename)
            elif part.name:
                fields[part.name] = await _read_field(part)
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
