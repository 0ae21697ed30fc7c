"""Settings: the only reader of `config.yaml` and of the `TRIAGE_*` environment.

Precedence, highest first: `TRIAGE_*` environment variables (``__`` separates nested keys, so
`TRIAGE_MATCH__CONFIRM_AT` sets `match.confirm_at`), then the YAML file, then the defaults
below. `config.yaml` at the repository root documents every key.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Annotated, Any, Literal, Self

import limits
import yaml
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    SecretStr,
    ValidationError,
    field_validator,
    model_validator,
)
from pydantic_settings import (
    BaseSettings,
    EnvSettingsSource,
    NoDecode,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    SettingsError,
    YamlConfigSettingsSource,
)

from hashes.index_multihash import TIERED_RETRIEVAL_BITS
from hashes.matcher import MatchParams
from hashes.video.params import QueryParams, ReferenceParams
from triage.errors import ConfigError
from triage.models import JobLane

ENV_PREFIX = "TRIAGE_"
ENV_NESTED_DELIMITER = "__"
DEFAULT_CONFIG_FILE = Path("config.yaml")
STORE_SCHEMES = ("memory://", "sqlite:///", "postgresql://", "postgres://")

KiB = 1024
MiB = 1024 * 1024
GiB = 1024 * MiB


class Section(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class StoreSettings(Section):
    url: str = "sqlite:///./data/triage.sqlite3"

    @field_validator("url")
    @classmethod
    def _known_scheme(cls, url: str) -> str:
        if not url.startswith(STORE_SCHEMES):
            raise ValueError(f"must start with one of {', '.join(STORE_SCHEMES)}, got {url!r}")
        return url


class ServerSettings(Section):
    host: str = "127.0.0.1"
    port: int = Field(default=8080, ge=0, le=65535)
    max_upload_bytes: int = Field(default=512 * MiB, gt=0)
    # Multipart forms: text fields beside the file are few and short; a flood of them is refused.
    max_form_fields: int = Field(default=32, ge=1)
    max_form_field_bytes: int = Field(default=16 * KiB, gt=0)
    max_form_overhead_bytes: int = Field(default=1 * MiB, gt=0)
    rate_limit: str = "600/minute"

    @field_validator("rate_limit")
    @classmethod
    def _rate(cls, value: str) -> str:
        try:
            limits.parse(value)
        except ValueError as exc:
            raise ValueError(f"expected a rate such as '600/minute', got {value!r}") from exc
        return value


def _split_commas(value: object) -> object:
    # Environment variables give lists as "a:1,b:2"; YAML gives real lists.
    if isinstance(value, str):
        return [item.strip() for item in value.split(",") if item.strip()]
    return value


class FetchSettings(Section):
    allow_hosts: Annotated[list[str], NoDecode] = Field(default_factory=list)
    max_bytes: int = Field(default=512 * MiB, gt=0)
    timeout_seconds: float = Field(default=60.0, gt=0)
    max_redirects: int = Field(default=5, ge=0)
    keep_media: bool = False
    user_agent: str = "takedown-triage/0.1"

    @field_validator("allow_hosts", mode="before")
    @classmethod
    def _hosts_from_text(cls, value: object) -> object:
        return _split_commas(value)

    @field_validator("allow_hosts")
    @classmethod
    def _host_and_port(cls, hosts: list[str]) -> list[str]:
        for entry in hosts:
            host, sep, port = entry.rpartition(":")
            if not sep or not host or not port.isdigit():
                raise ValueError(f"each entry is an exact host:port, got {entry!r}")
        return hosts


class MatchSettings(Section):
    confirm_at: float = Field(default=1.0, gt=0)
    review_at: float = Field(default=0.5, gt=0)
    query_fps: float = Field(default=4.0, gt=0)
    # Frames a second sampled from references (null: every frame). With the derived views'
    # share below, it sets the design every stored reference must share.
    reference_fps: float | None = Field(default=4.0, gt=0)
    # Derived views (crops, borders removed, reframed parts) of references on every n-th
    # sampled frame; raise it to shrink the index of a very large list.
    reference_derived_every: int = Field(default=1, ge=1)

    @model_validator(mode="after")
    def _ordered(self) -> Self:
        if self.review_at > self.confirm_at:
            raise ValueError(
                f"need 0 < review_at <= confirm_at, got review_at={self.review_at}, "
                f"confirm_at={self.confirm_at}"
            )
        return self

    # The one place matching settings become the parameters of `hashes`: the service, the
    # bench and the CLI all hash and match with these.
    def query_params(self) -> QueryParams:
        return QueryParams(fps=self.query_fps)

    def reference_params(self) -> ReferenceParams:
        """Reference hashing, as every stored reference must have been hashed."""
        return ReferenceParams(fps=self.reference_fps, derived_every=self.reference_derived_every)

    def match_params(self) -> MatchParams:
        return MatchParams()


IndexKind = Literal["exact", "multihash", "tiered"]


class IndexSettings(Section):
    """The matcher's index of the hash list, and its snapshots (docs/scale.md)."""

    # `exact` stays the default until the multi-hash index's answers beyond its retrieval
    # radius are validated (it can miss a reference with no row within that radius).
    kind: IndexKind = "exact"
    multihash_flips: int = Field(default=1, ge=0, le=3)
    # tiered only: how far a query row may lie from a sampled row of a reference for the
    # reference to be searched whole (docs/scale.md, "The tiered index").
    tiered_retrieval_bits: int = Field(default=TIERED_RETRIEVAL_BITS, ge=0, le=128)
    snapshots: bool = True
    # None: `<data_dir>/index` (`Settings.index_snapshot_dir`).
    snapshot_dir: Path | None = None
    # A start syncs only what changed since the snapshot, so these bound that catch-up; a
    # write costs seconds of one core at 2 M rows and grows with the rows (config.yaml).
    snapshot_after_changes: int = Field(default=100, ge=1)
    snapshot_every_seconds: float = Field(default=600.0, gt=0)
    # How often each process asks the store whether the list changed (one indexed query):
    # a reference set active, disabled or deleted is matched, or no longer, within about this.
    sync_seconds: float = Field(default=0.25, gt=0)


class ReferenceSettings(Section):
    # Keep an uploaded reference video after hashing, so a later change of the views the
    # matcher uses can hash it again (`POST /v1/references/{id}/rehash`). Off: the video of
    # an attack is deleted as soon as its hashes are stored.
    keep_source: bool = False


class JobSettings(Section):
    lease_seconds: float = Field(default=30.0, gt=0)
    heartbeat_seconds: float = Field(default=10.0, gt=0)
    max_attempts: int = Field(default=5, ge=1)
    backoff_base_seconds: float = Field(default=2.0, ge=0)
    backoff_max_seconds: float = Field(default=300.0, ge=0)
    in_process_workers: int = Field(default=1, ge=0)
    poll_seconds: float = Field(default=1.0, gt=0)
    # On SIGTERM running jobs get this long to finish before they go back to the queue.
    shutdown_grace_seconds: float = Field(default=20.0, ge=0)
    max_running_per_key: int = Field(default=4, ge=1)
    long_lane_slots: int = Field(default=1, ge=0)
    long_media_bytes: int = Field(default=256 * MiB, gt=0)
    long_media_seconds: float = Field(default=900.0, gt=0)

    def lane_for(self, size_bytes: int, duration_seconds: float | None = None) -> JobLane:
        """The lane of media this big (and this long, when known)."""
        too_long = duration_seconds is not None and duration_seconds > self.long_media_seconds
        return JobLane.LONG if size_bytes > self.long_media_bytes or too_long else JobLane.SHORT

    @model_validator(mode="after")
    def _heartbeat_inside_lease(self) -> Self:
        if self.heartbeat_seconds >= self.lease_seconds:
            raise ValueError(
                f"heartbeat_seconds ({self.heartbeat_seconds}) must be shorter than "
                f"lease_seconds ({self.lease_seconds}), or leases expire under live workers"
            )
        return self


class HashingSettings(Section):
    """Limits of the child processes that alone decode and hash media (docs/security.md)."""

    # Address space (RLIMIT_AS) of each hashing child; a decoder that asks for more fails
    # its allocation and the job ends `decoder_crashed`, not the worker.
    memory_bytes: int = Field(default=2 * GiB, ge=256 * MiB)
    # Open files (RLIMIT_NOFILE) of each hashing child.
    open_files: int = Field(default=64, ge=16)
    # Each hashing step of a job may take deadline_base_seconds plus this per second of media
    # (from its header), never more than deadline_max_seconds of wall time; CPU seconds
    # (RLIMIT_CPU) get the same allowance. Past it the child is killed: `timeout`.
    deadline_base_seconds: float = Field(default=120.0, gt=0)
    deadline_seconds_per_media_second: float = Field(default=10.0, ge=0)
    deadline_max_seconds: float = Field(default=3 * 3600.0, gt=0)
    # The pixel budget, checked from the header before any frame is decoded.
    # Beyond these: `too_large_picture`.
    max_image_pixels: int = Field(default=100_000_000, gt=0)
    max_frame_pixels: int = Field(default=40_000_000, gt=0)
    # Beyond these (declared, or counted while decoding): `too_long`.
    max_duration_seconds: float = Field(default=4 * 3600.0, gt=0)
    max_frames: int = Field(default=1_000_000, gt=0)
    max_frame_rate: float = Field(default=1000.0, gt=0)

    @model_validator(mode="after")
    def _base_inside_max(self) -> Self:
        if self.deadline_base_seconds > self.deadline_max_seconds:
            raise ValueError(
                f"deadline_base_seconds ({self.deadline_base_seconds}) must not exceed "
                f"deadline_max_seconds ({self.deadline_max_seconds})"
            )
        return self


class ReferralSettings(Section):
    webhook_url: str | None = None
    webhook_secret: SecretStr | None = None
    poll_seconds: float = Field(default=1.0, gt=0)
    backoff_base_seconds: float = Field(default=1.0, ge=0)
    # The longest wait between attempts: a receiver that is down is probed this often.
    probe_seconds: float = Field(default=8.0, gt=0)
    park_after_refusals: int = Field(default=5, ge=1)
    share_notes: bool = False

    @model_validator(mode="after")
    def _secret_with_url(self) -> Self:
        if self.webhook_url is not None and self.webhook_secret is None:
            raise ValueError("webhook_url needs webhook_secret to sign its deliveries")
        return self


LogLevel = Literal["DEBUG", "INFO", "WARNING", "ERROR"]


class LoggingSettings(Section):
    level: LogLevel = "INFO"
    format: Literal["json", "text"] = "json"

    @field_validator("level", mode="before")
    @classmethod
    def _upper(cls, value: object) -> object:
        return value.upper() if isinstance(value, str) else value


class MetricsSettings(Section):
    host: str = "127.0.0.1"
    port: int | None = Field(default=None, ge=0, le=65535)


class PagesSettings(Section):
    session_lifetime_seconds: float = Field(default=8 * 3600.0, gt=0)
    review_claim_seconds: float = Field(default=900.0, gt=0)
    secure_cookies: bool = False


class KeyframeSettings(Section):
    query_retention_days: float = Field(default=90.0, gt=0)
    reference_every_seconds: float = Field(default=2.0, gt=0)
    max_side_pixels: int = Field(default=320, ge=32, le=1280)
    jpeg_quality: int = Field(default=70, ge=10, le=95)


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        frozen=True,
        extra="forbid",
        env_prefix=ENV_PREFIX,
        env_nested_delimiter=ENV_NESTED_DELIMITER,
        case_sensitive=False,
    )

    data_dir: Path = Path("./data")
    """Media being processed and uploads live under it."""
    data_min_free_bytes: int = Field(default=256 * MiB, ge=0)
    """Below this much free space in data_dir: not ready, and workers take no new job."""
    store: StoreSettings = Field(default_factory=StoreSettings)
    server: ServerSettings = Field(default_factory=ServerSettings)
    fetch: FetchSettings = Field(default_factory=FetchSettings)
    match: MatchSettings = Field(default_factory=MatchSettings)
    index: IndexSettings = Field(default_factory=IndexSettings)
    jobs: JobSettings = Field(default_factory=JobSettings)
    references: ReferenceSettings = Field(default_factory=ReferenceSettings)
    hashing: HashingSettings = Field(default_factory=HashingSettings)
    referrals: ReferralSettings = Field(default_factory=ReferralSettings)
    logging: LoggingSettings = Field(default_factory=LoggingSettings)
    metrics: MetricsSettings = Field(default_factory=MetricsSettings)
    pages: PagesSettings = Field(default_factory=PagesSettings)
    keyframes: KeyframeSettings = Field(default_factory=KeyframeSettings)
    retro_match_days: float = Field(default=30.0, ge=0)

    @property
    def uploads_dir(self) -> Path:
        return self.data_dir / "uploads"

    @property
    def media_dir(self) -> Path:
        return self.data_dir / "media"

    @property
    def index_snapshot_dir(self) -> Path:
        return self.index.snapshot_dir or self.data_dir / "index"

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        # `load_settings` merges the file and the given environment itself, so that tests pass
        # an explicit environment; constructing Settings never reads os.environ behind its back.
        return (init_settings,)


class _MappingEnvSource(EnvSettingsSource):
    """The `TRIAGE_*` variables of a given mapping instead of `os.environ`."""

    def __init__(self, settings_cls: type[BaseSettings], environ: Mapping[str, str]) -> None:
        self._environ = {name.lower(): value for name, value in environ.items()}
        super().__init__(settings_cls)

    def _load_env_vars(self) -> Mapping[str, str | None]:
        return self._environ


def _deep_merge(base: dict[str, Any], override: Mapping[str, Any]) -> dict[str, Any]:
    merged = dict(base)
    for key, value in override.items():
        if isinstance(value, Mapping) and isinstance(merged.get(key), dict):
            merged[key] = _deep_merge(merged[key], value)
        else:
            merged[key] = value
    return merged


def _describe(error: ValidationError) -> str:
    problems = []
    for item in error.errors():
        key = ".".join(str(part) for part in item["loc"]) or "(top level)"
        problems.append(f"{key}: {item['msg']}")
    return "; ".join(problems)


def load_settings(
    config_file: Path | None = None, environ: Mapping[str, str] | None = None
) -> Settings:
    """Settings from `config_file` (default: `./config.yaml` when present) and `environ`.

    `environ` defaults to `os.environ`. Raises `ConfigError` naming the bad key.
    """
    if config_file is not None and not config_file.is_file():
        raise ConfigError(f"config file not found: {config_file}")
    path = config_file if config_file is not None else DEFAULT_CONFIG_FILE
    try:
        from_file: dict[str, Any] = {}
        if path.is_file():
            from_file = YamlConfigSettingsSource(Settings, yaml_file=path)()
        from_env = _MappingEnvSource(Settings, os.environ if environ is None else environ)()
    except SettingsError as exc:
        raise ConfigError(f"cannot read settings: {exc}") from exc
    except (OSError, ValueError, yaml.YAMLError) as exc:
        raise ConfigError(f"cannot read config file {path}: {exc}") from exc
    if not isinstance(from_file, dict):
        raise ConfigError(f"config file {path} must hold a mapping of settings")
    try:
        return Settings(**_deep_merge(from_file, from_env))
    except ValidationError as exc:
        raise ConfigError(f"invalid settings: {_describe(exc)}") from exc
