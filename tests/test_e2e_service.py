"""End to end: `triage serve` and `triage worker` as real processes, media from loopback.

One scenario, in order: references uploaded through the API and hashed by workers; queries
submitted by direct URL, through a post page (resolved by yt-dlp) and by upload; edited copies
end `confirmed` on the right reference with segments, unrelated clips `none`, broken inputs
`failed` with their reason while the others finish; a restart keeps everything; a separate
worker SIGKILLed mid-job loses nothing (the job is claimed again once its lease expires).
"""

from __future__ import annotations

import asyncio
import functools
import json
import os
import re
import signal
import socket
import sys
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiohttp import web

from tests.conftest import REPO_ROOT
from tests.workers.media_server import MediaServer

pytestmark = pytest.mark.timeout(240)

REFERENCES = ("ref-chair22", "ref-doorknob", "ref-bunny", "ref-astronaut", "ref-pattern")
# (query, expected reference or None, how it is submitted)
QUERIES: tuple[tuple[str, str | None, str], ...] = (
    ("q-0012", "ref-chair22", "url"),  # reencode_low
    ("q-0038", "ref-chair22", "url"),  # grayscale
    ("q-0054", "ref-astronaut", "url"),  # excerpt
    ("q-0055", "ref-chair22", "post"),  # excerpt, behind a post page
    ("q-0036", "ref-bunny", "upload"),  # grayscale
    ("q-0011", None, "url"),  # unrelated
    ("q-0066", None, "upload"),  # unrelated
)
KILLED_QUERY = ("q-0020", "ref-astronaut")  # fps_change, served slowly
LEASE_SECONDS = 3.0
TRICKLE_SECONDS = 4.0


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _triage_command() -> list[str]:
    script = Path(sys.executable).parent / "triage"
    return [str(script)] if script.exists() else [sys.executable, "-m", "triage.cli"]


def _environment(extra: dict[str, str] | None = None) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.upper().startswith("TRIAGE_")}
    env["PYTHONPATH"] = str(REPO_ROOT)
    env.update(extra or {})
    return env


class Trickle:
    """A loopback server that sends one file slowly, so a worker can be killed mid-fetch."""

    def __init__(self, path: Path, seconds: float) -> None:
        self.path, self.seconds, self.port = path, seconds, 0
        self._runner: web.AppRunner | None = None

    async def _send(self, request: web.Request) -> web.StreamResponse:
        data = self.path.read_bytes()
        response = web.StreamResponse(headers={"Content-Type": "video/mp4"})
        response.content_length = len(data)
        await response.prepare(request)
        steps = 20
        size = -(-len(data) // steps)
        for start in range(0, len(data), size):
            await response.write(data[start : start + size])
            await asyncio.sleep(self.seconds / steps)
        return response

    async def __aenter__(self) -> Trickle:
        app = web.Application()
        app.router.add_get("/slow.mp4", self._send)
        self._runner = web.AppRunner(app, handler_cancellation=True, shutdown_timeout=0.5)
        await self._runner.setup()
        await web.TCPSite(self._runner, "127.0.0.1", 0).start()
        self.port = int(self._runner.addresses[0][1])
        return self

    async def __aexit__(self, *exc: object) -> None:
        if self._runner is not None:
            await self._runner.cleanup()


class Process:
    """A `triage` subprocess with its stderr in a file (read to find the listening line)."""

    def __init__(
        self, name: str, args: list[str], workdir: Path, env: dict[str, str] | None = None
    ) -> None:
        self.log = workdir / f"{name}.log"
        self.args, self.workdir, self.env = args, workdir, env
        self.process: asyncio.subprocess.Process | None = None

    async def start(self) -> None:
        with self.log.open("ab") as log:
            self.process = await asyncio.create_subprocess_exec(
                *_triage_command(),
                *self.args,
                cwd=self.workdir,
                env=_environment(self.env),
                stdin=asyncio.subprocess.DEVNULL,
                stdout=asyncio.subprocess.DEVNULL,
                stderr=log,
            )

    def output(self) -> str:
        return self.log.read_text(errors="replace")

    async def wait_for_line(self, pattern: str, timeout: float = 30.0) -> re.Match[str]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            found = re.search(pattern, self.output())
            if found:
                return found
            if self.process is not None and self.process.returncode is not None:
                break
            await asyncio.sleep(0.1)
        raise AssertionError(f"{pattern!r} never appeared:\n{self.output()[-3000:]}")

    async def stop(self, signum: int = signal.SIGTERM, timeout: float = 30.0) -> int:
        if self.process is None:
            return 0
        if self.process.returncode is not None:
            return self.process.returncode
        self.process.send_signal(signum)
        return await asyncio.wait_for(self.process.wait(), timeout)


async def _cli(workdir: Path, *args: str) -> str:
    process = await asyncio.create_subprocess_exec(
        *_triage_command(),
        *args,
        cwd=workdir,
        env=_environment(),
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await process.communicate()
    assert process.returncode == 0, err.decode()
    return out.decode()


async def _until(
    check: Callable[[], Awaitable[Any]], timeout: float, what: str, interval: float = 0.25
) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        value = await check()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(interval)


class Client:
    def __init__(self, session: aiohttp.ClientSession, keys: dict[str, str]) -> None:
        self.session, self.keys, self.base = session, keys, ""

    def _auth(self, scope: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.keys[scope]}"}

    async def submit_url(self, url: str) -> str:
        async with self.session.post(
            f"{self.base}/v1/submissions", json={"url": url}, headers=self._auth("submit")
        ) as response:
            assert response.status == 202, await response.text()
            return str((await response.json())["id"])

    async def submit_file(self, name: str, data: bytes) -> str:
        form = aiohttp.FormData()
        form.add_field("file", data, filename=name, content_type="application/octet-stream")
        async with self.session.post(
            f"{self.base}/v1/submissions", data=form, headers=self._auth("submit")
        ) as response:
            assert response.status == 202, await response.text()
            return str((await response.json())["id"])

    async def upload_reference(self, path: Path) -> dict[str, Any]:
        form = aiohttp.FormData()
        form.add_field("file", path.read_bytes(), filename=path.name)
        form.add_field("id", path.stem)
        async with self.session.post(
            f"{self.base}/v1/references", data=form, headers=self._auth("admin")
        ) as response:
            assert response.status == 202, await response.text()
            return dict(await response.json())

    async def get(self, path: str, scope: str = "read") -> dict[str, Any]:
        async with self.session.get(f"{self.base}{path}", headers=self._auth(scope)) as response:
            assert response.status == 200, await response.text()
            return dict(await response.json())

    async def finished(self, submission_id: str) -> dict[str, Any] | None:
        view = await self.get(f"/v1/submissions/{submission_id}")
        return view if view["status"] in ("done", "failed") else None


@pytest.fixture
async def session() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=30)) as client:
        yield client


def _write_config(path: Path, data_dir: Path, allow: list[str]) -> None:
    config = {
        "data_dir": str(data_dir),
        "store": {"url": f"sqlite:///{data_dir / 'triage.sqlite3'}"},
        "server": {"host": "127.0.0.1", "port": 0},
        "fetch": {"allow_hosts": allow, "timeout_seconds": 20.0},
        "jobs": {
            "lease_seconds": LEASE_SECONDS,
            "heartbeat_seconds": 1.0,
            "max_attempts": 2,
            "backoff_base_seconds": 0.2,
            "backoff_max_seconds": 1.0,
            "in_process_workers": 2,
            "poll_seconds": 0.2,
        },
    }
    # JSON is YAML: no YAML writer needed.
    path.write_text(json.dumps(config, indent=2))


async def test_service_end_to_end(
    tmp_path: Path, shared_data: Path, session: aiohttp.ClientSession
) -> None:
    bench = shared_data / "bench"
    queries = bench / "queries"
    closed_port = _free_port()  # allowed but nothing listens: unreachable
    async with (
        MediaServer(queries) as media,
        Trickle(queries / f"{KILLED_QUERY[0]}.mp4", TRICKLE_SECONDS) as trickle,
    ):
        config = tmp_path / "config.yaml"
        allow = [media.host_port, f"127.0.0.1:{trickle.port}", f"127.0.0.1:{closed_port}"]
        _write_config(config, tmp_path / "data", allow)
        conf = ["--config", str(config)]

        serve = Process("serve", ["serve", *conf, "--port", "0"], tmp_path)
        await serve.start()
        base = (await serve.wait_for_line(r"listening on (http://\S+)")).group(1)
        assert "triage keys create --scope admin" in serve.output()
        keys = {
            scope: (await _cli(tmp_path, "keys", "create", *conf, "--scope", scope)).strip()
            for scope in ("admin", "submit", "read")
        }
        assert all(k.startswith("tt_") for k in keys.values())
        listed = await _cli(tmp_path, "keys", "list", *conf)
        assert len(listed.splitlines()) == 3 and keys["admin"] not in listed
        client = Client(session, keys)
        client.base = base

        try:
            # References: uploaded videos, hashed by the in-process workers.
            for reference in REFERENCES:
                added = await client.upload_reference(bench / "references" / f"{reference}.mp4")
                assert added["status"] == "pending"

            async def all_active() -> bool:
                listing = await client.get("/v1/references", "admin")
                return all(r["status"] == "active" for r in listing["items"])

            await _until(all_active, 60, "the references to be hashed")

            # Submissions of every kind, broken ones among them.
            expected: dict[str, str | None] = {}
            post_sid = ""
            for query, expect, how in QUERIES:
                name = f"{query}.mp4"
                if how == "url":
                    sid = await client.submit_url(media.url(f"/media/{name}"))
                elif how == "post":
                    sid = post_sid = await client.submit_url(media.url(f"/post/{name}"))
                else:
                    sid = await client.submit_file(name, (queries / name).read_bytes())
                expected[sid] = expect
            duplicate = await client.submit_url(media.url("/media/q-0012.mp4"))
            truncated = (queries / "q-0038.mp4").read_bytes()
            failing = {
                await client.submit_file("noise.mp4", os.urandom(50_000)): "not_media",
                await client.submit_file("cut.mp4", truncated[:20_000]): "bad_media",
                await client.submit_url(f"http://127.0.0.1:{closed_port}/x.mp4"): "unreachable",
                await client.submit_url("http://127.0.0.1:9/private.mp4"): "blocked_address",
            }

            results: dict[str, dict[str, Any]] = {}
            for sid in [*expected, duplicate, *failing]:
                results[sid] = await _until(
                    functools.partial(client.finished, sid), 90, f"submission {sid}"
                )

            for sid, expect in expected.items():
                view = results[sid]
                assert view["status"] == "done", view
                if expect is None:
                    assert view["verdict"] == "none", view
                    continue
                assert view["verdict"] == "confirmed", view
                best = view["matches"][0]
                assert best["reference_id"] == expect
                assert best["label"] == expect
                assert best["segments"] and best["segments"][0]["query_end"] > 0
                assert view["fetch"]["sha256"] and view["fetch"]["content_type"] == "video/mp4"
            post_view = results[post_sid]
            assert post_view["fetch"]["resolver"]["title"].startswith("Post q-0055.mp4")
            assert post_view["fetch"]["final_url"].endswith("/media/q-0055.mp4")
            first = next(iter(expected))
            assert results[duplicate]["verdict"] == results[first]["verdict"] == "confirmed"
            for sid, reason in failing.items():
                view = results[sid]
                assert view["status"] == "failed", view
                assert view["error"]["reason"] == reason, view
            # Fetched media is deleted once hashed (no keep_media).
            assert not any((tmp_path / "data" / "media").iterdir())
        finally:
            assert await serve.stop() == 0, serve.output()[-3000:]

        # Restart without in-process workers: everything is still there.
        restarted = Process(
            "serve2",
            ["serve", *conf, "--port", "0"],
            tmp_path,
            env={"TRIAGE_JOBS__IN_PROCESS_WORKERS": "0"},
        )
        await restarted.start()
        client.base = (await restarted.wait_for_line(r"listening on (http://\S+)")).group(1)
        worker = Process("worker", ["worker", *conf], tmp_path)
        try:
            for sid, view in results.items():
                again = await client.get(f"/v1/submissions/{sid}")
                assert again["status"] == view["status"]
                assert again["verdict"] == view["verdict"]
                assert again["matches"] == view["matches"]

            # A worker killed mid-job: the job comes back once its lease expires.
            killed_sid = await client.submit_url(f"http://127.0.0.1:{trickle.port}/slow.mp4")
            await worker.start()

            async def fetching() -> bool:
                view = await client.get(f"/v1/submissions/{killed_sid}")
                return bool(view["status"] == "fetching")

            await _until(fetching, 30, "the worker to start fetching", interval=0.1)
            await worker.stop(signal.SIGKILL)
            replacement = Process("worker2", ["worker", *conf], tmp_path)
            await replacement.start()
            try:
                view = await _until(lambda: client.finished(killed_sid), 60, "the re-claimed job")
            finally:
                assert await replacement.stop() == 0, replacement.output()[-3000:]
            assert view["verdict"] == "confirmed", view
            assert view["matches"][0]["reference_id"] == KILLED_QUERY[1]
            jobs = await client.get("/v1/jobs", "admin")
            (job,) = [j for j in jobs["items"] if j["state"] == "done" and j["attempts"] == 2]
            assert job["kind"] == "process_media"
        finally:
            await worker.stop(signal.SIGKILL)
            assert await restarted.stop() == 0, restarted.output()[-3000:]
