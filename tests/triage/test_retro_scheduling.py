"""Scheduling retro-matching: a durable job, delayed so the live index has seen the reference."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

from triage.models import JobKind, JobState
from triage.retro_scheduling import RETRO_DELAY_SECONDS, schedule_retro_match
from triage.store.memory import MemoryStore
from triage.store.policy import DEFAULT_JOB_POLICY
from triage.store.rules import utc_now


async def test_schedule_queues_a_delayed_retro_match_job() -> None:
    store = MemoryStore(policy=replace(DEFAULT_JOB_POLICY, max_attempts=3))
    before = utc_now()
    job = await schedule_retro_match(store, "chair")
    assert (job.kind, job.target_id, job.state, job.max_attempts) == (
        JobKind.RETRO_MATCH,
        "chair",
        JobState.QUEUED,
        3,
    )
    assert job.run_after >= before + timedelta(seconds=RETRO_DELAY_SECONDS)
