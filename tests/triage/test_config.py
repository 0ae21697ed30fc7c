"""Settings: defaults, the YAML file, TRIAGE_* overrides, and errors that name the key."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.conftest import REPO_ROOT
from triage.config import Settings, load_settings
from triage.errors import ConfigError


def _write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "config.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def test_defaults_without_file_or_environment(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)  # no config.yaml here
    settings = load_settings(environ={})
    assert settings.store.url == "sqlite:///./data/triage.sqlite3"
    assert (settings.server.host, settings.server.port) == ("127.0.0.1", 8080)
    assert settings.fetch.allow_hosts == []
    assert settings.fetch.keep_media is False
    assert settings.jobs.lease_seconds == 30
    assert settings.referrals.webhook_url is None
    assert settings.retro_match_days == 30
    assert settings.uploads_dir == Path("data") / "uploads"


def test_repository_config_file_holds_every_default() -> None:
    from_file = load_settings(REPO_ROOT / "config.yaml", environ={})
    assert from_file == Settings()


def test_file_values_override_defaults(tmp_path: Path) -> None:
    path = _write(tmp_path, "match:\n  confirm_at: 2.0\nfetch:\n  allow_hosts: ['127.0.0.1:9']\n")
    settings = load_settings(path, environ={})
    assert settings.match.confirm_at == 2.0
    assert settings.match.review_at == 0.5
    assert settings.fetch.allow_hosts == ["127.0.0.1:9"]


def test_environment_overrides_file_with_nested_keys(tmp_path: Path) -> None:
    path = _write(tmp_path, "match:\n  confirm_at: 2.0\n  review_at: 1.0\n")
    settings = load_settings(
        path,
        environ={
            "TRIAGE_MATCH__CONFIRM_AT": "3.5",
            "TRIAGE_STORE__URL": "memory://",
            "TRIAGE_FETCH__ALLOW_HOSTS": "127.0.0.1:8000, 127.0.0.1:8001",
            "TRIAGE_DATA_DIR": "/srv/triage",
            "TRIAGE_REFERRALS__WEBHOOK_URL": "https://hooks.example/takedown",
            "TRIAGE_REFERRALS__WEBHOOK_SECRET": "s3cret",
            "UNRELATED": "ignored",
        },
    )
    assert settings.match.confirm_at == 3.5
    assert settings.match.review_at == 1.0
    assert settings.store.url == "memory://"
    assert settings.fetch.allow_hosts == ["127.0.0.1:8000", "127.0.0.1:8001"]
    assert settings.data_dir == Path("/srv/triage")
    assert settings.referrals.webhook_secret is not None
    assert settings.referrals.webhook_secret.get_secret_value() == "s3cret"
    assert "s3cret" not in repr(settings)


def test_explicit_environment_leaves_process_environment_unread(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("TRIAGE_SERVER__PORT", "9999")
    assert load_settings(_write(tmp_path, ""), environ={}).server.port == 8080


def test_review_above_confirm_is_refused() -> None:
    with pytest.raises(ConfigError, match="review_at"):
        load_settings(environ={"TRIAGE_MATCH__REVIEW_AT": "3", "TRIAGE_MATCH__CONFIRM_AT": "2"})


def test_bad_value_names_its_key(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"jobs\.lease_seconds"):
        load_settings(_write(tmp_path, "jobs:\n  lease_seconds: soon\n"), environ={})


def test_unknown_key_in_file_is_named(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"match\.confirm"):
        load_settings(_write(tmp_path, "match:\n  confirm: 2\n"), environ={})


def test_allow_hosts_need_exact_host_and_port(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"fetch\.allow_hosts"):
        load_settings(environ={"TRIAGE_FETCH__ALLOW_HOSTS": "127.0.0.1"})


def test_unknown_store_scheme_is_named() -> None:
    with pytest.raises(ConfigError, match=r"store\.url"):
        load_settings(environ={"TRIAGE_STORE__URL": "mysql://x"})


def test_webhook_without_secret_is_refused() -> None:
    with pytest.raises(ConfigError, match="webhook_secret"):
        load_settings(environ={"TRIAGE_REFERRALS__WEBHOOK_URL": "https://hooks.example/x"})


def test_heartbeat_must_be_shorter_than_lease() -> None:
    with pytest.raises(ConfigError, match="heartbeat_seconds"):
        load_settings(environ={"TRIAGE_JOBS__HEARTBEAT_SECONDS": "40"})


def test_missing_config_file_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="not found"):
        load_settings(tmp_path / "absent.yaml", environ={})


def test_malformed_yaml_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="config"):
        load_settings(_write(tmp_path, "match: [unclosed\n"), environ={})
