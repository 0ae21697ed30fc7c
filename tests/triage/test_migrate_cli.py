"""`triage migrate`, and commands that neither migrate nor make a store behind the operator's
back: `serve` and `worker` refuse a missing or behind store, naming the command that fixes it;
store commands refuse to make a new store unless `--create`."""

from __future__ import annotations

import asyncio
import json
import shlex
import socket
import sqlite3
from collections.abc import Iterator
from contextlib import closing
from pathlib import Path

import pytest

from tests.triage.store.backends import postgres_database
from triage.cli import main
from triage.commands.exit_codes import EXIT_INPUT_FAILED, EXIT_OK, EXIT_USAGE
from triage.commands.store import StoreTarget
from triage.config import load_settings
from triage.store import open_store
from triage.store.schema import SchemaStatus, head_revision, inspect_schema, migrate


@pytest.fixture
def empty_postgres_database() -> Iterator[str]:
    with postgres_database(migrated=False) as url:
        yield url


def _config(tmp_path: Path, url: str | None = None) -> tuple[Path, Path]:
    """A settings file for a SQLite store in tmp_path/data, and that database file."""
    data = tmp_path / "data"
    database = data / "triage.sqlite3"
    config = tmp_path / "config.yaml"
    store = {"url": url or f"sqlite:///{database}"}
    config.write_text(json.dumps({"data_dir": str(data), "store": store}))
    return config, database


def test_migrate_refuses_to_make_a_new_store_without_create(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config, database = _config(tmp_path)
    assert main(["migrate", "--config", str(config)]) == EXIT_USAGE
    err = capsys.readouterr().err
    assert f"no store at {database} yet" in err and "--create" in err
    assert not database.exists()


def test_migrate_create_makes_a_current_store_and_check_says_so(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config, _ = _config(tmp_path)
    assert main(["migrate", "--config", str(config), "--check"]) == EXIT_INPUT_FAILED
    assert "missing" in capsys.readouterr().out
    assert main(["migrate", "--config", str(config), "--create"]) == EXIT_OK
    assert f"to revision {head_revision()}" in capsys.readouterr().err
    assert main(["migrate", "--config", str(config), "--check"]) == EXIT_OK
    assert "current" in capsys.readouterr().out
    # Again: nothing to do, and says so.
    assert main(["migrate", "--config", str(config)]) == EXIT_OK
    assert "already at revision" in capsys.readouterr().err


def test_a_behind_store_is_refused_by_serve_and_worker_until_migrated(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config, database = _config(tmp_path)
    url = f"sqlite:///{database}"
    database.parent.mkdir()
    asyncio.run(migrate(url, "0001"))
    assert asyncio.run(inspect_schema(url)).status is SchemaStatus.BEHIND

    fix = f"triage migrate --config {config}"
    for command in (["serve", "--port", "0"], ["worker"], ["keys", "list"]):
        assert main([*command, "--config", str(config)]) == EXIT_USAGE
        err = capsys.readouterr().err
        assert "at schema revision 0001" in err and f"run `{fix}` first" in err, err
    assert asyncio.run(inspect_schema(url)).revision == "0001"  # nobody migrated it

    assert main(["migrate", "--config", str(config)]) == EXIT_OK
    assert f"migrated from 0001 to revision {head_revision()}" in capsys.readouterr().err
    assert asyncio.run(inspect_schema(url)).status is SchemaStatus.CURRENT


@pytest.mark.parametrize("command", [["serve", "--port", "0"], ["worker"]])
def test_serve_and_worker_refuse_a_missing_store_naming_migrate_create(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], command: list[str]
) -> None:
    config, database = _config(tmp_path)
    assert main([command[0], "--config", str(config), *command[1:]]) == EXIT_USAGE
    err = capsys.readouterr().err
    assert f"no store at {database} yet" in err
    assert f"`triage migrate --config {config} --create`" in err
    assert not database.exists() and not database.parent.exists()


def test_a_store_of_unknown_revision_is_refused(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config, database = _config(tmp_path)
    assert main(["migrate", "--config", str(config), "--create"]) == EXIT_OK
    with closing(sqlite3.connect(database)) as db, db:
        db.execute("UPDATE alembic_version SET version_num = '9999'")
    assert main(["serve", "--config", str(config), "--port", "0"]) == EXIT_USAGE
    assert "revision 9999, which this version does not know" in capsys.readouterr().err
    assert main(["migrate", "--config", str(config)]) == EXIT_USAGE


STORE_COMMANDS = [
    ["keys", "create", "--scope", "admin"],
    ["keys", "list"],
    ["keys", "revoke", "key_x"],
    ["jobs", "list"],
    ["jobs", "retry", "job_x"],
    ["audit"],
]


@pytest.mark.parametrize("command", STORE_COMMANDS, ids=" ".join)
def test_store_commands_refuse_to_make_a_new_store(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], command: list[str]
) -> None:
    config, database = _config(tmp_path)
    assert main([*command, "--config", str(config)]) == EXIT_USAGE
    _, err = capsys.readouterr()
    assert err.startswith(f"triage: no store at {database} yet") and "pass --create" in err
    assert not database.exists()


def test_create_lets_a_store_command_make_the_store(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config, database = _config(tmp_path)
    assert main(["keys", "create", "--config", str(config), "--scope", "admin", "--create"]) == 0
    token = capsys.readouterr().out.strip()
    assert database.exists()
    assert asyncio.run(inspect_schema(f"sqlite:///{database}")).status is SchemaStatus.CURRENT

    async def keys() -> int:
        store = open_store(f"sqlite:///{database}")
        try:
            return len(await store.list_api_keys())
        finally:
            await store.close()

    assert token.startswith("tt_") and asyncio.run(keys()) == 1


def test_an_empty_postgres_database_counts_as_no_store(
    empty_postgres_database: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config, _ = _config(tmp_path, empty_postgres_database)
    assert main(["keys", "list", "--config", str(config)]) == EXIT_USAGE
    assert "pass --create" in capsys.readouterr().err
    state = asyncio.run(inspect_schema(empty_postgres_database))
    assert state.status is SchemaStatus.MISSING and "password" not in state.location
    assert main(["migrate", "--config", str(config), "--create"]) == EXIT_OK
    assert main(["keys", "list", "--config", str(config)]) == EXIT_OK


def test_commands_shown_to_the_operator_name_the_config_and_folder_in_use(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    folder = tmp_path / "with space"
    folder.mkdir()
    config = folder / "config.yaml"
    config.write_text(json.dumps({"store": {"url": "sqlite:///./data/triage.sqlite3"}}))
    monkeypatch.chdir(folder)
    target = StoreTarget(load_settings(config, environ={}), config.absolute())
    line = target.command("keys create", "--scope", "admin")
    # Relative store paths depend on the folder, so the command changes to it first.
    assert shlex.split(line) == [
        "cd", str(folder), "&&", "triage", "keys", "create", "--config", str(config),
        "--scope", "admin",
    ]  # fmt: skip
    absolute = StoreTarget(
        load_settings(environ={"TRIAGE_STORE__URL": f"sqlite:///{folder}/x.db",
                               "TRIAGE_DATA_DIR": str(folder)}),
        None,
    )  # fmt: skip
    assert absolute.command("migrate") == "triage migrate"


def test_serve_migrate_makes_the_store_before_serving(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config, database = _config(tmp_path)
    with socket.socket() as taken:  # serving then fails at once, after the migration
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = str(taken.getsockname()[1])
        assert main(["serve", "--config", str(config), "--migrate", "--port", port]) == EXIT_USAGE
    err = capsys.readouterr().err
    assert "migrated from new store" in err and "cannot listen" in err
    state = asyncio.run(inspect_schema(f"sqlite:///{database}"))
    assert state.status is SchemaStatus.CURRENT
