"""Errors raised before a request reaches the application, answered as problem+json.

aiohttp's HTTP parser refuses malformed requests (a folded or invalid header, an overlong
line, a bad method) before any middleware runs, and its connection handler answers them in
plain text that quotes the offending bytes, which it also logs at ERROR with a traceback.
A folded `Authorization` header would put the key in both. aiohttp offers no hook for these
answers (aio-libs/aiohttp#3287), so the runner here builds its connections from a
`RequestHandler` whose `handle_error` answers a fixed problem+json body and logs one line that
names the kind of error only.
"""

from __future__ import annotations

import asyncio
import logging
from http import HTTPStatus

from aiohttp import web
from aiohttp.http_exceptions import (
    BadHttpMethod,
    BadStatusLine,
    HttpProcessingError,
    InvalidHeader,
    InvalidURLError,
    LineTooLong,
)
from aiohttp.web_protocol import RequestHandler
from aiohttp.web_request import BaseRequest

from triage.api.problems import Problem, problem_response
from triage.api.security_headers import EVERY_RESPONSE
from triage.metrics import http_requests_total

_log = logging.getLogger(__name__)
UNPARSED_ROUTE = "unparsed"
"""The route label of requests answered before routing (malformed HTTP, handler crashes)."""

# What to tell the client, by kind of parser error; never the bytes it sent.
_PARSER_DETAILS: tuple[tuple[type[HttpProcessingError], str], ...] = (
    (BadStatusLine, "the request line is not valid HTTP/1.1"),
    (LineTooLong, "a request line or header is longer than the server accepts"),
    (InvalidHeader, "a header is malformed (folded headers and control characters are refused)"),
    (InvalidURLError, "the request target is not a valid URL"),
)
_OTHER_PARSER_DETAIL = "the request is not valid HTTP/1.1"


def _parser_detail(exc: BaseException | None) -> str:
    for kind, detail in _PARSER_DETAILS:
        if isinstance(exc, kind):
            return detail
    return _OTHER_PARSER_DETAIL


def error_problem(status: int, exc: BaseException | None) -> Problem:
    """The problem answered for an error aiohttp handles outside the application."""
    if status >= 500:
        if status == HTTPStatus.GATEWAY_TIMEOUT:
            return Problem(status, "the request took too long to answer")
        return Problem(status, "an internal error occurred; it has been logged")
    return Problem(status, _parser_detail(exc))


class ProblemRequestHandler(RequestHandler):
    """aiohttp's connection handler, answering its own errors as problem+json."""

    __slots__ = ()

    def handle_error(
        self,
        request: BaseRequest,
        status: int = 500,
        exc: BaseException | None = None,
        message: str | None = None,
    ) -> web.StreamResponse:
        # `message` and str(exc) quote the request's bytes: neither is logged nor answered.
        if isinstance(exc, HttpProcessingError):
            # Scanners and TLS on the plain port send garbage all day: not an error of ours.
            level = logging.DEBUG if isinstance(exc, BadHttpMethod) else logging.WARNING
            _log.log(
                level,
                "refused a malformed request from %s: %s",
                request.remote,
                type(exc).__name__,
            )
        elif status >= 500:
            _log.error("error handling a request from %s", request.remote, exc_info=exc)
        if request.writer.output_size > 0:
            # Part of a response is out already: only closing the connection is left.
            raise ConnectionError("response already started; cannot send the error")
        response = problem_response(error_problem(status, exc))
        # The app's middlewares never see this answer: count it and add the headers here.
        http_requests_total.labels(request.method, UNPARSED_ROUTE, str(status)).inc()
        response.headers.update(EVERY_RESPONSE)
        response.force_close()
        return response


class ProblemServer(web.Server):
    """aiohttp's low-level server, making `ProblemRequestHandler` connections."""

    def __call__(self) -> RequestHandler:
        return ProblemRequestHandler(self, loop=self._loop, **self._kwargs)


class ApiRunner(web.AppRunner):
    """`web.AppRunner` whose connections answer parser errors as problem+json (see above)."""

    async def _make_server(self) -> web.Server:
        made = await super()._make_server()
        return ProblemServer(
            made.request_handler,
            request_factory=made.request_factory,
            handler_cancellation=made.handler_cancellation,
            loop=asyncio.get_running_loop(),
            **made._kwargs,
        )
