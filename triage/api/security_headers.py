"""Security headers: every response says `nosniff` and names no software versions; every
HTML page also gets a strict Content-Security-Policy (its own scripts and styles only,
nothing inline, never framed) and sends no Referer on the links it follows."""

from __future__ import annotations

from collections.abc import Mapping

from aiohttp import web

from triage.api.operation import Handler

CONTENT_SECURITY_POLICY = "; ".join(
    (
        "default-src 'none'",
        "script-src 'self'",
        "style-src 'self'",
        "img-src 'self'",
        "connect-src 'self'",
        "base-uri 'none'",
        "form-action 'self'",
        "frame-ancestors 'none'",
    )
)
EVERY_RESPONSE: Mapping[str, str] = {
    "X-Content-Type-Options": "nosniff",
    "Server": "triage",  # instead of aiohttp's, which names the Python and aiohttp versions
}
HTML_RESPONSE: Mapping[str, str] = {
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
    "X-Frame-Options": "DENY",  # for browsers that predate frame-ancestors
    "Referrer-Policy": "no-referrer",
}


@web.middleware
async def security_headers_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    response = await handler(request)
    if response.prepared:
        # Streamed by the handler: its headers are sent already.
        return response
    response.headers.update(EVERY_RESPONSE)
    if response.content_type == "text/html":
        response.headers.update(HTML_RESPONSE)
    return response
