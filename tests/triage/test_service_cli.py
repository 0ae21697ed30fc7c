"""`triage keys` and `triage jobs` against a SQLite store in a temporary folder."""

from __future__ import annotations

import asyncio
import json
import socket
from dataclasses import replace
from pathlib import Path

import pytest

from triage.cli import main
from triage.commands.exit_codes import EXIT_INPUT_FAILED, EXIT_OK, EXIT_USAGE
from triage.models import ApiKey, JobKind
from triage.store import open_store
from triage.store.policy import DEFAULT_JOB_POLICY


def _config(tmp_path: Path, *, migrated: bool = True) -> tuple[Path, str]:
    data = tmp_path / "data"
    url = f"sqlite:///{data / 'triage.sqlite3'}"
    config = tmp_path / "config.yaml"
    config.write_text(json.dumps({"data_dir": str(data), "store": {"url": url}}))
    if migrated:
        assert main(["migrate", "--config", str(config), "--create"]) == EXIT_OK
    return config, url


async def _keys(url: str) -> list[ApiKey]:
    store = open_store(url)
    try:
        return await store.list_api_keys()
    finally:
        await store.close()


def test_keys_create_prints_the_key_once_and_stores_its_digest(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config, url = _config(tmp_path)
    argv = ["keys", "create", "--config", str(config), "--scope", "submit,read", "--name", "mods"]
    assert main(argv) == EXIT_OK
    out, err = capsys.readouterr()
    token = out.strip()
    assert token.startswith("tt_") and len(token) > 40
    assert token not in err
    (key,) = asyncio.run(_keys(url))
    assert key.name == "mods" and {s.value for s in key.scopes} == {"submit", "read"}
    # Only the digest is stored: the token is nowhere in the database file.
    database = Path(url.removeprefix("sqlite:///")).read_bytes()
    assert token.encode() not in database
    assert ApiKey.digest(token).encode() in database

    assert main(["keys", "list", "--config", str(config)]) == EXIT_OK
    listed = capsys.readouterr().out
    assert key.id in listed and "mods" in listed and token not in listed

    assert main(["keys", "revoke", "--config", str(config), key.id]) == EXIT_OK
    (revoked,) = asyncio.run(_keys(url))
    assert revoked.revoked_at is not None


def test_host_scoped_read_key(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    config, url = _config(tmp_path)
    argv = ["keys", "create", "--config", str(config), "--scope", "read", "--hosts", "A.com,b.org"]
    assert main(argv) == EXIT_OK
    (key,) = asyncio.run(_keys(url))
    assert key.hosts == ("a.com", "b.org")


@pytest.mark.parametrize(
    "extra",
    [["--scope", "owner"], ["--scope", ""], ["--scope", "admin", "--hosts", "a.com"]],
)
def test_bad_key_requests_are_one_line_usage_errors(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], extra: list[str]
) -> None:
    config, _ = _config(tmp_path)
    capsys.readouterr()
    code = main(["keys", "create", "--config", str(config), *extra])
    _, err = capsys.readouterr()
    assert code in (EXIT_USAGE, EXIT_INPUT_FAILED)
    assert len(err.strip().splitlines()) == 1 and err.startswith("triage: ")


def test_revoking_an_unknown_key_fails_cleanly(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config, _ = _config(tmp_path)
    capsys.readouterr()
    assert main(["keys", "revoke", "--config", str(config), "key_nope"]) == EXIT_INPUT_FAILED
    assert capsys.readouterr().err.startswith("triage: ")


def test_jobs_list_and_retry(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    config, url = _config(tmp_path, migrated=False)

    async def dead_job() -> str:
        store = open_store(url, policy=replace(DEFAULT_JOB_POLICY, max_attempts=1))
        try:
            await store.migrate()
            job = await store.enqueue_job(JobKind.PROCESS_MEDIA, "media_x")
            claimed = await store.claim_job("w")
            assert claimed is not None
            await store.fail_job(job.id, "w", "unreachable: refused", retryable=True)
            return job.id
        finally:
            await store.close()

    Path(url.removeprefix("sqlite:///")).parent.mkdir(parents=True)
    job_id = asyncio.run(dead_job())
    assert main(["jobs", "list", "--config", str(config), "--state", "dead"]) == EXIT_OK
    listed = capsys.readouterr().out
    assert job_id in listed and "unreachable: refused" in listed
    assert main(["jobs", "retry", "--config", str(config), job_id]) == EXIT_OK
    capsys.readouterr()
    assert main(["jobs", "list", "--config", str(config), "--state", "queued"]) == EXIT_OK
    assert job_id in capsys.readouterr().out
    assert main(["jobs", "retry", "--config", str(config), job_id]) == EXIT_INPUT_FAILED
    assert main(["jobs", "list", "--config", str(config), "--state", "asleep"]) == EXIT_USAGE


def test_serve_on_a_taken_port_is_a_one_line_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config, _ = _config(tmp_path)
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        code = main(["serve", "--config", str(config), "--port", str(port)])
    assert code == EXIT_USAGE
    assert f"cannot listen on 127.0.0.1:{port}" in capsys.readouterr().err


def test_keys_rotate_keeps_name_scopes_and_hosts_and_the_old_key_until_revoked(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config, url = _config(tmp_path)
    conf = ["--config", str(config)]
    argv = ["keys", "create", *conf, "--scope", "read", "--hosts", "a.com", "--name", "x"]
    assert main(argv) == EXIT_OK
    (old,) = asyncio.run(_keys(url))
    capsys.readouterr()

    assert main(["keys", "rotate", *conf, old.id]) == EXIT_OK
    out, err = capsys.readouterr()
    token = out.strip()
    assert f"triage keys revoke --config {config} {old.id}" in err
    first, second = asyncio.run(_keys(url))
    assert first.id == old.id and first.active  # still works until revoked
    assert (second.name, second.scopes, second.hosts) == (old.name, old.scopes, old.hosts)
    assert ApiKey.digest(token).encode() in Path(url.removeprefix("sqlite:///")).read_bytes()

    assert main(["keys", "rotate", *conf, second.id, "--revoke"]) == EXIT_OK
    capsys.readouterr()
    keys = asyncio.run(_keys(url))
    assert [k.active for k in keys] == [True, False, True]
    assert main(["keys", "rotate", *conf, second.id]) == EXIT_INPUT_FAILED  # revoked
    assert main(["keys", "rotate", *conf, "key_nope"]) == EXIT_INPUT_FAILED


def test_serve_on_memory_does_not_suggest_keys_that_cannot_reach_it(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = tmp_path / "config.yaml"
    config.write_text(json.dumps({"data_dir": str(tmp_path), "store": {"url": "memory://"}}))
    with socket.socket() as taken:  # the hint comes before listening, which then fails
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = str(taken.getsockname()[1])
        assert main(["serve", "--config", str(config), "--port", port]) == EXIT_USAGE
    err = capsys.readouterr().err
    assert "memory:// store gets none" in err and "triage keys create" not in err
