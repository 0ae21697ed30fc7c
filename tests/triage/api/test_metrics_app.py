"""The worker's metrics server: the registry with the store's gauges fresh on each scrape."""

from __future__ import annotations

import socket

import aiohttp
import pytest
from prometheus_client.parser import text_string_to_metric_families

from triage.api.metrics_app import serve_metrics
from triage.errors import ConfigError
from triage.models import JobKind
from triage.store.memory import MemoryStore


def _sample(text: str, name: str, **labels: str) -> float:
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.name == name and sample.labels == labels:
                return float(sample.value)
    raise AssertionError(f"{name}{labels} not in the scrape")


async def test_scrape_reads_the_queue_from_the_store_each_time() -> None:
    store = MemoryStore()
    async with (
        serve_metrics(store, "127.0.0.1", 0) as port,
        aiohttp.ClientSession() as session,
    ):
        url = f"http://127.0.0.1:{port}/metrics"
        async with session.get(url) as response:
            before = await response.text()
        await store.enqueue_job(JobKind.HASH_REFERENCE, "ref-1")
        await store.enqueue_job(JobKind.HASH_REFERENCE, "ref-2")
        async with session.get(url) as response:
            after = await response.text()
        async with session.get(f"http://127.0.0.1:{port}/healthz") as response:
            assert response.status == 200
    queued = {"kind": "hash_reference", "state": "queued"}
    assert _sample(before, "triage_queue_jobs", **queued) == 0
    assert _sample(after, "triage_queue_jobs", **queued) == 2
    assert _sample(after, "triage_queue_jobs", kind="process_media", state="queued") == 0


async def test_a_taken_port_is_a_config_error_naming_it() -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        with pytest.raises(ConfigError, match=f"cannot serve metrics on 127.0.0.1:{port}"):
            async with serve_metrics(MemoryStore(), "127.0.0.1", port):
                pass
