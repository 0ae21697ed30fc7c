"""No secret in any log line: a `logging.Filter` for the root handlers that masks API keys,
bearer tokens, cookies, passwords in URLs, `secret=`/`token=` values and the configured
secret values (webhook secrets) in the message, its arguments and its traceback.

It sits on the handlers, not on a logger, because a logger's filter does not see the records
of its child loggers (aiohttp's among them); a handler sees every record it writes.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable
from typing import Any

from pydantic import BaseModel, SecretStr

REDACTED = "[redacted]"
# Shorter configured secrets would mask ordinary words; the patterns still cover them.
MIN_SECRET_CHARS = 6

# Each pattern keeps its group 1 (the name) and replaces the value that follows.
_NAMED_VALUES = (
    # Header values, in "Name: value" lines and in dict or tuple reprs ('Name', 'value').
    re.compile(
        r"(?i)\b((?:proxy-)?authorization|cookie|set-cookie|x-api-key|x-triage-signature)"
        r"(['\"]?\s*[:=,]\s*b?['\"]?)([^'\"\r\n]+)"
    ),
    # Key=value pairs whose name says secret: query strings, config dumps, keyword reprs.
    re.compile(
        r"(?i)\b([\w-]*(?:secret|passw(?:or)?d|token|api[_-]?key|session[_-]?id)[\w-]*)"
        r"(['\"]?\s*[=:]\s*b?['\"]?)([^\s'\",&;]+)"
    ),
    # Bearer credentials anywhere, e.g. in a header line cut out of its context.
    re.compile(r"(?i)\b(bearer)(\s+)([A-Za-z0-9._~+/=-]+)"),
    # Passwords in URLs: scheme://user:password@host.
    re.compile(r"(?i)\b([a-z][a-z0-9+.-]*://[^/\s:@]*)(:)([^/\s@]+)(?=@)"),
)
# This service's API key tokens, wherever they appear (tt_ and 43 URL-safe characters).
_API_KEY_TOKEN = re.compile(r"\btt_[A-Za-z0-9_-]{16,}")
# The default formatter's rendering of a traceback, which the filter scrubs in advance.
_TRACEBACK_FORMATTER = logging.Formatter()


def scrub(text: str, secrets: Iterable[str] = ()) -> str:
    """`text` with every credential it holds replaced by `[redacted]`."""
    for secret in secrets:
        text = text.replace(secret, REDACTED)
    text = _API_KEY_TOKEN.sub(REDACTED, text)
    for pattern in _NAMED_VALUES:
        text = pattern.sub(lambda found: f"{found.group(1)}{found.group(2)}{REDACTED}", text)
    return text


class SecretScrubber(logging.Filter):
    """Rewrites each record in place so that no handler writes a credential."""

    def __init__(self, secrets: Iterable[str] = ()) -> None:
        super().__init__()
        self._secrets: tuple[str, ...] = ()
        self.add_secrets(secrets)

    def add_secrets(self, secrets: Iterable[str]) -> None:
        """Mask these exact values too (longest first, so none is left half-masked)."""
        known = set(self._secrets) | {s for s in secrets if len(s) >= MIN_SECRET_CHARS}
        self._secrets = tuple(sorted(known, key=len, reverse=True))

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:
            # Formatting would fail in the handler too, which then prints the raw arguments.
            message = f"unformattable log message: {record.msg!s}"
        record.msg, record.args = scrub(message, self._secrets), None
        if record.exc_info and not record.exc_text:
            record.exc_text = _TRACEBACK_FORMATTER.formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = scrub(record.exc_text, self._secrets)
        if record.stack_info:
            record.stack_info = scrub(record.stack_info, self._secrets)
        return True


def secret_values(settings: BaseModel) -> list[str]:
    """Every `SecretStr` value set in `settings`, nested sections included."""
    found: list[str] = []

    def walk(value: Any) -> None:
        if isinstance(value, SecretStr):
            found.append(value.get_secret_value())
        elif isinstance(value, BaseModel):
            for name in type(value).model_fields:
                walk(getattr(value, name))
        elif isinstance(value, list | tuple):
            for item in value:
                walk(item)

    walk(settings)
    return found


def install_log_scrub(
    secrets: Iterable[str] = (), logger: logging.Logger | None = None
) -> SecretScrubber:
    """Put one `SecretScrubber` on every handler of `logger` (default: the root logger).

    Call it once logging is set up; handlers added afterwards need `handler.addFilter` with
    the returned filter. Calling it again adds `secrets` to the filter already installed.
    """
    target = logger or logging.getLogger()
    if not target.handlers:
        raise ValueError("install_log_scrub needs logging set up first: the logger has no handler")
    installed = [
        f for handler in target.handlers for f in handler.filters if isinstance(f, SecretScrubber)
    ]
    scrubber = installed[0] if installed else SecretScrubber()
    scrubber.add_secrets(secrets)
    for handler in target.handlers:
        if scrubber not in handler.filters:
            handler.addFilter(scrubber)
    return scrubber
