"""Real `triage` processes for the end-to-end tests: a command run to its end, a long-running
`serve` or `worker` whose log is searched for a line, the config file they read."""

from __future__ import annotations

import asyncio
import json
import os
import re
import signal
import socket
import sys
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from tests.conftest import REPO_ROOT


def free_port() -> int:
    """A loopback port nothing listens on (yet)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def triage_command() -> list[str]:
    """The `triage` script of this environment, or the module when it is not installed."""
    script = Path(sys.executable).parent / "triage"
    return [str(script)] if script.exists() else [sys.executable, "-m", "triage.cli"]


def environment(extra: dict[str, str] | None = None) -> dict[str, str]:
    """This process's environment without its `TRIAGE_*` settings, plus `extra`."""
    env = {k: v for k, v in os.environ.items() if not k.upper().startswith("TRIAGE_")}
    env["PYTHONPATH"] = str(REPO_ROOT)
    env.update(extra or {})
    return env


def write_config(path: Path, data_dir: Path, **sections: Any) -> Path:
    """Write `path`: a SQLite store in `data_dir`, served on a free loopback port, plus the
    given `sections` (jobs, fetch, logging, ...). JSON is YAML: no YAML writer is needed."""
    config = {
        "data_dir": str(data_dir),
        "store": {"url": f"sqlite:///{data_dir / 'triage.sqlite3'}"},
        "server": {"host": "127.0.0.1", "port": 0},
        **sections,
    }
    path.write_text(json.dumps(config, indent=2))
    return path


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
                *triage_command(),
                *self.args,
                cwd=self.workdir,
                env=environment(self.env),
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


async def run_triage(workdir: Path, *args: str) -> tuple[int, str, str]:
    """Run `triage ARGS` in `workdir` to its end: its exit code, stdout and stderr."""
    process = await asyncio.create_subprocess_exec(
        *triage_command(),
        *args,
        cwd=workdir,
        env=environment(),
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await process.communicate()
    return int(process.returncode or 0), out.decode(), err.decode()


async def run_cli(workdir: Path, *args: str) -> str:
    """Run `triage ARGS` in `workdir` to its end; its stdout, once it exited 0."""
    code, out, err = await run_triage(workdir, *args)
    assert code == 0, err
    return out


async def until(
    check: Callable[[], Awaitable[Any]], timeout: float, what: str, interval: float = 0.25
) -> Any:
    """The first truthy value of `check()`, tried every `interval` seconds for `timeout`."""
    deadline = time.monotonic() + timeout
    while True:
        value = await check()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(interval)
