"""Resolve a post page (a social-media or news page) to direct media URLs with yt-dlp.

yt-dlp runs in a child process in resolve-only mode and reaches the network only through
a guarded proxy started here, so it is held to the same address guard as `fetch_media`.
The media URLs it returns are then fetched with `fetch_media`, guarded again.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import sys
from pathlib import Path
from typing import Any

import workers
from workers.fetch.download import parse_http_url
from workers.fetch.errors import (
    BadUrlError,
    BlockedAddressError,
    FetchTimeoutError,
    ResolveFailedError,
)
from workers.fetch.guard import AllowList
from workers.fetch.proxy import GuardedProxy
from workers.fetch.types import FetchLimits, ResolvedMedia

_PROXY_ENV = frozenset({"http_proxy", "https_proxy", "all_proxy", "no_proxy", "ftp_proxy"})
_MAX_ERROR_CHARS = 500


async def resolve_post_page(url: str, limits: FetchLimits) -> ResolvedMedia:
    """Ask yt-dlp which media a post page shows; download nothing.

    Raises `BlockedAddressError` when the page (or anything yt-dlp asked for) is on a
    refused address, `FetchTimeoutError` past `limits.timeout_seconds`, `ResolveFailedError`
    when yt-dlp finds no media, `BadUrlError` for a non-http(s) URL.
    """
    parse_http_url(url)
    async with GuardedProxy(
        AllowList.parse(limits.allow_hosts), connect_timeout_seconds=limits.timeout_seconds
    ) as proxy:
        answer = await _run_child(url, proxy.url, limits)
    if "error" in answer:
        if proxy.refusals:
            # Whatever yt-dlp made of the proxy's refusal, the cause is the guard.
            raise BlockedAddressError(f"resolving {url} was refused: {proxy.refusals[0]}")
        raise ResolveFailedError(f"no media found on {url}: {_short(str(answer['error']))}")
    return _resolved(url, answer)


async def _run_child(url: str, proxy_url: str, limits: FetchLimits) -> dict[str, Any]:
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "workers.fetch.resolve_child",
        "--proxy",
        proxy_url,
        "--socket-timeout",
        str(max(1.0, min(limits.timeout_seconds, 30.0))),
        "--parent-pid",
        str(os.getpid()),
        "--",
        url,
        stdin=asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        env=_child_environment(),
    )
    try:
        async with asyncio.timeout(limits.timeout_seconds):
            stdout, stderr = await process.communicate()
    except TimeoutError as exc:
        raise FetchTimeoutError(
            f"resolving {url} took longer than {limits.timeout_seconds:g} s"
        ) from exc
    finally:
        # Also on cancellation: the child never outlives the call.
        if process.returncode is None:
            with contextlib.suppress(ProcessLookupError):
                process.kill()
            await process.wait()
    try:
        answer = json.loads(stdout.decode("utf-8").strip().splitlines()[-1])
    except (ValueError, IndexError) as exc:
        detail = _short(stderr.decode("utf-8", "replace").strip())
        raise ResolveFailedError(
            f"resolver for {url} exited with {process.returncode}: {detail}"
        ) from exc
    if not isinstance(answer, dict):
        raise ResolveFailedError(f"resolver for {url} gave no result")
    return answer


def _child_environment() -> dict[str, str]:
    """The parent's environment without proxy settings, with this package importable."""
    env = {key: value for key, value in os.environ.items() if key.lower() not in _PROXY_ENV}
    package_root = str(Path(workers.__file__).resolve().parents[1])
    python_path = env.get("PYTHONPATH")
    env["PYTHONPATH"] = (
        package_root if not python_path else f"{package_root}{os.pathsep}{python_path}"
    )
    return env


def _resolved(url: str, answer: dict[str, Any]) -> ResolvedMedia:
    media_urls: list[str] = []
    for candidate in answer.get("media_urls") or []:
        with contextlib.suppress(BadUrlError):
            media_urls.append(str(parse_http_url(str(candidate))))
    if not media_urls:
        raise ResolveFailedError(f"no http(s) media URL found on {url}")
    duration = answer.get("duration")
    return ResolvedMedia(
        page_url=url,
        media_urls=tuple(media_urls),
        webpage_url=_text(answer.get("webpage_url")),
        extractor=_text(answer.get("extractor")),
        media_id=_text(answer.get("id")),
        title=_text(answer.get("title")),
        uploader=_text(answer.get("uploader")),
        duration_seconds=float(duration) if isinstance(duration, int | float) else None,
    )


def _text(value: object) -> str | None:
    return None if value is None else str(value)


def _short(text: str) -> str:
    return text if len(text) <= _MAX_ERROR_CHARS else text[: _MAX_ERROR_CHARS - 1] + "…"
