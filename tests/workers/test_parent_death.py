"""Helper processes die with their parent: a SIGKILLed worker leaves none running."""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import REPO_ROOT
from tests.workers.hashing.test_pool import gone_within, running

pytestmark = pytest.mark.timeout(120)

HASHING_PARENT = """
    import asyncio
    from tests.workers.hostile_hooks import hang, own_pid
    from triage.config import HashingSettings
    from workers.hashing.pool import HashingPool

    async def main():
        pool = HashingPool(HashingSettings(), 1)
        print(await pool.run(own_pid, None), flush=True)
        await pool.run(hang, None)  # busy mid-step, deaf to its socket, when the parent dies

    asyncio.run(main())
"""

RESOLVER_PARENT = """
    import os, signal, subprocess, sys
    port = sys.argv[1]
    child = subprocess.Popen([sys.executable, "-m", "workers.fetch.resolve_child",
        "--proxy", f"http://127.0.0.1:{port}", "--socket-timeout", "60",
        "--parent-pid", str(os.getpid()), "--", f"http://127.0.0.1:{port}/post"])
    print(child.pid, flush=True)
    signal.pause()
"""


def _environment() -> dict[str, str]:
    return {**os.environ, "PYTHONPATH": str(REPO_ROOT)}


def _parent(code: str, *args: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-c", textwrap.dedent(code), *args],
        cwd=REPO_ROOT,
        env=_environment(),
        stdout=subprocess.PIPE,
        text=True,
    )


def _first_line_pid(parent: subprocess.Popen[str]) -> int:
    assert parent.stdout is not None
    return int(parent.stdout.readline())


@pytest.fixture
def silent_port() -> Iterator[int]:
    """A loopback port that accepts connections and never answers."""
    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen()
        yield int(server.getsockname()[1])


async def test_hashing_child_dies_when_its_parent_is_killed() -> None:
    parent = _parent(HASHING_PARENT)
    try:
        child = _first_line_pid(parent)
        assert running(child)
        parent.send_signal(signal.SIGKILL)
        parent.wait()
        assert await gone_within(child, 10)
    finally:
        parent.kill()
        parent.wait()


async def test_resolver_child_dies_when_its_parent_is_killed(silent_port: int) -> None:
    parent = _parent(RESOLVER_PARENT, str(silent_port))
    try:
        child = _first_line_pid(parent)
        parent.send_signal(signal.SIGKILL)
        parent.wait()
        assert await gone_within(child, 10)
    finally:
        parent.kill()
        parent.wait()


def _children(pid: int) -> set[int]:
    found: set[int] = set()
    for task in Path(f"/proc/{pid}/task").iterdir():
        found.update(int(c) for c in (task / "children").read_text().split())
    return found


async def test_killed_serve_leaves_no_hashing_child(tmp_path: Path) -> None:
    script = Path(sys.executable).parent / "triage"
    command = [str(script)] if script.exists() else [sys.executable, "-m", "triage.cli"]
    env = {
        **{k: v for k, v in _environment().items() if not k.startswith("TRIAGE_")},
        "TRIAGE_STORE__URL": "memory://",
        "TRIAGE_DATA_DIR": str(tmp_path / "data"),
    }
    serve = subprocess.Popen(
        [*command, "serve", "--port", "0"],
        cwd=tmp_path,
        env=env,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert serve.stderr is not None
        for line in serve.stderr:
            if "listening on" in line:
                break
        children = _children(serve.pid)
        assert children, "serve started no hashing child"
        serve.send_signal(signal.SIGKILL)
        serve.wait()
        gone = await asyncio.gather(*(gone_within(pid, 10) for pid in children))
        assert all(gone)
    finally:
        serve.kill()
        serve.wait()
