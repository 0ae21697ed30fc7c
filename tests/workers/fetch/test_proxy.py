"""The guarded proxy that yt-dlp's requests go through."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import aiohttp

from tests.workers.media_server import MediaServer
from tests.workers.tls import loopback_tls
from workers.fetch.guard import AllowList
from workers.fetch.proxy import VIA_NAME, GuardedProxy


@asynccontextmanager
async def proxy_for(*allowed: str) -> AsyncIterator[GuardedProxy]:
    async with GuardedProxy(AllowList.parse(allowed), connect_timeout_seconds=5) as proxy:
        yield proxy


async def raw_exchange(proxy: GuardedProxy, request: bytes) -> bytes:
    reader, writer = await asyncio.open_connection("127.0.0.1", proxy.port)
    try:
        writer.write(request)
        await writer.drain()
        return await asyncio.wait_for(reader.read(), timeout=5)
    finally:
        writer.close()


async def test_forwards_plain_http_to_allowed_target(media_server: MediaServer) -> None:
    async with (
        proxy_for(media_server.host_port) as proxy,
        aiohttp.ClientSession() as session,
        session.get(media_server.url("/page.html"), proxy=proxy.url) as response,
    ):
        assert response.status == 200
        assert "<title>Nothing</title>" in await response.text()
    assert proxy.requests == [f"GET {media_server.url('/page.html')}"]
    assert media_server.proxied == [("/page.html", f"1.1 {VIA_NAME}")]


async def test_refuses_plain_http_to_unlisted_loopback(media_server: MediaServer) -> None:
    async with (
        proxy_for() as proxy,
        aiohttp.ClientSession() as session,
        session.get(media_server.url("/page.html"), proxy=proxy.url) as response,
    ):
        assert response.status == 403
        assert "loopback" in await response.text()
    assert proxy.refusals == [f"{media_server.host_port} -> 127.0.0.1 (loopback)"]
    assert media_server.requests == []


async def test_tunnels_connect_to_allowed_target(media_server: MediaServer) -> None:
    async with proxy_for(media_server.host_port) as proxy:
        answer = await raw_exchange(
            proxy,
            f"CONNECT {media_server.host_port} HTTP/1.1\r\nHost: {media_server.host_port}\r\n\r\n"
            f"GET /page.html HTTP/1.1\r\nHost: {media_server.host_port}\r\n"
            "Connection: close\r\n\r\n".encode(),
        )
    assert answer.startswith(b"HTTP/1.1 200 Connection Established\r\n\r\nHTTP/1.1 200 OK")
    assert b"<title>Nothing</title>" in answer
    assert media_server.requests == ["/page.html"]


async def test_refuses_connect_to_other_port_of_allowed_host(media_server: MediaServer) -> None:
    async with proxy_for(media_server.host_port) as proxy:
        other = f"127.0.0.1:{media_server.port + 1}"
        answer = await raw_exchange(proxy, f"CONNECT {other} HTTP/1.1\r\n\r\n".encode())
    assert answer.startswith(b"HTTP/1.1 403 Forbidden")
    assert proxy.requests == [f"CONNECT {other}"]


async def test_refuses_connect_to_private_and_metadata_addresses() -> None:
    async with proxy_for() as proxy:
        for target in ("10.0.0.1:443", "169.254.169.254:80", "[::1]:443", "0.0.0.0:80"):
            answer = await raw_exchange(proxy, f"CONNECT {target} HTTP/1.1\r\n\r\n".encode())
            assert answer.startswith(b"HTTP/1.1 403 Forbidden"), target
    assert len(proxy.refusals) == 4


async def test_rejects_origin_form_and_malformed_requests() -> None:
    async with proxy_for() as proxy:
        for request in (
            b"GET /x HTTP/1.1\r\n\r\n",
            b"nonsense\r\n\r\n",
            b"CONNECT x HTTP/1.1\r\n\r\n",
        ):
            answer = await raw_exchange(proxy, request)
            assert answer.startswith(b"HTTP/1.1 400 Bad Request"), request
    assert proxy.requests == []


async def test_https_goes_through_connect_tunnel_end_to_end(
    shared_data: Path, tmp_path: Path
) -> None:
    tls = loopback_tls(tmp_path)
    async with MediaServer(shared_data / "sources", ssl_context=tls.server) as server:
        async with (
            proxy_for(server.host_port) as proxy,
            aiohttp.ClientSession() as session,
            session.get(server.url("/page.html"), proxy=proxy.url, ssl=tls.client) as response,
        ):
            assert response.status == 200
            assert "<title>Nothing</title>" in await response.text()
        assert proxy.requests == [f"CONNECT {server.host_port}"]
        assert server.requests == ["/page.html"]
