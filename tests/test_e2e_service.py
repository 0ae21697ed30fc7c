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
import hashlib
import hmac
import json
import os
import secrets
import shutil
import signal
import subprocess
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiohttp import web
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine

from hashes.formats.jsonl import HashListEntry, dumps_record
from hashes.index import ExactIndex
from hashes.matcher import Matcher
from hashes.video.query import hash_query
from hashes.video.reference import hash_reference
from tests.loopback import LoopbackServer, OneFileServer
from tests.processes import Process, free_port, run_cli, until, write_config
from tests.workers.media_server import MediaServer
from triage.store.engine import driver_url

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(400)]

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


class Trickle(OneFileServer):
    """A loopback server that sends one file slowly, so a worker can be killed mid-fetch."""

    def __init__(self, path: Path, seconds: float) -> None:
        super().__init__(path, "/slow.mp4")
        self.seconds = seconds

    async def write_body(self, response: web.StreamResponse, data: bytes) -> None:
        steps = 20
        size = -(-len(data) // steps)
        for start in range(0, len(data), size):
            await response.write(data[start : start + size])
            await asyncio.sleep(self.seconds / steps)


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
    jobs = {
        "lease_seconds": LEASE_SECONDS,
        "heartbeat_seconds": 1.0,
        "max_attempts": 2,
        "backoff_base_seconds": 0.2,
        "backoff_max_seconds": 1.0,
        "in_process_workers": 2,
        "poll_seconds": 0.2,
    }
    write_config(path, data_dir, fetch={"allow_hosts": allow, "timeout_seconds": 20.0}, jobs=jobs)


async def test_service_end_to_end(
    tmp_path: Path, shared_data: Path, session: aiohttp.ClientSession
) -> None:
    bench = shared_data / "bench"
    queries = bench / "queries"
    closed_port = free_port()  # allowed but nothing listens: unreachable
    async with (
        MediaServer(queries) as media,
        Trickle(queries / f"{KILLED_QUERY[0]}.mp4", TRICKLE_SECONDS) as trickle,
    ):
        config = tmp_path / "config.yaml"
        allow = [media.host_port, f"127.0.0.1:{trickle.port}", f"127.0.0.1:{closed_port}"]
        _write_config(config, tmp_path / "data", allow)
        conf = ["--config", str(config)]

        await run_cli(tmp_path, "migrate", *conf, "--create")
        serve = Process("serve", ["serve", *conf, "--port", "0"], tmp_path)
        await serve.start()
        base = (await serve.wait_for_line(r"listening on (http://\S+)")).group(1)
        assert f"triage keys create --config {config} --scope admin" in serve.output()
        keys = {
            scope: (await run_cli(tmp_path, "keys", "create", *conf, "--scope", scope)).strip()
            for scope in ("admin", "submit", "read")
        }
        assert all(k.startswith("tt_") for k in keys.values())
        listed = await run_cli(tmp_path, "keys", "list", *conf)
        assert len(listed.splitlines()) == 1 + 3 and keys["admin"] not in listed  # header
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

            await until(all_active, 150, "the references to be hashed")

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
                results[sid] = await until(
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

            await until(fetching, 30, "the worker to start fetching", interval=0.1)
            await worker.stop(signal.SIGKILL)
            replacement = Process("worker2", ["worker", *conf], tmp_path)
            await replacement.start()
            try:
                view = await until(lambda: client.finished(killed_sid), 90, "the re-claimed job")
            finally:
                assert await replacement.stop() == 0, replacement.output()[-3000:]
            assert view["verdict"] == "confirmed", view
            assert view["matches"][0]["reference_id"] == KILLED_QUERY[1]
            jobs = await client.get("/v1/jobs", "admin")
            (job,) = [j for j in jobs["items"] if j["id"] == view["job_id"]]
            assert job["kind"] == "process_media"
            assert job["state"] == "done" and job["attempts"] == 2, job
        finally:
            await worker.stop(signal.SIGKILL)
            assert await restarted.stop() == 0, restarted.output()[-3000:]


# --- after the verdict: referrals, webhook, scoped keys, review, retro-matching, metrics, audit


WEBHOOK_SECRET = "e2e-webhook-secret"


class WebhookReceiver(LoopbackServer):
    """Records every delivery; answers 503 to the first `failures` requests."""

    def __init__(self, failures: int) -> None:
        super().__init__(quiet=True)
        self.failures = failures
        self.deliveries: list[tuple[str, int, bool]] = []  # event id, status, signature ok
        self.bodies: dict[str, dict[str, Any]] = {}

    def app(self) -> web.Application:
        app = web.Application()
        app.router.add_post("/hook", self._handle)
        return app

    async def _handle(self, request: web.Request) -> web.Response:
        body = await request.read()
        timestamp = request.headers["X-Triage-Timestamp"]
        expected = hmac.new(
            WEBHOOK_SECRET.encode(), timestamp.encode() + b"." + body, hashlib.sha256
        ).hexdigest()
        signed = request.headers["X-Triage-Signature"] == f"sha256={expected}"
        event_id = request.headers["X-Triage-Event-Id"]
        status = 204
        if self.failures > 0:
            self.failures -= 1
            status = 503
        self.deliveries.append((event_id, status, signed))
        self.bodies[event_id] = json.loads(body)
        return web.Response(status=status)

    def delivered(self) -> list[str]:
        return [event for event, status, _ in self.deliveries if status == 204]


def _excerpt(source: Path, dest: Path, start: float, seconds: float) -> None:
    subprocess.run(
        [
            "ffmpeg",
            "-v",
            "error",
            "-y",
            "-ss",
            str(start),
            "-t",
            str(seconds),
            "-i",
            str(source),
            "-an",
            "-c:v",
            "libx264",
            "-preset",
            "ultrafast",
            str(dest),
        ],
        check=True,
    )


def _samples(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    values = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            values[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return values


def _value(
    samples: dict[tuple[str, tuple[tuple[str, str], ...]], float], name: str, **labels: str
) -> float:
    return samples.get((name, tuple(sorted(labels.items()))), 0.0)


async def test_after_the_verdict_end_to_end(
    tmp_path: Path, shared_data: Path, session: aiohttp.ClientSession
) -> None:
    bench = shared_data / "bench"
    served = tmp_path / "served"
    served.mkdir()
    for name in ("q-0019.mp4", "q-0017.mp4"):
        shutil.copy(bench / "queries" / name, served / name)
    _excerpt(served / "q-0019.mp4", served / "a.mp4", 0.0, 1.2)
    _excerpt(served / "q-0019.mp4", served / "b.mp4", 3.0, 1.2)

    # Scores as the service will compute them (same library, same parameters), so the
    # thresholds put the full copies at `confirmed` and the short excerpts at `review`.
    reference = hash_reference(bench / "references" / "ref-bunny.mp4")
    index = ExactIndex()
    index.add("ref-bunny", reference)
    matcher = Matcher(index)

    def score(path: Path, full_frame_only: bool = False) -> float:
        hashes = hash_query(path)
        found = matcher.match(hashes.full_frame() if full_frame_only else hashes)
        return found[0].score if found else 0.0

    strong = min(score(served / "q-0019.mp4"), score(served / "q-0017.mp4", True))
    weak = [score(served / "a.mp4"), score(served / "b.mp4")]
    assert min(weak) > 0 and max(weak) < strong, (weak, strong)
    confirm_at, review_at = (max(weak) + strong) / 2, min(weak) / 2

    async with MediaServer(served) as media, WebhookReceiver(failures=2) as receiver:
        config = tmp_path / "config.yaml"
        data_dir = tmp_path / "data"
        settings: dict[str, Any] = {
            "data_dir": str(data_dir),
            "store": {"url": f"sqlite:///{data_dir / 'triage.sqlite3'}"},
            "fetch": {
                "allow_hosts": [
                    media.host_port,
                    f"localhost:{media.port}",
                    f"127.0.0.1:{receiver.port}",
                ]
            },
            "match": {"confirm_at": confirm_at, "review_at": review_at},
            "jobs": {
                "lease_seconds": 3.0,
                "heartbeat_seconds": 0.2,
                "max_attempts": 2,
                "backoff_base_seconds": 0.2,
                "backoff_max_seconds": 0.5,
                "in_process_workers": 2,
                "poll_seconds": 0.2,
            },
            "referrals": {
                "webhook_url": f"http://127.0.0.1:{receiver.port}/hook",
                "webhook_secret": WEBHOOK_SECRET,
            },
        }
        config.write_text(json.dumps(settings))
        conf = ["--config", str(config)]
        await run_cli(tmp_path, "migrate", *conf, "--create")
        serve = Process("serve", ["serve", *conf, "--port", "0"], tmp_path)
        await serve.start()
        try:
            base = (await serve.wait_for_line(r"listening on (http://\S+)")).group(1)
            keys = {
                scope: (await run_cli(tmp_path, "keys", "create", *conf, "--scope", scope)).strip()
                for scope in ("admin", "submit", "read", "review")
            }
            keys["platform"] = (
                await run_cli(
                    tmp_path, "keys", "create", *conf, "--scope", "read", "--hosts", "localhost"
                )
            ).strip()
            client = Client(session, keys)
            client.base = base
            local = f"http://localhost:{media.port}"

            async def done(sid: str) -> dict[str, Any]:
                result: dict[str, Any] = await until(
                    functools.partial(client.finished, sid), 120, f"submission {sid}"
                )
                return result

            # Submitted before its reference exists: `none`, then `confirmed` once it is added.
            early = await client.submit_url(media.url("/media/q-0017.mp4"))
            assert (await done(early))["verdict"] == "none"
            record = dumps_record(
                HashListEntry(reference_id="ref-bunny", hashes=reference, label="bunny attack")
            )
            form = aiohttp.FormData()
            form.add_field("file", record.encode(), filename="bunny.jsonl")
            form.add_field("format", "jsonl")
            async with session.post(
                f"{base}/v1/references", data=form, headers=client._auth("admin")
            ) as response:
                assert response.status == 201, await response.text()

            async def retro_confirmed() -> bool:
                view = await client.get(f"/v1/submissions/{early}")
                return bool(view["verdict"] == "confirmed")

            await until(retro_confirmed, 60, "retro-matching")

            copy = await client.submit_url(media.url("/media/q-0019.mp4"))
            again = await client.submit_url(media.url("/media/q-0019.mp4"))
            await done(copy)
            # The same bytes at another URL (once the first is analysed): linked, not hashed.
            elsewhere = await client.submit_url(f"{local}/media/q-0019.mp4")
            doubt_a = await client.submit_url(f"{local}/media/a.mp4")
            doubt_b = await client.submit_url(media.url("/media/b.mp4"))
            broken = await client.submit_file("noise.mp4", os.urandom(20_000))
            views = {sid: await done(sid) for sid in (copy, again, elsewhere, doubt_a, doubt_b)}
            assert [views[s]["verdict"] for s in (copy, again, elsewhere)] == ["confirmed"] * 3
            assert views[doubt_a]["verdict"] == views[doubt_b]["verdict"] == "review"
            assert (await done(broken))["error"]["reason"] == "not_media"

            # Review: confirm refers the content; reject suppresses it from now on.
            items = (await client.get("/v1/review", "review"))["items"]
            by_url = {item["url"]: item["id"] for item in items}
            url_a, url_b = f"{local}/media/a.mp4", media.url("/media/b.mp4")
            assert set(by_url) == {url_a, url_b}
            for url, decision in ((url_a, "confirm"), (url_b, "reject")):
                async with session.post(
                    f"{base}/v1/review/{by_url[url]}",
                    json={"decision": decision},
                    headers=client._auth("review"),
                ) as response:
                    assert response.status == 200, await response.text()
            resubmitted = await client.submit_file("b-again.mp4", (served / "b.mp4").read_bytes())
            view = await client.get(f"/v1/submissions/{resubmitted}")
            assert view["verdict"] == "none" and view["suppressed"], view
            assert (await client.get("/v1/review", "review"))["items"] == []

            # A retry of the failed job, for the audit log.
            job_id = next(
                j["id"] for j in (await client.get("/v1/jobs?state=failed", "admin"))["items"]
            )
            async with session.post(
                f"{base}/v1/jobs/{job_id}/retry", headers=client._auth("admin")
            ) as response:
                assert response.status == 200

            # Referrals: one per confirmed URL, on the API and at the webhook.
            referred = {
                media.url("/media/q-0017.mp4"),
                media.url("/media/q-0019.mp4"),
                f"{local}/media/q-0019.mp4",
                url_a,
            }

            async def all_delivered() -> bool:
                return len(set(receiver.delivered())) == len(referred)

            await until(all_delivered, 60, "webhook deliveries")
            feed = await client.get("/v1/referrals", "read")
            assert {r["url"] for r in feed["items"]} == referred
            ids = [r["id"] for r in feed["items"]]
            assert len(set(ids)) == len(ids) and sorted(receiver.delivered()) == sorted(ids)
            assert all(signed for _, _, signed in receiver.deliveries)
            first = receiver.deliveries[0][0]
            assert [d[:2] for d in receiver.deliveries[:3]] == [
                (first, 503),
                (first, 503),
                (first, 204),
            ]
            assert receiver.bodies[first]["label"] == "bunny attack"
            page = await client.get(f"/v1/referrals?after={feed['next_cursor']}", "read")
            assert page["items"] == []

            # A platform key sees its own host only.
            scoped = await client.get("/v1/referrals", "platform")
            assert [r["url"] for r in scoped["items"]] == [f"{local}/media/q-0019.mp4", url_a]
            scoped_matches = await client.get("/v1/matches", "platform")
            assert [m["url"] for m in scoped_matches["items"]] == [url_a]
            assert len((await client.get("/v1/matches", "read"))["items"]) == 4

            # Metrics after this known run.
            async with session.get(f"{base}/metrics") as response:
                samples = _samples(await response.text())
            expected = [
                ("triage_submissions_total", {"outcome": "new"}, 6),
                ("triage_submissions_total", {"outcome": "deduplicated"}, 2),
                # The copy, and the early query when its reference came (retro-matching).
                ("triage_verdicts_total", {"verdict": "confirmed"}, 2),
                ("triage_verdicts_total", {"verdict": "review"}, 2),
                ("triage_verdicts_total", {"verdict": "none"}, 1),
                ("triage_retro_matches_total", {"verdict": "confirmed"}, 1),
                (
                    "triage_referral_deliveries_total",
                    {"sink": "webhook", "outcome": "delivered"},
                    4,
                ),
                ("triage_referral_deliveries_total", {"sink": "webhook", "outcome": "failed"}, 2),
                ("triage_referral_delivery_lag_seconds", {"sink": "webhook"}, 0),
                ("triage_review_queue_items", {}, 0),
                ("triage_hashlist_references", {}, 1),
                # Every hashing and retro-matching job is finished: none is open.
                ("triage_queue_jobs", {"kind": "hash_reference", "state": "queued"}, 0),
                ("triage_queue_jobs", {"kind": "retro_match", "state": "queued"}, 0),
                ("triage_match_duration_seconds_count", {}, 4),
                ("triage_hash_seconds_per_media_second_count", {}, 4),
            ]
            for name, labels, value in expected:
                assert _value(samples, name, **labels) == value, (name, labels)
            # Each media matched was settled on its full frames, hashed in every view, or
            # given a closer look.
            looks = [
                _value(samples, "triage_query_looks_total", look=look)
                for look in ("full_frames", "every_view", "closer")
            ]
            assert sum(looks) == 4 and looks[0] >= 1, looks
            assert _value(samples, "triage_fetch_bytes_total") > 1_000_000
            # The retried job is open again or has failed again; finished jobs are not counted.
            assert (
                _value(samples, "triage_queue_jobs", kind="process_media", state="queued")
                + _value(samples, "triage_queue_jobs", kind="process_media", state="fetching")
                <= 1
            )
            assert not any(("state", "done") in labels for _, labels in samples)
            assert ("triage_queue_oldest_due_job_wait_seconds", (("kind", "retro_match"),)) in (
                samples
            )
            assert _value(samples, "triage_worker_heartbeats_total") > 0

            # The audit log names each action.
            audit = [
                (e["actor"], e["action"]) for e in (await client.get("/v1/audit", "admin"))["items"]
            ]
            actions = [action for _, action in audit]
            assert actions.count("key.create") == 5 and actions.count("reference.add") == 1
            assert actions.count("review.confirm") == actions.count("review.reject") == 1
            assert actions.count("job.retry") == actions.count("reference.retro_match") == 1
            assert actions.count("referral.delivered") == 4
            listed = await run_cli(tmp_path, "audit", *conf)
            assert len(listed.splitlines()) == 1 + len(audit)  # a header line
        finally:
            assert await serve.stop() == 0, serve.output()[-3000:]


# --- the same service on PostgreSQL, API and worker in separate processes ---------------------

POSTGRES_URL = os.environ.get(
    "TRIAGE_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test"
)


async def _postgres(statement: str) -> None:
    engine = create_async_engine(driver_url(POSTGRES_URL), isolation_level="AUTOCOMMIT")
    try:
        async with engine.connect() as connection:
            await connection.execute(text(statement))
    finally:
        await engine.dispose()


@pytest.fixture
async def postgres_database() -> AsyncIterator[str]:
    """A fresh database for one test, dropped afterwards."""
    name = f"triage_e2e_{secrets.token_hex(4)}"
    await _postgres(f'CREATE DATABASE "{name}"')
    try:
        yield POSTGRES_URL.rsplit("/", 1)[0] + "/" + name
    finally:
        await _postgres(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


async def test_service_on_postgresql_with_a_separate_worker(
    tmp_path: Path,
    shared_data: Path,
    session: aiohttp.ClientSession,
    postgres_database: str,
) -> None:
    async with MediaServer(shared_data / "sources") as media:
        config = tmp_path / "config.yaml"
        settings = {
            "data_dir": str(tmp_path / "data"),
            "store": {"url": postgres_database},
            "fetch": {"allow_hosts": [media.host_port]},
            "jobs": {"in_process_workers": 0, "poll_seconds": 0.2},
        }
        config.write_text(json.dumps(settings))
        conf = ["--config", str(config)]
        await run_cli(tmp_path, "migrate", *conf, "--create")
        serve = Process("serve", ["serve", *conf, "--port", "0"], tmp_path)
        worker = Process("worker", ["worker", *conf], tmp_path)
        await serve.start()
        try:
            base = (await serve.wait_for_line(r"listening on (http://\S+)")).group(1)
            await worker.start()
            keys = {
                scope: (await run_cli(tmp_path, "keys", "create", *conf, "--scope", scope)).strip()
                for scope in ("admin", "submit", "read")
            }
            client = Client(session, keys)
            client.base = base
            # A reference we only have as Meta's vPDQ hashes.
            form = aiohttp.FormData()
            vpdq = shared_data / "interop" / "vpdq" / "chair-orig-22-hd-no-bar.txt"
            form.add_field("file", vpdq.read_bytes(), filename=vpdq.name)
            form.add_field("format", "vpdq")
            async with session.post(
                f"{base}/v1/references", data=form, headers=client._auth("admin")
            ) as response:
                assert response.status == 201, await response.text()
            copy = await client.submit_url(media.url("/media/te-chair-22-sd-grey-bar.mp4"))
            other = await client.submit_url(media.url("/media/te-doorknob-hd-no-bar.mp4"))
            views = {
                sid: await until(functools.partial(client.finished, sid), 120, sid)
                for sid in (copy, other)
            }
            assert views[copy]["verdict"] == "confirmed", views[copy]
            assert views[copy]["matches"][0]["reference_id"] == "chair-orig-22-hd-no-bar"
            assert views[other]["verdict"] == "none", views[other]
        finally:
            assert await worker.stop() == 0, worker.output()[-3000:]
            assert await serve.stop() == 0, serve.output()[-3000:]
