"""Fetch a direct media URL to disk through the guarded connector.

Redirects are followed by hand so that every hop is checked by the same guard; size and
time are capped; the media type comes from the first bytes, never from the headers.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import hashlib
import os
import tempfile
from datetime import UTC, datetime
from pathlib import Path
from typing import BinaryIO

import aiohttp
from yarl import URL

from workers.fetch.errors import (
    BadUrlError,
    BlockedAddressError,
    DiskFullError,
    FetchError,
    FetchTimeoutError,
    HttpStatusError,
    NotMediaError,
    TooLargeError,
    TooManyRedirectsError,
    UnreachableError,
)
from workers.fetch.guard import AddressGuard, AllowList, guarded_connector
from workers.fetch.sniff import SNIFF_BYTES, extension_for, looks_like_html, sniff_media_type
from workers.fetch.types import FetchedMedia, FetchLimits

_REDIRECT_STATUSES = frozenset({301, 302, 303, 307, 308})
_CHUNK_BYTES = 64 * 1024
_WRITE_BUFFER_BYTES = 1024 * 1024


def parse_http_url(text: str) -> URL:
    """Parse an absolute http(s) URL with a host; raise BadUrlError otherwise."""
    try:
        url = URL(text)
    except (ValueError, TypeError) as exc:
        raise BadUrlError(f"not a valid URL: {text!r}") from exc
    return check_http_url(url)


def check_http_url(url: URL) -> URL:
    """Check that `url` is absolute, http(s) and names a host and port."""
    if url.scheme not in ("http", "https"):
        raise BadUrlError(f"only http and https URLs can be fetched, not {str(url)!r}")
    if not url.host or url.port is None:
        raise BadUrlError(f"URL has no host: {str(url)!r}")
    return url


def open_guarded_session(limits: FetchLimits, guard: AddressGuard) -> aiohttp.ClientSession:
    """A client session whose every connection goes through `guard`."""
    return aiohttp.ClientSession(
        connector=guarded_connector(guard),
        timeout=aiohttp.ClientTimeout(total=limits.timeout_seconds),
        # Ask for the bytes as stored; the size cap counts what we actually receive.
        headers={"User-Agent": limits.user_agent, "Accept-Encoding": "identity"},
        trust_env=False,
    )


async def fetch_media(url: str, dest_dir: Path, limits: FetchLimits) -> FetchedMedia:
    """Fetch the media at `url` into a new file in `dest_dir`.

    Raises a `FetchError` subclass; `NotMediaError.looked_like_html` says whether the URL
    may be a post page worth resolving with `workers.fetch.resolve.resolve_post_page`.
    """
    guard = AddressGuard(AllowList.parse(limits.allow_hosts))
    start = parse_http_url(url)
    try:
        async with asyncio.timeout(limits.timeout_seconds):
            return await _fetch(start, dest_dir, limits, guard)
    except TimeoutError as exc:
        raise FetchTimeoutError(
            f"fetching {url} took longer than {limits.timeout_seconds:g} s"
        ) from exc


async def _fetch(
    start: URL, dest_dir: Path, limits: FetchLimits, guard: AddressGuard
) -> FetchedMedia:
    visited: list[str] = []
    current = start
    async with open_guarded_session(limits, guard) as session:
        while True:
            host, port = current.host or "", current.port or 0
            guard.check_url_target(host, port)
            try:
                async with session.get(current, allow_redirects=False) as response:
                    location = response.headers.get("Location")
                    if response.status in _REDIRECT_STATUSES and location:
                        if len(visited) >= limits.max_redirects:
                            raise TooManyRedirectsError(
                                f"more than {limits.max_redirects} redirects from {start}"
                            )
                        visited.append(str(current))
                        current = _redirect_target(current, location)
                        continue
                    if not 200 <= response.status < 300:
                        raise HttpStatusError(
                            f"{current} answered HTTP {response.status}", response.status
                        )
                    return await _save_body(response, current, visited, dest_dir, limits)
            except aiohttp.ClientError as exc:
                raise _connection_error(current, guard, exc) from exc


def _redirect_target(current: URL, location: str) -> URL:
    try:
        target = current.join(URL(location))
    except ValueError as exc:
        raise BadUrlError(f"invalid redirect from {current} to {location!r}") from exc
    return check_http_url(target)


def _connection_error(url: URL, guard: AddressGuard, exc: Exception) -> FetchError:
    if isinstance(exc, aiohttp.InvalidURL):
        return BadUrlError(f"cannot fetch {url}: {exc}")
    if guard.refusals:
        return BlockedAddressError(f"refused to connect to {guard.refusals[-1]} for {url}")
    return UnreachableError(f"could not fetch {url}: {exc}")


async def _save_body(
    response: aiohttp.ClientResponse,
    url: URL,
    visited: list[str],
    dest_dir: Path,
    limits: FetchLimits,
) -> FetchedMedia:
    header_content_type = response.headers.get("Content-Type")
    declared = response.content_length
    if declared is not None and declared > limits.max_bytes:
        raise TooLargeError(f"{url} announces {declared} bytes, over the {limits.max_bytes} cap")
    try:
        fd, part_name = tempfile.mkstemp(dir=dest_dir, prefix="fetch-", suffix=".part")
    except OSError as exc:
        raise _disk_error(exc, dest_dir) from exc
    part = Path(part_name)
    try:
        with os.fdopen(fd, "wb") as out:
            digest, size, media_type = await _stream(
                response, out, url, header_content_type, limits
            )
        final = part.with_suffix(extension_for(media_type))
        part.replace(final)
    except OSError as exc:
        with contextlib.suppress(FileNotFoundError):
            part.unlink()
        raise _disk_error(exc, dest_dir) from exc
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            part.unlink()
        raise
    return FetchedMedia(
        path=final,
        final_url=str(url),
        sha256=digest,
        size_bytes=size,
        content_type=media_type,
        header_content_type=header_content_type,
        fetched_at=datetime.now(UTC),
        redirects=tuple(visited),
    )


def _disk_error(exc: OSError, dest_dir: Path) -> OSError | DiskFullError:
    """A full disk (or quota) as the retryable `disk_full`; any other OSError unchanged."""
    if exc.errno in (errno.ENOSPC, errno.EDQUOT):
        return DiskFullError(f"no space left in {dest_dir} for the download")
    return exc


async def _stream(
    response: aiohttp.ClientResponse,
    out: BinaryIO,
    url: URL,
    header_content_type: str | None,
    limits: FetchLimits,
) -> tuple[str, int, str]:
    """Copy the body to `out`; return its SHA-256, size and sniffed media type.

    Stops as soon as the cap is passed or the first bytes show the body is not media.
    """
    digest = hashlib.sha256()
    size = 0
    head = bytearray()
    media_type: str | None = None
    pending = bytearray()
    async for chunk in response.content.iter_chunked(_CHUNK_BYTES):
        size += len(chunk)
        if size > limits.max_bytes:
            raise TooLargeError(f"{url} sent more than the {limits.max_bytes} byte cap")
        digest.update(chunk)
        if media_type is None:
            head += chunk[: SNIFF_BYTES - len(head)]
            if len(head) >= SNIFF_BYTES:
                media_type = _sniff_or_raise(bytes(head), url, header_content_type)
        pending += chunk
        if len(pending) >= _WRITE_BUFFER_BYTES:
            await asyncio.to_thread(out.write, bytes(pending))
            pending.clear()
    if media_type is None:
        media_type = _sniff_or_raise(bytes(head), url, header_content_type)
    if pending:
        await asyncio.to_thread(out.write, bytes(pending))
    return digest.hexdigest(), size, media_type


def _sniff_or_raise(head: bytes, url: URL, header_content_type: str | None) -> str:
    media_type = sniff_media_type(head)
    if media_type is not None:
        return media_type
    html = looks_like_html(head)
    kind = "a web page" if html else "neither video nor image"
    raise NotMediaError(
        f"{url} is {kind} (server said {header_content_type or 'no content type'})",
        looked_like_html=html,
        final_url=str(url),
        header_content_type=header_content_type,
    )
