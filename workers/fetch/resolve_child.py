"""Child process for `workers.fetch.resolve`: yt-dlp extracts media URLs, downloads nothing.

Run as `python -m workers.fetch.resolve_child --proxy URL [--socket-timeout S] -- PAGE_URL`.
Writes one JSON object to stdout: the resolution, or `{"error": "..."}` with exit code 2.
Every request yt-dlp makes goes to the given proxy, which applies the address guard; this
process is never trusted to check addresses itself.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from typing import Any

from workers.parent_death import die_with_parent

# Plugins would run code picked up from the user's folders; none are wanted here.
os.environ["YTDLP_NO_PLUGINS"] = "1"

MAX_MEDIA_URLS = 20
# A single progressive http(s) file with video if there is one; manifests only as a last
# resort (the fetcher then reports them as not media).
FORMAT = (
    "best[protocol^=http][protocol!*=dash][vcodec!=none]"
    "/best[protocol^=http][protocol!*=dash]"
    "/bestvideo[protocol^=http][protocol!*=dash]"
    "/best"
)


class _StderrLogger:
    """yt-dlp logger that keeps stdout clean for the JSON answer."""

    def debug(self, message: str) -> None:
        return None

    def info(self, message: str) -> None:
        return None

    def warning(self, message: str) -> None:
        print(message, file=sys.stderr)

    def error(self, message: str) -> None:
        print(message, file=sys.stderr)


def _media_url(entry: dict[str, Any]) -> str | None:
    for requested in entry.get("requested_formats") or []:
        if requested.get("vcodec") != "none" and requested.get("url"):
            return str(requested["url"])
    url = entry.get("url")
    return str(url) if url else None


def _entries(info: dict[str, Any]) -> list[dict[str, Any]]:
    if info.get("_type") in ("playlist", "multi_video"):
        return [entry for entry in info.get("entries") or [] if isinstance(entry, dict)]
    return [info]


def summarise(info: dict[str, Any]) -> dict[str, Any]:
    """The part of yt-dlp's info dict that the service keeps."""
    urls: list[str] = []
    for entry in _entries(info):
        url = _media_url(entry)
        if url and url not in urls:
            urls.append(url)
    duration = info.get("duration")
    return {
        "media_urls": urls[:MAX_MEDIA_URLS],
        "webpage_url": info.get("webpage_url"),
        "extractor": info.get("extractor_key") or info.get("extractor"),
        "id": info.get("id"),
        "title": info.get("title"),
        "uploader": info.get("uploader"),
        "duration": float(duration) if isinstance(duration, int | float) else None,
    }


def resolve(page_url: str, proxy: str, socket_timeout_seconds: float) -> dict[str, Any]:
    import yt_dlp

    options: dict[str, Any] = {
        "proxy": proxy,
        "socket_timeout": socket_timeout_seconds,
        "simulate": True,
        "skip_download": True,
        "format": FORMAT,
        "check_formats": False,
        "playlistend": MAX_MEDIA_URLS,
        "cachedir": False,
        "noprogress": True,
        "quiet": True,
        "no_warnings": False,
        "logger": _StderrLogger(),
    }
    with yt_dlp.YoutubeDL(options) as downloader:
        info = downloader.extract_info(page_url, download=False)
        return summarise(downloader.sanitize_info(info))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m workers.fetch.resolve_child")
    parser.add_argument("--proxy", required=True)
    parser.add_argument("--socket-timeout", type=float, default=20.0)
    parser.add_argument("--parent-pid", type=int, default=None, help="die when it dies")
    parser.add_argument("url")
    args = parser.parse_args(argv)
    if args.parent_pid is not None:
        die_with_parent(args.parent_pid)
    try:
        answer = resolve(args.url, args.proxy, args.socket_timeout)
    except Exception as exc:  # yt-dlp raises many kinds; the parent needs one message
        print(json.dumps({"error": str(exc) or type(exc).__name__}))
        return 2
    print(json.dumps(answer))
    return 0


if __name__ == "__main__":
    sys.exit(main())
