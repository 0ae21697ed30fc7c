"""Retro-matching: queries analysed before their reference existed get a new verdict."""

from __future__ import annotations

from pathlib import Path

from hashes.formats.jsonl import HashListEntry, dumps_record
from hashes.formats.vpdq import read_vpdq
from hashes.policy import VerdictPolicy
from triage.models import Verdict
from triage.store.memory import MemoryStore
from workers.retro import RetroMatcher
from workers.service import live_index

REFERENCE = "chair-orig-22-hd-no-bar.txt"
UNRELATED = "doorknob-hd-no-bar.txt"


async def _analysed(store: MemoryStore, url: str, vpdq: Path) -> str:
    outcome = await store.create_submission(url=url, key_id="key_x")
    media_id = outcome.submission.media_id
    record = dumps_record(HashListEntry(reference_id=media_id, hashes=read_vpdq(vpdq)))
    await store.record_result(media_id, verdict=Verdict.NONE, matches=[], query_hashes=record)
    return media_id


async def test_new_reference_confirms_an_earlier_query_and_refers_it(shared_data: Path) -> None:
    vpdq = shared_data / "interop" / "vpdq"
    store = MemoryStore()
    index = live_index(store, track_new=True)
    await index.sync()  # the first load: nothing is "new"
    copy = await _analysed(store, "https://a.example/v/1", vpdq / REFERENCE)
    other = await _analysed(store, "https://a.example/v/2", vpdq / UNRELATED)

    reference = read_vpdq(vpdq / REFERENCE)
    record = dumps_record(HashListEntry(reference_id="chair", hashes=reference, label="chair"))
    await store.add_reference(
        label="chair", source="test", added_by="key_x", hash_record=record, reference_id="chair"
    )
    await index.sync()
    reference_id, hashes = index.new_references.get_nowait()
    assert reference_id == "chair"

    retro = RetroMatcher(store, index, VerdictPolicy(1.0, 0.5), window_days=30)
    assert await retro.match_reference(reference_id, hashes) == 1
    result = await store.get_result(copy)
    assert result is not None and result.verdict is Verdict.CONFIRMED
    assert result.matches[0].reference_id == "chair" and result.matches[0].label == "chair"
    unrelated = await store.get_result(other)
    assert unrelated is not None and unrelated.verdict is Verdict.NONE
    assert [r.url for r in await store.list_referrals()] == ["https://a.example/v/1"]
    # Matching again changes nothing: the query already has that reference.
    assert await retro.match_reference(reference_id, hashes) == 0


async def test_first_load_does_not_count_as_new(shared_data: Path) -> None:
    store = MemoryStore()
    hashes = read_vpdq(shared_data / "interop" / "vpdq" / REFERENCE)
    await store.add_reference(
        label="chair",
        source="test",
        added_by="key_x",
        hash_record=dumps_record(HashListEntry(reference_id="chair", hashes=hashes)),
        reference_id="chair",
    )
    index = live_index(store, track_new=True)
    await index.sync()
    assert len(index) == 1 and index.new_references.empty()
