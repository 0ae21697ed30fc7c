"""The hostile-media suite (`hostile_suite.py`), run by pytest inside a network namespace
made for it (`unshare -n`: loopback only). Needs root (CI runs as root); where the namespace
cannot be made the test skips, except under CI (CI=true), where it fails.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import REPO_ROOT
from tests.workers.hostile_suite import NAMESPACE_FLAG

SUITE = Path(__file__).with_name("hostile_suite.py")
SUITE_SECONDS = 1200


def _cannot_run(why: str) -> None:
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(f"the hostile-media suite must run under CI: {why}")
    pytest.skip(why)


def _namespace_command() -> list[str]:
    unshare = shutil.which("unshare")
    if os.geteuid() != 0 or unshare is None:
        _cannot_run("a network namespace needs root and unshare (util-linux)")
    assert unshare is not None
    if subprocess.run([unshare, "--net", "--", "true"], check=False).returncode != 0:
        _cannot_run("unshare --net is refused here")
    return [unshare, "--net", "--"]


@pytest.mark.timeout(SUITE_SECONDS + 60)
def test_hostile_media_suite_passes_in_its_own_network_namespace() -> None:
    command = [
        *_namespace_command(),
        sys.executable, "-m", "pytest", "-q", "-s", "-p", "no:cacheprovider",
        "-o", f"timeout={SUITE_SECONDS}", str(SUITE),
    ]  # fmt: skip
    env = {**os.environ, NAMESPACE_FLAG: "1", "PYTHONPATH": str(REPO_ROOT)}
    result = subprocess.run(
        command, cwd=REPO_ROOT, env=env, capture_output=True, text=True, timeout=SUITE_SECONDS
    )
    print(result.stdout[-8000:])
    assert result.returncode == 0, result.stdout[-6000:] + result.stderr[-2000:]
