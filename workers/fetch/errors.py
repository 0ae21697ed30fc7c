"""Why a fetch or a post-page resolution failed.

Each class carries a machine-readable `reason` (a class attribute) that metrics count and
that a submission shows as its failure reason; the message is the human detail.
"""

from __future__ import annotations

from triage.errors import TriageError


class FetchError(TriageError):
    """Root of every fetch failure; `reason` names the kind for metrics and users."""

    reason: str = "fetch_failed"


class BadUrlError(FetchError):
    """The URL is malformed, has no host, or uses a scheme other than http or https."""

    reason = "bad_url"


class BlockedAddressError(FetchError):
    """The target resolves to an address that is not publicly routable and is not allowed."""

    reason = "blocked_address"


class TooLargeError(FetchError):
    """The body is larger than the configured cap (announced or actually streamed)."""

    reason = "too_large"


class FetchTimeoutError(FetchError):
    """The fetch or resolution did not finish within its total time budget."""

    reason = "timeout"


class TooManyRedirectsError(FetchError):
    """The redirect chain is longer than the configured cap."""

    reason = "too_many_redirects"


class HttpStatusError(FetchError):
    """The final response has a non-success HTTP status."""

    reason = "http_status"

    def __init__(self, message: str, status: int) -> None:
        super().__init__(message)
        self.status = status


class NotMediaError(FetchError):
    """The body is not a video or image format we recognise from its first bytes.

    `looked_like_html` tells the caller whether the body was a web page, in which case
    resolving it as a post page (`workers.fetch.resolve.resolve_post_page`) is worth a try.
    """

    reason = "not_media"

    def __init__(
        self,
        message: str,
        *,
        looked_like_html: bool,
        final_url: str,
        header_content_type: str | None,
    ) -> None:
        super().__init__(message)
        self.looked_like_html = looked_like_html
        self.final_url = final_url
        self.header_content_type = header_content_type


class UnreachableError(FetchError):
    """The host could not be resolved or connected to, or the connection broke."""

    reason = "unreachable"


class ResolveFailedError(FetchError):
    """yt-dlp found no downloadable media on the page, or its child process failed."""

    reason = "resolve_failed"


class DiskFullError(FetchError):
    """No space left in data_dir for the download; retried once space is free again."""

    reason = "disk_full"


FETCH_ERROR_REASONS: tuple[str, ...] = tuple(
    cls.reason
    for cls in (
        BadUrlError,
        BlockedAddressError,
        TooLargeError,
        FetchTimeoutError,
        TooManyRedirectsError,
        HttpStatusError,
        NotMediaError,
        UnreachableError,
        ResolveFailedError,
        DiskFullError,
    )
)
"""Every `reason` a fetch or resolution can fail with, e.g. to pre-create metric labels."""
