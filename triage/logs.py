"""Log lines of `triage serve` and `triage worker`: JSON lines (or text) on stderr, each
carrying the ids of the work at hand.

The runner and the pipeline wrap each job in `log_context(...)`, and the API each submission,
so every line written meanwhile, by any logger, names its `submission_id`, `job_id` and
`media_id` (those known). A line may add its own fields with ``extra={"fields": {...}}``;
nothing else of a record is written, so request headers reach a line only if a caller puts
them there, which none does.
"""

from __future__ import annotations

import contextlib
import json
import logging
import sys
from collections.abc import Iterator, Mapping
from contextvars import ContextVar
from datetime import UTC, datetime
from typing import Any, TextIO

from triage.config import LoggingSettings, Settings
from triage.log_scrub import install_log_scrub, secret_values

FIELDS_KEY = "fields"
"""The `extra` key of a line's own fields: ``_log.info(..., extra={"fields": {...}})``."""

ID_NAMES = ("submission_id", "job_id", "media_id", "reference_id")
_ids: dict[str, ContextVar[str | None]] = {
    name: ContextVar(f"triage_log_{name}", default=None) for name in ID_NAMES
}


@contextlib.contextmanager
def log_context(**ids: str | None) -> Iterator[None]:
    """Name `ids` (among `ID_NAMES`) on every line logged inside the block, in this task and
    the tasks it starts; None leaves an id as it was."""
    unknown = set(ids) - set(ID_NAMES)
    if unknown:
        raise ValueError(f"unknown log ids: {', '.join(sorted(unknown))}")
    tokens = [(_ids[name], _ids[name].set(value)) for name, value in ids.items() if value]
    try:
        yield
    finally:
        for var, token in reversed(tokens):
            var.reset(token)


def current_ids() -> dict[str, str]:
    """The ids set by the enclosing `log_context` blocks."""
    return {name: value for name, var in _ids.items() if (value := var.get()) is not None}


def _line_fields(record: logging.LogRecord) -> dict[str, Any]:
    fields = getattr(record, FIELDS_KEY, None)
    return dict(fields) if isinstance(fields, Mapping) else {}


def _timestamp(record: logging.LogRecord) -> str:
    return datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds")


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time (UTC, ISO 8601), level, logger, message, the ids of the
    work at hand, the line's own fields, and `exception` with its traceback if any."""

    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, Any] = {
            "time": _timestamp(record),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        line.update(current_ids())
        line.update(_line_fields(record))
        if record.exc_info:
            line["exception"] = self.formatException(record.exc_info)
        elif record.exc_text:
            line["exception"] = record.exc_text
        # default=str: a field holding a datetime or a path still gives a line.
        return json.dumps(line, ensure_ascii=False, default=str)


class TextFormatter(logging.Formatter):
    """``TIME LEVEL LOGGER: MESSAGE key=value ...``, for reading in a terminal."""

    def format(self, record: logging.LogRecord) -> str:
        pairs = {**current_ids(), **_line_fields(record)}
        extras = "".join(f" {key}={value}" for key, value in pairs.items())
        text = f"{_timestamp(record)} {record.levelname} {record.name}: {record.getMessage()}"
        text += extras
        if record.exc_info:
            text += "\n" + self.formatException(record.exc_info)
        return text


def formatter_for(settings: LoggingSettings) -> logging.Formatter:
    return JsonFormatter() if settings.format == "json" else TextFormatter()


def configure_logging(settings: Settings, stream: TextIO | None = None) -> None:
    """Send every logger's lines at `logging.level` and above to `stream` (stderr) in
    `logging.format`; replaces handlers set before, so calling it twice is harmless."""
    handler = logging.StreamHandler(stream if stream is not None else sys.stderr)
    handler.setFormatter(formatter_for(settings.logging))
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(settings.logging.level)
    # aiohttp's own access lines would repeat ours (triage.access) without the key id.
    logging.getLogger("aiohttp.access").setLevel(logging.WARNING)
    logging.captureWarnings(True)
    # Last, so that it sits on the handler: no key, cookie or secret reaches a log line.
    install_log_scrub(secret_values(settings))
