"""Every series the dashboard and the alert rules query is exported by a running `triage serve`
and a running `triage worker --metrics-port` (real processes on a SQLite store)."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import pytest
from prometheus_client.parser import text_string_to_metric_families

from tests.deploy.tools import metrics_used
from tests.processes import Process, until, write_config

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(120)]

_TYPE_LINE = re.compile(r"^# TYPE (\S+) (\S+)$", re.M)


def exported_series(text: str) -> set[str]:
    """The series names a scrape offers: a histogram's _bucket, _count and _sum, a counter's
    _total, a gauge's own name; a family with no sample yet (labels never used) counts too."""
    names = set()
    for name, kind in _TYPE_LINE.findall(text):
        if kind in ("histogram", "summary"):
            names |= {f"{name}_bucket", f"{name}_count", f"{name}_sum"}
        names.add(name)
    return names


def _samples(text: str) -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
    return {
        (sample.name, frozenset(sample.labels.items())): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


@pytest.fixture
async def processes(tmp_path: Path) -> AsyncIterator[tuple[str, str]]:
    """A serve and a worker on one SQLite store; yields the two /metrics URLs."""
    config = write_config(
        tmp_path / "config.yaml",
        tmp_path / "data",
        jobs={"in_process_workers": 1, "poll_seconds": 0.2},
        logging={"format": "json"},
    )
    serve = Process("serve", ["serve", "--config", str(config), "--migrate"], tmp_path)
    worker = Process("worker", ["worker", "--config", str(config), "--metrics-port", "0"], tmp_path)
    await serve.start()
    try:
        base = (await serve.wait_for_line(r"listening on (http://\S+)")).group(1)
        # The worker starts once serve has migrated the store.
        await worker.start()
        try:
            found = await worker.wait_for_line(r"metrics on (http://\S+/metrics)")
            yield f"{base}/metrics", found.group(1)
        finally:
            assert await worker.stop() == 0, worker.output()[-3000:]
    finally:
        assert await serve.stop() == 0, serve.output()[-3000:]


async def _scrape(session: aiohttp.ClientSession, url: str) -> str:
    async with session.get(url) as response:
        assert response.status == 200
        assert response.content_type == "text/plain"
        return await response.text()


async def test_every_metric_of_the_dashboard_and_alerts_is_exported_by_serve_and_worker(
    processes: tuple[str, str],
) -> None:
    serve_url, worker_url = processes
    used = metrics_used()
    # The queries name the metrics of each concern of the dashboard and the alerts.
    assert {
        "triage_queue_oldest_due_job_wait_seconds",
        "triage_worker_last_heartbeat_timestamp_seconds",
        "triage_referral_delivery_lag_seconds",
        "triage_fetch_errors_total",
        "triage_match_duration_seconds_bucket",
        "triage_review_queue_items",
    } <= used
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=30)) as session:
        for url in (serve_url, worker_url):
            missing = used - exported_series(await _scrape(session, url))
            assert missing == set(), f"{url} does not export {sorted(missing)}"


async def test_worker_scrape_reports_the_store_and_an_idle_heartbeat(
    processes: tuple[str, str],
) -> None:
    _, worker_url = processes
    heartbeat: tuple[str, frozenset[tuple[str, str]]] = (
        "triage_worker_last_heartbeat_timestamp_seconds",
        frozenset(),
    )
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=30)) as session:
        async with session.get(worker_url.replace("/metrics", "/healthz")) as response:
            assert response.status == 200

        async def beating() -> dict[tuple[str, frozenset[tuple[str, str]]], float] | None:
            # The metrics port opens before the workers' first poll of the store.
            samples = _samples(await _scrape(session, worker_url))
            return samples if samples[heartbeat] > 0 else None

        samples = await until(beating, 30, "the idle worker's first heartbeat")
    # The store's queue, refreshed on this scrape: per kind, nothing waiting.
    due = ("triage_queue_oldest_due_job_wait_seconds", frozenset({("kind", "process_media")}))
    assert samples[due] == 0.0
    queued = frozenset({("kind", "hash_reference"), ("state", "queued")})
    assert samples[("triage_queue_jobs", queued)] == 0.0
    # One slot and the long lane's (jobs.long_lane_slots), alive although no job ever ran.
    assert samples[("triage_worker_slots", frozenset())] == 2.0
    # And it keeps beating while idle.
    first = samples[heartbeat]
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=30)) as session:

        async def moved() -> bool:
            return bool(_samples(await _scrape(session, worker_url))[heartbeat] > first)

        await until(moved, 30, "a later heartbeat of the idle worker")
