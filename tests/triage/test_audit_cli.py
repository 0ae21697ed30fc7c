"""`triage audit`: the audit log from the store, oldest first, `--limit` keeping the newest."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import pytest

from triage.cli import main
from triage.commands.exit_codes import EXIT_OK, EXIT_USAGE
from triage.store import open_store


def _config(tmp_path: Path) -> Path:
    data = tmp_path / "data"
    config = tmp_path / "config.yaml"
    store = {"url": f"sqlite:///{data / 'triage.sqlite3'}"}
    config.write_text(json.dumps({"data_dir": str(data), "store": store}))
    return config


async def _append(config: Path, count: int) -> None:
    url = json.loads(config.read_text())["store"]["url"]
    Path(url.removeprefix("sqlite:///")).parent.mkdir(parents=True, exist_ok=True)
    store = open_store(url)
    try:
        await store.migrate()
        for n in range(count):
            await store.append_audit(
                actor="cli", action="key.create", target=f"key_{n}", details={"n": n}
            )
    finally:
        await store.close()


def test_audit_prints_every_entry_oldest_first(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = _config(tmp_path)
    asyncio.run(_append(config, 3))
    assert main(["audit", "--config", str(config)]) == EXIT_OK
    header, *lines = capsys.readouterr().out.splitlines()
    assert header.split("\t") == ["cursor", "at", "actor", "action", "target", "details"]
    assert [line.split("\t")[4] for line in lines] == ["key_0", "key_1", "key_2"]
    _, _, actor, action, _, details = lines[0].split("\t")
    assert (actor, action, json.loads(details)) == ("cli", "key.create", {"n": 0})


def test_audit_limit_keeps_the_newest_entries(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = _config(tmp_path)
    asyncio.run(_append(config, 4))
    assert main(["audit", "--config", str(config), "--limit", "2"]) == EXIT_OK
    _, *lines = capsys.readouterr().out.splitlines()
    assert [line.split("\t")[4] for line in lines] == ["key_2", "key_3"]


def test_audit_limit_below_one_is_a_usage_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["audit", "--config", str(_config(tmp_path)), "--limit", "0"]) == EXIT_USAGE
    assert "--limit" in capsys.readouterr().err
