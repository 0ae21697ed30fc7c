"""The backup recipe, end to end, on SQLite and on PostgreSQL: `triage backup` while a real
`triage serve` works, the store deleted, `triage restore`, and the service carries on.

A reference (vPDQ import) and a confirmed submission whose referral was delivered; a second
submission, of the same video through a slow server, is mid-fetch during the first backup.
The second backup is taken once it is done, with the service still up. Restored from it,
every table holds exactly what the store held (keys, references, submissions, verdicts,
referrals and the webhook's cursor); restored from the first, the submission caught mid-fetch
is finished by the restarted service.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiohttp import web
from sqlalchemy import MetaData, select
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import create_async_engine

from tests.loopback import OneFileServer
from tests.processes import Process, run_cli, run_triage, until
from tests.test_e2e_service import WEBHOOK_SECRET, Client, WebhookReceiver
from tests.triage.store.backends import POSTGRES_ADMIN_URL, execute_autocommit, postgres_database
from tests.workers.media_server import MediaServer
from triage.store.engine import driver_url
from triage.store.schema import head_revision

pytestmark = pytest.mark.timeout(400)

REFERENCE = "doorknob-hd-no-bar"  # imported as vPDQ hashes
QUERY = "te-doorknob-hd-no-bar.mp4"  # the same video
LEASE_SECONDS = 3.0


@pytest.fixture(params=["sqlite", "postgresql"])
def store_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A place for a store that does not exist yet (`triage migrate --create` makes it)."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'data' / 'triage.sqlite3'}"
        return
    with postgres_database(migrated=False) as url:
        yield url


class GatedServer(OneFileServer):
    """Serves one file from loopback, holding back its second half until `release` is set:
    the submission stays mid-fetch for as long as the test needs."""

    def __init__(self, path: Path) -> None:
        super().__init__(path, "/gated.mp4")
        self.release = asyncio.Event()

    async def write_body(self, response: web.StreamResponse, data: bytes) -> None:
        await response.write(data[: len(data) // 2])
        await self.release.wait()
        await response.write(data[len(data) // 2 :])

    async def close(self) -> None:
        self.release.set()
        await super().close()


async def _delete_store(url: str) -> None:
    if url.startswith("sqlite:///"):
        database = Path(url.removeprefix("sqlite:///"))
        for path in (database, *database.parent.glob(database.name + "-*")):
            path.unlink()
        return
    name = url.rsplit("/", 1)[1]
    await execute_autocommit(
        POSTGRES_ADMIN_URL, f'DROP DATABASE "{name}" WITH (FORCE)', f'CREATE DATABASE "{name}"'
    )


def _every_row(conn: Connection) -> dict[str, list[tuple[Any, ...]]]:
    found = MetaData()
    found.reflect(conn)
    rows = {}
    for table in found.sorted_tables:
        order = list(table.primary_key.columns) or list(table.columns)
        rows[table.name] = [tuple(r) for r in conn.execute(select(table).order_by(*order))]
    return rows


async def _dump(url: str) -> dict[str, list[tuple[Any, ...]]]:
    engine = create_async_engine(driver_url(url))
    try:
        async with engine.connect() as conn:
            return await conn.run_sync(_every_row)
    finally:
        await engine.dispose()


async def _import_reference(client: Client, vpdq: Path) -> None:
    form = aiohttp.FormData()
    form.add_field("file", vpdq.read_bytes(), filename=vpdq.name)
    form.add_field("format", "vpdq")
    async with client.session.post(
        f"{client.base}/v1/references", data=form, headers=client._auth("admin")
    ) as response:
        assert response.status == 201, await response.text()


async def _start(name: str, conf: list[str], workdir: Path, client: Client) -> Process:
    serve = Process(name, ["serve", *conf, "--port", "0"], workdir)
    await serve.start()
    client.base = (await serve.wait_for_line(r"listening on (http://\S+)")).group(1)
    return serve


async def test_backup_while_serving_then_restore_after_the_store_is_lost(
    tmp_path: Path, shared_data: Path, store_url: str
) -> None:
    async with (
        MediaServer(shared_data / "sources") as media,
        GatedServer(shared_data / "sources" / QUERY) as gated,
        WebhookReceiver(failures=0) as receiver,
        aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=30)) as session,
    ):
        config = tmp_path / "config.yaml"
        settings = {
            "data_dir": str(tmp_path / "data"),
            "store": {"url": store_url},
            "fetch": {"allow_hosts": [media.host_port, f"127.0.0.1:{gated.port}",
                                      f"127.0.0.1:{receiver.port}"]},
            "jobs": {"lease_seconds": LEASE_SECONDS, "heartbeat_seconds": 1.0,
                     "in_process_workers": 1, "poll_seconds": 0.2},
            "referrals": {"webhook_url": f"http://127.0.0.1:{receiver.port}/hook",
                          "webhook_secret": WEBHOOK_SECRET},
        }  # fmt: skip
        config.write_text(json.dumps(settings))  # JSON is YAML
        conf = ["--config", str(config)]
        mid_flow, settled = tmp_path / "mid-flow.tar.gz", tmp_path / "settled.tar.gz"

        await run_cli(tmp_path, "migrate", *conf, "--create")
        keys = {
            scope: (await run_cli(tmp_path, "keys", "create", *conf, "--scope", scope)).strip()
            for scope in ("admin", "submit", "read")
        }
        client = Client(session, keys)
        serve = await _start("serve", conf, tmp_path, client)
        try:
            await _import_reference(client, shared_data / "interop" / "vpdq" / f"{REFERENCE}.txt")
            first = await client.submit_url(media.url(f"/media/{QUERY}"))
            view = await until(lambda: client.finished(first), 90, "the first submission")
            assert view["verdict"] == "confirmed", view

            async def delivered() -> bool:
                return bool(receiver.delivered())

            await until(delivered, 30, "the referral's delivery")

            # The same video again, from a slow server: backed up while it is being fetched.
            second = await client.submit_url(f"http://127.0.0.1:{gated.port}/gated.mp4")

            async def fetching() -> bool:
                return bool((await client.get(f"/v1/submissions/{second}"))["status"] == "fetching")

            await until(fetching, 30, "the second submission to be fetched", interval=0.1)
            await run_cli(tmp_path, "backup", *conf, str(mid_flow))
            gated.release.set()

            view = await until(lambda: client.finished(second), 90, "the second submission")
            assert view["verdict"] == "confirmed", view
            answers = {sid: await client.get(f"/v1/submissions/{sid}") for sid in (first, second)}
            referrals = await client.get("/v1/referrals")
        finally:
            assert await serve.stop() == 0, serve.output()[-3000:]
        # Once stopped: background jobs (a retro-match due a few seconds after the import) can
        # no longer change the store between this backup and the rows compared with it.
        await run_cli(tmp_path, "backup", *conf, str(settled))
        assert mid_flow.stat().st_mode & 0o077 == 0  # for its owner only
        before = await _dump(store_url)
        assert before["api_keys"] and before["hash_references"] and before["sink_cursors"]
        # The second copy is the same file: its media row points at the first (same_as).
        assert len(before["submissions"]) == len(before["media"]) == 2
        assert len(before["results"]) == 1

        # The store is lost; the settled backup brings back every row of every table.
        await _delete_store(store_url)
        code, _, err = await run_triage(tmp_path, "serve", *conf, "--port", "0")
        assert code == 2 and "triage migrate" in err
        await run_cli(tmp_path, "restore", *conf, str(settled))
        assert await _dump(store_url) == before
        serve = await _start("serve-restored", conf, tmp_path, client)
        try:
            for sid, answer in answers.items():  # the old keys still open the API
                assert await client.get(f"/v1/submissions/{sid}") == answer
            assert await client.get("/v1/referrals") == referrals
        finally:
            assert await serve.stop() == 0, serve.output()[-3000:]

        # A store that holds data is only replaced on purpose. (The restored service may have
        # run due jobs since, so compare with the store as it is now.)
        current = await _dump(store_url)
        code, _, err = await run_triage(tmp_path, "restore", *conf, str(mid_flow))
        assert code == 2 and "not empty" in err and "--force" in err
        assert await _dump(store_url) == current
        await run_cli(tmp_path, "restore", *conf, "--force", str(mid_flow))
        restored = await _dump(store_url)
        assert restored["api_keys"] == before["api_keys"]
        assert restored["hash_references"] == before["hash_references"]
        assert restored["alembic_version"] == [(head_revision(),)]
        assert len(restored["submissions"]) == 2
        jobs = json.loads(await run_cli(tmp_path, "jobs", "list", *conf, "--json"))
        states = sorted(j["state"] for j in jobs if j["kind"] == "process_media")
        assert states[0] == "done" and states[1] != "done", states  # caught mid-fetch

        # The submission caught mid-fetch is finished once its lease runs out.
        serve = await _start("serve-mid-flow", conf, tmp_path, client)
        try:
            view = await until(lambda: client.finished(second), 90, "the re-claimed job")
            assert view["verdict"] == "confirmed", view
            assert await client.get(f"/v1/submissions/{first}") == answers[first]
        finally:
            assert await serve.stop() == 0, serve.output()[-3000:]
