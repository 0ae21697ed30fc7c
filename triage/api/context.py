"""What the handlers find on the application: the store, the settings, readiness checks."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field

from aiohttp import web
from limits import RateLimitItem
from limits.aio.strategies import RateLimiter

from hashes.types import VideoHashes
from triage.config import Settings
from triage.store.protocol import Store
from triage.verdicts import Decision

ReadinessCheck = Callable[[], bool]
LookupFunction = Callable[[VideoHashes], Awaitable[Decision]]
"""The verdict on query hashes against the live hash list, with its evidence (from the
composition root)."""


@dataclass(frozen=True)
class ApiContext:
    store: Store
    settings: Settings
    limiter: RateLimiter
    rate: RateLimitItem
    readiness: Mapping[str, ReadinessCheck] = field(default_factory=dict)
    lookup: LookupFunction | None = None


CONTEXT = web.AppKey("context", ApiContext)


def context(request: web.Request) -> ApiContext:
    return request.app[CONTEXT]
