"""What every `triage` command offers: `--version`, `--config`, examples in `--help`, and list
commands whose `--json` holds the same records as their TSV (which starts with a header)."""

from __future__ import annotations

import argparse
import asyncio
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from triage.cli import build_parser, main
from triage.commands.exit_codes import EXIT_OK
from triage.models import JobKind
from triage.store import open_store
from triage.store.schema import head_revision


def _leaves(parser: argparse.ArgumentParser, path: str = "") -> Iterator[tuple[str, Any]]:
    subparsers = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
    # A command runs on its own when it has a handler, even with optional subcommands.
    if not subparsers or parser.get_default("handler") is not None:
        yield path, parser
    if not subparsers:
        return
    for action in subparsers:
        for name, child in action.choices.items():
            yield from _leaves(child, f"{path} {name}".strip())


def test_version_names_the_package_and_the_schema_revision(
    capsys: pytest.CaptureFixture[str],
) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main(["--version"])
    assert exit_info.value.code == 0
    out = capsys.readouterr().out.strip()
    assert out.startswith("triage ") and out.endswith(f"(store schema {head_revision()})")


def test_every_command_takes_config_and_shows_examples() -> None:
    leaves = dict(_leaves(build_parser()))
    assert {"serve", "worker", "migrate", "hash", "hashlist import", "audit"} <= set(leaves)
    for name, parser in leaves.items():
        assert "--config" in parser._option_string_actions, name
        assert parser.epilog and "examples:" in parser.epilog, name


def test_every_long_command_can_show_progress() -> None:
    leaves = dict(_leaves(build_parser()))
    for name in ("hash", "match", "bench", "devset build", "backup", "restore"):
        options = leaves[name]._option_string_actions
        assert "--progress" in options and "--no-progress" in options, name


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, list):
        return ",".join(str(v) for v in value)
    if isinstance(value, dict):
        return json.dumps(value, sort_keys=True) if value else ""
    return str(value)


def _both(argv: list[str], capsys: pytest.CaptureFixture[str]) -> list[dict[str, Any]]:
    """Run a list command as TSV and as JSON; check they agree and return the JSON records."""
    assert main(argv) == EXIT_OK
    header, *lines = capsys.readouterr().out.splitlines()
    fields = header.split("\t")
    assert main([*argv, "--json"]) == EXIT_OK
    records = json.loads(capsys.readouterr().out)
    assert isinstance(records, list) and len(records) == len(lines)
    for record, line in zip(records, lines, strict=True):
        assert list(record) == fields
        assert [_cell(record[f]) for f in fields] == line.split("\t")
    return records


def _config(tmp_path: Path) -> tuple[Path, str]:
    data = tmp_path / "data"
    url = f"sqlite:///{data / 'triage.sqlite3'}"
    config = tmp_path / "config.yaml"
    config.write_text(json.dumps({"data_dir": str(data), "store": {"url": url}}))
    assert main(["migrate", "--config", str(config), "--create"]) == EXIT_OK
    return config, url


def test_keys_jobs_and_audit_list_the_same_records_as_tsv_and_json(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config, url = _config(tmp_path)
    conf = ["--config", str(config)]
    assert main(["keys", "create", *conf, "--scope", "admin,review", "--name", "ops"]) == 0
    assert main(["keys", "create", *conf, "--scope", "read", "--hosts", "a.com,b.org"]) == 0
    capsys.readouterr()

    keys = _both(["keys", "list", *conf], capsys)
    assert [(k["name"], k["scopes"], k["hosts"]) for k in keys] == [
        ("ops", ["admin", "review"], None),
        ("key", ["read"], ["a.com", "b.org"]),
    ]
    assert main(["keys", "revoke", *conf, keys[0]["id"]]) == EXIT_OK
    capsys.readouterr()
    revoked = _both(["keys", "list", *conf], capsys)[0]
    assert revoked["revoked_at"].endswith("Z") and revoked["created_at"] == keys[0]["created_at"]

    async def enqueue() -> None:
        store = open_store(url)
        try:
            await store.enqueue_job(JobKind.PROCESS_MEDIA, "media_1")
            await store.enqueue_job(JobKind.HASH_REFERENCE, "ref\twith tab")
        finally:
            await store.close()

    asyncio.run(enqueue())
    # A tab inside a value must not shift the columns; JSON keeps it as it is.
    assert main(["jobs", "list", *conf]) == EXIT_OK
    assert "ref with tab" in capsys.readouterr().out
    assert main(["jobs", "list", *conf, "--json"]) == EXIT_OK
    jobs = json.loads(capsys.readouterr().out)
    assert [(j["kind"], j["target_id"], j["state"]) for j in jobs] == [
        ("process_media", "media_1", "queued"),
        ("hash_reference", "ref\twith tab", "queued"),
    ]

    audit = _both(["audit", *conf], capsys)
    assert [(e["action"], e["target"]) for e in audit][-1] == ("key.revoke", keys[0]["id"])
    assert audit[0]["details"] == {"name": "ops", "scopes": ["admin", "review"], "hosts": []}
    assert _both(["audit", *conf, "--limit", "1"], capsys) == audit[-1:]


def test_an_empty_listing_is_a_header_or_an_empty_array(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config, _ = _config(tmp_path)
    capsys.readouterr()
    assert main(["keys", "list", "--config", str(config)]) == EXIT_OK
    assert capsys.readouterr().out == "id\tname\tscopes\thosts\tcreated_at\trevoked_at\n"
    assert main(["keys", "list", "--config", str(config), "--json"]) == EXIT_OK
    assert json.loads(capsys.readouterr().out) == []


def test_hashlist_list_shows_each_reference(
    tmp_path: Path, shared_data: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    listing = tmp_path / "list.jsonl"
    vpdq = sorted((shared_data / "interop" / "vpdq").glob("*.txt"))[:2]
    for path in vpdq:
        argv = ["hashlist", "import", str(path), "--format", "vpdq", "-o", str(listing)]
        assert main(argv) == EXIT_OK
    capsys.readouterr()
    records = _both(["hashlist", "list", str(listing)], capsys)
    assert [r["reference_id"] for r in records] == [p.stem for p in vpdq]
    assert all(r["frame_count"] > 0 and r["hash_rows"] >= r["frame_count"] for r in records)


def test_a_broken_config_is_reported_by_hash_and_hashlist(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = tmp_path / "config.yaml"
    config.write_text(json.dumps({"match": {"confirm_at": "high"}}))
    listing = tmp_path / "list.jsonl"
    for argv in (
        ["hash", str(tmp_path / "a.mp4"), "-o", str(listing)],
        ["hashlist", "list", str(listing)],
        ["hashlist", "export", str(listing), "--format", "jsonl", "-o", str(tmp_path / "o")],
    ):
        assert main([*argv, "--config", str(config)]) == 2
        assert "match.confirm_at" in capsys.readouterr().err
