"""Loopback HTTP for tests: a server (an aiohttp app on 127.0.0.1 at a free port, from `start`
or entering `async with` to `close`, its app built by a subclass), one that serves a single
file at a pace of its choosing, and raw requests to a port, bytes as given."""

from __future__ import annotations

import asyncio
import ssl
from pathlib import Path
from typing import Self

from aiohttp import web
from aiohttp.log import access_logger


class LoopbackServer:
    """`port` is known once started. `handler_cancellation` cancels a handler whose client hung
    up, so a slow response does not hold up `close`, which waits `shutdown_timeout_seconds`
    at most for the others; `quiet` logs no access lines."""

    def __init__(
        self,
        *,
        ssl_context: ssl.SSLContext | None = None,
        handler_cancellation: bool = False,
        shutdown_timeout_seconds: float = 60.0,
        quiet: bool = False,
    ) -> None:
        self._ssl_context = ssl_context
        self._handler_cancellation = handler_cancellation
        self._shutdown_timeout_seconds = shutdown_timeout_seconds
        self._quiet = quiet
        self._runner: web.AppRunner | None = None
        self.port = 0

    def app(self) -> web.Application:
        raise NotImplementedError

    @property
    def host_port(self) -> str:
        """The exact `host:port`, as `fetch.allow_hosts` takes it."""
        return f"127.0.0.1:{self.port}"

    @property
    def base_url(self) -> str:
        scheme = "https" if self._ssl_context is not None else "http"
        return f"{scheme}://{self.host_port}"

    def url(self, path: str) -> str:
        return f"{self.base_url}{path}"

    async def start(self) -> None:
        self._runner = web.AppRunner(
            self.app(),
            access_log=None if self._quiet else access_logger,
            handler_cancellation=self._handler_cancellation,
            shutdown_timeout=self._shutdown_timeout_seconds,
        )
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0, ssl_context=self._ssl_context)
        await site.start()
        self.port = int(self._runner.addresses[0][1])

    async def close(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def __aenter__(self) -> Self:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()


class OneFileServer(LoopbackServer):
    """Serves the file at `path` on `route`, its length declared up front; a subclass writes
    the body at its own pace in `write_body`. A handler whose client hung up is cancelled."""

    def __init__(self, path: Path, route: str) -> None:
        super().__init__(handler_cancellation=True, shutdown_timeout_seconds=0.5)
        self.path, self.route = path, route

    def app(self) -> web.Application:
        app = web.Application()
        app.router.add_get(self.route, self._send)
        return app

    async def _send(self, request: web.Request) -> web.StreamResponse:
        data = self.path.read_bytes()
        response = web.StreamResponse(headers={"Content-Type": "video/mp4"})
        response.content_length = len(data)
        await response.prepare(request)
        await self.write_body(response, data)
        return response

    async def write_body(self, response: web.StreamResponse, data: bytes) -> None:
        raise NotImplementedError


async def raw_exchange(port: int, raw: bytes) -> tuple[int, dict[str, str], bytes]:
    """Send `raw` to 127.0.0.1:`port` as it is; the status, the headers (names in lower case)
    and the body of the answer, read until the server closes."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        writer.write(raw)
        await writer.drain()
        answer = await asyncio.wait_for(reader.read(), timeout=10)
    finally:
        writer.close()
    head, _, body = answer.partition(b"\r\n\r\n")
    status_line, *lines = head.decode("latin-1").split("\r\n")
    headers = {}
    for line in lines:
        name, _, value = line.partition(":")
        headers[name.strip().lower()] = value.strip()
    return int(status_line.split()[1]), headers, body
