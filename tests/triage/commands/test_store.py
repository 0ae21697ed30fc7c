"""The store a command runs on: opened with the job policy of its settings."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

from triage.commands.store import StoreTarget, with_store
from triage.config import load_settings
from triage.models import JobKind
from triage.store.protocol import Store


async def test_the_store_follows_the_jobs_settings(tmp_path: Path) -> None:
    settings = load_settings(
        None,
        {
            "TRIAGE_DATA_DIR": str(tmp_path / "data"),
            "TRIAGE_STORE__URL": f"sqlite:///{tmp_path / 'triage.sqlite3'}",
            "TRIAGE_JOBS__MAX_ATTEMPTS": "3",
            "TRIAGE_JOBS__LEASE_SECONDS": "40",
        },
    )

    async def work(store: Store) -> int:
        job = await store.enqueue_job(JobKind.PROCESS_MEDIA, "med_1")
        claimed = await store.claim_job("w")
        assert job.max_attempts == 3
        assert claimed is not None and claimed.claimed_at is not None
        assert claimed.lease_expires_at == claimed.claimed_at + timedelta(seconds=40)
        return 0

    assert await with_store(StoreTarget(settings, None), work, create=True) == 0
