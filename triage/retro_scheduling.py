"""Scheduling retro-matching: a reference that becomes active is matched against the queries
already analysed (`retro_match_days` back), by a durable `retro_match` job.

Called wherever a reference turns active: an import, a finished hashing job, a re-enable.
"""

from __future__ import annotations

from datetime import timedelta

from triage.models import Job, JobKind
from triage.store.protocols import JobQueue
from triage.store.rules import utc_now

RETRO_DELAY_SECONDS = 5.0
"""The job waits this long, so a query matched just before the live index saw the reference
has recorded its result by the time the stored queries are read."""


async def schedule_retro_match(store: JobQueue, reference_id: str) -> Job:
    """Queue retro-matching of `reference_id`; running it twice is harmless."""
    return await store.enqueue_job(
        JobKind.RETRO_MATCH,
        reference_id,
        run_after=utc_now() + timedelta(seconds=RETRO_DELAY_SECONDS),
    )
