"""Log lines: JSON objects carrying the ids of the work at hand, text lines, the level setting."""

from __future__ import annotations

import asyncio
import io
import json
import logging
from collections.abc import Iterator
from typing import Any

import pytest

from triage.config import load_settings
from triage.errors import ConfigError
from triage.logs import FIELDS_KEY, configure_logging, current_ids, log_context


@pytest.fixture
def restore_logging() -> Iterator[None]:
    """configure_logging replaces the root handlers; put pytest's back afterwards."""
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    yield
    for handler in list(root.handlers):
        root.removeHandler(handler)
    for handler in handlers:
        root.addHandler(handler)
    root.setLevel(level)
    logging.captureWarnings(False)


def _configured(**env: str) -> io.StringIO:
    stream = io.StringIO()
    environ = {f"TRIAGE_LOGGING__{name.upper()}": value for name, value in env.items()}
    configure_logging(load_settings(None, environ), stream)
    return stream


def _lines(stream: io.StringIO) -> list[dict[str, Any]]:
    return [json.loads(line) for line in stream.getvalue().splitlines()]


def test_json_line_has_time_level_logger_message_and_the_ids_in_context(
    restore_logging: None,
) -> None:
    stream = _configured(format="json")
    log = logging.getLogger("triage.test")
    with log_context(job_id="job_1", media_id="med_1"):
        log.info("hashing %d frames", 12, extra={FIELDS_KEY: {"frames": 12}})
    log.warning("outside")
    inside, outside = _lines(stream)
    assert inside["message"] == "hashing 12 frames" and inside["level"] == "INFO"
    assert inside["logger"] == "triage.test" and inside["time"].endswith("+00:00")
    assert (inside["job_id"], inside["media_id"], inside["frames"]) == ("job_1", "med_1", 12)
    assert "submission_id" not in inside
    assert "job_id" not in outside and outside["level"] == "WARNING"


def test_json_line_keeps_a_traceback_on_one_line(restore_logging: None) -> None:
    stream = _configured()
    try:
        raise ValueError("bad frame")
    except ValueError:
        logging.getLogger("triage.test").exception("job raised")
    (line,) = _lines(stream)
    assert "ValueError: bad frame" in line["exception"]


def test_nested_contexts_add_ids_and_restore_them_on_exit() -> None:
    with log_context(submission_id="sub_1"):
        with log_context(job_id="job_1", media_id=None):
            assert current_ids() == {"submission_id": "sub_1", "job_id": "job_1"}
        assert current_ids() == {"submission_id": "sub_1"}
    assert current_ids() == {}


async def test_ids_stay_with_their_own_task() -> None:
    seen: dict[str, dict[str, str]] = {}
    started = asyncio.Event()
    release = asyncio.Event()

    async def job(name: str) -> None:
        with log_context(job_id=name):
            started.set()
            await release.wait()
            seen[name] = current_ids()

    first = asyncio.create_task(job("job_a"))
    await started.wait()
    second = asyncio.create_task(job("job_b"))
    await asyncio.sleep(0)
    release.set()
    await asyncio.gather(first, second)
    assert seen == {"job_a": {"job_id": "job_a"}, "job_b": {"job_id": "job_b"}}


def test_unknown_id_name_is_refused() -> None:
    with pytest.raises(ValueError, match="unknown log ids: user"), log_context(user="x"):
        pass


def test_level_setting_drops_lower_lines(restore_logging: None) -> None:
    stream = _configured(level="warning")
    log = logging.getLogger("triage.test")
    log.info("dropped")
    log.warning("kept")
    assert [line["message"] for line in _lines(stream)] == ["kept"]


def test_text_format_is_one_readable_line_with_the_ids(restore_logging: None) -> None:
    stream = _configured(format="text")
    with log_context(media_id="med_1"):
        logging.getLogger("triage.test").info("verdict %s", "none")
    text = stream.getvalue()
    assert text.endswith(" INFO triage.test: verdict none media_id=med_1\n")
    with pytest.raises(json.JSONDecodeError):
        json.loads(text)


def test_configuring_twice_keeps_one_handler(restore_logging: None) -> None:
    _configured()
    stream = _configured()
    logging.getLogger("triage.test").info("once")
    assert len(_lines(stream)) == 1 and len(logging.getLogger().handlers) == 1


def test_logging_settings_name_the_bad_key() -> None:
    with pytest.raises(ConfigError, match=r"logging\.format"):
        load_settings(None, {"TRIAGE_LOGGING__FORMAT": "xml"})
    with pytest.raises(ConfigError, match=r"logging\.level"):
        load_settings(None, {"TRIAGE_LOGGING__LEVEL": "chatty"})
    assert load_settings(None, {"TRIAGE_LOGGING__LEVEL": "debug"}).logging.level == "DEBUG"
