"""Fixtures shared by every test package."""

from __future__ import annotations

import subprocess
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

from tests.triage.store.backends import (
    BACKENDS,
    CONTRACT_POLICY,
    FakeClock,
    migrated_sqlite_file,
    open_migrated,
    postgres_database,
    store_url,
)
from triage.store import JobPolicy, Store

REPO_ROOT = Path(__file__).resolve().parents[1]
# The shared data sets live beside the repository, never inside it.
SHARED_DATA_DIR = REPO_ROOT / ".." / "shared" / "data"

# A test that uses one of these fixtures (directly or through another fixture) gets the mark.
MARK_BY_FIXTURE = {
    "shared_data": "media",
    "fine_texture": "media",
    "media_server": "media",
    "postgres_url": "postgres",
    "postgres_database": "postgres",
}
# Backend fixtures (`store`, `sql_url`) pick PostgreSQL by this parameter, at run time.
POSTGRES_PARAM = "postgresql"


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Marks tests by what their fixtures imply (the marks are registered in pyproject.toml)."""
    for item in items:
        fixtures = set(getattr(item, "fixturenames", ()))
        marks = {mark for fixture, mark in MARK_BY_FIXTURE.items() if fixture in fixtures}
        callspec = getattr(item, "callspec", None)
        params = callspec.params.values() if callspec is not None else ()
        if any(isinstance(value, str) and value == POSTGRES_PARAM for value in params):
            marks.add("postgres")
        for mark in sorted(marks):
            item.add_marker(mark)


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """The shared data folder (sources, bench, interop), read-only."""
    if not SHARED_DATA_DIR.is_dir():
        pytest.fail(f"shared data not found beside the repository: {SHARED_DATA_DIR}")
    return SHARED_DATA_DIR


@pytest.fixture(scope="session")
def fine_texture(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """6 s of a cellular automaton, cells a few pixels wide: PDQ meets a crop of it only when
    the crop lies within a percent or two of one of the reference's own."""
    out = tmp_path_factory.mktemp("footage") / "cells.mp4"
    subprocess.run(
        ["ffmpeg", "-v", "error", "-y", "-f", "lavfi", "-i",
         "cellauto=s=320x180:r=30:rule=110:ratio=0.5:seed=7", "-t", "6",
         "-vf", "scale=640:360:flags=neighbor", "-pix_fmt", "yuv420p", str(out)],
        check=True,
    )  # fmt: skip
    return out


# --- stores: one fixture per backend, and `store` running a test on every backend ---------------


@pytest.fixture(scope="session")
def postgres_url() -> Iterator[str]:
    """A fresh PostgreSQL database for this test session (dropped at the end)."""
    with postgres_database() as url:
        yield url


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A migrated, empty SQLite file; the `store` fixture copies it for each test."""
    return migrated_sqlite_file(tmp_path_factory.mktemp("sqlite-template"))


@pytest.fixture
def clock() -> FakeClock:
    """The stores' clock; `clock.advance(seconds)` moves time for leases and backoff."""
    return FakeClock()


@pytest.fixture
def job_policy() -> JobPolicy:
    """The stores' job policy; `with_job_policy(...)` on a test gives it another."""
    return CONTRACT_POLICY


@pytest.fixture(params=BACKENDS)
async def store(
    request: pytest.FixtureRequest, tmp_path: Path, clock: FakeClock, job_policy: JobPolicy
) -> AsyncIterator[Store]:
    """A migrated, empty store, once per backend: memory, SQLite file, PostgreSQL."""
    backend = str(request.param)
    postgres = request.getfixturevalue("postgres_url") if backend == "postgresql" else None
    template = request.getfixturevalue("sqlite_template") if backend == "sqlite" else None
    url = store_url(backend, tmp_path, postgres_url=postgres, sqlite_template=template)
    opened = await open_migrated(url, clock, job_policy)
    yield opened
    await opened.close()
