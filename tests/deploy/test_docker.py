"""The image and the compose file, without a Docker engine: hadolint on the Dockerfile, the
compose file validated by docker-compose, and the image's CMD and HEALTHCHECK run as they are
against a real `triage serve` on loopback."""

from __future__ import annotations

import json
import os
import re
import shlex
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml

from tests.conftest import REPO_ROOT
from tests.deploy.tools import COMPOSE_FILE, DOCKERFILE, tool
from tests.processes import free_port

pytestmark = pytest.mark.timeout(120)


def _instructions(dockerfile: Path) -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) of each instruction, continuation lines joined."""
    text = re.sub(r"\\\n", " ", dockerfile.read_text())
    found = []
    for line in text.splitlines():
        stripped = line.strip()
        if stripped and not stripped.startswith("#"):
            word, _, rest = stripped.partition(" ")
            found.append((word.upper(), rest.strip()))
    return found


def _runtime_stage() -> list[tuple[str, str]]:
    instructions = _instructions(DOCKERFILE)
    last_from = max(i for i, (word, _) in enumerate(instructions) if word == "FROM")
    return instructions[last_from:]


def _exec_form(arguments: str) -> list[str]:
    command = json.loads(arguments)
    assert isinstance(command, list) and all(isinstance(part, str) for part in command)
    return command


def _image_env() -> dict[str, str]:
    env = {}
    for word, arguments in _runtime_stage():
        if word == "ENV":
            for pair in shlex.split(arguments):
                name, _, value = pair.partition("=")
                env[name] = value
    return env


def _healthcheck() -> list[str]:
    (arguments,) = [args for word, args in _runtime_stage() if word == "HEALTHCHECK"]
    _, _, command = arguments.partition(" CMD ")
    return _exec_form(command.strip())


# --- the Dockerfile -------------------------------------------------------------------------


def test_hadolint_finds_nothing() -> None:
    result = subprocess.run(
        [tool("hadolint"), "--no-color", str(DOCKERFILE)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0 and result.stdout == "", result.stdout + result.stderr


def test_every_hadolint_pragma_states_its_reason() -> None:
    lines = DOCKERFILE.read_text().splitlines()
    for number, line in enumerate(lines):
        if "hadolint ignore" in line:
            before = lines[number - 1].strip() if number else ""
            assert before.startswith("#") and "hadolint" not in before, (
                f"line {number + 1}: a hadolint pragma needs a comment line giving its reason"
            )


def test_image_is_multi_stage_runs_as_a_numeric_user_and_has_ffmpeg() -> None:
    instructions = _instructions(DOCKERFILE)
    assert sum(word == "FROM" for word, _ in instructions) >= 2
    runtime = _runtime_stage()
    (user,) = [args for word, args in runtime if word == "USER"]
    assert re.fullmatch(r"[1-9][0-9]*(:[0-9]+)?", user), user
    assert any(word == "RUN" and "ffmpeg" in args for word, args in runtime)
    assert ".dockerignore" in os.listdir(REPO_ROOT)


# --- CMD and HEALTHCHECK, run as the image runs them ------------------------------------------


@pytest.mark.e2e
def test_image_cmd_serves_and_its_healthcheck_tells_ready_from_down(tmp_path: Path) -> None:
    (cmd,) = [_exec_form(args) for word, args in _runtime_stage() if word == "CMD"]
    check = _healthcheck()
    port = free_port()
    data = tmp_path / "data"
    workdir = tmp_path / "app"
    workdir.mkdir()
    shutil.copy(REPO_ROOT / "config.yaml", workdir / "config.yaml")  # COPY config.yaml ./
    env = {
        "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}",
        "PYTHONPATH": str(REPO_ROOT),
        **_image_env(),
        # The image's own paths and address, moved to this test's folder and to loopback.
        "TRIAGE_DATA_DIR": str(data),
        "TRIAGE_STORE__URL": f"sqlite:///{data / 'triage.sqlite3'}",
        "TRIAGE_SERVER__HOST": "127.0.0.1",
        "TRIAGE_SERVER__PORT": str(port),
    }
    assert env["TRIAGE_SERVER__HOST"] == "127.0.0.1"

    def healthcheck() -> int:
        done = subprocess.run(check, env=env, cwd=workdir, capture_output=True, timeout=10)
        return done.returncode

    log = (tmp_path / "serve.log").open("wb")
    server = subprocess.Popen(cmd, env=env, cwd=workdir, stdout=log, stderr=log)
    try:
        deadline = time.monotonic() + 60
        while healthcheck() != 0:
            # Docker retries a failing check; so do we, until the service is ready.
            assert server.poll() is None, (tmp_path / "serve.log").read_text()
            assert time.monotonic() < deadline, (tmp_path / "serve.log").read_text()
            time.sleep(0.5)
    finally:
        server.terminate()
        assert server.wait(30) == 0, (tmp_path / "serve.log").read_text()
        log.close()
    assert healthcheck() != 0  # nothing listens any more: unhealthy


# --- docker-compose.yml ---------------------------------------------------------------------


def _compose_config(env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [tool("docker-compose"), "--file", str(COMPOSE_FILE), "config"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        cwd=REPO_ROOT,
        env={"PATH": os.environ["PATH"], **env},
    )


def test_compose_file_is_valid_with_its_services_healthchecks_and_dependencies() -> None:
    result = _compose_config({"POSTGRES_PASSWORD": "pw", "GRAFANA_ADMIN_PASSWORD": "pw"})
    assert result.returncode == 0, result.stderr
    services = yaml.safe_load(result.stdout)["services"]
    assert set(services) == {"postgres", "serve", "worker", "prometheus", "grafana"}
    assert services["worker"]["deploy"]["replicas"] == 2
    assert services["worker"]["command"][:2] == ["triage", "worker"]
    assert "--metrics-port" in services["worker"]["command"]
    # serve's health check is the image's HEALTHCHECK; the others declare theirs.
    for name in ("postgres", "worker", "prometheus", "grafana"):
        assert services[name]["healthcheck"]["test"][0] == "CMD", name
    assert services["serve"]["depends_on"]["postgres"]["condition"] == "service_healthy"
    assert services["worker"]["depends_on"]["serve"]["condition"] == "service_healthy"
    assert services["grafana"]["depends_on"]["prometheus"]["condition"] == "service_healthy"
    # The provisioning and the rules are mounted where Grafana and Prometheus read them.
    mounts = " ".join(services["grafana"]["volumes"] + services["prometheus"]["volumes"])
    assert "deploy/grafana/provisioning:/etc/grafana/provisioning" in mounts
    assert "deploy/prometheus:/etc/prometheus" in mounts
    assert services["serve"]["environment"]["TRIAGE_STORE__URL"].startswith("postgresql://")


def test_compose_refuses_to_start_without_its_passwords() -> None:
    result = _compose_config({})
    assert result.returncode != 0
    assert "POSTGRES_PASSWORD" in result.stderr
