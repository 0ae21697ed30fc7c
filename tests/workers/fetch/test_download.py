"""Direct media fetching against a loopback server, through the guarded connector."""

from __future__ import annotations

import hashlib
import time
from pathlib import Path

import pytest

from tests.workers.media_server import MediaServer
from tests.workers.tls import loopback_tls
from triage.config import FetchSettings
from workers.fetch.download import fetch_media
from workers.fetch.errors import (
    BadUrlError,
    BlockedAddressError,
    FetchTimeoutError,
    HttpStatusError,
    NotMediaError,
    TooLargeError,
    TooManyRedirectsError,
    UnreachableError,
)
from workers.fetch.types import FetchLimits

CLIP = "te-doorknob-hd-no-bar.mp4"


def limits_for(server: MediaServer, **overrides: object) -> FetchLimits:
    values: dict[str, object] = {
        "allow_hosts": frozenset({server.host_port}),
        "max_bytes": 8 * 1024 * 1024,
        "timeout_seconds": 10.0,
        "max_redirects": 3,
    }
    values.update(overrides)
    return FetchLimits(**values)  # type: ignore[arg-type]


def assert_no_leftovers(directory: Path) -> None:
    assert list(directory.iterdir()) == []


async def test_fetches_real_clip_with_hash_size_and_sniffed_type(
    media_server: MediaServer, tmp_path: Path, shared_data: Path
) -> None:
    expected = (shared_data / "sources" / CLIP).read_bytes()
    media = await fetch_media(
        media_server.url(f"/media/{CLIP}"), tmp_path, limits_for(media_server)
    )
    assert media.path.parent == tmp_path
    assert media.path.suffix == ".mp4"
    assert media.path.read_bytes() == expected
    assert media.sha256 == hashlib.sha256(expected).hexdigest()
    assert media.size_bytes == len(expected)
    assert media.content_type == "video/mp4"
    assert media.header_content_type == "video/mp4"
    assert media.final_url == media_server.url(f"/media/{CLIP}")
    assert media.redirects == ()
    assert media.fetched_at.tzinfo is not None


async def test_streams_body_without_content_length(
    media_server: MediaServer, tmp_path: Path, shared_data: Path
) -> None:
    expected = (shared_data / "sources" / CLIP).read_bytes()
    media = await fetch_media(
        media_server.url(f"/chunked/{CLIP}"), tmp_path, limits_for(media_server)
    )
    assert media.sha256 == hashlib.sha256(expected).hexdigest()
    assert media.header_content_type == "application/octet-stream"
    assert media.content_type == "video/mp4"


async def test_type_comes_from_bytes_when_header_says_text(
    media_server: MediaServer, tmp_path: Path
) -> None:
    url = media_server.url(f"/media/{CLIP}?content_type=text/plain")
    media = await fetch_media(url, tmp_path, limits_for(media_server))
    assert media.header_content_type is not None
    assert media.header_content_type.startswith("text/plain")
    assert media.content_type == "video/mp4"


async def test_html_served_as_video_is_not_media(media_server: MediaServer, tmp_path: Path) -> None:
    with pytest.raises(NotMediaError) as caught:
        await fetch_media(media_server.url("/lying.mp4"), tmp_path, limits_for(media_server))
    assert caught.value.reason == "not_media"
    assert caught.value.looked_like_html
    assert caught.value.header_content_type == "video/mp4"
    assert_no_leftovers(tmp_path)


async def test_html_page_is_not_media_but_looks_like_html(
    media_server: MediaServer, tmp_path: Path
) -> None:
    with pytest.raises(NotMediaError) as caught:
        await fetch_media(media_server.url("/page.html"), tmp_path, limits_for(media_server))
    assert caught.value.looked_like_html
    assert caught.value.final_url == media_server.url("/page.html")


async def test_follows_redirect_chain_and_records_it(
    media_server: MediaServer, tmp_path: Path
) -> None:
    start = media_server.url(f"/redirect/3/{CLIP}")
    media = await fetch_media(start, tmp_path, limits_for(media_server))
    assert media.redirects == (
        start,
        media_server.url(f"/redirect/2/{CLIP}"),
        media_server.url(f"/redirect/1/{CLIP}"),
    )
    assert media.final_url == media_server.url(f"/media/{CLIP}")


async def test_redirect_chain_longer_than_cap_fails(
    media_server: MediaServer, tmp_path: Path
) -> None:
    with pytest.raises(TooManyRedirectsError) as caught:
        await fetch_media(
            media_server.url(f"/redirect/4/{CLIP}"), tmp_path, limits_for(media_server)
        )
    assert caught.value.reason == "too_many_redirects"
    # Three redirects followed, the fourth refused: the media itself is never asked for.
    assert len(media_server.requests) == 4
    assert f"/media/{CLIP}" not in media_server.requests


@pytest.mark.parametrize(
    "location",
    ["http://127.0.0.1:1/x.mp4", "http://[::1]:8080/x.mp4", "http://169.254.169.254/latest"],
)
async def test_redirect_to_blocked_address_is_refused(
    media_server: MediaServer, tmp_path: Path, location: str
) -> None:
    url = media_server.url(f"/redirect-to?location={location}")
    with pytest.raises(BlockedAddressError) as caught:
        await fetch_media(url, tmp_path, limits_for(media_server))
    assert caught.value.reason == "blocked_address"


async def test_redirect_to_other_port_of_allowed_host_is_refused(
    media_server: MediaServer, tmp_path: Path, shared_data: Path
) -> None:
    async with MediaServer(shared_data / "sources") as other:
        url = media_server.url(f"/redirect-to?location={other.url('/media/' + CLIP)}")
        with pytest.raises(BlockedAddressError, match="loopback"):
            await fetch_media(url, tmp_path, limits_for(media_server))
        assert other.requests == []


async def test_redirect_to_non_http_scheme_is_refused(
    media_server: MediaServer, tmp_path: Path
) -> None:
    url = media_server.url("/redirect-to?location=file:///etc/passwd")
    with pytest.raises(BadUrlError):
        await fetch_media(url, tmp_path, limits_for(media_server))


async def test_loopback_without_allow_entry_is_refused(
    media_server: MediaServer, tmp_path: Path
) -> None:
    with pytest.raises(BlockedAddressError, match="loopback"):
        await fetch_media(media_server.url(f"/media/{CLIP}"), tmp_path, FetchLimits())
    assert media_server.requests == []


async def test_allowing_one_port_does_not_allow_another(
    media_server: MediaServer, tmp_path: Path, shared_data: Path
) -> None:
    async with MediaServer(shared_data / "sources") as other:
        with pytest.raises(BlockedAddressError):
            await fetch_media(other.url(f"/media/{CLIP}"), tmp_path, limits_for(media_server))
        assert other.requests == []


async def test_name_resolving_to_loopback_is_refused(
    media_server: MediaServer, tmp_path: Path
) -> None:
    url = f"http://localhost:{media_server.port}/media/{CLIP}"
    with pytest.raises(BlockedAddressError, match="localhost"):
        await fetch_media(url, tmp_path, limits_for(media_server))
    assert media_server.requests == []


@pytest.mark.parametrize(
    ("host", "error"),
    [
        ("2130706433", BadUrlError),
        ("127.1", BadUrlError),
        ("0177.0.0.1", BadUrlError),
        ("0x7f.0.0.1", BlockedAddressError),
    ],
)
async def test_other_spellings_of_loopback_are_refused(
    media_server: MediaServer, tmp_path: Path, host: str, error: type[Exception]
) -> None:
    url = f"http://{host}:{media_server.port}/media/{CLIP}"
    with pytest.raises(error):
        await fetch_media(url, tmp_path, limits_for(media_server))
    assert media_server.requests == []


async def test_announced_oversize_body_fails_before_download(
    media_server: MediaServer, tmp_path: Path
) -> None:
    url = media_server.url("/big?size_bytes=2000000")
    with pytest.raises(TooLargeError, match="announces") as caught:
        await fetch_media(url, tmp_path, limits_for(media_server, max_bytes=1_000_000))
    assert caught.value.reason == "too_large"
    assert_no_leftovers(tmp_path)


async def test_oversize_body_without_length_stops_at_cap(
    media_server: MediaServer, tmp_path: Path
) -> None:
    url = media_server.url("/big?size_bytes=50000000&declare=0")
    started = time.monotonic()
    with pytest.raises(TooLargeError, match="sent more"):
        await fetch_media(url, tmp_path, limits_for(media_server, max_bytes=1_000_000))
    assert time.monotonic() - started < 5
    assert_no_leftovers(tmp_path)


async def test_compressed_body_is_capped_on_its_decoded_size(
    media_server: MediaServer, tmp_path: Path
) -> None:
    url = media_server.url("/gzip?size_bytes=20000000")
    with pytest.raises(TooLargeError, match="sent more"):
        await fetch_media(url, tmp_path, limits_for(media_server, max_bytes=1_000_000))
    assert_no_leftovers(tmp_path)


async def test_body_at_cap_is_accepted(media_server: MediaServer, tmp_path: Path) -> None:
    url = media_server.url("/big?size_bytes=1000000&declare=0")
    media = await fetch_media(url, tmp_path, limits_for(media_server, max_bytes=1_000_000))
    assert media.size_bytes == 1_000_000


async def test_slow_body_times_out(media_server: MediaServer, tmp_path: Path) -> None:
    url = media_server.url("/slow?seconds=30")
    started = time.monotonic()
    with pytest.raises(FetchTimeoutError) as caught:
        await fetch_media(url, tmp_path, limits_for(media_server, timeout_seconds=0.5))
    assert caught.value.reason == "timeout"
    assert time.monotonic() - started < 5
    assert_no_leftovers(tmp_path)


async def test_error_status_fails_with_status(media_server: MediaServer, tmp_path: Path) -> None:
    with pytest.raises(HttpStatusError) as caught:
        await fetch_media(media_server.url("/status/404"), tmp_path, limits_for(media_server))
    assert caught.value.status == 404
    assert caught.value.reason == "http_status"


async def test_closed_port_on_allowed_host_is_unreachable(
    media_server: MediaServer, tmp_path: Path
) -> None:
    closed = MediaServer(media_server.sources_dir)
    await closed.start()
    port = closed.port
    await closed.close()
    limits = FetchLimits(allow_hosts=frozenset({f"127.0.0.1:{port}"}), timeout_seconds=5)
    with pytest.raises(UnreachableError) as caught:
        await fetch_media(f"http://127.0.0.1:{port}/media/{CLIP}", tmp_path, limits)
    assert caught.value.reason == "unreachable"


@pytest.mark.parametrize(
    "url", ["ftp://example.com/x.mp4", "file:///etc/passwd", "not a url", "http:///x"]
)
async def test_non_http_urls_are_refused(tmp_path: Path, url: str) -> None:
    with pytest.raises(BadUrlError) as caught:
        await fetch_media(url, tmp_path, FetchLimits())
    assert caught.value.reason == "bad_url"


async def test_https_certificate_is_verified(shared_data: Path, tmp_path: Path) -> None:
    (tmp_path / "tls").mkdir()
    tls = loopback_tls(tmp_path / "tls")
    async with MediaServer(shared_data / "sources", ssl_context=tls.server) as server:
        dest = tmp_path / "media"
        dest.mkdir()
        with pytest.raises(UnreachableError, match="certificate"):
            await fetch_media(server.url(f"/media/{CLIP}"), dest, limits_for(server))
        assert server.requests == []


def test_fetch_limits_take_their_defaults_and_values_from_the_fetch_settings() -> None:
    assert FetchLimits() == FetchLimits.from_settings(FetchSettings())
    custom = FetchSettings(allow_hosts=["127.0.0.1:8080"], timeout_seconds=7, max_redirects=1)
    limits = FetchLimits.from_settings(custom)
    assert (limits.allow_hosts, limits.timeout_seconds, limits.max_redirects) == (
        frozenset({"127.0.0.1:8080"}),
        7,
        1,
    )
