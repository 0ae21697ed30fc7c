"""The HTTP webhook sink: each referral POSTed as signed JSON.

Headers: `X-Triage-Event-Id` (the referral id: a redelivery carries the same one, so the
receiver can drop duplicates), `X-Triage-Timestamp` (Unix seconds) and `X-Triage-Signature:
sha256=<hex HMAC-SHA256 of "<timestamp>.<body>">` keyed with `referrals.webhook_secret`.
Only a 2xx answer counts as delivered; redirects are not followed. The connection goes
through the same address guard as fetching (`fetch.allow_hosts` is the only exemption).
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import time
from types import TracebackType

import aiohttp

from triage.errors import ConfigError
from triage.models import Referral
from triage.store.protocol import Store
from workers.fetch import open_guarded_session, parse_http_url
from workers.fetch_errors import BadUrlError
from workers.fetch_types import FetchLimits
from workers.guard import AddressGuard, AllowList
from workers.relay import DeliveryFailed, Relay

SINK = "webhook"
REQUEST_TIMEOUT_SECONDS = 15.0


def sign(secret: str, timestamp: str, body: bytes) -> str:
    """The `X-Triage-Signature` value for `body` sent at `timestamp`."""
    message = timestamp.encode() + b"." + body
    return "sha256=" + hmac.new(secret.encode(), message, hashlib.sha256).hexdigest()


def referral_body(referral: Referral, *, share_notes: bool = False) -> bytes:
    """The JSON document POSTed for a referral (the same bytes on every redelivery).

    It carries the first submission's `submission_id` and `external_id`; its `note` only
    with `share_notes` (notes are written for colleagues, not for platforms)."""
    shown = referral if share_notes else referral.model_copy(update={"note": None})
    payload = {"type": "referral", **shown.model_dump(mode="json")}
    return json.dumps(payload, separators=(",", ":"), sort_keys=True).encode()


class WebhookSink:
    """Use as an async context manager: it holds one guarded client session."""

    name = SINK

    def __init__(
        self,
        url: str,
        secret: str,
        limits: FetchLimits,
        *,
        timeout_seconds: float = REQUEST_TIMEOUT_SECONDS,
        share_notes: bool = False,
    ) -> None:
        try:
            self._url = str(parse_http_url(url))
        except BadUrlError as exc:
            raise ConfigError(f"referrals.webhook_url: {exc}") from exc
        self._secret = secret
        self._share_notes = share_notes
        self._limits = limits
        self._timeout = aiohttp.ClientTimeout(total=min(timeout_seconds, limits.timeout_seconds))
        self._session: aiohttp.ClientSession | None = None

    async def __aenter__(self) -> WebhookSink:
        guard = AddressGuard(AllowList.parse(self._limits.allow_hosts))
        self._session = open_guarded_session(self._limits, guard)
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None

    async def deliver(self, referral: Referral) -> None:
        if self._session is None:
            raise RuntimeError("use WebhookSink as an async context manager")
        body = referral_body(referral, share_notes=self._share_notes)
        timestamp = str(int(time.time()))
        headers = {
            "Content-Type": "application/json",
            "X-Triage-Event-Id": referral.id,
            "X-Triage-Timestamp": timestamp,
            "X-Triage-Signature": sign(self._secret, timestamp, body),
        }
        try:
            async with self._session.post(
                self._url, data=body, headers=headers, allow_redirects=False, timeout=self._timeout
            ) as response:
                status = response.status
        except (aiohttp.ClientError, TimeoutError, OSError) as exc:
            # OSError covers the guard refusing the address.
            raise DeliveryFailed(f"{self._url} unreachable: {type(exc).__name__}: {exc}") from exc
        if not 200 <= status < 300:
            raise DeliveryFailed(f"{self._url} answered HTTP {status}")


class WebhookRelay:
    """The outbox relayed to one webhook until stopped (what `triage serve` runs)."""

    def __init__(
        self,
        store: Store,
        url: str,
        secret: str,
        limits: FetchLimits,
        *,
        poll_seconds: float = 1.0,
        backoff_base_seconds: float = 1.0,
        backoff_max_seconds: float = 60.0,
        share_notes: bool = False,
    ) -> None:
        self._store = store
        self._sink = WebhookSink(url, secret, limits, share_notes=share_notes)
        self._timing = (poll_seconds, backoff_base_seconds, backoff_max_seconds)

    async def run(self, stop: asyncio.Event) -> None:
        poll, base, most = self._timing
        async with self._sink:
            relay = Relay(
                self._store,
                self._sink,
                poll_seconds=poll,
                backoff_base_seconds=base,
                backoff_max_seconds=most,
            )
            await relay.run(stop)
