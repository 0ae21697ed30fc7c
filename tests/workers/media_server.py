"""A loopback HTTP server that serves real clips, post pages and misbehaving responses.

Use it as an async context manager (or through the `media_server` fixture in
`tests/workers/conftest.py`):

    async with MediaServer(sources_dir) as server:
        limits = FetchLimits(allow_hosts=frozenset({server.host_port}))
        await fetch_media(server.url("/media/te-doorknob-hd-no-bar.mp4"), tmp, limits)

Pass an `ssl_context` to serve HTTPS instead (see `tests/workers/tls.py`).

Routes (NAME is a file name in `sources_dir`):
- `/media/NAME`: the clip, `Content-Type: video/mp4` (`?content_type=X` overrides it).
- `/chunked/NAME`: the clip streamed without Content-Length.
- `/post/NAME`: a post page embedding the clip (`?style=video|source|og`), titled `Post NAME`.
- `/page.html`: an ordinary HTML page without media.
- `/lying.mp4`: HTML served as `video/mp4`.
- `/redirect/N/NAME`: N redirects, then `/media/NAME`.
- `/redirect-to?location=URL`: one 302 to URL.
- `/big?size_bytes=N[&declare=0]`: N bytes that start like an MP4, with or without Content-Length.
- `/slow?seconds=S[&kind=html]`: the start of an MP4 (or a page), then nothing for S s.
- `/gzip?size_bytes=N`: N bytes that start like an MP4, gzip-compressed on the wire.
- `/status/CODE`: an empty response with that status.
Every request's path and query is recorded in `requests`; those that came through a proxy
are also in `proxied`, with their `Via` header.
"""

from __future__ import annotations

import asyncio
import gzip
import html
import ssl
from pathlib import Path

from aiohttp import web
from aiohttp.typedefs import Handler

from tests.loopback import LoopbackServer

_MP4_HEAD = b"\x00\x00\x00\x20ftypisom\x00\x00\x02\x00isomiso2avc1mp41" + b"\x00\x00\x00\x08free"


class MediaServer(LoopbackServer):
    """Serve test media on 127.0.0.1 at a free port."""

    def __init__(self, sources_dir: Path, ssl_context: ssl.SSLContext | None = None) -> None:
        # Cancel handlers whose client hung up, so a slow response does not hold up close().
        super().__init__(
            ssl_context=ssl_context,
            handler_cancellation=True,
            shutdown_timeout_seconds=1.0,
            quiet=True,
        )
        self.sources_dir = sources_dir
        self.requests: list[str] = []
        self.proxied: list[tuple[str, str]] = []

    def app(self) -> web.Application:
        app = web.Application(middlewares=[self._record])
        app.router.add_get("/media/{name}", self._media)
        app.router.add_get("/chunked/{name}", self._chunked)
        app.router.add_get("/post/{name}", self._post)
        app.router.add_get("/page.html", self._page)
        app.router.add_get("/lying.mp4", self._lying)
        app.router.add_get("/redirect/{hops:\\d+}/{name}", self._redirect_chain)
        app.router.add_get("/redirect-to", self._redirect_to)
        app.router.add_get("/big", self._big)
        app.router.add_get("/slow", self._slow)
        app.router.add_get("/gzip", self._gzip)
        app.router.add_get("/status/{code:\\d+}", self._status)
        return app

    @web.middleware
    async def _record(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        self.requests.append(request.path_qs)
        if "Via" in request.headers:
            self.proxied.append((request.path_qs, request.headers["Via"]))
        return await handler(request)

    def _source(self, request: web.Request) -> Path:
        name = request.match_info["name"]
        path = self.sources_dir / name
        if "/" in name or name.startswith(".") or not path.is_file():
            raise web.HTTPNotFound()
        return path

    async def _media(self, request: web.Request) -> web.StreamResponse:
        path = self._source(request)
        content_type = request.query.get("content_type", "video/mp4")
        return web.Response(body=path.read_bytes(), content_type=content_type)

    async def _chunked(self, request: web.Request) -> web.StreamResponse:
        data = self._source(request).read_bytes()
        response = web.StreamResponse()
        response.content_type = "application/octet-stream"
        response.enable_chunked_encoding()
        await response.prepare(request)
        for start in range(0, len(data), 256 * 1024):
            await response.write(data[start : start + 256 * 1024])
        await response.write_eof()
        return response

    async def _post(self, request: web.Request) -> web.StreamResponse:
        path = self._source(request)
        media = html.escape(f"/media/{path.name}")
        style = request.query.get("style", "video")
        if style == "og":
            body = f'<meta property="og:video" content="{self.base_url}{media}">'
        elif style == "source":
            body = f'<video controls><source src="{media}" type="video/mp4"></video>'
        else:
            body = f'<video controls src="{media}"></video>'
        page = (
            "<!DOCTYPE html><html><head>"
            f"<title>Post {html.escape(path.name)}</title>"
            f'<meta property="og:title" content="Post {html.escape(path.name)}">'
            f"</head><body><h1>A post</h1>{body}</body></html>"
        )
        return web.Response(text=page, content_type="text/html")

    async def _page(self, request: web.Request) -> web.StreamResponse:
        page = "<!DOCTYPE html><html><head><title>Nothing</title></head><body>text</body></html>"
        return web.Response(text=page, content_type="text/html")

    async def _lying(self, request: web.Request) -> web.StreamResponse:
        page = "<html><body>not a video at all</body></html>"
        return web.Response(body=page.encode(), content_type="video/mp4")

    async def _redirect_chain(self, request: web.Request) -> web.StreamResponse:
        hops = int(request.match_info["hops"])
        name = request.match_info["name"]
        target = f"/redirect/{hops - 1}/{name}" if hops > 1 else f"/media/{name}"
        raise web.HTTPFound(target)

    async def _redirect_to(self, request: web.Request) -> web.StreamResponse:
        raise web.HTTPFound(request.query["location"])

    async def _big(self, request: web.Request) -> web.StreamResponse:
        size_bytes = int(request.query["size_bytes"])
        response = web.StreamResponse()
        response.content_type = "video/mp4"
        if request.query.get("declare", "1") == "1":
            response.content_length = size_bytes
        else:
            response.enable_chunked_encoding()
        await response.prepare(request)
        sent = 0
        block = _MP4_HEAD + bytes(64 * 1024 - len(_MP4_HEAD))
        while sent < size_bytes:
            piece = block[: size_bytes - sent]
            try:
                await response.write(piece)
            except ConnectionError:
                return response  # the client hung up, as it should past its cap
            sent += len(piece)
        await response.write_eof()
        return response

    async def _slow(self, request: web.Request) -> web.StreamResponse:
        seconds = float(request.query.get("seconds", "30"))
        html_page = request.query.get("kind") == "html"
        start = b"<!DOCTYPE html><html><head>" if html_page else _MP4_HEAD
        response = web.StreamResponse()
        response.content_type = "text/html" if html_page else "video/mp4"
        response.content_length = len(start) + 1024
        await response.prepare(request)
        await response.write(start)
        await asyncio.sleep(seconds)
        await response.write(bytes(1024))
        await response.write_eof()
        return response

    async def _gzip(self, request: web.Request) -> web.StreamResponse:
        size_bytes = int(request.query["size_bytes"])
        body = gzip.compress(_MP4_HEAD + bytes(size_bytes - len(_MP4_HEAD)), compresslevel=9)
        headers = {"Content-Encoding": "gzip"}
        return web.Response(body=body, content_type="video/mp4", headers=headers)

    async def _status(self, request: web.Request) -> web.StreamResponse:
        return web.Response(status=int(request.match_info["code"]))
