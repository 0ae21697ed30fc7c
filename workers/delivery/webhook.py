"""The HTTP webhook sink: each referral POSTed as signed JSON.

Headers: `X-Triage-Event-Id` (the referral id: a redelivery carries the same one, so the
receiver can drop duplicates), `X-Triage-Timestamp` (Unix seconds) and `X-Triage-Signature:
sha256=<hex HMAC-SHA256 of "<timestamp>.<body>">` keyed with `referrals.webhook_secret`.
Only a 2xx answer counts as delivered; redirects are not followed. A 4xx answer (other than
408, 425 and 429) is a refusal of that referral, which the relay parks after repeated ones.
The connection goes through the same address guard as fetching (`fetch.allow_hosts` is the
only exemption): a destination the guard refuses is a configuration error, logged at start,
reported by `/readyz`, and never retried as if the receiver were merely down.
`docs/webhooks.md` shows how a receiver verifies a delivery.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import logging
import time
from types import TracebackType

import aiohttp

from triage.errors import ConfigError
from triage.models import Referral
from triage.store.protocol import Store
from workers.delivery.relay import DeliveryFailed, Relay, RelayTiming, Wait, wait_or_stop
from workers.fetch.download import open_guarded_session, parse_http_url
from workers.fetch.errors import BadUrlError
from workers.fetch.guard import AddressGuard, AllowList, destination_refusals
from workers.fetch.types import FetchLimits

_log = logging.getLogger(__name__)

SINK = "webhook"
REQUEST_TIMEOUT_SECONDS = 15.0
# Client errors that say "not now" rather than "never this one".
_TRANSIENT_CLIENT_ERRORS = frozenset({408, 425, 429})


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
        self._guard: AddressGuard | None = None
        self.destination_problem: str | None = None
        """Why the address guard refuses the destination (a configuration error), or None."""

    def _new_guard(self) -> AddressGuard:
        return AddressGuard(AllowList.parse(self._limits.allow_hosts))

    def _refused_message(self, detail: str) -> str:
        return (
            f"referrals.webhook_url {self._url} is refused by the address guard ({detail}); "
            "a receiver on a private or loopback address must be listed in fetch.allow_hosts "
            "as host:port"
        )

    async def check_destination(self) -> str | None:
        """Resolve the destination through the guard: a message when the guard refuses it
        (also kept in `destination_problem`), None when it may be reached. A name that does
        not resolve (yet) is not a refusal: the relay treats it as a receiver that is down."""
        url = parse_http_url(self._url)
        allow = AllowList.parse(self._limits.allow_hosts)
        refusals = await destination_refusals(allow, url.host or "", url.port or 0)
        self.destination_problem = self._refused_message("; ".join(refusals)) if refusals else None
        return self.destination_problem

    async def __aenter__(self) -> WebhookSink:
        self._guard = self._new_guard()
        self._session = open_guarded_session(self._limits, self._guard)
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
        if self._session is None or self._guard is None:
            raise RuntimeError("use WebhookSink as an async context manager")
        body = referral_body(referral, share_notes=self._share_notes)
        timestamp = str(int(time.time()))
        headers = {
            "Content-Type": "application/json",
            "X-Triage-Event-Id": referral.id,
            "X-Triage-Timestamp": timestamp,
            "X-Triage-Signature": sign(self._secret, timestamp, body),
        }
        refusals_before = len(self._guard.refusals)
        try:
            async with self._session.post(
                self._url, data=body, headers=headers, allow_redirects=False, timeout=self._timeout
            ) as response:
                status = response.status
        except (aiohttp.ClientError, TimeoutError, OSError) as exc:
            if len(self._guard.refusals) > refusals_before:
                targets = "; ".join(self._guard.refusals[refusals_before:])
                self.destination_problem = self._refused_message(targets)
                raise DeliveryFailed(self.destination_problem) from exc
            raise DeliveryFailed(f"{self._url} unreachable: {type(exc).__name__}: {exc}") from exc
        self.destination_problem = None
        if not 200 <= status < 300:
            refused = 400 <= status < 500 and status not in _TRANSIENT_CLIENT_ERRORS
            raise DeliveryFailed(
                f"{self._url} answered HTTP {status}", answered=True, refused=refused
            )


class WebhookRelay:
    """The outbox relayed to one webhook until stopped (what `triage serve` runs).

    A destination the address guard refuses is checked before the first delivery and again
    every `probe_seconds`; while refused nothing is sent and `problem` says why."""

    def __init__(
        self,
        store: Store,
        url: str,
        secret: str,
        limits: FetchLimits,
        timing: RelayTiming | None = None,
        *,
        wait: Wait = wait_or_stop,
        share_notes: bool = False,
    ) -> None:
        self._store = store
        self._sink = WebhookSink(url, secret, limits, share_notes=share_notes)
        self._timing = timing or RelayTiming()
        self._wait = wait

    @property
    def problem(self) -> str | None:
        """Why referrals cannot be delivered because of the configuration, or None."""
        return self._sink.destination_problem

    async def check_destination(self) -> str | None:
        """Check the destination against the address guard now (see `WebhookSink`)."""
        problem = await self._sink.check_destination()
        if problem is not None:
            _log.error("configuration error: %s", problem)
        return problem

    async def run(self, stop: asyncio.Event) -> None:
        while await self.check_destination() is not None and not stop.is_set():
            await self._wait(stop, self._timing.probe_seconds)
        if stop.is_set():
            return
        async with self._sink:
            relay = Relay(self._store, self._sink, self._timing, wait=self._wait)
            await relay.run(stop)
