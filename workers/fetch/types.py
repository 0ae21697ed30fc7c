"""Values passed into and out of fetching: limits, fetched media, resolved post pages."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from pathlib import Path


@dataclass(frozen=True)
class FetchLimits:
    """Caps for one fetch or resolution; the caller builds it from its config.

    `allow_hosts` holds exact `host:port` strings exempt from the address guard (an empty
    set exempts nothing). `timeout_seconds` is the total budget for the whole operation,
    redirects included.
    """

    allow_hosts: frozenset[str] = frozenset()
    max_bytes: int = 512 * 1024 * 1024
    timeout_seconds: float = 120.0
    max_redirects: int = 5
    user_agent: str = "takedown-triage/0.1"


@dataclass(frozen=True)
class FetchedMedia:
    """A media file fetched to disk, with the evidence of where and how it came."""

    path: Path
    final_url: str
    sha256: str
    size_bytes: int
    content_type: str
    """Media type sniffed from the bytes, e.g. `video/mp4`."""
    header_content_type: str | None
    """What the server claimed; kept as evidence, never trusted."""
    fetched_at: datetime
    redirects: tuple[str, ...]
    """Every URL visited before `final_url`, in order."""


@dataclass(frozen=True)
class ResolvedMedia:
    """What yt-dlp found on a post page, without downloading anything.

    The metadata is kept as evidence of what the page was; `media_urls` are then fetched
    with `workers.fetch.download.fetch_media`, guarded like any other URL.
    """

    page_url: str
    media_urls: tuple[str, ...]
    webpage_url: str | None
    extractor: str | None
    media_id: str | None
    title: str | None
    uploader: str | None
    duration_seconds: float | None
