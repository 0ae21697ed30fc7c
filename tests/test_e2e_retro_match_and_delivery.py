"""End to end, after the verdict, across processes and a restart.

`triage serve` without in-process workers and one `triage worker` process. Two queries are
analysed before their references exist: a grayscale copy, confirmed once its reference video
is uploaded and hashed (hashing and retro-matching both run in the worker), and a copy with
black side bars, confirmed once a vPDQ list of the bar-free original is imported (its stored
query hashes keep their border-free views). Their referrals, refused by the webhook receiver
while the first `serve` runs, are delivered by the restarted one with the same event ids (the
sink cursor lives in the store). The exported hash list then answers lookups as vPDQ lines
and as a JSONL record, and `triage audit` lists what happened.
"""

from __future__ import annotations

import io
import json
import zipfile
from functools import partial
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from hashes.formats.jsonl import loads_record
from tests.processes import Process, run_cli, until
from tests.test_e2e_service import WEBHOOK_SECRET, Client, WebhookReceiver
from tests.workers.media_server import MediaServer

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(180)]

QUERY = "q-0036.mp4"  # a grayscale copy of ref-bunny
REFERENCE = "ref-bunny"
BARRED = "te-chair-19-sd-bar.mp4"  # side bars, first 3.7 s cut
BARRED_REFERENCE = "chair-orig-22-hd-no-bar"  # known to us only as Meta's vPDQ hashes
REFUSE_ALL = 1_000_000


def _config(path: Path, data_dir: Path, allow: list[str], webhook_url: str) -> None:
    settings: dict[str, Any] = {
        "data_dir": str(data_dir),
        "store": {"url": f"sqlite:///{data_dir / 'triage.sqlite3'}"},
        "fetch": {"allow_hosts": allow},
        "jobs": {
            "lease_seconds": 3.0,
            "heartbeat_seconds": 1.0,
            "backoff_base_seconds": 0.2,
            "backoff_max_seconds": 0.5,
            "in_process_workers": 0,
            "poll_seconds": 0.2,
        },
        "referrals": {"webhook_url": webhook_url, "webhook_secret": WEBHOOK_SECRET},
    }
    path.write_text(json.dumps(settings))  # JSON is YAML


async def _post(
    session: aiohttp.ClientSession, url: str, key: str, body: bytes, content_type: str
) -> dict[str, Any]:
    headers = {"Authorization": f"Bearer {key}", "Content-Type": content_type}
    async with session.post(url, data=body, headers=headers) as response:
        assert response.status == 200, await response.text()
        return dict(await response.json())


async def test_retro_match_in_a_worker_and_delivery_after_a_restart(
    tmp_path: Path, shared_data: Path
) -> None:
    bench = shared_data / "bench"
    async with (
        MediaServer(bench / "queries") as media,
        MediaServer(shared_data / "sources") as sources,
        WebhookReceiver(failures=REFUSE_ALL) as receiver,
        aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=30)) as session,
    ):
        config = tmp_path / "config.yaml"
        allow = [media.host_port, sources.host_port, f"127.0.0.1:{receiver.port}"]
        _config(config, tmp_path / "data", allow, f"http://127.0.0.1:{receiver.port}/hook")
        conf = ["--config", str(config)]
        await run_cli(tmp_path, "migrate", *conf, "--create")
        serve = Process("serve", ["serve", *conf, "--port", "0"], tmp_path)
        worker = Process("worker", ["worker", *conf, "--slots", "1"], tmp_path)
        await serve.start()
        try:
            base = (await serve.wait_for_line(r"listening on (http://\S+)")).group(1)
            keys = {
                scope: (await run_cli(tmp_path, "keys", "create", *conf, "--scope", scope)).strip()
                for scope in ("admin", "submit", "read")
            }
            client = Client(session, keys)
            client.base = base
            await worker.start()

            # Analysed before their references exist: `none`.
            early = await client.submit_url(media.url(f"/media/{QUERY}"))
            barred = await client.submit_url(sources.url(f"/media/{BARRED}"))
            for sid in (early, barred):
                view = await until(partial(client.finished, sid), 60, f"query {sid}")
                assert view["verdict"] == "none", view

            # The reference video is hashed by the worker, which then retro-matches it.
            added = await client.upload_reference(bench / "references" / f"{REFERENCE}.mp4")
            assert added["status"] == "pending"

            async def confirmed(sid: str) -> bool:
                view = await client.get(f"/v1/submissions/{sid}")
                return bool(view["verdict"] == "confirmed")

            await until(partial(confirmed, early), 60, "retro-matching in the worker")
            view = await client.get(f"/v1/submissions/{early}")
            assert view["matches"][0]["reference_id"] == REFERENCE
            assert view["matches"][0]["segments"]

            # Imported hashes of the bar-free original find the copy with bars.
            hashes = (shared_data / "interop" / "vpdq" / f"{BARRED_REFERENCE}.txt").read_bytes()
            form = aiohttp.FormData()
            form.add_field("file", hashes, filename=f"{BARRED_REFERENCE}.txt")
            form.add_field("format", "vpdq")
            async with session.post(
                f"{base}/v1/references",
                data=form,
                headers={"Authorization": f"Bearer {keys['admin']}"},
            ) as response:
                assert response.status == 201, await response.text()
            await until(partial(confirmed, barred), 60, "retro-matching of the import")
            view = await client.get(f"/v1/submissions/{barred}")
            assert view["matches"][0]["reference_id"] == BARRED_REFERENCE

            jobs = (await client.get("/v1/jobs", "admin"))["items"]
            assert sorted((j["kind"], j["state"]) for j in jobs) == [
                ("hash_reference", "done"),
                ("process_media", "done"),
                ("process_media", "done"),
                ("retro_match", "done"),
                ("retro_match", "done"),
            ]
            referrals = (await client.get("/v1/referrals"))["items"]
            assert [r["url"] for r in referrals] == [
                media.url(f"/media/{QUERY}"),
                sources.url(f"/media/{BARRED}"),
            ]
            ids = [r["id"] for r in referrals]

            async def refused() -> bool:
                return any(event == ids[0] for event, _, _ in receiver.deliveries)

            await until(refused, 30, "a refused delivery")
            assert receiver.delivered() == []
        finally:
            codes = (await worker.stop(), await serve.stop())
            assert codes == (0, 0), worker.output()[-2000:] + serve.output()[-2000:]

        # The receiver recovers; the restarted service delivers what the first could not.
        receiver.failures = 0
        restarted = Process("serve2", ["serve", *conf, "--port", "0"], tmp_path)
        await restarted.start()
        try:
            client.base = (await restarted.wait_for_line(r"listening on (http://\S+)")).group(1)

            async def delivered() -> bool:
                return len(receiver.delivered()) == len(ids)

            await until(delivered, 30, "the deliveries after the restart")
            assert receiver.delivered() == ids  # in order, each once
            assert {event for event, _, _ in receiver.deliveries} == set(ids)
            assert all(signed for _, _, signed in receiver.deliveries)
            assert [receiver.bodies[i]["url"] for i in ids] == [r["url"] for r in referrals]

            # The exported list answers lookups, as vPDQ lines and as a JSONL record.
            admin = {"Authorization": f"Bearer {keys['admin']}"}
            async with session.get(
                f"{client.base}/v1/references/export?format=jsonl", headers=admin
            ) as response:
                assert response.status == 200
                exported = {
                    loads_record(line).reference_id: line.encode()
                    for line in (await response.text()).splitlines()
                }
            assert set(exported) == {REFERENCE, BARRED_REFERENCE}
            record = exported[REFERENCE]
            async with session.get(
                f"{client.base}/v1/references/export?format=vpdq", headers=admin
            ) as response:
                assert response.status == 200
                with zipfile.ZipFile(io.BytesIO(await response.read())) as archive:
                    vpdq = archive.read(f"{REFERENCE}.txt")
            lookup = f"{client.base}/v1/lookup"
            for body, content_type in ((vpdq, "text/plain"), (record, "application/x-ndjson")):
                answer = await _post(session, lookup, keys["read"], body, content_type)
                assert answer["verdict"] == "confirmed", answer
                assert answer["matches"][0]["reference_id"] == REFERENCE
            # Lookups store nothing.
            assert len((await client.get("/v1/matches"))["items"]) == 2

            audit = await run_cli(tmp_path, "audit", *conf)
            actions = [line.split("\t")[3] for line in audit.splitlines()[1:]]
            for action in (
                "key.create",
                "reference.add",
                "reference.hashed",
                "reference.retro_match",
                "referral.delivered",
            ):
                assert action in actions, audit
            assert actions.count("referral.delivered") == 2
            newest = await run_cli(tmp_path, "audit", *conf, "--limit", "1")
            assert newest.splitlines()[1:] == audit.splitlines()[-1:]
        finally:
            assert await restarted.stop() == 0, restarted.output()[-3000:]
