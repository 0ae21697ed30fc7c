"""What `triage serve` adds to `/readyz`: the index, free space in data_dir, and a webhook
destination the address guard refuses (a configuration error, logged at start)."""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path

import pytest

from triage.config import Settings, load_settings
from triage.store.memory import MemoryStore
from workers.service import WorkerService


def _settings(tmp_path: Path, **extra: str) -> Settings:
    return load_settings(
        None,
        {
            "TRIAGE_DATA_DIR": str(tmp_path / "data"),
            "TRIAGE_STORE__URL": "memory://",
            "TRIAGE_REFERRALS__WEBHOOK_URL": "http://127.0.0.1:9/hook",
            "TRIAGE_REFERRALS__WEBHOOK_SECRET": "s3cret",
            **extra,
        },
    )


async def test_a_refused_webhook_destination_is_logged_at_start_and_not_ready(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    async with WorkerService(MemoryStore(), _settings(tmp_path), slots=0, primary=True) as service:
        checks = service.readiness()
        assert checks["webhook"]() is None  # not checked yet
        stop = asyncio.Event()
        with caplog.at_level(logging.ERROR):
            task = asyncio.create_task(service.run(stop))
            for _ in range(500):
                if checks["webhook"]() is not None:
                    break
                await asyncio.sleep(0.01)
            stop.set()
            await asyncio.wait_for(task, 10)
    problem = checks["webhook"]()
    assert problem is not None and "127.0.0.1:9 (loopback)" in problem
    assert "fetch.allow_hosts" in problem
    assert any("configuration error" in r.getMessage() for r in caplog.records)


async def test_an_allowed_destination_and_free_space_are_ready(tmp_path: Path) -> None:
    settings = _settings(tmp_path, TRIAGE_FETCH__ALLOW_HOSTS="127.0.0.1:9")
    async with WorkerService(MemoryStore(), settings, slots=0, primary=True) as service:
        assert service.relay is not None
        assert await service.relay.check_destination() is None
        await service.index.sync()
        problems = {name: check() for name, check in service.readiness().items()}
    assert problems == {"index": None, "disk": None, "webhook": None}


async def test_too_little_free_space_is_not_ready(tmp_path: Path) -> None:
    settings = _settings(tmp_path, TRIAGE_DATA_MIN_FREE_BYTES=str(2**62))
    async with WorkerService(MemoryStore(), settings, slots=0) as service:
        problem = service.readiness()["disk"]()
    assert problem is not None and problem.startswith("disk_full: ")
