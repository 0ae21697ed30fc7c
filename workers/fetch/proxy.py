"""A guarded HTTP proxy on 127.0.0.1 for tools that make their own requests (yt-dlp).

It forwards plain HTTP requests (absolute-form) and tunnels HTTPS with CONNECT; every
upstream connection is opened through `AddressGuard.open_connection`, so the tool behind
it reaches exactly what `fetch_media` may reach. It only listens on loopback, on a port
of its own, for as long as the one resolution that started it.
"""

from __future__ import annotations

import asyncio
import contextlib
from types import TracebackType

from yarl import URL

from workers.fetch.guard import AddressGuard, AllowList, BlockedConnectionError, HostPort

VIA_NAME = "triage-guard"
"""Named in the `Via` header of every plain HTTP request the proxy forwards."""
_MAX_HEAD_BYTES = 64 * 1024
_PIPE_CHUNK_BYTES = 64 * 1024
# Hop-by-hop headers are the proxy's own business and are not forwarded.
_HOP_HEADERS = frozenset(
    {"connection", "keep-alive", "proxy-connection", "proxy-authorization", "te", "upgrade"}
)


class ProxyRequestError(ValueError):
    """The client's request to the proxy is malformed."""


class GuardedProxy:
    """Loopback HTTP proxy whose upstream connections all pass the address guard.

    `requests` records every target asked for (`CONNECT host:port` or `GET url`) and
    `refusals` every target the guard refused, so callers can tell "blocked" from
    "failed" and tests can check that traffic went through the proxy.
    """

    def __init__(self, allow: AllowList, connect_timeout_seconds: float = 10.0) -> None:
        self._guard = AddressGuard(allow)
        self._connect_timeout_seconds = connect_timeout_seconds
        self._server: asyncio.Server | None = None
        self._connections: set[asyncio.Task[None]] = set()
        self.requests: list[str] = []
        self.port = 0

    @property
    def refusals(self) -> list[str]:
        return self._guard.refusals

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    async def start(self) -> None:
        self._server = await asyncio.start_server(
            self._on_client, host="127.0.0.1", port=0, limit=_MAX_HEAD_BYTES
        )
        self.port = int(self._server.sockets[0].getsockname()[1])

    async def close(self) -> None:
        if self._server is not None:
            self._server.close()
            for task in list(self._connections):
                task.cancel()
            await asyncio.gather(*self._connections, return_exceptions=True)
            await self._server.wait_closed()
            self._server = None

    async def __aenter__(self) -> GuardedProxy:
        await self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        await self.close()

    async def _on_client(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        if task is not None:
            self._connections.add(task)
        try:
            await self._serve(reader, writer)
        except (ConnectionError, asyncio.IncompleteReadError, asyncio.LimitOverrunError):
            pass
        finally:
            writer.close()
            if task is not None:
                self._connections.discard(task)

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        head = await reader.readuntil(b"\r\n\r\n")
        try:
            method, target, version, headers = _parse_head(head)
            if method == "CONNECT":
                endpoint = HostPort.parse(target)
                first_bytes = b""
            else:
                endpoint, first_bytes = _origin_request(method, target, version, headers)
        except ValueError as exc:
            await _reply(writer, 400, f"bad proxy request: {exc}")
            return
        self.requests.append(f"{method} {target}")
        try:
            async with asyncio.timeout(self._connect_timeout_seconds):
                upstream_reader, upstream_writer = await self._guard.open_connection(
                    endpoint.host, endpoint.port
                )
        except BlockedConnectionError as exc:
            await _reply(writer, 403, f"blocked by the address guard: {exc}")
            return
        except (OSError, TimeoutError) as exc:
            await _reply(writer, 502, f"cannot reach {endpoint}: {exc}")
            return
        try:
            if method == "CONNECT":
                writer.write(b"HTTP/1.1 200 Connection Established\r\n\r\n")
                await writer.drain()
            else:
                upstream_writer.write(first_bytes)
                await upstream_writer.drain()
            await _relay(reader, writer, upstream_reader, upstream_writer)
        finally:
            upstream_writer.close()


def _parse_head(head: bytes) -> tuple[str, str, str, list[tuple[str, str]]]:
    lines = head.decode("latin-1").split("\r\n")
    parts = lines[0].split(" ")
    if len(parts) != 3 or not parts[2].startswith("HTTP/"):
        raise ProxyRequestError(f"malformed request line {lines[0]!r}")
    headers = []
    for line in lines[1:]:
        if not line:
            continue
        name, sep, value = line.partition(":")
        if not sep:
            raise ProxyRequestError(f"malformed header line {line!r}")
        headers.append((name.strip(), value.strip()))
    return parts[0].upper(), parts[1], parts[2], headers


def _origin_request(
    method: str, target: str, version: str, headers: list[tuple[str, str]]
) -> tuple[HostPort, bytes]:
    """The upstream endpoint and the request head rewritten for it (origin-form, close)."""
    url = URL(target)
    if url.scheme != "http" or not url.host or url.port is None:
        raise ProxyRequestError(f"only absolute http:// targets or CONNECT, not {target!r}")
    kept = [(name, value) for name, value in headers if name.lower() not in _HOP_HEADERS]
    # One request per upstream connection: the relay ends when the server closes.
    kept.append(("Connection", "close"))
    kept.append(("Via", f"{version.removeprefix('HTTP/')} {VIA_NAME}"))
    path = url.raw_path_qs or "/"
    lines = [f"{method} {path} {version}"] + [f"{name}: {value}" for name, value in kept]
    return HostPort(url.host, url.port), ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")


async def _reply(writer: asyncio.StreamWriter, status: int, detail: str) -> None:
    body = detail.encode("utf-8", "replace")
    reasons = {400: "Bad Request", 403: "Forbidden", 502: "Bad Gateway"}
    writer.write(
        f"HTTP/1.1 {status} {reasons[status]}\r\nContent-Type: text/plain; charset=utf-8\r\n"
        f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n".encode("latin-1")
        + body
    )
    with contextlib.suppress(ConnectionError):
        await writer.drain()


async def _relay(
    client_reader: asyncio.StreamReader,
    client_writer: asyncio.StreamWriter,
    upstream_reader: asyncio.StreamReader,
    upstream_writer: asyncio.StreamWriter,
) -> None:
    """Copy bytes both ways until either side closes."""
    tasks = {
        asyncio.create_task(_pipe(client_reader, upstream_writer)),
        asyncio.create_task(_pipe(upstream_reader, client_writer)),
    }
    try:
        await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)


async def _pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    with contextlib.suppress(ConnectionError):
        while data := await reader.read(_PIPE_CHUNK_BYTES):
            writer.write(data)
            await writer.drain()
