"""Signing in with a key, signing out, and the home page that sends each key where it works."""

from __future__ import annotations

import hmac
import secrets

from aiohttp import web

from triage.api.context import context
from triage.keys import grants
from triage.models import ApiKey, Scope, WebSession
from triage.pages.guard import guarded
from triage.pages.html import Html, fill, page, redirect
from triage.pages.sessions import (
    CSRF_FIELD,
    SESSION_COOKIE,
    SIGN_IN_COOKIE,
    check_csrf,
    current_session,
    open_session,
    safe_next,
    set_cookie,
    token_digest,
)

SIGN_IN_FORM_SECONDS = 3600
_MAX_KEY_CHARS = 200

_FORM = """<form class="card narrow" method="post" action="/sign-in">
$error
<input type="hidden" name="csrf_token" value="$csrf">
<input type="hidden" name="next" value="$next">
<label for="key">Your key</label>
<input id="key" name="key" type="password" autocomplete="current-password" required autofocus>
<p class="hint">The key you were given (it starts with <code>tt_</code>). It is exchanged for a
sign-in that lasts until you sign out, it expires, or the key is revoked; the key itself is not
kept in your browser.</p>
<button type="submit" class="primary">Sign in</button>
</form>"""


def home_of(key: ApiKey) -> str:
    if grants(key.scopes, Scope.SUBMIT):
        return "/submissions"
    if grants(key.scopes, Scope.REVIEW):
        return "/review"
    return "/docs"


async def home(request: web.Request) -> web.StreamResponse:
    session = await current_session(request)
    return redirect(home_of(session.key) if session is not None else "/sign-in")


def _sign_in_page(request: web.Request, error: str | None, status: int = 200) -> web.Response:
    # Before a session exists, a random token in a SameSite cookie and in the form proves
    # the form was ours (no signing in a victim to an attacker's key).
    token = secrets.token_urlsafe(24)
    message = fill('<p class="error" role="alert">$e</p>', e=error) if error else Html("")
    body = fill(_FORM, error=message, csrf=token, next=safe_next(request.query.get("next")))
    response = page("Sign in", body, session=None, status=status)
    set_cookie(request, response, SIGN_IN_COOKIE, token, SIGN_IN_FORM_SECONDS)
    return response


async def sign_in_form(request: web.Request) -> web.StreamResponse:
    session = await current_session(request)
    if session is not None:
        return redirect(home_of(session.key))
    return _sign_in_page(request, None)


async def sign_in(request: web.Request) -> web.StreamResponse:
    form = await request.post()
    sent = str(form.get(CSRF_FIELD, ""))
    expected = request.cookies.get(SIGN_IN_COOKIE, "")
    if not sent or not expected or not hmac.compare_digest(sent, expected):
        return _sign_in_page(request, "The sign-in form expired; please try again.", 403)
    token = str(form.get("key", "")).strip()
    key = None
    if token and len(token) <= _MAX_KEY_CHARS:
        key = await context(request).store.find_active_api_key(ApiKey.digest(token))
    if key is None:
        return _sign_in_page(request, "This key is unknown or revoked.", 401)
    session_token, _ = await open_session(request, key)
    wanted = safe_next(str(form.get("next", "")))
    response = redirect(wanted if wanted != "/" else home_of(key))
    lifetime = int(context(request).settings.pages.session_lifetime_seconds)
    set_cookie(request, response, SESSION_COOKIE, session_token, lifetime)
    response.del_cookie(SIGN_IN_COOKIE, path="/")
    return response


@guarded(None)
async def sign_out(request: web.Request, session: WebSession) -> web.StreamResponse:
    check_csrf(request, session, await request.post())
    token = request.cookies.get(SESSION_COOKIE, "")
    await context(request).store.end_web_session(token_digest(token))
    response = redirect("/sign-in")
    response.del_cookie(SESSION_COOKIE, path="/")
    return response
