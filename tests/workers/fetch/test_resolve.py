"""Post pages resolved by yt-dlp in a child process, behind the guarded proxy."""

from __future__ import annotations

import hashlib
import time
from pathlib import Path

import pytest

from tests.workers.media_server import MediaServer
from workers.fetch.download import fetch_media
from workers.fetch.errors import (
    BadUrlError,
    BlockedAddressError,
    FetchTimeoutError,
    ResolveFailedError,
)
from workers.fetch.proxy import VIA_NAME
from workers.fetch.resolve import resolve_post_page
from workers.fetch.types import FetchLimits

CLIP = "te-doorknob-hd-no-bar.mp4"


def limits_for(server: MediaServer, timeout_seconds: float = 20.0) -> FetchLimits:
    return FetchLimits(
        allow_hosts=frozenset({server.host_port}),
        max_bytes=8 * 1024 * 1024,
        timeout_seconds=timeout_seconds,
    )


@pytest.mark.parametrize("style", ["video", "og"])
async def test_resolves_post_page_to_media_url_with_metadata(
    media_server: MediaServer, style: str
) -> None:
    page = media_server.url(f"/post/{CLIP}?style={style}")
    resolved = await resolve_post_page(page, limits_for(media_server))
    assert resolved.media_urls == (media_server.url(f"/media/{CLIP}"),)
    assert resolved.page_url == page
    assert resolved.webpage_url == page
    assert resolved.title is not None
    assert resolved.title.startswith(f"Post {CLIP}")
    assert resolved.extractor in {"Generic", "HTML5MediaEmbed"}
    assert resolved.media_id is not None
    assert resolved.media_id.startswith("te-doorknob-hd-no-bar")
    # yt-dlp asked for the page through the proxy and downloaded nothing.
    assert media_server.proxied == [(f"/post/{CLIP}?style={style}", f"1.1 {VIA_NAME}")]
    assert media_server.requests == [f"/post/{CLIP}?style={style}"]


async def test_resolved_media_fetches_to_the_real_clip(
    media_server: MediaServer, tmp_path: Path, shared_data: Path
) -> None:
    limits = limits_for(media_server)
    resolved = await resolve_post_page(media_server.url(f"/post/{CLIP}?style=source"), limits)
    media = await fetch_media(resolved.media_urls[0], tmp_path, limits)
    expected = (shared_data / "sources" / CLIP).read_bytes()
    assert media.sha256 == hashlib.sha256(expected).hexdigest()
    assert media.content_type == "video/mp4"
    assert media.final_url == media_server.url(f"/media/{CLIP}")


async def test_page_on_unlisted_loopback_is_refused(media_server: MediaServer) -> None:
    with pytest.raises(BlockedAddressError, match="loopback") as caught:
        await resolve_post_page(media_server.url(f"/post/{CLIP}"), FetchLimits())
    assert caught.value.reason == "blocked_address"
    assert media_server.requests == []


async def test_page_on_other_port_of_allowed_host_is_refused(
    media_server: MediaServer, shared_data: Path
) -> None:
    async with MediaServer(shared_data / "sources") as other:
        with pytest.raises(BlockedAddressError):
            await resolve_post_page(other.url(f"/post/{CLIP}"), limits_for(media_server))
        assert other.requests == []


async def test_page_without_media_fails_to_resolve(media_server: MediaServer) -> None:
    with pytest.raises(ResolveFailedError) as caught:
        await resolve_post_page(media_server.url("/page.html"), limits_for(media_server))
    assert caught.value.reason == "resolve_failed"
    assert media_server.proxied == [("/page.html", f"1.1 {VIA_NAME}")]


async def test_slow_page_times_out_and_child_is_killed(media_server: MediaServer) -> None:
    page = media_server.url("/slow?seconds=30&kind=html")
    started = time.monotonic()
    with pytest.raises(FetchTimeoutError) as caught:
        await resolve_post_page(page, limits_for(media_server, timeout_seconds=2.0))
    assert caught.value.reason == "timeout"
    assert time.monotonic() - started < 4
    assert running_children_for(page) == []


def running_children_for(url: str) -> list[int]:
    """Process ids of live resolver children working on `url` (Linux /proc)."""
    pids = []
    for cmdline in Path("/proc").glob("[0-9]*/cmdline"):
        try:
            args = cmdline.read_bytes().split(b"\0")
        except OSError:
            continue
        if b"workers.fetch.resolve_child" in args and url.encode() in args:
            pids.append(int(cmdline.parent.name))
    return pids


async def test_non_http_page_url_is_refused_without_a_child() -> None:
    with pytest.raises(BadUrlError):
        await resolve_post_page("file:///etc/passwd", FetchLimits())
