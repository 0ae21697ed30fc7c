"""An API over a fresh memory store, with one key per scope."""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass
from pathlib import Path

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

from triage.api.app import create_app
from triage.config import Settings, load_settings
from triage.models import ApiKey, Scope, new_api_key_token
from triage.store.memory import MemoryStore

UPLOAD_CAP_BYTES = 1024 * 1024


@dataclass
class Api:
    client: TestClient[web.Request, web.Application]
    store: MemoryStore
    settings: Settings
    keys: dict[str, str]  # scope name → token

    def auth(self, scope: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.keys[scope]}"}


async def make_api(
    tmp_path: Path, rate_limit: str = "1000/minute", extra: Mapping[str, str] | None = None
) -> Api:
    """`extra`: more settings, as environment variables."""
    settings = load_settings(
        None,
        {
            "TRIAGE_DATA_DIR": str(tmp_path / "data"),
            "TRIAGE_STORE__URL": "memory://",
            "TRIAGE_SERVER__MAX_UPLOAD_BYTES": str(UPLOAD_CAP_BYTES),
            "TRIAGE_SERVER__RATE_LIMIT": rate_limit,
            **(extra or {}),
        },
    )
    store = MemoryStore()
    keys: dict[str, str] = {}
    for scope in Scope:
        token = new_api_key_token()
        await store.create_api_key(f"{scope.value} key", {scope}, ApiKey.digest(token))
        keys[scope.value] = token
    app = create_app(store, settings, readiness={"index": lambda: None})
    client: TestClient[web.Request, web.Application] = TestClient(TestServer(app))
    await client.start_server()
    return Api(client=client, store=store, settings=settings, keys=keys)


@pytest.fixture
async def api(tmp_path: Path) -> AsyncIterator[Api]:
    made = await make_api(tmp_path)
    yield made
    await made.client.close()
