"""The log filter masks every credential, in messages, arguments and tracebacks."""

from __future__ import annotations

import io
import logging
from collections.abc import Iterator

import pytest

from triage.config import load_settings
from triage.log_scrub import (
    REDACTED,
    SecretScrubber,
    install_log_scrub,
    scrub,
    secret_values,
)
from triage.logs import configure_logging
from triage.models import new_api_key_token

TOKEN = new_api_key_token()
WEBHOOK_SECRET = "whsec-0123456789abcdef"


@pytest.mark.parametrize(
    "line",
    [
        f"Authorization: Bearer {TOKEN}",
        f"headers={{'Authorization': 'Bearer {TOKEN}', 'Host': 'x'}}",
        f"raw headers ((b'Authorization', b'Bearer {TOKEN}'),)",
        f"Invalid header value char: b'Authorization: Bearer\\r\\n {TOKEN}'",
        f"key {TOKEN} was used",
        f"GET /v1/audit?api_key={TOKEN}&after=1",
        f"Cookie: session=abc123def456; theme=dark {TOKEN}",
    ],
    # Named, not shown: the token is random, and parallel runs need the same test ids in every
    # process.
    ids=["bearer", "header_dict", "raw_headers", "bad_header_value", "text", "query", "cookie"],
)
def test_api_keys_are_masked_wherever_they_appear(line: str) -> None:
    cleaned = scrub(line)
    assert TOKEN not in cleaned and TOKEN[3:20] not in cleaned
    assert REDACTED in cleaned


@pytest.mark.parametrize(
    ("line", "secret"),
    [
        ("Cookie: session=abc123def456", "abc123def456"),
        ("Set-Cookie: sid=s3cr3tvalue; HttpOnly", "s3cr3tvalue"),
        ("Authorization: Basic dXNlcjpwYXNzd29yZA==", "dXNlcjpwYXNzd29yZA=="),
        ("store: postgresql://triage:hunter22@db:5432/triage", "hunter22"),
        ("webhook_secret='whsec-live-abcdef'", "whsec-live-abcdef"),
        ("TRIAGE_REFERRALS__WEBHOOK_SECRET=abcdefgh123", "abcdefgh123"),
        ("X-Triage-Signature: t=1,sha256=deadbeefcafe", "deadbeefcafe"),
    ],
)
def test_cookies_passwords_and_named_secrets_are_masked(line: str, secret: str) -> None:
    assert secret not in scrub(line)


def test_ordinary_lines_are_left_alone() -> None:
    line = "listening on http://127.0.0.1:8080; 3 jobs queued; reference ref-1 active"
    assert scrub(line) == line


def test_configured_secret_values_are_masked_anywhere() -> None:
    assert WEBHOOK_SECRET not in scrub(f"signing with {WEBHOOK_SECRET}!", [WEBHOOK_SECRET])


def test_secret_values_finds_every_secret_in_the_settings() -> None:
    settings = load_settings(
        None,
        {
            "TRIAGE_REFERRALS__WEBHOOK_URL": "http://127.0.0.1:9/hook",
            "TRIAGE_REFERRALS__WEBHOOK_SECRET": WEBHOOK_SECRET,
        },
    )
    assert secret_values(settings) == [WEBHOOK_SECRET]
    assert secret_values(load_settings(None, {})) == []


@pytest.fixture
def logger() -> Iterator[tuple[logging.Logger, io.StringIO]]:
    """A private logger with one stream handler, its output in the returned buffer."""
    out = io.StringIO()
    handler = logging.StreamHandler(out)
    handler.setFormatter(logging.Formatter("%(levelname)s %(message)s"))
    log = logging.getLogger("tests.log_scrub")
    log.propagate = False
    log.setLevel(logging.INFO)
    log.addHandler(handler)
    yield log, out
    log.removeHandler(handler)


def test_installed_filter_masks_arguments_children_and_tracebacks(
    logger: tuple[logging.Logger, io.StringIO],
) -> None:
    log, out = logger
    install_log_scrub([WEBHOOK_SECRET], logger=log)
    child = log.getChild("server")
    child.info("request headers %r", {"Authorization": f"Bearer {TOKEN}"})
    try:
        raise ValueError(f"bad header: Authorization: Bearer {TOKEN} with {WEBHOOK_SECRET}")
    except ValueError:
        child.exception("error handling request")
    text = out.getvalue()
    assert "request headers" in text and "error handling request" in text
    assert "Traceback" in text and "ValueError" in text
    assert TOKEN not in text and WEBHOOK_SECRET not in text
    assert text.count(REDACTED) >= 3


def test_installing_twice_keeps_one_filter_and_adds_secrets(
    logger: tuple[logging.Logger, io.StringIO],
) -> None:
    log, out = logger
    first = install_log_scrub(logger=log)
    second = install_log_scrub(["another-secret-1"], logger=log)
    assert first is second
    assert sum(isinstance(f, SecretScrubber) for f in log.handlers[0].filters) == 1
    log.warning("value another-secret-1")
    assert "another-secret-1" not in out.getvalue()


def test_installing_without_handlers_is_refused() -> None:
    bare = logging.getLogger("tests.log_scrub.bare")
    bare.propagate = False
    with pytest.raises(ValueError, match="no handler"):
        install_log_scrub(logger=bare)


def test_unformattable_message_does_not_print_its_arguments(
    logger: tuple[logging.Logger, io.StringIO],
) -> None:
    log, out = logger
    install_log_scrub(logger=log)
    log.error("two %s %s", TOKEN)
    assert TOKEN not in out.getvalue() and "unformattable" in out.getvalue()


def test_the_cli_logging_setup_masks_keys_and_the_configured_webhook_secret() -> None:
    root = logging.getLogger()
    saved_handlers, saved_level = root.handlers[:], root.level
    out = io.StringIO()
    root.handlers = [logging.StreamHandler(out)]
    try:
        settings = load_settings(
            None,
            {
                "TRIAGE_REFERRALS__WEBHOOK_URL": "http://127.0.0.1:9/hook",
                "TRIAGE_REFERRALS__WEBHOOK_SECRET": WEBHOOK_SECRET,
            },
        )
        configure_logging(settings, out)
        logging.getLogger("aiohttp.server").error("bad header %s", f"Bearer {TOKEN}")
        logging.getLogger("workers.delivery.relay").warning(
            "signing failed with %s", WEBHOOK_SECRET
        )
    finally:
        root.handlers, root.level = saved_handlers, saved_level
    text = out.getvalue()
    assert "bad header" in text and "signing failed" in text
    assert TOKEN not in text and WEBHOOK_SECRET not in text
