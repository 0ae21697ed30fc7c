"""End to end: `triage serve` writes the index snapshot after references are added; started
again, it and a separate `triage worker` open the snapshot instead of reading the list from the
store, and lookups still find the references."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import aiohttp
import numpy as np
import pytest

from hashes.video.params import ReferenceParams
from tests.hashes.index_contract import clustered_reference
from tests.processes import Process, run_cli, until, write_config
from tests.workers.hash_list import hash_record

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(300)]

REFERENCES = ("ref-a", "ref-b", "ref-c")


async def _serve(name: str, workdir: Path, conf: list[str]) -> tuple[Process, str]:
    serve = Process(name, ["serve", *conf, "--port", "0"], workdir)
    await serve.start()
    base = (await serve.wait_for_line(r"listening on (http://\S+)")).group(1)
    return serve, base


async def _ready(session: aiohttp.ClientSession, base: str) -> bool:
    async with session.get(f"{base}/readyz") as response:
        return response.status == 200


async def test_a_restarted_serve_and_a_worker_start_from_the_snapshot(tmp_path: Path) -> None:
    data = tmp_path / "data"
    config = write_config(
        tmp_path / "config.yaml",
        data,
        index={"kind": "multihash", "snapshot_after_changes": 1},
        jobs={"in_process_workers": 0, "poll_seconds": 0.2},
        logging={"format": "text"},
    )
    conf = ["--config", str(config)]
    await run_cli(tmp_path, "migrate", *conf, "--create")
    admin = (await run_cli(tmp_path, "keys", "create", *conf, "--scope", "admin")).strip()
    headers = {"Authorization": f"Bearer {admin}"}
    rng = np.random.default_rng(5)
    # Of the design the service hashes references with: another would be refused.
    design = ReferenceParams().design
    records = {
        name: hash_record(name, dataclasses.replace(clustered_reference(rng), view_design=design))
        for name in REFERENCES
    }

    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=30)) as session:
        serve, base = await _serve("serve", tmp_path, conf)
        try:
            await until(lambda: _ready(session, base), 30, "the first start to be ready")
            form = aiohttp.FormData()
            form.add_field("file", "\n".join(records.values()).encode(), filename="list.jsonl")
            form.add_field("format", "jsonl")
            async with session.post(f"{base}/v1/references", data=form, headers=headers) as r:
                assert r.status == 201, await r.text()
            await serve.wait_for_line(r"index snapshot written to \S+ in [\d.]+ s: version \d+, 3")
        finally:
            assert await serve.stop() == 0, serve.output()[-3000:]
        assert "hash list loaded from the store" in serve.output()

        serve, base = await _serve("serve-again", tmp_path, conf)
        worker = Process("worker", ["worker", *conf, "--slots", "1"], tmp_path)
        await worker.start()
        try:
            await serve.wait_for_line(r"hash list loaded from the snapshot in [\d.]+ s")
            await worker.wait_for_line(r"hash list loaded from the snapshot in [\d.]+ s", 60)
            await until(lambda: _ready(session, base), 30, "the restart to be ready")
            async with session.get(f"{base}/metrics") as response:
                page = await response.text()
            assert 'triage_index_load_seconds{source="snapshot"}' in page
            assert "triage_hashlist_references 3.0" in page
            lookup_headers = {**headers, "Content-Type": "application/x-ndjson"}
            async with session.post(
                f"{base}/v1/lookup", data=records["ref-b"].encode(), headers=lookup_headers
            ) as response:
                answer = await response.json()
            assert response.status == 200, answer
            assert answer["matches"][0]["reference_id"] == "ref-b", answer
        finally:
            assert await worker.stop() == 0, worker.output()[-3000:]
            assert await serve.stop() == 0, serve.output()[-3000:]
        for process in (serve, worker):
            assert "index snapshot ignored" not in process.output()
            assert "3 references changed since" not in process.output()
