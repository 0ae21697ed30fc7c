"""Values passed into and out of fetching: limits, fetched media, resolved post pages."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from triage.config import FetchSettings

_DEFAULTS = FetchSettings()


@dataclass(frozen=True)
class FetchLimits:
    """Caps for one fetch or resolution, built from the `fetch` settings (`from_settings`);
    the defaults are config's own.

    `allow_hosts` holds exact `host:port` strings exempt from the address guard (an empty
    set exempts nothing). `timeout_seconds` is the total budget for the whole operation,
    redirects included.
    """

    allow_hosts: frozenset[str] = frozenset()
    max_bytes: int = _DEFAULTS.max_bytes
    timeout_seconds: float = _DEFAULTS.timeout_seconds
    max_redirects: int = _DEFAULTS.max_redirects
    user_agent: str = _DEFAULTS.user_agent

    @classmethod
    def from_settings(cls, fetch: FetchSettings) -> FetchLimits:
        """The caps of `fetch`; `fetch.allow_hosts` becomes the guard's allow-list."""
        return cls(
            allow_hosts=frozenset(fetch.allow_hosts),
            max_bytes=fetch.max_bytes,
            timeout_seconds=fetch.timeout_seconds,
            max_redirects=fetch.max_redirects,
            user_agent=fetch.user_agent,
        )


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
