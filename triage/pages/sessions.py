"""Sign-in for pages: a key is exchanged for a server-side session; forms carry a CSRF token.

The browser keeps only the session token, in an HttpOnly, SameSite=Strict cookie (Secure
over TLS); the store keeps its SHA-256, the key it belongs to, its CSRF token and its end.
A session ends when it expires, on sign-out, or when its key is revoked. `/v1` never reads
the cookie: the API takes Bearer keys only.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from collections.abc import Mapping
from urllib.parse import quote

from aiohttp import web

from triage.api.auth import check_rate, check_scope
from triage.api.context import context
from triage.models import ApiKey, Scope, WebSession

SESSION_COOKIE = "triage_session"
SIGN_IN_COOKIE = "triage_sign_in"
CSRF_FIELD = "csrf_token"
CSRF_HEADER = "X-CSRF-Token"

SESSION = web.RequestKey("web_session", WebSession)


class SignInNeeded(Exception):
    """No valid session: the browser is sent to the sign-in page."""


class CsrfRejected(Exception):
    """A form or request without the session's CSRF token."""


def token_digest(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def set_cookie(
    request: web.Request, response: web.StreamResponse, name: str, value: str, max_age: int
) -> None:
    secure = request.secure or context(request).settings.pages.secure_cookies
    response.set_cookie(
        name, value, max_age=max_age, path="/", httponly=True, secure=secure, samesite="Strict"
    )


async def open_session(request: web.Request, key: ApiKey) -> tuple[str, WebSession]:
    """A new session for `key`: the token for the cookie, and the stored session."""
    ctx = context(request)
    token = secrets.token_urlsafe(32)
    session = await ctx.store.create_web_session(
        token_digest(token),
        key.id,
        csrf_token=secrets.token_urlsafe(24),
        lifetime_seconds=ctx.settings.pages.session_lifetime_seconds,
    )
    return token, session


async def current_session(request: web.Request) -> WebSession | None:
    """The request's live session, or None (no cookie, unknown, expired, ended, revoked)."""
    if SESSION in request:
        return request[SESSION]
    token = request.cookies.get(SESSION_COOKIE)
    if not token:
        return None
    session = await context(request).store.find_web_session(token_digest(token))
    if session is not None:
        request[SESSION] = session
    return session


async def require_session(request: web.Request, scope: Scope | None) -> WebSession:
    """The live session, whose key grants `scope` (403 otherwise) within its rate limit."""
    session = await current_session(request)
    if session is None:
        raise SignInNeeded
    if scope is not None:
        check_scope(session.key, scope)
    await check_rate(request, session.key)
    return session


def check_csrf(
    request: web.Request, session: WebSession, form: Mapping[str, object] | None
) -> None:
    """The form's (or the header's) token must be the session's."""
    sent = request.headers.get(CSRF_HEADER)
    if sent is None and form is not None:
        value = form.get(CSRF_FIELD)
        sent = value if isinstance(value, str) else None
    if not sent or not hmac.compare_digest(sent, session.csrf_token):
        raise CsrfRejected


def sign_in_location(request: web.Request) -> str:
    return "/sign-in?next=" + quote(request.path_qs, safe="")


def safe_next(value: str | None) -> str:
    """Where to go after signing in: a path on this site only (never `//host` or a URL)."""
    if not value or not value.startswith("/") or value.startswith("//") or "\\" in value:
        return "/"
    return value
