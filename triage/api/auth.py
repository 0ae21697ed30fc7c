"""Bearer keys, scopes and the per-key rate limit, checked before each handler runs."""

from __future__ import annotations

import time

from aiohttp import web

from triage.api.context import context
from triage.api.problems import Problem
from triage.keys import grants
from triage.models import ApiKey, Scope

API_KEY = web.RequestKey("api_key", ApiKey)
_CHALLENGE = {"WWW-Authenticate": 'Bearer realm="triage"'}


def _token(request: web.Request) -> str:
    header = request.headers.get("Authorization")
    if header is None:
        raise Problem(401, "send the key as 'Authorization: Bearer KEY'", headers=_CHALLENGE)
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise Problem(401, "the Authorization header must be 'Bearer KEY'", headers=_CHALLENGE)
    return token.strip()


async def authenticate(request: web.Request, scope: Scope, *also: Scope) -> ApiKey:
    """The active key of the request, which must grant `scope` (or one of `also`) and be
    within its rate limit."""
    ctx = context(request)
    key = await ctx.store.find_active_api_key(ApiKey.digest(_token(request)))
    if key is None:
        raise Problem(401, "unknown or revoked key", headers=_CHALLENGE)
    check_scope(key, scope, *also)
    await check_rate(request, key)
    request[API_KEY] = key
    return key


def check_scope(key: ApiKey, scope: Scope, *also: Scope) -> None:
    """403 unless `key` grants `scope` or one of `also`."""
    if not any(grants(key.scopes, s) for s in (scope, *also)):
        names = " or ".join(repr(s.value) for s in (scope, *also))
        raise Problem(403, f"this key lacks the {names} scope")


async def check_rate(request: web.Request, key: ApiKey) -> None:
    """429 once `key` is past the per-key rate limit."""
    ctx = context(request)
    if not await ctx.limiter.hit(ctx.rate, key.id):
        stats = await ctx.limiter.get_window_stats(ctx.rate, key.id)
        retry_after = max(1, int(stats.reset_time - time.time()) + 1)
        raise Problem(
            429,
            f"rate limit of {ctx.rate} exceeded for this key",
            headers={"Retry-After": str(retry_after)},
        )


def current_key(request: web.Request) -> ApiKey:
    return request[API_KEY]
