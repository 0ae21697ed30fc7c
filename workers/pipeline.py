"""What a worker does with each job kind.

`process_media`: fetch the URL (a post page is resolved by yt-dlp first) or take the upload,
record the fetch evidence, reuse the result of identical content seen before (same SHA-256),
else hash (in a process pool, so the event loop stays free), match against the live index,
and record the verdict, which completes the job in the same transaction. The fetched file is
deleted afterwards unless `fetch.keep_media` is set.

`hash_reference`: hash an uploaded reference video into its hash record, which makes the
reference active (the live index picks it up on its next poll).
"""

from __future__ import annotations

import asyncio
import functools
import logging
import time
from collections.abc import Awaitable, Callable
from concurrent.futures import Executor
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Protocol, TypeVar

from hashes.cascade import Hashing, QueryOutcome, query_cascade
from hashes.formats.jsonl import HashListEntry, dumps_record
from hashes.types import HashError, MediaError, VideoHashes
from hashes.video.params import QueryParams
from triage import metrics
from triage.actors import SYSTEM_ACTOR
from triage.config import Settings
from triage.evidence import FetchEvidence
from triage.logs import FIELDS_KEY
from triage.models import JobKind, JobState, Media, Verdict
from triage.retro_scheduling import schedule_retro_match
from triage.store.protocols import AuditLog, HashList, JobQueue, Keyframes, Submissions
from triage.verdicts import Decision, VerdictStep
from workers.fetch.errors import (
    DiskFullError,
    FetchError,
    FetchTimeoutError,
    HttpStatusError,
    NotMediaError,
    UnreachableError,
)
from workers.fetch.sniff import SNIFF_BYTES, sniff_media_type
from workers.fetch.types import FetchedMedia, FetchLimits, ResolvedMedia
from workers.hashing.pool import ChildFailure, HashingPool
from workers.keyframes import KeyframeKeeper
from workers.lanes import check_lane
from workers.live_index import LiveIndex
from workers.runner import JobContext, JobFailure, JobHandler, permanent

_log = logging.getLogger(__name__)
_In = TypeVar("_In")
_Out = TypeVar("_Out")

# A job whose hashing child died or overran is tried once more (a fluke passes; hostile media
# fails again), then fails.
CHILD_FAILURE_ATTEMPTS = 2
_RETRYABLE_HTTP = frozenset({408, 425, 429})

FetchFunction = Callable[[str, Path, FetchLimits], Awaitable[FetchedMedia]]
ResolveFunction = Callable[[str, FetchLimits], Awaitable[ResolvedMedia]]
HashFunction = Callable[[Path], VideoHashes]


@dataclass(frozen=True)
class MediaTools:
    """The collaborators of the pipeline. The hash functions run in a process pool, so they
    must be picklable module-level functions (or partials of them)."""

    fetch: FetchFunction
    resolve: ResolveFunction
    query_params: QueryParams
    """How queries are hashed; the steps themselves come from `hashes.cascade`."""
    hash_reference: HashFunction


def fetch_limits(settings: Settings) -> FetchLimits:
    """The fetch caps from config."""
    return FetchLimits.from_settings(settings.fetch)


def failure_from_fetch(error: FetchError) -> JobFailure:
    """Timeouts, unreachable hosts and server errors may pass; anything else will not."""
    retryable = isinstance(error, FetchTimeoutError | UnreachableError | DiskFullError) or (
        isinstance(error, HttpStatusError)
        and (error.status >= 500 or error.status in _RETRYABLE_HTTP)
    )
    return JobFailure(error.reason, str(error), retryable=retryable)


def log_verdict(
    media_id: str,
    verdict: Verdict,
    reference_id: str | None,
    score: float | None,
    *,
    look: str,
) -> None:
    """The one INFO line of each verdict recorded: the media, the verdict, the best reference
    and its score (None without any match), and what was looked at (`retro` for a verdict
    a newly added reference gave)."""
    fields = {
        "media_id": media_id,
        "verdict": verdict.value,
        "best_reference_id": reference_id,
        "score": None if score is None else round(score, 4),
        "look": look,
    }
    _log.info(
        "verdict %s for media %s (best %s, score %s)",
        verdict.value,
        media_id,
        reference_id or "none",
        fields["score"],
        extra={FIELDS_KEY: fields},
    )


class PipelineStore(Submissions, HashList, JobQueue, AuditLog, Keyframes, Protocol):
    """What the pipeline reads and writes: media and their results, references and their
    hashes, the retro-matching job it schedules, the audit log and keyframes."""


@dataclass(frozen=True, slots=True)
class _Fetched:
    path: Path
    evidence: FetchEvidence
    downloaded: bool


class Pipeline:
    def __init__(
        self,
        store: PipelineStore,
        live_index: LiveIndex,
        tools: MediaTools,
        settings: Settings,
        executor: Executor | HashingPool,
        verdicts: VerdictStep,
    ) -> None:
        self._store = store
        self._index = live_index
        self._tools = tools
        self._settings = settings
        self._executor = executor
        self._limits = fetch_limits(settings)
        self._analysing: dict[str, asyncio.Event] = {}  # sha256 → set when its analysis ends
        self._verdicts = verdicts
        self._keyframes = KeyframeKeeper(store, self._pooled, settings.keyframes)

    def handlers(self) -> dict[JobKind, JobHandler]:
        return {
            JobKind.PROCESS_MEDIA: self.process_media,
            JobKind.HASH_REFERENCE: self.hash_reference,
        }

    # --- process_media ------------------------------------------------------------------------

    async def process_media(self, ctx: JobContext) -> None:
        media = await self._store.get_media(ctx.job.target_id)
        upload = Path(media.upload_path) if media.upload_path else None
        try:
            fetched = await self._obtain(media)
            try:
                await self._check_lane(ctx, fetched)
                await self._analyse(ctx, media, fetched)
            finally:
                # A download is fetched again on a retry; an upload is the only copy.
                if fetched.downloaded:
                    self._discard(fetched.path)
        except JobFailure as failure:
            if upload is not None and not failure.retryable:
                self._discard(upload)
            raise
        if upload is not None:
            self._discard(upload)

    async def _check_lane(self, ctx: JobContext, fetched: _Fetched) -> None:
        resolver = fetched.evidence.resolver or {}
        announced = resolver.get("duration_seconds")
        await check_lane(
            ctx.job,
            fetched.path,
            fetched.evidence.size_bytes,
            self._settings.jobs,
            announced_seconds=float(announced) if isinstance(announced, int | float) else None,
        )

    def _discard(self, path: Path) -> None:
        if not self._settings.fetch.keep_media:
            path.unlink(missing_ok=True)

    async def _analyse(self, ctx: JobContext, media: Media, fetched: _Fetched) -> None:
        sha256 = fetched.evidence.sha256
        if await self._reuse(ctx, media, fetched):
            return
        running = self._analysing.get(sha256)
        if running is not None:
            # The same bytes from another URL are being analysed in this process right now:
            # wait for that result instead of hashing them twice.
            await running.wait()
            if await self._reuse(ctx, media, fetched):
                return
        done = self._analysing.setdefault(sha256, asyncio.Event())
        try:
            await self._hash_and_match(ctx, media, fetched)
        finally:
            done.set()
            if self._analysing.get(sha256) is done:
                del self._analysing[sha256]

    async def _reuse(self, ctx: JobContext, media: Media, fetched: _Fetched) -> bool:
        """Link to earlier media with the same bytes and a result, completing the job."""
        earlier = await self._store.link_media_by_sha256(media.id, fetched.evidence)
        if earlier is None:
            return False
        _log.info("media %s is the same content as %s; reusing", media.id, earlier.id)
        await ctx.complete()
        return True

    async def _hash_and_match(self, ctx: JobContext, media: Media, fetched: _Fetched) -> None:
        await ctx.set_state(JobState.HASHING)
        outcome, hashing, matching = await self._run_cascade(ctx, fetched.path)
        metrics.query_looks_total.labels(look=outcome.look.value).inc()
        metrics.match_duration_seconds.observe(matching)
        _observe_hashing(hashing, outcome.hashes)
        decision = self._verdicts.decide(outcome.matches, self._index.label)
        # Named by content, not by media or URL: the same content always gives the same
        # record, which is what review suppression recognises. With the views this match
        # searched, so retro-matching sees what it saw: every view, or the full frames alone
        # of a copy they settled.
        record = dumps_record(
            HashListEntry(reference_id=fetched.evidence.sha256 or media.id, hashes=outcome.hashes),
            derived=True,
        )
        await self._keyframes.after_verdict(
            media.id, fetched.path, decision.verdict, decision.evidence
        )
        await self._store.record_result(
            media.id,
            verdict=decision.verdict,
            matches=list(decision.evidence),
            query_hashes=record,
            job_id=ctx.job.id,
            worker_id=ctx.worker_id,
        )
        metrics.verdicts_total.labels(verdict=decision.verdict.value).inc()
        best = outcome.matches[0] if outcome.matches else None
        log_verdict(
            media.id,
            decision.verdict,
            best.reference_id if best else None,
            best.score if best else None,
            look=outcome.look.value,
        )

    async def _run_cascade(self, ctx: JobContext, path: Path) -> tuple[QueryOutcome, float, float]:
        """The query cascade (`hashes.cascade`) with its hashing steps in the hashing pool and
        its searches against the live index; the outcome, and the seconds spent hashing and
        matching."""
        steps = query_cascade(path, self._tools.query_params, self._index.match_params)
        answer: Any = None
        hashing = matching = 0.0
        synced = False
        try:
            while True:
                step = steps.send(answer)
                if isinstance(step, Hashing):
                    answer, seconds = await _timed(self._pooled(step.function, step.argument))
                    hashing += seconds
                    continue
                if len(step.hashes) == 0:
                    raise permanent("no_frames", "no frame could be hashed")
                if not synced:
                    await ctx.set_state(JobState.MATCHING)
                    # Catch up with the hash list first, so a reference added seconds ago
                    # counts.
                    await self._index.sync()
                    synced = True
                answer, seconds = await _timed(self._index.match(step.hashes))
                matching += seconds
        except StopIteration as done:
            outcome: QueryOutcome = done.value
            return outcome, hashing, matching

    async def _obtain(self, media: Media) -> _Fetched:
        if media.upload_path is not None:
            return self._from_upload(media)
        if media.url is None:
            raise permanent("no_source", "the media has neither a URL nor an upload")
        started = time.perf_counter()
        try:
            fetched, resolver = await self._fetch_url(media.url)
        except FetchError as exc:
            metrics.fetch_errors_total.labels(reason=exc.reason).inc()
            raise failure_from_fetch(exc) from exc
        metrics.fetch_duration_seconds.observe(time.perf_counter() - started)
        metrics.fetch_bytes_total.inc(fetched.size_bytes)
        evidence = FetchEvidence(
            final_url=fetched.final_url,
            sha256=fetched.sha256,
            size_bytes=fetched.size_bytes,
            content_type=fetched.content_type,
            fetched_at=fetched.fetched_at,
            resolver=resolver,
        )
        return _Fetched(fetched.path, evidence, downloaded=True)

    async def _fetch_url(self, url: str) -> tuple[FetchedMedia, dict[str, Any] | None]:
        dest = self._settings.media_dir
        dest.mkdir(parents=True, exist_ok=True)
        try:
            return await self._tools.fetch(url, dest, self._limits), None
        except NotMediaError as exc:
            if not exc.looked_like_html:
                raise
        # A web page: maybe a post page whose video yt-dlp can find.
        resolved = await self._tools.resolve(url, self._limits)
        if not resolved.media_urls:
            raise permanent("resolve_failed", f"no media found on {url}")
        fetched = await self._tools.fetch(resolved.media_urls[0], dest, self._limits)
        resolver: dict[str, Any] = {
            "page_url": resolved.page_url,
            "webpage_url": resolved.webpage_url,
            "extractor": resolved.extractor,
            "media_id": resolved.media_id,
            "title": resolved.title,
            "uploader": resolved.uploader,
            "duration_seconds": resolved.duration_seconds,
            "media_url": resolved.media_urls[0],
        }
        return fetched, resolver

    def _from_upload(self, media: Media) -> _Fetched:
        path = Path(media.upload_path or "")
        try:
            with path.open("rb") as stream:
                head = stream.read(SNIFF_BYTES)
            size = path.stat().st_size
        except OSError as exc:
            raise permanent("upload_missing", f"the uploaded file is gone: {exc}") from exc
        content_type = sniff_media_type(head)
        if content_type is None:
            raise permanent("not_media", "the upload is not a video or image")
        evidence = FetchEvidence(
            final_url=None,
            sha256=media.sha256 or "",
            size_bytes=size,
            content_type=content_type,
            fetched_at=datetime.now(UTC),
        )
        return _Fetched(path, evidence, downloaded=False)

    async def lookup(self, hashes: VideoHashes) -> Decision:
        """The verdict on query hashes (e.g. sent by a platform), with the matches at or above
        `review_at` as evidence."""
        await self._index.sync()
        matches = await self._index.match(hashes)
        return self._verdicts.decide(matches, self._index.label)

    # --- hash_reference -----------------------------------------------------------------------

    async def hash_reference(self, ctx: JobContext) -> None:
        reference = await self._store.get_reference(ctx.job.target_id)
        if reference.upload_path is None:
            raise permanent("no_source", "the reference has no uploaded video")
        path = Path(reference.upload_path)
        if not path.is_file():
            raise permanent("upload_missing", f"the uploaded video is gone: {path.name}")
        hashes = await self._hash(self._tools.hash_reference, path)
        if len(hashes) == 0:
            raise permanent("no_frames", "no frame could be hashed")
        entry = HashListEntry(
            reference_id=reference.id, hashes=hashes, label=reference.label, source=reference.source
        )
        await self._keyframes.after_reference_hashed(reference.id, path, hashes.duration_seconds)
        # Every view the matcher uses: the full frames alone would leave crops, reframed
        # parts and borders removed out of the index.
        await self._store.set_reference_hashes(
            reference.id,
            dumps_record(entry, derived=True),
            frame_count=hashes.frame_count or len(hashes),
            duration_seconds=hashes.duration_seconds,
        )
        await self._store.append_audit(
            actor=SYSTEM_ACTOR,
            action="reference.hashed",
            target=reference.id,
            details={"frames": len(hashes)},
        )
        await schedule_retro_match(self._store, reference.id)
        await ctx.complete()
        if not self._settings.references.keep_source:
            self._discard(path)

    # --- shared -------------------------------------------------------------------------------

    async def _hash(self, function: HashFunction, path: Path) -> VideoHashes:
        hashes, seconds = await _timed(self._pooled(function, path))
        _observe_hashing(seconds, hashes)
        return hashes

    async def _pooled(self, function: Callable[[_In], _Out], argument: _In) -> _Out:
        """`function(argument)` in the hashing pool, its failures as job failures: bad or
        over-budget media fail at once (`bad_media`, `too_large_picture`, `too_long`); a
        child that died or overran (`decoder_crashed`, `timeout`) gets one more try."""
        try:
            if isinstance(self._executor, HashingPool):
                return await self._executor.run(function, argument)
            loop = asyncio.get_running_loop()
            return await loop.run_in_executor(self._executor, functools.partial(function, argument))
        except MediaError as exc:
            raise permanent(exc.reason, str(exc)) from exc
        except HashError as exc:
            raise permanent("hash_failed", str(exc)) from exc
        except ChildFailure as exc:
            retries = None if exc.reason == "worker_pool" else CHILD_FAILURE_ATTEMPTS
            raise JobFailure(exc.reason, exc.detail, retryable=True, max_attempts=retries) from exc
        except BrokenProcessPool as exc:
            raise JobFailure("worker_pool", "the hashing process died", retryable=True) from exc


async def _timed(awaitable: Awaitable[_Out]) -> tuple[_Out, float]:
    """What `awaitable` gives, and the wall seconds it took."""
    started = time.perf_counter()
    result = await awaitable
    return result, time.perf_counter() - started


def _observe_hashing(seconds: float, hashes: VideoHashes) -> None:
    if hashes.duration_seconds > 0:
        metrics.hash_seconds_per_media_second.observe(seconds / hashes.duration_seconds)
