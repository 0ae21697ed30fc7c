"""The contract of `Keyframes`, keyframes: kept, listed by time, replaced, and the retention of
query keyframes.

Every test runs on memory, SQLite and PostgreSQL (the `store` fixture)."""

from __future__ import annotations

from datetime import timedelta

import pytest

from tests.triage.store.backends import FakeClock
from triage.errors import NotFound
from triage.models import (
    Keyframe,
)
from triage.store.protocols import Keyframes


def _frame(
    owner: str, millis: int, *, of_reference: bool, jpeg: bytes = b"\xff\xd8jpeg"
) -> Keyframe:
    return Keyframe(owner_id=owner, of_reference=of_reference, timestamp_millis=millis, jpeg=jpeg)


async def test_keyframes_are_kept_listed_by_time_and_replaced(
    store: Keyframes, clock: FakeClock
) -> None:
    await store.put_keyframes(
        [_frame("med_1", 2000, of_reference=False), _frame("med_1", 500, of_reference=False)]
    )
    await store.put_keyframes([_frame("med_1", 2000, of_reference=False, jpeg=b"newer")])
    listed = await store.list_keyframes("med_1")
    assert [(k.timestamp_millis, k.size_bytes) for k in listed] == [(500, 6), (2000, 5)]
    assert (await store.get_keyframe("med_1", 2000)).jpeg == b"newer"
    with pytest.raises(NotFound):
        await store.get_keyframe("med_1", 1000)
    assert await store.list_keyframes("med_2") == []


async def test_retention_drops_old_query_keyframes_only(store: Keyframes, clock: FakeClock) -> None:
    await store.put_keyframes(
        [_frame("med_old", 0, of_reference=False), _frame("ref_a", 0, of_reference=True)]
    )
    clock.advance(3600)
    await store.put_keyframes([_frame("med_new", 0, of_reference=False)])
    dropped = await store.delete_query_keyframes_before(clock() - timedelta(seconds=60))
    assert dropped == 1
    assert await store.list_keyframes("med_old") == []
    assert len(await store.list_keyframes("ref_a")) == 1
    assert len(await store.list_keyframes("med_new")) == 1
