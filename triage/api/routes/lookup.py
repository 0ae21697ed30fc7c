"""`POST /v1/lookup`: match PDQ frame hashes (vPDQ lines or JSON) without sending media."""

from __future__ import annotations

import io

import numpy as np
from aiohttp import web
from pydantic import RootModel

from hashes.formats.vpdq import read_vpdq
from hashes.policy import VerdictPolicy
from hashes.types import FormatError, HashError, VideoHashes
from triage.api.bodies import read_capped, read_json, send
from triage.api.context import context
from triage.api.operation import Operation
from triage.api.problems import Problem
from triage.api.routes.submissions import match_view
from triage.api.schemas import LookupRequest, LookupResult
from triage.metrics import lookups_total
from triage.models import Scope

MAX_LOOKUP_BYTES = 16 * 1024 * 1024


class VpdqLines(RootModel[str]):
    """vPDQ text: one `frame,quality,hash,timestamp` line per frame."""


def _from_json(body: LookupRequest) -> VideoHashes:
    frames = sorted(body.frames, key=lambda f: f.timestamp)
    try:
        hashes = np.array([list(bytes.fromhex(f.hash)) for f in frames], dtype=np.uint8)
    except ValueError as exc:
        raise Problem(422, "each hash must be 64 hex digits") from exc
    timestamps = np.array([f.timestamp for f in frames], dtype=np.float64)
    step = float(np.median(np.diff(timestamps))) if len(frames) > 1 else 0.0
    return VideoHashes(
        hashes=hashes,
        timestamps=timestamps,
        qualities=np.array([f.quality for f in frames], dtype=np.int16),
        duration_seconds=float(timestamps[-1]) + step,
        frame_count=len(frames),
    )


async def _from_text(request: web.Request) -> VideoHashes:
    too_large = Problem(413, f"a hash list may not exceed {MAX_LOOKUP_BYTES} bytes")
    raw = await read_capped(request, MAX_LOOKUP_BYTES, too_large)
    try:
        return read_vpdq(io.StringIO(raw.decode("utf-8")))
    except UnicodeDecodeError as exc:
        raise Problem(400, "the body is not UTF-8 text") from exc
    except FormatError as exc:
        raise Problem(422, str(exc)) from exc


async def lookup(request: web.Request) -> web.Response:
    ctx = context(request)
    if ctx.lookup is None:
        raise Problem(503, "this process has no hash-list index to look up against")
    if request.content_type == "text/plain":
        query = await _from_text(request)
    elif request.content_type == "application/json":
        query = _from_json(await read_json(request, LookupRequest, max_bytes=MAX_LOOKUP_BYTES))
    else:
        raise Problem(415, "send vPDQ lines as text/plain or frames as application/json")
    try:
        matches = await ctx.lookup(query)
    except HashError as exc:
        raise Problem(422, str(exc)) from exc
    policy = VerdictPolicy(ctx.settings.match.confirm_at, ctx.settings.match.review_at)
    best = matches[0].score if matches else None
    verdict = policy.decide(best)
    lookups_total.labels(verdict=verdict.value).inc()
    return send(LookupResult(verdict=verdict, score=best, matches=[match_view(m) for m in matches]))


OPERATIONS = [
    Operation(
        "POST",
        "/v1/lookup",
        lookup,
        "Match PDQ frame hashes against the hash list; answers like a verdict.",
        Scope.READ,
        "lookup",
        response=LookupResult,
        requests=(("application/json", LookupRequest), ("text/plain", VpdqLines)),
        errors=(400, 413, 415, 422, 503),
    ),
]
