"""The settings the bench's `triage serve` runs with: the bench's own settings file, so a run
with `--config` measures the same index and thresholds offline and through the service."""

from __future__ import annotations

from pathlib import Path

import yaml

from triage.bench.service import SHIPPED_CONFIG, service_config


def test_the_service_takes_the_bench_settings_file_with_its_store_and_allowed_host(
    tmp_path: Path,
) -> None:
    settings = tmp_path / "tiered.yaml"
    settings.write_text(
        yaml.safe_dump({"index": {"kind": "tiered"}, "store": {"url": "sqlite:///elsewhere"}})
    )
    config = service_config("sqlite:///bench.sqlite3", ["127.0.0.1:4000"], settings)
    assert config["index"] == {"kind": "tiered"}
    assert config["store"]["url"] == "sqlite:///bench.sqlite3"
    assert config["fetch"]["allow_hosts"] == ["127.0.0.1:4000"]


def test_without_a_settings_file_the_service_runs_the_shipped_one() -> None:
    config = service_config("sqlite:///bench.sqlite3", [])
    shipped = yaml.safe_load(SHIPPED_CONFIG.read_text())
    assert config["index"] == shipped["index"] and config["match"] == shipped["match"]
