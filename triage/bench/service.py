"""The bench through the service: a real `triage serve`, fed the way its users feed it.

A temporary store and the bench's settings file (`--config`; the shipped `config.yaml` when
none) with two changes, both printed: the store URL
(a SQLite file in a temporary folder) and `fetch.allow_hosts` (the loopback server that serves
the queries). References go in through `POST /v1/references`, as video uploads or as the JSONL
list that `triage hash` makes; every query is submitted as a link; the verdicts and evidence
the API returns are scored with the same rules as `triage bench`.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import re
import sys
import tempfile
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import Any

import aiohttp
import yaml
from aiohttp import web

from hashes.types import Segment, VideoMatch
from triage.bench.manifest import Manifest, QueryEntry
from triage.bench.scoring import QueryOutcome
from triage.errors import TriageError
from triage.models import Verdict

SHIPPED_CONFIG = Path(__file__).resolve().parents[2] / "config.yaml"
# Generous bounds: every query of the bench is hashed by one in-process worker slot.
START_SECONDS = 60.0
REFERENCE_SECONDS = 900.0
VERDICT_SECONDS = 3600.0
POLL_SECONDS = 0.25
SCORE_TOLERANCE = 0.01  # relative: the same matcher on the same frames, rounding aside


class ServiceBenchError(TriageError):
    """The service could not be started or fed, or it failed a query."""


class ReferenceInput(StrEnum):
    """How references reach the service."""

    VIDEO = "video"  # uploaded, hashed by the service's worker
    JSONL = "jsonl"  # hashed by `triage hash`, imported as a list


def triage_command() -> list[str]:
    """The `triage` of this installation."""
    script = Path(sys.executable).parent / "triage"
    return [str(script)] if script.exists() else [sys.executable, "-m", "triage.cli"]


def _environment() -> dict[str, str]:
    # The shipped config decides, not this shell's TRIAGE_* settings.
    return {k: v for k, v in os.environ.items() if not k.upper().startswith("TRIAGE_")}


def service_config(
    store_url: str, allow_hosts: Sequence[str], settings_file: Path | None = None
) -> dict[str, Any]:
    """The settings of `settings_file` (the bench's `--config`; the shipped `config.yaml` when
    none) with the store URL and `fetch.allow_hosts` changed."""
    source = settings_file or SHIPPED_CONFIG
    config: dict[str, Any] = yaml.safe_load(source.read_text()) or {}
    config.setdefault("store", {})["url"] = store_url
    config.setdefault("fetch", {})["allow_hosts"] = list(allow_hosts)
    return config


class QueryServer:
    """A loopback HTTP server serving each query file at `/q/<query id><suffix>`."""

    def __init__(self, queries: Sequence[QueryEntry]) -> None:
        self._files = {f"{q.id}{q.path.suffix}": q.path for q in queries}
        self._runner: web.AppRunner | None = None
        self.host_port = ""

    async def _send(self, request: web.Request) -> web.StreamResponse:
        path = self._files.get(request.match_info["name"])
        if path is None:
            raise web.HTTPNotFound()
        return web.FileResponse(path)

    def url(self, query: QueryEntry) -> str:
        return f"http://{self.host_port}/q/{query.id}{query.path.suffix}"

    async def __aenter__(self) -> QueryServer:
        app = web.Application()
        app.router.add_get("/q/{name}", self._send)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        await web.TCPSite(self._runner, "127.0.0.1", 0).start()
        self.host_port = f"127.0.0.1:{self._runner.addresses[0][1]}"
        return self

    async def __aexit__(self, *exc: object) -> None:
        if self._runner is not None:
            await self._runner.cleanup()


@dataclass
class RunningService:
    base_url: str
    admin_key: str
    session: aiohttp.ClientSession
    log_path: Path

    def _auth(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.admin_key}"}

    async def call(self, method: str, path: str, **kwargs: Any) -> Any:
        async with self.session.request(
            method, f"{self.base_url}{path}", headers=self._auth(), **kwargs
        ) as response:
            if response.status >= 400:
                raise ServiceBenchError(
                    f"{method} {path}: {response.status} {await response.text()}"
                )
            return await response.json()


async def _run(*args: str, cwd: Path) -> str:
    process = await asyncio.create_subprocess_exec(
        *triage_command(), *args, cwd=cwd, env=_environment(),
        stdin=asyncio.subprocess.DEVNULL, stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    out, err = await process.communicate()
    if process.returncode != 0:
        raise ServiceBenchError(f"triage {' '.join(args)} failed: {err.decode()[-2000:]}")
    return out.decode()


async def _listening(log: Path, process: asyncio.subprocess.Process) -> str:
    deadline = time.monotonic() + START_SECONDS
    while time.monotonic() < deadline:
        found = re.search(r"listening on (http://\S+)", log.read_text(errors="replace"))
        if found:
            return found.group(1)
        if process.returncode is not None:
            break
        await asyncio.sleep(0.1)
    raise ServiceBenchError(f"triage serve did not start:\n{log.read_text()[-3000:]}")


@contextlib.asynccontextmanager
async def running_service(
    workdir: Path,
    allow_hosts: Sequence[str],
    say: Callable[[str], None],
    settings_file: Path | None = None,
) -> AsyncIterator[RunningService]:
    """`triage serve` on a new SQLite store in `workdir` with the settings of `settings_file`
    (the shipped ones when None)."""
    store_url = f"sqlite:///{workdir / 'triage.sqlite3'}"
    config_path = workdir / "config.yaml"
    config = service_config(store_url, allow_hosts, settings_file)
    config_path.write_text(yaml.safe_dump(config))
    named = str(settings_file) if settings_file else "shipped config.yaml"
    say(f"service settings: {named} with store.url={store_url} "
        f"fetch.allow_hosts={list(allow_hosts)}")  # fmt: skip
    conf = ["--config", str(config_path)]
    await _run("migrate", *conf, "--create", cwd=workdir)
    admin_key = (await _run("keys", "create", *conf, "--scope", "admin,submit,read",
                            "--name", "bench", cwd=workdir)).strip()  # fmt: skip
    log_path = workdir / "serve.log"
    with log_path.open("ab") as log:
        process = await asyncio.create_subprocess_exec(
            *triage_command(), "serve", *conf, "--port", "0", cwd=workdir, env=_environment(),
            stdin=asyncio.subprocess.DEVNULL, stdout=asyncio.subprocess.DEVNULL, stderr=log,
        )  # fmt: skip
    try:
        base_url = await _listening(log_path, process)
        timeout = aiohttp.ClientTimeout(total=120)
        async with aiohttp.ClientSession(timeout=timeout) as session:
            yield RunningService(base_url, admin_key, session, log_path)
    finally:
        if process.returncode is None:
            process.terminate()
            try:
                await asyncio.wait_for(process.wait(), 60)
            except TimeoutError:
                process.kill()
                await process.wait()


async def _until(check: Callable[[], Awaitable[bool]], seconds: float, what: str) -> None:
    deadline = time.monotonic() + seconds
    while not await check():
        if time.monotonic() > deadline:
            raise ServiceBenchError(f"timed out waiting for {what}")
        await asyncio.sleep(POLL_SECONDS)


async def add_references(
    service: RunningService, manifest: Manifest, how: ReferenceInput, workdir: Path
) -> None:
    """Every reference of `manifest` into the service, active before this returns."""
    if how is ReferenceInput.VIDEO:
        for reference in manifest.references:
            form = aiohttp.FormData()
            form.add_field("file", reference.path.read_bytes(), filename=reference.path.name)
            form.add_field("id", reference.id)
            await service.call("POST", "/v1/references", data=form)
    else:
        listed = workdir / "references.jsonl"
        # Absolute: `triage hash` runs in `workdir`, and manifests name files relative to theirs.
        paths = [str(r.path.resolve()) for r in manifest.references]
        # One file per run, so each entry gets its reference id.
        parts = []
        for reference, path in zip(manifest.references, paths, strict=True):
            part = workdir / f"{reference.id}.jsonl"
            await _run("hash", path, "--id", reference.id, "-o", str(part), cwd=workdir)
            parts.append(part.read_text())
        listed.write_text("".join(parts))
        form = aiohttp.FormData()
        form.add_field("file", listed.read_bytes(), filename=listed.name)
        form.add_field("format", "jsonl")
        await service.call("POST", "/v1/references", data=form)

    async def all_active() -> bool:
        listing = await service.call("GET", "/v1/references")
        states = {item["id"]: item["status"] for item in listing["items"]}
        failed = [rid for rid, state in states.items() if state == "failed"]
        if failed:
            raise ServiceBenchError(f"references failed to hash: {failed}")
        return all(states.get(r.id) == "active" for r in manifest.references)

    await _until(all_active, REFERENCE_SECONDS, "the references to be hashed")


def _match_of(view: dict[str, Any]) -> VideoMatch:
    return VideoMatch(
        reference_id=view["reference_id"],
        score=float(view["score"]),
        matched_seconds=float(view["matched_seconds"]),
        query_coverage=float(view["query_coverage"]),
        reference_coverage=float(view["reference_coverage"]),
        segments=tuple(
            Segment(
                s["query_start"],
                s["query_end"],
                s["reference_start"],
                s["reference_end"],
                s["score"],
                s["matched_frames"],
                s["mean_distance"] or 0.0,
            )
            for s in view.get("segments", [])
        ),
        speed=float(view.get("speed", 1.0)),
        views=tuple(view.get("views", ())),
    )


async def match_queries(
    service: RunningService,
    manifest: Manifest,
    server: QueryServer,
    progress: Callable[[], None] | None = None,
) -> tuple[QueryOutcome, ...]:
    """Submit every query as a link, wait for each verdict, and read its evidence."""
    submitted: dict[str, str] = {}
    for query in manifest.queries:
        body = await service.call("POST", "/v1/submissions", json={"url": server.url(query)})
        submitted[query.id] = str(body["id"])
    outcomes: dict[str, QueryOutcome] = {}

    async def all_done() -> bool:
        for query in manifest.queries:
            if query.id in outcomes:
                continue
            view = await service.call("GET", f"/v1/submissions/{submitted[query.id]}")
            if view["status"] == "failed":
                problem = view.get("error") or "failed"
                outcomes[query.id] = QueryOutcome(query, (), Verdict.NONE, error=str(problem))
            elif view["status"] == "done" and view.get("verdict") is not None:
                matches = tuple(_match_of(m) for m in view.get("matches", []))
                outcomes[query.id] = QueryOutcome(query, matches, Verdict(view["verdict"]))
            else:
                return False
            if progress is not None:
                progress()
        return True

    await _until(all_done, VERDICT_SECONDS, "every query's verdict")
    return tuple(outcomes[q.id] for q in manifest.queries)


async def run_through_service(
    manifest: Manifest,
    how: ReferenceInput,
    say: Callable[[str], None],
    progress: Callable[[], None] | None = None,
    settings_file: Path | None = None,
) -> tuple[QueryOutcome, ...]:
    """The outcome of every query of `manifest` through a real `triage serve` running with
    the settings of `settings_file` (the shipped ones when None)."""
    with tempfile.TemporaryDirectory(prefix="triage-bench-") as folder:
        workdir = Path(folder)
        async with (
            QueryServer(manifest.queries) as server,
            running_service(workdir, [server.host_port], say, settings_file) as service,
        ):
            await add_references(service, manifest, how, workdir)
            return await match_queries(service, manifest, server, progress)


@dataclass(frozen=True, slots=True)
class Disagreement:
    query_id: str
    offline: str
    service: str


def _summary(outcome: QueryOutcome, review_at: float) -> tuple[Verdict, str | None, float | None]:
    """What both paths must agree on: the verdict, and the best kept match (the service keeps
    evidence at or above `review_at` only)."""
    best = outcome.best
    if best is None or best.score < review_at:
        return outcome.verdict, None, None
    return outcome.verdict, best.reference_id, best.score


def disagreements(
    offline: Sequence[QueryOutcome], service: Sequence[QueryOutcome], review_at: float
) -> list[Disagreement]:
    """Queries whose verdict, best reference or score (beyond 1%) differ between the paths."""
    found = []
    for ours, theirs in zip(offline, service, strict=True):
        a, b = _summary(ours, review_at), _summary(theirs, review_at)
        same = a[0] is b[0] and a[1] == b[1]
        if same and a[2] is not None and b[2] is not None:
            same = abs(a[2] - b[2]) <= SCORE_TOLERANCE * max(abs(a[2]), 1e-9)
        if not same or (ours.error is None) != (theirs.error is None):
            found.append(Disagreement(ours.query.id, _describe(a, ours.error),
                                      _describe(b, theirs.error)))  # fmt: skip
    return found


def _describe(summary: tuple[Verdict, str | None, float | None], error: str | None) -> str:
    verdict, reference, score = summary
    if error:
        return f"failed: {error}"
    if reference is None:
        return verdict.value
    return f"{verdict.value} {reference} {score:.3f}"
