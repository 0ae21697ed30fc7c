"""Referral delivery: the outbox in the store, relayed to each sink at least once, in order.

A sink has a name (its cursor in the store) and a `deliver` that raises `DeliveryFailed`
unless the receiver took the referral. The relay moves the sink's cursor past a referral only
after it was delivered, so a crash or a restart redelivers rather than skips; a failure is
retried with exponential backoff, and nothing behind it is delivered first (order is kept).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import Protocol

from triage import metrics
from triage.errors import TriageError
from triage.models import Referral
from triage.store.protocol import Store
from triage.store.rules import backoff_seconds, utc_now
from workers.audit import SYSTEM_ACTOR

_log = logging.getLogger(__name__)

BATCH = 50


class DeliveryFailed(TriageError):
    """The receiver did not take the referral; it is offered again later."""


class Sink(Protocol):
    @property
    def name(self) -> str:
        """Names the sink's cursor in the store and its metrics; keep it stable."""

    async def deliver(self, referral: Referral) -> None:
        """Hand over one referral; raise `DeliveryFailed` unless the receiver took it."""


class Relay:
    def __init__(
        self,
        store: Store,
        sink: Sink,
        *,
        poll_seconds: float = 1.0,
        backoff_base_seconds: float = 1.0,
        backoff_max_seconds: float = 60.0,
    ) -> None:
        self._store = store
        self._sink = sink
        self._poll_seconds = poll_seconds
        self._backoff_base = backoff_base_seconds
        self._backoff_max = backoff_max_seconds

    async def run(self, stop: asyncio.Event) -> None:
        """Deliver new referrals until `stop`, polling the outbox every `poll_seconds`."""
        failures = 0
        while not stop.is_set():
            try:
                await self.deliver_pending()
                failures = 0
                wait = self._poll_seconds
            except TriageError as exc:  # DeliveryFailed, or the store being unreachable
                failures += 1
                wait = backoff_seconds(failures, self._backoff_base, self._backoff_max)
                _log.warning(
                    "%s delivery failed (%s); retrying in %.1f s", self._sink.name, exc, wait
                )
            except Exception:
                # A bug here must not take the service down with it; keep trying, loudly.
                failures += 1
                wait = backoff_seconds(failures, self._backoff_base, self._backoff_max)
                _log.exception("%s relay error; retrying in %.1f s", self._sink.name, wait)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), wait)

    async def deliver_pending(self) -> int:
        """Deliver every referral after the sink's cursor, in order; returns how many.

        Stops at the first failure (raising `DeliveryFailed`), so the next call starts there.
        """
        sink = self._sink.name
        delivered = 0
        while True:
            cursor = await self._store.get_sink_cursor(sink)
            referrals = await self._store.list_referrals(after=cursor, limit=BATCH)
            self._set_lag(referrals)
            if not referrals:
                return delivered
            for index, referral in enumerate(referrals):
                try:
                    await self._sink.deliver(referral)
                except DeliveryFailed:
                    metrics.referral_deliveries_total.labels(sink=sink, outcome="failed").inc()
                    raise
                metrics.referral_deliveries_total.labels(sink=sink, outcome="delivered").inc()
                # Delivered is no longer pending: the lag follows at once, not at the next list.
                self._set_lag(referrals[index + 1 :])
                await self._store.set_sink_cursor(sink, referral.cursor)
                await self._store.append_audit(
                    actor=SYSTEM_ACTOR,
                    action="referral.delivered",
                    target=referral.id,
                    details={
                        "sink": sink,
                        "url": referral.url,
                        "sha256": referral.sha256,
                        "reference_id": referral.reference_id,
                    },
                )
                delivered += 1

    def _set_lag(self, pending: list[Referral]) -> None:
        lag = (utc_now() - pending[0].created_at).total_seconds() if pending else 0.0
        metrics.referral_delivery_lag_seconds.labels(sink=self._sink.name).set(max(0.0, lag))
