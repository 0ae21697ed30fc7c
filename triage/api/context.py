"""What the handlers find on the application: the store, the settings, readiness checks."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

from aiohttp import web
from limits import RateLimitItem
from limits.aio.strategies import RateLimiter

from triage.config import Settings
from triage.store.protocol import Store

ReadinessCheck = Callable[[], bool]


@dataclass(frozen=True)
class ApiContext:
    store: Store
    settings: Settings
    limiter: RateLimiter
    rate: RateLimitItem
    readiness: Mapping[str, ReadinessCheck] = field(default_factory=dict)


CONTEXT = web.AppKey("context", ApiContext)


def context(request: web.Request) -> ApiContext:
    return request.app[CONTEXT]
