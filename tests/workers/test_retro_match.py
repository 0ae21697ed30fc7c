"""Retro-matching: queries analysed before their reference existed get a new verdict."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from hashes.formats.jsonl import HashListEntry, dumps_record
from hashes.formats.vpdq import read_vpdq
from hashes.video.query import hash_query
from triage.config import load_settings
from triage.models import JobKind, JobState, ReferenceStatus, ReviewDecision, Verdict
from triage.store.memory import MemoryStore
from triage.verdicts import VerdictPolicy, VerdictStep
from workers.pipeline import Pipeline
from workers.retro_match import RetroMatcher
from workers.runner import JobContext
from workers.service import live_index, media_tools

REFERENCE = "chair-orig-22-hd-no-bar.txt"
UNRELATED = "doorknob-hd-no-bar.txt"
WORKER = "worker-1"
# Scores of an exact copy are far above 1.0; a policy that sends them to review instead.
CONFIRM_POLICY = VerdictPolicy(1.0, 0.5)
REVIEW_POLICY = VerdictPolicy(1e9, 0.5)

MakeRetro = Callable[..., RetroMatcher]


@pytest.fixture
def vpdq(shared_data: Path) -> Path:
    return shared_data / "interop" / "vpdq"


@pytest.fixture
async def make_retro(tmp_path: Path) -> AsyncIterator[MakeRetro]:
    """RetroMatcher(store, policy, window_days) wired as the service wires it: re-matching
    against the whole list through the pipeline's lookup over a live index of `store`."""
    executor = ThreadPoolExecutor(max_workers=1)

    def make(store: MemoryStore, policy: VerdictPolicy, window_days: float) -> RetroMatcher:
        settings = load_settings(
            None,
            {
                "TRIAGE_DATA_DIR": str(tmp_path),
                "TRIAGE_MATCH__CONFIRM_AT": str(policy.confirm_at),
                "TRIAGE_MATCH__REVIEW_AT": str(policy.review_at),
            },
        )
        verdicts = VerdictStep(policy)
        pipeline = Pipeline(
            store, live_index(store, settings), media_tools(settings), settings, executor, verdicts
        )
        return RetroMatcher(store, verdicts, window_days, pipeline.lookup)

    yield make
    executor.shutdown()


async def _analysed(store: MemoryStore, url: str, hashes_file: Path) -> str:
    return await _analysed_record(
        store, url, dumps_record(HashListEntry(reference_id=url, hashes=read_vpdq(hashes_file)))
    )


async def _analysed_record(store: MemoryStore, url: str, record: str) -> str:
    outcome = await store.create_submission(url=url, key_id="key_x")
    media_id = outcome.submission.media_id
    await store.record_result(media_id, verdict=Verdict.NONE, matches=[], query_hashes=record)
    return media_id


async def _add_reference(store: MemoryStore, hashes_file: Path, reference_id: str) -> None:
    entry = HashListEntry(reference_id=reference_id, hashes=read_vpdq(hashes_file))
    await store.add_reference(
        label=f"label {reference_id}",
        source="test",
        added_by="key_x",
        hash_record=dumps_record(entry),
        reference_id=reference_id,
    )


async def _run_job(store: MemoryStore, retro: RetroMatcher, reference_id: str) -> None:
    await store.enqueue_job(JobKind.RETRO_MATCH, reference_id)
    job = await store.claim_job(WORKER, kinds=[JobKind.RETRO_MATCH])
    assert job is not None
    await retro.handle(JobContext(store=store, worker_id=WORKER, job=job))
    assert (await store.get_job(job.id)).state is JobState.DONE


async def test_new_reference_confirms_an_earlier_query_and_refers_it(
    vpdq: Path, make_retro: MakeRetro
) -> None:
    store = MemoryStore()
    copy = await _analysed(store, "https://a.example/v/1", vpdq / REFERENCE)
    other = await _analysed(store, "https://a.example/v/2", vpdq / UNRELATED)
    await _add_reference(store, vpdq / REFERENCE, "chair")
    retro = make_retro(store, CONFIRM_POLICY, 30)

    await _run_job(store, retro, "chair")

    result = await store.get_result(copy)
    assert result is not None and result.verdict is Verdict.CONFIRMED
    assert result.matches[0].reference_id == "chair"
    assert result.matches[0].label == "label chair" and result.matches[0].segments
    unrelated = await store.get_result(other)
    assert unrelated is not None and unrelated.verdict is Verdict.NONE
    assert [r.url for r in await store.list_referrals()] == ["https://a.example/v/1"]
    audit = [e for e in await store.list_audit() if e.action == "reference.retro_match"]
    assert [(e.actor, e.target, e.details) for e in audit] == [
        ("system", "chair", {"queries_matched": 1})
    ]


async def test_running_again_changes_nothing(vpdq: Path, make_retro: MakeRetro) -> None:
    store = MemoryStore()
    copy = await _analysed(store, "https://a.example/v/1", vpdq / REFERENCE)
    await _add_reference(store, vpdq / REFERENCE, "chair")
    retro = make_retro(store, CONFIRM_POLICY, 30)
    await _run_job(store, retro, "chair")
    first = await store.get_result(copy)
    await _run_job(store, retro, "chair")
    assert await store.get_result(copy) == first
    assert len(await store.list_referrals()) == 1


async def test_a_review_level_match_opens_a_review_item(vpdq: Path, make_retro: MakeRetro) -> None:
    store = MemoryStore()
    copy = await _analysed(store, "https://a.example/v/1", vpdq / REFERENCE)
    await _add_reference(store, vpdq / REFERENCE, "chair")
    await _run_job(store, make_retro(store, REVIEW_POLICY, 30), "chair")
    items = await store.list_review_items()
    assert [i.media_id for i in items] == [copy]
    assert await store.list_referrals() == []


async def test_a_person_s_confirm_is_not_downgraded_by_a_weaker_new_match(
    vpdq: Path, make_retro: MakeRetro
) -> None:
    store = MemoryStore()
    copy = await _analysed(store, "https://a.example/v/1", vpdq / REFERENCE)
    await _add_reference(store, vpdq / REFERENCE, "first")
    retro = make_retro(store, REVIEW_POLICY, 30)
    await _run_job(store, retro, "first")
    (item,) = await store.list_review_items()
    await store.decide_review(item.id, ReviewDecision.CONFIRM, decided_by="key_r")
    await _add_reference(store, vpdq / REFERENCE, "second")
    await _run_job(store, retro, "second")
    result = await store.get_result(copy)
    assert result is not None and result.verdict is Verdict.CONFIRMED
    assert {m.reference_id for m in result.matches} == {"first", "second"}
    assert await store.list_review_items() == []


async def test_queries_older_than_the_window_are_not_matched(
    vpdq: Path, make_retro: MakeRetro
) -> None:
    store = MemoryStore()
    copy = await _analysed(store, "https://a.example/v/1", vpdq / REFERENCE)
    await _add_reference(store, vpdq / REFERENCE, "chair")
    await _run_job(store, make_retro(store, CONFIRM_POLICY, 0), "chair")
    result = await store.get_result(copy)
    assert result is not None and result.verdict is Verdict.NONE


async def test_a_disabled_reference_matches_nothing(vpdq: Path, make_retro: MakeRetro) -> None:
    store = MemoryStore()
    copy = await _analysed(store, "https://a.example/v/1", vpdq / REFERENCE)
    await _add_reference(store, vpdq / REFERENCE, "chair")
    await store.set_reference_status("chair", ReferenceStatus.DISABLED)
    await _run_job(store, make_retro(store, CONFIRM_POLICY, 30), "chair")
    result = await store.get_result(copy)
    assert result is not None and result.verdict is Verdict.NONE


async def test_two_references_retro_matched_together_both_stay_in_the_evidence(
    vpdq: Path, make_retro: MakeRetro
) -> None:
    store = MemoryStore()
    copy = await _analysed(store, "https://a.example/v/1", vpdq / REFERENCE)
    await _add_reference(store, vpdq / REFERENCE, "first")
    await _add_reference(store, vpdq / REFERENCE, "second")
    retro = make_retro(store, CONFIRM_POLICY, 30)
    jobs = []
    for reference_id in ("first", "second"):
        await store.enqueue_job(JobKind.RETRO_MATCH, reference_id)
    for _ in range(2):
        job = await store.claim_job(WORKER, kinds=[JobKind.RETRO_MATCH])
        assert job is not None
        jobs.append(retro.handle(JobContext(store=store, worker_id=WORKER, job=job)))
    await asyncio.gather(*jobs)
    result = await store.get_result(copy)
    assert result is not None and {m.reference_id for m in result.matches} == {"first", "second"}
    assert len(await store.list_referrals()) == 1  # one URL, referred once


async def test_a_bordered_copy_is_found_through_its_stored_derived_views(
    shared_data: Path, vpdq: Path, make_retro: MakeRetro
) -> None:
    # The query has grey side bars: its border-free views are what meet the full-frame
    # reference, which is why the pipeline stores query records with their derived views.
    query = hash_query(shared_data / "sources" / "te-chair-22-sd-grey-bar.mp4")
    record = dumps_record(HashListEntry(reference_id="q", hashes=query), derived=True)
    store = MemoryStore()
    copy = await _analysed_record(store, "https://a.example/v/1", record)
    await _add_reference(store, vpdq / REFERENCE, "chair")
    await _run_job(store, make_retro(store, CONFIRM_POLICY, 30), "chair")
    result = await store.get_result(copy)
    assert result is not None and result.verdict is Verdict.CONFIRMED
    assert result.matches[0].reference_id == "chair"
