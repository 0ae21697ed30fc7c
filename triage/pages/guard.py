"""Every page handler runs behind `guarded`: a live session with the scope, errors as pages."""

from __future__ import annotations

import functools
from collections.abc import Awaitable, Callable

from aiohttp import web

from triage.api.operation import Handler
from triage.api.problems import Problem
from triage.errors import Conflict, Forbidden, InvalidInput, NotFound
from triage.models import Scope, WebSession
from triage.pages.html import fill, page, redirect
from triage.pages.sessions import (
    CsrfRejected,
    SignInNeeded,
    current_session,
    require_session,
    sign_in_location,
)

PageHandler = Callable[[web.Request, WebSession], Awaitable[web.StreamResponse]]

_STATUS_OF = ((NotFound, 404), (Conflict, 409), (InvalidInput, 422), (Forbidden, 403))


async def error_page(request: web.Request, status: int, detail: str) -> web.Response:
    session = await current_session(request)
    body = fill(
        '<p class="error" role="alert">$detail</p><p><a href="/">Back</a></p>', detail=detail
    )
    titles = {
        401: "Signed out",
        403: "Not allowed",
        404: "Not found",
        409: "Not possible now",
        429: "Slow down",
    }
    return page(titles.get(status, "Something went wrong"), body, session=session, status=status)


def guarded(scope: Scope | None) -> Callable[[PageHandler], Handler]:
    """Wrap a page handler: sign-in first (GETs are sent to the sign-in page and back),
    the key's scope, and errors shown as pages rather than problem+json."""

    def wrap(handler: PageHandler) -> Handler:
        @functools.wraps(handler)
        async def run(request: web.Request) -> web.StreamResponse:
            try:
                session = await require_session(request, scope)
                return await handler(request, session)
            except SignInNeeded:
                if request.method == "GET":
                    return redirect(sign_in_location(request))
                return await error_page(request, 401, "You are signed out: sign in again.")
            except CsrfRejected:
                return await error_page(
                    request,
                    403,
                    "This form is out of date or was not sent from our page. "
                    "Reload the page and try again.",
                )
            except Problem as exc:
                response = await error_page(request, exc.status, exc.detail)
                response.headers.update(exc.headers)
                return response
            except (NotFound, Conflict, InvalidInput, Forbidden) as exc:
                status = next(code for kind, code in _STATUS_OF if isinstance(exc, kind))
                return await error_page(request, status, str(exc))

        return run

    return wrap
