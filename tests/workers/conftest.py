"""Fixtures for the workers tests."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from tests.workers.media_server import MediaServer


@pytest.fixture
async def media_server(shared_data: Path) -> AsyncIterator[MediaServer]:
    """A loopback HTTP server serving the shared clips (see `media_server.py` for routes)."""
    async with MediaServer(shared_data / "sources") as server:
        yield server
