"""A loopback HTTP server for tests: an aiohttp app on 127.0.0.1 at a free port, from `start`
(or entering `async with`) to `close`. A subclass builds its app in `app`."""

from __future__ import annotations

import ssl
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
