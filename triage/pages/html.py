"""Server-rendered HTML: an escaping helper, the page layout, and the pages' security headers.

Every value put into a page goes through `esc` unless it is already `Html` (built here from
escaped parts), so text from submitters and platforms can never become markup.
"""

from __future__ import annotations

import html
from collections.abc import Iterable
from string import Template

from aiohttp import web

from triage.models import Scope, WebSession


class Html(str):
    """Text that is safe to put in a page as it is."""

    __slots__ = ()


def esc(value: object) -> Html:
    """`value` as page text: escaped, unless it is `Html` already; None is empty."""
    if isinstance(value, Html):
        return value
    return Html(html.escape("" if value is None else str(value), quote=True))


def fill(template: str, **values: object) -> Html:
    """`template` (string.Template syntax) with every value escaped."""
    return Html(Template(template).substitute({k: esc(v) for k, v in values.items()}))


def join(parts: Iterable[Html], sep: str = "") -> Html:
    return Html(sep.join(esc(p) for p in parts))


# One place for the pages' policy: no inline script or style, nothing from elsewhere.
CONTENT_SECURITY_POLICY = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; "
    "connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
)
PAGE_HEADERS = {
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "Cache-Control": "no-store",
}

_LAYOUT = """<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>$title · Takedown triage</title>
<link rel="stylesheet" href="/pages/static/pages.css">
</head>
<body>
<header class="top">
<a class="brand" href="/">Takedown triage</a>
<nav>$nav</nav>
</header>
<main>
<h1>$title</h1>
$body
</main>
$scripts
</body>
</html>
"""

_NAV_LINKS = (
    (Scope.SUBMIT, "/submit", "Submit"),
    (Scope.SUBMIT, "/submissions", "My submissions"),
    (Scope.REVIEW, "/review", "Review queue"),
)


def _nav(session: WebSession | None) -> Html:
    if session is None:
        return Html("")
    scopes = session.key.scopes
    links = [
        fill('<a href="$href">$text</a>', href=href, text=text)
        for scope, href, text in _NAV_LINKS
        if scope in scopes or Scope.ADMIN in scopes
    ]
    sign_out = fill(
        '<form class="inline" method="post" action="/sign-out">'
        '<input type="hidden" name="csrf_token" value="$csrf">'
        '<span class="who">$name</span> <button type="submit">Sign out</button></form>',
        csrf=session.csrf_token,
        name=session.key.name,
    )
    return join([*links, sign_out], " ")


def page(
    title: str,
    body: Html,
    *,
    session: WebSession | None,
    scripts: Iterable[str] = (),
    status: int = 200,
) -> web.Response:
    """A whole page in the layout, with the pages' security headers."""
    script_tags = join(fill('<script src="$src" defer></script>', src=s) for s in scripts)
    text = fill(_LAYOUT, title=title, nav=_nav(session), body=body, scripts=script_tags)
    return web.Response(
        text=text, status=status, content_type="text/html", charset="utf-8", headers=PAGE_HEADERS
    )


def redirect(location: str, *, headers: dict[str, str] | None = None) -> web.Response:
    """303 See Other: after a form, the browser GETs `location`."""
    return web.Response(status=303, headers={"Location": location, **(headers or {})})
