"""Hostile media against the real worker: each input fails alone, the next job still runs.

Run only inside a network namespace of its own, by `test_hostile_media.py` (`unshare -n`;
loopback is brought up here, nothing else exists). For each input: a worker (the real
runner, pipeline and hashing pool, one slot) takes the hostile submission and then a
control (a copy of a reference).
The hostile job must end within its deadline with its reason (or, for a truncated copy, its
verdict), the hashing child's peak memory must stay at most 1 GiB, and the control must be
confirmed within 30 s of its submission.
"""

from __future__ import annotations

import asyncio
import fcntl
import functools
import os
import shutil
import socket
import struct
import subprocess
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import pytest

from hashes.formats.jsonl import HashListEntry, dumps_record
from hashes.video.reference import hash_reference
from tests.workers import hostile_inputs
from tests.workers.hostile_hooks import file_sha256, misbehaving_step
from tests.workers.media_server import MediaServer
from triage.config import load_settings
from triage.models import JobState, Verdict
from triage.store.memory import MemoryStore
from triage.store.policy import JobPolicy
from triage.verdicts import VerdictStep
from workers.hashing.pool import HashingPool, StepReport
from workers.pipeline import Pipeline
from workers.runner import Runner
from workers.service import live_index, media_tools

_In = TypeVar("_In")
_Out = TypeVar("_Out")

NAMESPACE_FLAG = "TRIAGE_TEST_IN_NETNS"
REFERENCE_CLIP = "te-doorknob-hd-no-bar.mp4"
CONTROL = "control.mp4"
# Every step's deadline here (hashing.deadline_base_seconds, nothing per media second):
# a hang costs two of them.
DEADLINE_SECONDS = 15.0
SLACK_SECONDS = 15.0  # starting a child, fetching, recording, on a busy machine
CONTROL_SECONDS = 30.0
MAX_PEAK_BYTES = 1 << 30


@dataclass(frozen=True)
class Case:
    name: str
    file: str
    content_type: str
    reason: str | None  # None: the job ends done with `verdict`
    verdict: Verdict | None = None
    attempts: int = 1


CASES = (
    Case("png_bomb", "bomb.png", "image/png", "too_large_picture"),
    Case("jpeg_bomb", "bomb.jpg", "image/jpeg", "too_large_picture"),
    Case("h264_huge_dimensions", "huge.mp4", "video/mp4", "too_large_picture"),
    Case("ten_hours_of_tiny_frames", "ten-hours.mp4", "video/mp4", "too_long"),
    Case("claimed_100000_fps", "fast.mp4", "video/mp4", "too_long"),
    Case("decoder_killed_mid_job", "crash.mp4", "video/mp4", "decoder_crashed", attempts=2),
    Case("decoder_hangs", "hang.mp4", "video/mp4", "timeout", attempts=2),
    Case("truncated_mp4", "truncated-copy.mp4", "video/mp4", None, Verdict.CONFIRMED),
    Case("truncated_mkv", "truncated-copy.mkv", "video/x-matroska", None, Verdict.CONFIRMED),
    Case("truncated_webm", "truncated-copy.webm", "video/webm", None, Verdict.CONFIRMED),
    Case("corrupt_mp4", "corrupt-copy.mp4", "video/mp4", "bad_media"),
    Case("corrupt_mkv", "corrupt-copy.mkv", "video/x-matroska", "bad_media"),
    Case("corrupt_webm", "corrupt-copy.webm", "video/webm", "bad_media"),
)


_SIOCGIFFLAGS, _SIOCSIFFLAGS, _IFF_UP = 0x8913, 0x8914, 0x1
_IFREQ = "16sh22x"  # struct ifreq: the interface name, then its flags


def _loopback_up() -> None:
    """Bring `lo` up: a new network namespace starts with it down."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as control:
        request = struct.pack(_IFREQ, b"lo", 0)
        flags = struct.unpack(_IFREQ, fcntl.ioctl(control, _SIOCGIFFLAGS, request))[1]
        fcntl.ioctl(control, _SIOCSIFFLAGS, struct.pack(_IFREQ, b"lo", flags | _IFF_UP))


@pytest.fixture(scope="module", autouse=True)
def own_network_namespace() -> None:
    """Fails, never skips, outside a namespace made for this suite: only loopback exists."""
    if os.environ.get(NAMESPACE_FLAG) != "1":
        pytest.fail(f"run through tests/workers/test_hostile_media.py ({NAMESPACE_FLAG} unset)")
    interfaces = [name for _, name in socket.if_nameindex()]
    if interfaces != ["lo"]:
        pytest.fail(f"expected a namespace with loopback only, found {interfaces}")
    _loopback_up()


@pytest.fixture(scope="module")
def inputs(tmp_path_factory: pytest.TempPathFactory, shared_data: Path) -> Path:
    folder = tmp_path_factory.mktemp("hostile")
    shutil.copyfile(shared_data / "sources" / REFERENCE_CLIP, folder / CONTROL)
    hostile_inputs.png_bomb(folder)
    hostile_inputs.jpeg_bomb(folder)
    hostile_inputs.huge_h264(folder)
    hostile_inputs.ten_hours(folder)
    hostile_inputs.claimed_rate(folder)
    copies = hostile_inputs.container_copies(shared_data / "sources" / REFERENCE_CLIP, folder)
    for copy in copies.values():
        hostile_inputs.truncated(copy, folder)
        hostile_inputs.corrupt(copy, folder)
    for name in ("crash", "hang"):  # distinct bytes, so the hooks can tell them apart
        subprocess.run(
            ["ffmpeg", "-v", "error", "-y", "-i", str(copies["mp4"]), "-c", "copy",
             "-metadata", f"title={name}", str(folder / f"{name}.mp4")],
            check=True,
        )  # fmt: skip
    return folder


@pytest.fixture(scope="module")
def reference_record(shared_data: Path) -> str:
    hashes = hash_reference(shared_data / "sources" / REFERENCE_CLIP)
    return dumps_record(HashListEntry(reference_id="ref-door", hashes=hashes, label="door"))


class MisbehavingPool(HashingPool):
    """The real hashing pool, whose steps on the listed files crash or hang in the child (the
    first step of a query, decoding its file, is where a bad decoder would)."""

    def __init__(self, *args: Any, inputs: Path, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._crash = {file_sha256(inputs / "crash.mp4")}
        self._hang = {file_sha256(inputs / "hang.mp4")}

    async def run(self, function: Callable[[_In], _Out], argument: _In) -> _Out:
        if isinstance(argument, Path):
            real: Any = function
            step: Any = functools.partial(
                misbehaving_step, crash=self._crash, hang=self._hang, step=real
            )
            result: _Out = await super().run(step, argument)
            return result
        return await super().run(function, argument)


class Worker:
    """One worker slot over a memory store, its hashing pool recording every step."""

    def __init__(self, tmp_path: Path, server: MediaServer, inputs: Path) -> None:
        self.server = server
        self.settings = load_settings(
            None,
            {
                "TRIAGE_DATA_DIR": str(tmp_path / "data"),
                "TRIAGE_STORE__URL": "memory://",
                "TRIAGE_FETCH__ALLOW_HOSTS": server.host_port,
                "TRIAGE_JOBS__BACKOFF_BASE_SECONDS": "0",
                "TRIAGE_JOBS__SHUTDOWN_GRACE_SECONDS": "1",
                "TRIAGE_HASHING__DEADLINE_BASE_SECONDS": str(DEADLINE_SECONDS),
                "TRIAGE_HASHING__DEADLINE_SECONDS_PER_MEDIA_SECOND": "0",
            },
        )
        self.store = MemoryStore(policy=JobPolicy.from_settings(self.settings.jobs))
        self.steps: list[StepReport] = []
        self.pool = MisbehavingPool(
            self.settings.hashing, 1, observer=self.steps.append, inputs=inputs
        )
        index = live_index(self.store, self.settings)
        self.pipeline = Pipeline(
            self.store, index, media_tools(self.settings), self.settings, self.pool,
            VerdictStep.from_settings(self.settings),
        )  # fmt: skip
        self.runner = Runner(self.store, self.pipeline.handlers(), self.settings.jobs, slots=1)

    async def submit(self, name: str, content_type: str) -> str:
        url = self.server.url(f"/media/{name}?content_type={content_type}")
        outcome = await self.store.create_submission(url=url, key_id="key_test")
        return outcome.submission.id

    async def ended(self, submission_id: str, within_seconds: float) -> tuple[JobState, str, float]:
        """The job's final state, its error or verdict, and the seconds it took from now;
        waiting for it at most `within_seconds`."""
        started = time.monotonic()
        while time.monotonic() - started < within_seconds:
            detail = await self.store.get_submission(submission_id)
            job, took = detail.job, time.monotonic() - started
            if job is not None and job.state in (JobState.FAILED, JobState.DEAD):
                return job.state, job.last_error or "", took
            if job is not None and job.state is JobState.DONE and detail.result is not None:
                return job.state, detail.result.verdict.value, took
            await asyncio.sleep(0.2)
        pytest.fail(f"submission {submission_id} did not end within {within_seconds:g} s")


@pytest.fixture
async def worker(tmp_path: Path, inputs: Path, reference_record: str) -> AsyncIterator[Worker]:
    async with MediaServer(inputs) as server:
        made = Worker(tmp_path, server, inputs)
        await made.store.add_reference(
            label="door",
            source="test",
            added_by="key_test",
            hash_record=reference_record,
            reference_id="ref-door",
        )
        stop = asyncio.Event()
        running = asyncio.create_task(made.runner.run(stop))
        try:
            yield made
        finally:
            stop.set()
            await running
            await made.pool.close()


def _peak(steps: list[StepReport]) -> int:
    return max((step.peak_memory_bytes for step in steps), default=0)


@pytest.mark.timeout(240)
@pytest.mark.parametrize("case", CASES, ids=lambda case: case.name)
async def test_hostile_input_fails_alone_and_the_next_job_runs(case: Case, worker: Worker) -> None:
    hostile = await worker.submit(case.file, case.content_type)
    control = await worker.submit(CONTROL, "video/mp4")
    allowed = case.attempts * DEADLINE_SECONDS + SLACK_SECONDS
    (
        (state, outcome, hostile_seconds),
        (control_state, control_outcome, control_seconds),
    ) = await asyncio.gather(worker.ended(hostile, allowed), worker.ended(control, CONTROL_SECONDS))
    peak = _peak(worker.steps)
    print(
        f"\n{case.name}: {state.value} {outcome.split(' ')[0]} in {hostile_seconds:.1f} s "
        f"(allowed {allowed:g} s); child peak {peak / 2**20:.0f} MiB over "
        f"{len(worker.steps)} steps; control {control_outcome} in {control_seconds:.1f} s"
    )

    if case.reason is None:
        assert (state, outcome) == (JobState.DONE, case.verdict)
    else:
        assert state is JobState.FAILED
        assert outcome.startswith(f"{case.reason}:")
    assert peak <= MAX_PEAK_BYTES
    assert (control_state, control_outcome) == (JobState.DONE, Verdict.CONFIRMED)
    assert worker.pool.ready
