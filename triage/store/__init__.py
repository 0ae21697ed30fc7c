"""Where the service keeps everything: the `Store` interface and its backends.

`open_store(url)` picks the backend from the URL scheme; call `await store.migrate()` before
first use and `await store.close()` at the end.
"""

from __future__ import annotations

from triage.errors import ConfigError
from triage.store.memory import MemoryStore
from triage.store.policy import DEFAULT_JOB_POLICY, JobPolicy
from triage.store.protocol import Store
from triage.store.rules import Clock, utc_now
from triage.store.sql import SqlStore

__all__ = ["JobPolicy", "MemoryStore", "SqlStore", "Store", "open_store"]


def open_store(
    url: str, *, policy: JobPolicy = DEFAULT_JOB_POLICY, clock: Clock = utc_now
) -> Store:
    """The store for `url`: ``memory://``, ``sqlite:///PATH`` or ``postgresql://...``, whose
    jobs follow `policy` (the service passes `JobPolicy.from_settings(settings.jobs)`).

    Opening does not connect; the first call does. Raises `ConfigError` for another scheme.
    """
    if url.startswith("memory://"):
        return MemoryStore(policy=policy, clock=clock)
    if url.startswith(("sqlite:///", "postgresql://", "postgres://", "postgresql+asyncpg://")):
        return SqlStore(url, policy=policy, clock=clock)
    raise ConfigError(
        f"store.url: expected memory://, sqlite:///PATH or postgresql://..., got {url!r}"
    )
