"""The media pipeline with its real collaborators: loopback fetches, yt-dlp, hashing, matching,
over the memory store. Each test claims one job and runs its handler directly."""

from __future__ import annotations

import asyncio
import hashlib
import subprocess
from collections.abc import AsyncIterator, Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from pathlib import Path

import pytest

from hashes.formats.jsonl import HashListEntry, dumps_record, loads_record
from hashes.video.reference import hash_reference
from tests.workers.media_server import MediaServer
from triage import metrics
from triage.config import Settings, load_settings
from triage.models import JobKind, ReferenceStatus, Verdict
from triage.store.memory import MemoryStore
from triage.store.policy import JobPolicy
from triage.verdicts import VerdictStep
from workers.live_index import LiveIndex
from workers.pipeline import Pipeline
from workers.runner import JobContext, JobFailure
from workers.service import live_index, media_tools

REFERENCE_CLIP = "te-doorknob-hd-no-bar.mp4"
UNRELATED_CLIP = "te-pattern-hd-no-bar.mp4"


@pytest.fixture(scope="module")
def reference_record(shared_data: Path) -> str:
    hashes = hash_reference(shared_data / "sources" / REFERENCE_CLIP)
    return dumps_record(HashListEntry(reference_id="ref-door", hashes=hashes, label="door"))


@pytest.fixture
def executor() -> Iterator[ThreadPoolExecutor]:
    with ThreadPoolExecutor(max_workers=1) as pool:
        yield pool


class World:
    def __init__(
        self, store: MemoryStore, settings: Settings, index: LiveIndex, pipeline: Pipeline
    ) -> None:
        self.store, self.settings, self.index, self.pipeline = store, settings, index, pipeline

    async def run_next(self) -> JobContext:
        """Claim the next job and run its handler once; JobFailure propagates."""
        job = await self.store.claim_job("w1")
        assert job is not None
        ctx = JobContext(self.store, "w1", job)
        await self.pipeline.handlers()[job.kind](ctx)
        return ctx

    async def submit(self, url: str) -> str:
        outcome = await self.store.create_submission(url=url, key_id="key_test")
        return outcome.submission.id


def _world(
    tmp_path: Path, media_server: MediaServer, executor: ThreadPoolExecutor, **extra: str
) -> World:
    settings = load_settings(
        None,
        {
            "TRIAGE_DATA_DIR": str(tmp_path / "data"),
            "TRIAGE_STORE__URL": "memory://",
            "TRIAGE_FETCH__ALLOW_HOSTS": media_server.host_port,
            "TRIAGE_FETCH__TIMEOUT_SECONDS": "20",
            "TRIAGE_JOBS__MAX_ATTEMPTS": "2",
            **extra,
        },
    )
    store = MemoryStore(policy=JobPolicy.from_settings(settings.jobs))
    index = live_index(store, settings)
    pipeline = Pipeline(
        store, index, media_tools(settings), settings, executor, VerdictStep.from_settings(settings)
    )
    return World(store, settings, index, pipeline)


@pytest.fixture
async def world(
    tmp_path: Path,
    media_server: MediaServer,
    executor: ThreadPoolExecutor,
    reference_record: str,
) -> AsyncIterator[World]:
    made = _world(tmp_path, media_server, executor)
    await made.store.add_reference(
        label="door",
        source="test",
        added_by="key_test",
        hash_record=reference_record,
        reference_id="ref-door",
    )
    yield made


async def test_copy_of_a_reference_is_confirmed_with_evidence(
    world: World, media_server: MediaServer
) -> None:
    sid = await world.submit(media_server.url(f"/media/{REFERENCE_CLIP}"))
    await world.run_next()
    detail = await world.store.get_submission(sid)
    assert detail.result is not None and detail.result.verdict is Verdict.CONFIRMED
    best = detail.result.matches[0]
    assert best.reference_id == "ref-door" and best.label == "door"
    assert best.segments and best.segments[0].query_end > best.segments[0].query_start
    # What the matcher saw reaches the moderator: the views that matched, the speed, and
    # how many samples paired how closely along each segment.
    assert "full" in best.views and best.speed == pytest.approx(1.0, abs=0.02)
    assert best.segments[0].matched_frames >= 5
    assert best.segments[0].mean_distance is not None and best.segments[0].mean_distance < 16
    evidence = detail.media.evidence
    assert evidence is not None and evidence.content_type == "video/mp4"
    assert evidence.final_url == media_server.url(f"/media/{REFERENCE_CLIP}")
    assert evidence.resolver is None
    # The fetched copy is gone once hashed.
    assert list(world.settings.media_dir.iterdir()) == []


async def test_unrelated_clip_gets_none(world: World, media_server: MediaServer) -> None:
    sid = await world.submit(media_server.url(f"/media/{UNRELATED_CLIP}"))
    await world.run_next()
    detail = await world.store.get_submission(sid)
    assert detail.result is not None and detail.result.verdict is Verdict.NONE
    assert detail.result.matches == ()


async def test_same_bytes_at_another_url_reuse_the_result(
    world: World, media_server: MediaServer
) -> None:
    first = await world.submit(media_server.url(f"/media/{REFERENCE_CLIP}"))
    await world.run_next()
    second = await world.submit(media_server.url(f"/chunked/{REFERENCE_CLIP}"))
    await world.run_next()
    one = await world.store.get_submission(first)
    two = await world.store.get_submission(second)
    assert two.media.same_as == one.media.id
    assert two.result is not None and one.result is not None
    assert two.result.verdict is one.result.verdict is Verdict.CONFIRMED


async def test_post_page_is_resolved_and_its_metadata_kept(
    world: World, media_server: MediaServer
) -> None:
    sid = await world.submit(media_server.url(f"/post/{REFERENCE_CLIP}"))
    await world.run_next()
    detail = await world.store.get_submission(sid)
    assert detail.result is not None and detail.result.verdict is Verdict.CONFIRMED
    evidence = detail.media.evidence
    assert evidence is not None and evidence.resolver is not None
    assert str(evidence.resolver["title"]).startswith(f"Post {REFERENCE_CLIP}")
    assert evidence.final_url == media_server.url(f"/media/{REFERENCE_CLIP}")


async def test_page_without_media_fails_for_good(world: World, media_server: MediaServer) -> None:
    await world.submit(media_server.url("/page.html"))
    with pytest.raises(JobFailure) as failure:
        await world.run_next()
    assert failure.value.reason == "resolve_failed" and not failure.value.retryable
    assert list(world.settings.media_dir.iterdir()) == []  # nothing left behind


async def test_address_outside_the_allow_list_is_refused(world: World) -> None:
    await world.submit("http://127.0.0.1:9/x.mp4")
    with pytest.raises(JobFailure) as failure:
        await world.run_next()
    assert failure.value.reason == "blocked_address" and not failure.value.retryable


async def test_server_error_is_retryable(world: World, media_server: MediaServer) -> None:
    await world.submit(media_server.url("/status/503"))
    with pytest.raises(JobFailure) as failure:
        await world.run_next()
    assert failure.value.reason == "http_status" and failure.value.retryable
    assert list(world.settings.media_dir.iterdir()) == []


async def test_client_error_is_not_retryable(world: World, media_server: MediaServer) -> None:
    await world.submit(media_server.url("/status/404"))
    with pytest.raises(JobFailure) as failure:
        await world.run_next()
    assert failure.value.reason == "http_status" and not failure.value.retryable


async def test_upload_that_is_not_media_fails(world: World, tmp_path: Path) -> None:
    path = tmp_path / "upload.bin"
    path.write_bytes(b"just some text, not a video\n" * 50)
    await world.store.create_upload_submission(
        upload_path=str(path), sha256="ab" * 32, upload_filename="x.mp4", key_id="key_test"
    )
    with pytest.raises(JobFailure) as failure:
        await world.run_next()
    assert failure.value.reason == "not_media"
    assert not path.exists()


async def test_truncated_upload_is_bad_media(
    world: World, tmp_path: Path, shared_data: Path
) -> None:
    path = tmp_path / "cut.mp4"
    path.write_bytes((shared_data / "sources" / REFERENCE_CLIP).read_bytes()[:20_000])
    await world.store.create_upload_submission(
        upload_path=str(path), sha256="cd" * 32, upload_filename="cut.mp4", key_id="key_test"
    )
    with pytest.raises(JobFailure) as failure:
        await world.run_next()
    assert failure.value.reason == "bad_media" and not failure.value.retryable


async def test_keep_media_keeps_the_fetched_file(
    tmp_path: Path, media_server: MediaServer, executor: ThreadPoolExecutor
) -> None:
    world = _world(tmp_path, media_server, executor, TRIAGE_FETCH__KEEP_MEDIA="true")
    await world.submit(media_server.url(f"/media/{UNRELATED_CLIP}"))
    await world.run_next()
    assert len(list(world.settings.media_dir.iterdir())) == 1


async def test_hash_reference_job_activates_an_uploaded_reference(
    tmp_path: Path,
    media_server: MediaServer,
    executor: ThreadPoolExecutor,
    shared_data: Path,
) -> None:
    world = _world(tmp_path, media_server, executor)
    upload = tmp_path / "upload.mp4"
    upload.write_bytes((shared_data / "sources" / REFERENCE_CLIP).read_bytes())
    await world.store.add_reference(
        label="door", source="door.mp4", added_by="key_test", upload_path=str(upload)
    )
    ctx = await world.run_next()
    assert ctx.job.kind is JobKind.HASH_REFERENCE
    reference = await world.store.get_reference(ctx.job.target_id)
    assert reference.status is ReferenceStatus.ACTIVE
    assert reference.frame_count > 0 and reference.duration_seconds > 3
    assert not upload.exists()
    # The live index picks it up: a copy now matches.
    await world.index.sync()
    assert len(world.index) == 1
    await world.submit(media_server.url(f"/media/{REFERENCE_CLIP}"))
    await world.run_next()
    (match,) = await world.store.list_matches()
    assert match.verdict is Verdict.CONFIRMED


async def test_live_index_follows_disable_enable_and_delete(world: World) -> None:
    assert await world.index.sync() == 1 and len(world.index) == 1
    assert await world.index.sync() == 0  # nothing changed: nothing reapplied
    await world.store.set_reference_status("ref-door", ReferenceStatus.DISABLED)
    await world.index.sync()
    assert len(world.index) == 0
    await world.store.set_reference_status("ref-door", ReferenceStatus.ACTIVE)
    await world.index.sync()
    assert len(world.index) == 1
    await world.store.set_reference_status("ref-door", ReferenceStatus.DELETED)
    await world.index.sync()
    assert len(world.index) == 0 and world.index.loaded


async def test_same_bytes_at_two_urls_at_once_are_hashed_once(
    world: World, media_server: MediaServer
) -> None:
    first = await world.submit(media_server.url(f"/media/{REFERENCE_CLIP}"))
    second = await world.submit(media_server.url(f"/chunked/{REFERENCE_CLIP}"))
    jobs = [await world.store.claim_job(f"w{n}") for n in (1, 2)]
    contexts = [
        JobContext(world.store, f"w{n}", job) for n, job in zip((1, 2), jobs, strict=True) if job
    ]
    assert len(contexts) == 2
    await asyncio.gather(*(world.pipeline.process_media(ctx) for ctx in contexts))
    details = [await world.store.get_submission(sid) for sid in (first, second)]
    assert sorted(d.media.same_as is not None for d in details) == [False, True]
    assert all(d.result is not None and d.result.verdict is Verdict.CONFIRMED for d in details)


async def test_overlapping_syncs_end_on_the_latest_state(world: World) -> None:
    await world.index.sync()
    await world.store.set_reference_status("ref-door", ReferenceStatus.DISABLED)
    first = asyncio.ensure_future(world.index.sync())
    await world.store.set_reference_status("ref-door", ReferenceStatus.ACTIVE)
    await world.store.set_reference_status("ref-door", ReferenceStatus.DISABLED)
    second = asyncio.ensure_future(world.index.sync())
    await asyncio.gather(first, second)
    assert len(world.index) == 0
    assert world.index.version == await world.store.hashlist_version()


async def _stored_views(world: World, media_id: str) -> set[str]:
    (stored,) = [
        q
        for q in await world.store.list_query_hashes(since=datetime(2000, 1, 1, tzinfo=UTC))
        if q.media_id == media_id
    ]
    return {view.value for view in loads_record(stored.query_hashes).hashes.views} or {"full"}


async def test_a_copy_settled_on_its_full_frames_stores_those_and_others_every_view(
    world: World, media_server: MediaServer
) -> None:
    """The other views are hashed only when the full frames leave the match unsettled; the
    stored record holds the views the match searched, for retro-matching."""
    copy = await world.submit(media_server.url(f"/media/{REFERENCE_CLIP}"))
    await world.run_next()
    other = await world.submit(media_server.url(f"/media/{UNRELATED_CLIP}"))
    await world.run_next()
    settled = await world.store.get_submission(copy)
    unsettled = await world.store.get_submission(other)
    assert settled.result is not None and settled.result.verdict is Verdict.CONFIRMED
    assert await _stored_views(world, settled.media.id) == {"full"}
    assert {"full", "region", "flip"} <= await _stored_views(world, unsettled.media.id)


async def test_a_lead_from_every_view_gets_a_closer_look_and_is_confirmed(
    tmp_path: Path, media_server: MediaServer, executor: ThreadPoolExecutor, fine_texture: Path
) -> None:
    """A crop of fine texture between two of the reference's own crops: every view leaves a
    lead only; zoomed parts of the pictures confirm it, and are stored with the rest."""
    world = _world(tmp_path, media_server, executor)
    query = tmp_path / "cropped.mp4"
    subprocess.run(
        ["ffmpeg", "-v", "error", "-y", "-i", str(fine_texture), "-vf", "crop=538:320:0:0",
         str(query)],
        check=True,
    )  # fmt: skip
    hashes = hash_reference(fine_texture)  # with its crops, as a hash-reference job stores it
    record = dumps_record(HashListEntry(reference_id="cells", hashes=hashes), derived=True)
    await world.store.add_reference(
        label="cells", source="test", added_by="key_test", hash_record=record, reference_id="cells"
    )
    closer = metrics.query_looks_total.labels(look="closer")
    before = closer._value.get()
    outcome = await world.store.create_upload_submission(
        upload_path=str(query), sha256=hashlib.sha256(query.read_bytes()).hexdigest(),
        upload_filename="cropped.mp4", key_id="key_test",
    )  # fmt: skip
    await world.run_next()
    detail = await world.store.get_submission(outcome.submission.id)
    assert closer._value.get() == before + 1
    assert detail.result is not None and detail.result.verdict is Verdict.CONFIRMED
    assert detail.result.matches[0].reference_id == "cells"
    assert "zoom" in detail.result.matches[0].views
    assert "zoom" in await _stored_views(world, detail.media.id)


# A crop that no full frame of the doorknob clip shows: found through the reference's own
# crops (its derived views), not by the query's views alone.
DOORKNOB_CROP = "crop=iw*0.75:ih*0.8:iw*0.2:ih*0.05"


async def _submit_upload(world: World, path: Path) -> str:
    outcome = await world.store.create_upload_submission(
        upload_path=str(path), sha256=hashlib.sha256(path.read_bytes()).hexdigest(),
        upload_filename=path.name, key_id="key_test",
    )  # fmt: skip
    return outcome.submission.id


async def test_a_reference_video_is_stored_with_every_view_and_confirms_a_crop(
    tmp_path: Path,
    media_server: MediaServer,
    executor: ThreadPoolExecutor,
    shared_data: Path,
    reference_record: str,
) -> None:
    """The hash_reference job stores the derived views with the full frames; a crop that the
    full frames alone leave at `none` is confirmed."""
    crop = tmp_path / "crop.mp4"
    subprocess.run(
        ["ffmpeg", "-v", "error", "-y", "-i", str(shared_data / "sources" / REFERENCE_CLIP),
         "-t", "8", "-vf", DOORKNOB_CROP, str(crop)],
        check=True,
    )  # fmt: skip
    uploaded = tmp_path / "upload" / REFERENCE_CLIP
    uploaded.parent.mkdir()
    uploaded.write_bytes((shared_data / "sources" / REFERENCE_CLIP).read_bytes())
    world = _world(tmp_path / "video", media_server, executor)
    await world.store.add_reference(
        label="door", source=REFERENCE_CLIP, added_by="key_test", upload_path=str(uploaded),
        reference_id="ref-door",
    )  # fmt: skip
    await world.run_next()  # hash_reference
    reference = await world.store.get_reference("ref-door")
    assert reference.status is ReferenceStatus.ACTIVE and not reference.full_frames_only
    stored = await world.store.get_reference_hashes("ref-door")
    assert stored is not None and "derived_frames" in stored
    copy = tmp_path / "crop-again.mp4"  # the pipeline deletes an upload once it is analysed
    copy.write_bytes(crop.read_bytes())
    sid = await _submit_upload(world, crop)
    await world.run_next()
    detail = await world.store.get_submission(sid)
    assert detail.result is not None and detail.result.verdict is Verdict.CONFIRMED
    assert detail.result.matches[0].reference_id == "ref-door"

    # The same reference with its full frames only (as stored before every view was kept).
    full_only = _world(tmp_path / "full", media_server, executor)
    await full_only.store.add_reference(
        label="door", source="test", added_by="key_test", hash_record=reference_record,
        reference_id="ref-door",
    )  # fmt: skip
    assert (await full_only.store.get_reference("ref-door")).full_frames_only
    sid = await _submit_upload(full_only, copy)
    await full_only.run_next()
    detail = await full_only.store.get_submission(sid)
    assert detail.result is not None and detail.result.verdict is not Verdict.CONFIRMED


# --- keyframes for reviewers ------------------------------------------------------------------


async def test_a_matched_query_keeps_keyframes_at_its_matched_times(
    world: World, media_server: MediaServer
) -> None:
    sid = await world.submit(media_server.url(f"/media/{REFERENCE_CLIP}"))
    await world.run_next()
    detail = await world.store.get_submission(sid)
    assert detail.result is not None and detail.result.best is not None
    frames = await world.store.list_keyframes(detail.media.id)
    assert frames, "no keyframes kept for a confirmed copy"
    segments = detail.result.best.segments
    for frame in frames:
        seconds = frame.timestamp_millis / 1000
        assert any(s.query_start <= seconds <= s.query_end for s in segments)
    kept = await world.store.get_keyframe(detail.media.id, frames[0].timestamp_millis)
    assert kept.jpeg.startswith(b"\xff\xd8") and not kept.of_reference


async def test_a_query_without_a_match_keeps_no_keyframes(
    world: World, media_server: MediaServer
) -> None:
    sid = await world.submit(media_server.url(f"/media/{UNRELATED_CLIP}"))
    await world.run_next()
    detail = await world.store.get_submission(sid)
    assert await world.store.list_keyframes(detail.media.id) == []


async def test_a_hashed_reference_keeps_keyframes_on_its_grid(
    tmp_path: Path,
    media_server: MediaServer,
    executor: ThreadPoolExecutor,
    shared_data: Path,
) -> None:
    world = _world(
        tmp_path, media_server, executor, TRIAGE_KEYFRAMES__REFERENCE_EVERY_SECONDS="1.5"
    )
    upload = tmp_path / "upload.mp4"
    upload.write_bytes((shared_data / "sources" / REFERENCE_CLIP).read_bytes())
    await world.store.add_reference(
        label="door", source="door.mp4", added_by="key_test", upload_path=str(upload)
    )
    ctx = await world.run_next()
    reference = await world.store.get_reference(ctx.job.target_id)
    frames = await world.store.list_keyframes(reference.id)
    assert [f.timestamp_millis for f in frames] == [
        round(i * 1500) for i in range(int(reference.duration_seconds // 1.5) + 1)
    ]
    assert all(f.size_bytes < 40_000 for f in frames)
