"""`POST /v1/lookup`: match PDQ frame hashes against the hash list, without sending media.

Three bodies, by content type:

- `text/plain`: vPDQ lines (`frame,quality,hash,timestamp`), as Meta's tools write them;
- `application/json`: `{"frames": [...]}`, each frame `{"timestamp", "quality"?, "hash"}` or
  `[timestamp, quality, hash]`;
- `application/x-ndjson`: one record of our JSONL hash list (what the export gives).

Nothing is stored. A bad hash is a 422 naming its line or frame.
"""

from __future__ import annotations

import io
import json
import math
from typing import Any

import numpy as np
from aiohttp import web
from pydantic import BaseModel, Field, RootModel, ValidationError

from hashes.formats.jsonl import loads_record
from hashes.formats.vpdq import read_vpdq
from hashes.types import PDQ_BYTES, FormatError, HashError, VideoHashes
from triage.api.bodies import describe_validation, read_capped, send
from triage.api.context import context
from triage.api.operation import Operation
from triage.api.problems import Problem
from triage.api.schemas import FrameHashIn, LookupResult
from triage.metrics import lookups_total
from triage.models import Scope

MAX_LOOKUP_BYTES = 16 * 1024 * 1024
MAX_FRAMES = 200_000
NDJSON = "application/x-ndjson"
_HEX_DIGITS = 2 * PDQ_BYTES


class VpdqLines(RootModel[str]):
    """vPDQ text: one `frame,quality,hash,timestamp` line per frame."""


class LookupFramesIn(BaseModel):
    """PDQ frame hashes of a video: objects, or `[timestamp, quality, hash]` triples."""

    frames: list[FrameHashIn | tuple[float, int, str]] = Field(min_length=1, max_length=MAX_FRAMES)


class HashRecordIn(RootModel[dict[str, Any]]):
    """One JSONL hash-list record (`format`, `version`, `id`, `frames`, ...), as exported."""


def _frame(position: int, raw: object) -> tuple[float, int, bytes]:
    where = f"frames[{position}]"
    if isinstance(raw, dict):
        try:
            frame = FrameHashIn.model_validate(raw)
        except ValidationError as exc:
            raise Problem(422, f"{where}: {describe_validation(exc)}") from exc
        timestamp, quality, digest = frame.timestamp, frame.quality, frame.hash
    elif isinstance(raw, list) and len(raw) == 3:
        timestamp, quality, digest = raw
        if isinstance(timestamp, bool) or not isinstance(timestamp, int | float):
            raise Problem(422, f"{where}: the timestamp must be a number of seconds")
        if isinstance(quality, bool) or not isinstance(quality, int) or not 0 <= quality <= 100:
            raise Problem(422, f"{where}: the quality must be an integer from 0 to 100")
        if not isinstance(digest, str):
            raise Problem(422, f"{where}: the hash must be a string of hex digits")
    else:
        raise Problem(422, f"{where}: expected {{timestamp, quality, hash}} or a triple")
    if not math.isfinite(timestamp) or timestamp < 0:
        raise Problem(422, f"{where}: the timestamp must be a finite number >= 0")
    try:
        if len(digest) != _HEX_DIGITS:
            raise ValueError
        value = bytes.fromhex(digest)
    except ValueError as exc:
        raise Problem(422, f"{where}: the hash must be {_HEX_DIGITS} hex digits") from exc
    return float(timestamp), int(quality), value


def frames_to_hashes(frames: list[object]) -> VideoHashes:
    """Query hashes from JSON frames (already checked to be a non-empty list)."""
    rows = sorted((_frame(i, raw) for i, raw in enumerate(frames)), key=lambda row: row[0])
    timestamps = np.array([t for t, _, _ in rows], dtype=np.float64)
    step = float(np.median(np.diff(timestamps))) if len(rows) > 1 else 0.0
    return VideoHashes(
        hashes=np.frombuffer(b"".join(h for _, _, h in rows), dtype=np.uint8).reshape(
            -1, PDQ_BYTES
        ),
        timestamps=timestamps,
        qualities=np.array([q for _, q, _ in rows], dtype=np.int16),
        duration_seconds=float(timestamps[-1]) + step,
        frame_count=len(rows),
    )


def _from_json(raw: bytes) -> VideoHashes:
    try:
        data = json.loads(raw)
    except (ValueError, RecursionError) as exc:
        raise Problem(400, f"the body is not valid JSON: {exc}") from exc
    if not isinstance(data, dict) or not isinstance(data.get("frames"), list):
        raise Problem(422, 'expected an object with a "frames" list')
    if set(data) != {"frames"}:
        extra = ", ".join(sorted(set(data) - {"frames"}))
        raise Problem(422, f"unknown fields: {extra} (send a hash-list record as {NDJSON})")
    frames: list[object] = data["frames"]
    if not 1 <= len(frames) <= MAX_FRAMES:
        raise Problem(422, f"frames: from 1 to {MAX_FRAMES} frames, got {len(frames)}")
    return frames_to_hashes(frames)


def _text(raw: bytes) -> str:
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise Problem(400, "the body is not UTF-8 text") from exc


def _from_vpdq(raw: bytes) -> VideoHashes:
    try:
        return read_vpdq(io.StringIO(_text(raw)))
    except FormatError as exc:
        raise Problem(422, str(exc)) from exc


def _from_record(raw: bytes) -> VideoHashes:
    lines = [line for line in _text(raw).splitlines() if line.strip()]
    if len(lines) != 1:
        raise Problem(422, f"send exactly one hash-list record, got {len(lines)}")
    try:
        return loads_record(lines[0], line_number=1).hashes
    except FormatError as exc:
        raise Problem(422, str(exc)) from exc


_PARSERS = {"text/plain": _from_vpdq, "application/json": _from_json, NDJSON: _from_record}


async def lookup(request: web.Request) -> web.Response:
    ctx = context(request)
    parse = _PARSERS.get(request.content_type)
    if parse is None:
        raise Problem(415, f"send one of: {', '.join(_PARSERS)}")
    if ctx.lookup is None:
        raise Problem(503, "this process has no hash-list index to look up against")
    too_large = Problem(413, f"a lookup body may not exceed {MAX_LOOKUP_BYTES} bytes")
    if request.content_length is not None and request.content_length > MAX_LOOKUP_BYTES:
        raise too_large
    query = parse(await read_capped(request, MAX_LOOKUP_BYTES, too_large))
    try:
        decision = await ctx.lookup(query)
    except HashError as exc:
        raise Problem(422, str(exc)) from exc
    lookups_total.labels(verdict=decision.verdict.value).inc()
    # The score shown is the best kept match's, as before: a lead below review_at is no
    # evidence.
    best = decision.evidence[0].score if decision.evidence else None
    return send(
        LookupResult(
            verdict=decision.verdict,
            score=best,
            matches=list(decision.evidence),
        )
    )


OPERATIONS = [
    Operation(
        "POST",
        "/v1/lookup",
        lookup,
        "Match PDQ frame hashes against the hash list; answers like a verdict, stores nothing.",
        Scope.READ,
        "lookup",
        response=LookupResult,
        requests=(
            ("application/json", LookupFramesIn),
            ("text/plain", VpdqLines),
            (NDJSON, HashRecordIn),
        ),
        errors=(400, 413, 415, 422, 503),
    ),
]
