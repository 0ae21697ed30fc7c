"""Referral delivery to an HTTP webhook, at least once, in outbox order.

Each referral is POSTed as JSON with `X-Triage-Event-Id` (the referral id: a redelivery
carries the same one), `X-Triage-Timestamp` (Unix seconds) and `X-Triage-Signature:
sha256=<hex HMAC-SHA256 of "<timestamp>.<body>">`. The sink's cursor moves past a referral
only after a 2xx answer; a failure is retried with backoff, so nothing is skipped and nothing
is lost across restarts (the cursor is in the store). Connections go through the address guard.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import hmac
import json
import logging
import time

import aiohttp

from triage import metrics
from triage.errors import TriageError
from triage.models import Referral
from triage.store.protocol import Store
from triage.store.rules import utc_now
from workers.fetch import open_guarded_session
from workers.fetch_types import FetchLimits
from workers.guard import AddressGuard, AllowList

_log = logging.getLogger(__name__)

SINK = "webhook"
BATCH = 50


def sign(secret: str, timestamp: str, body: bytes) -> str:
    """The `X-Triage-Signature` value for `body` sent at `timestamp`."""
    message = timestamp.encode() + b"." + body
    return "sha256=" + hmac.new(secret.encode(), message, hashlib.sha256).hexdigest()


def referral_body(referral: Referral) -> bytes:
    payload = {"type": "referral", **referral.model_dump(mode="json")}
    return json.dumps(payload, separators=(",", ":"), sort_keys=True).encode()


class DeliveryFailed(TriageError):
    pass


class WebhookRelay:
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
    ) -> None:
        self._store = store
        self._url = url
        self._secret = secret
        self._limits = limits
        self._poll_seconds = poll_seconds
        self._backoff_base = backoff_base_seconds
        self._backoff_max = backoff_max_seconds

    async def run(self, stop: asyncio.Event) -> None:
        guard = AddressGuard(AllowList.parse(self._limits.allow_hosts))
        failures = 0
        async with open_guarded_session(self._limits, guard) as session:
            while not stop.is_set():
                try:
                    await self.deliver_pending(session)
                    failures = 0
                    wait = self._poll_seconds
                except (DeliveryFailed, TriageError) as exc:
                    failures += 1
                    wait = min(self._backoff_max, self._backoff_base * 2 ** (failures - 1))
                    _log.warning("webhook delivery failed (%s); retrying in %.1f s", exc, wait)
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), wait)

    async def deliver_pending(self, session: aiohttp.ClientSession) -> int:
        """Deliver every referral after the sink's cursor, in order; stop at the first
        failure (raising `DeliveryFailed`), so the next attempt starts there again."""
        delivered = 0
        while True:
            cursor = await self._store.get_sink_cursor(SINK)
            referrals = await self._store.list_referrals(after=cursor, limit=BATCH)
            self._set_lag(referrals)
            if not referrals:
                return delivered
            for referral in referrals:
                await self._deliver(session, referral)
                await self._store.set_sink_cursor(SINK, referral.cursor)
                await self._store.append_audit(
                    actor=SINK,
                    action="referral.delivered",
                    target=referral.id,
                    details={"url": referral.url, "reference_id": referral.reference_id},
                )
                delivered += 1

    def _set_lag(self, pending: list[Referral]) -> None:
        lag = (utc_now() - pending[0].created_at).total_seconds() if pending else 0.0
        metrics.referral_delivery_lag_seconds.labels(sink=SINK).set(max(0.0, lag))

    async def _deliver(self, session: aiohttp.ClientSession, referral: Referral) -> None:
        body = referral_body(referral)
        timestamp = str(int(time.time()))
        headers = {
            "Content-Type": "application/json",
            "X-Triage-Event-Id": referral.id,
            "X-Triage-Timestamp": timestamp,
            "X-Triage-Signature": sign(self._secret, timestamp, body),
        }
        try:
            async with session.post(
                self._url, data=body, headers=headers, allow_redirects=False
            ) as response:
                if not 200 <= response.status < 300:
                    raise DeliveryFailed(f"{self._url} answered HTTP {response.status}")
        except (aiohttp.ClientError, TimeoutError, OSError) as exc:
            metrics.referral_deliveries_total.labels(sink=SINK, outcome="failed").inc()
            raise DeliveryFailed(f"{self._url} unreachable: {type(exc).__name__}") from exc
        except DeliveryFailed:
            metrics.referral_deliveries_total.labels(sink=SINK, outcome="failed").inc()
            raise
        metrics.referral_deliveries_total.labels(sink=SINK, outcome="delivered").inc()
