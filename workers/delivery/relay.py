"""Referral delivery: the outbox in the store, relayed to each sink at least once, in order.

A sink has a name (its cursor in the store) and a `deliver` that raises `DeliveryFailed`
unless the receiver took the referral. The relay moves the sink's cursor past a referral only
after it was delivered, so a crash or a restart redelivers rather than skips; nothing behind a
failed referral is delivered first (order is kept).

Under a failing receiver:
- the backoff doubles from `backoff_base_seconds` but never waits longer than `probe_seconds`,
  so a receiver that comes back is found within that time; it starts over after any delivery
  that succeeds, so one failure in five costs one short wait, not a growing one, and when an
  unreachable receiver answers again, even with an error (it is back, but failing);
- a referral the receiver refuses (`DeliveryFailed.refused`, an HTTP 4xx) `park_after_refusals`
  times in a row is parked in the store and the ones behind it go on; an admin may requeue
  it, and the relay then offers it again before newer referrals (the refusals are counted in
  this process: a restart starts the count over, which costs a few more tries, never a loss);
- the lag gauge is computed when scraped, from the oldest referral not delivered yet, so it
  keeps rising while nothing gets through.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from triage import metrics
from triage.actors import SYSTEM_ACTOR
from triage.config import ReferralSettings
from triage.errors import TriageError
from triage.models import ParkedState, Referral
from triage.store.protocols import AuditLog, Outbox
from triage.store.rules import Clock, backoff_seconds, utc_now

_log = logging.getLogger(__name__)

BATCH = 50


class DeliveryFailed(TriageError):
    """The receiver did not take the referral; it is offered again later.

    `answered`: the receiver was reached and answered (with an error status), as opposed to
    being unreachable; the first answer after an outage starts the backoff over.
    `refused`: the answer says it will not take this referral (HTTP 4xx other than 408, 425
    and 429), as opposed to being down or overloaded; repeated refusals park it.
    """

    def __init__(self, message: str, *, answered: bool = False, refused: bool = False) -> None:
        super().__init__(message)
        self.answered = answered or refused
        self.refused = refused


class Sink(Protocol):
    @property
    def name(self) -> str:
        """Names the sink's cursor in the store and its metrics; keep it stable."""

    async def deliver(self, referral: Referral) -> None:
        """Hand over one referral; raise `DeliveryFailed` unless the receiver took it."""


Wait = Callable[[asyncio.Event, float], Awaitable[None]]
"""Waits `seconds` or until the event is set (tests pass one that moves a fake clock)."""


async def wait_or_stop(stop: asyncio.Event, seconds: float) -> None:
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(stop.wait(), seconds)


_DEFAULT = ReferralSettings()
"""The `referrals` settings by default: what a relay built without settings (tests) waits."""


@dataclass(frozen=True, slots=True)
class RelayTiming:
    poll_seconds: float = _DEFAULT.poll_seconds
    """How often the outbox is read while the receiver takes everything."""
    backoff_base_seconds: float = _DEFAULT.backoff_base_seconds
    """The first wait after a failure; each failure in a row doubles it."""
    probe_seconds: float = _DEFAULT.probe_seconds
    """The longest wait between two attempts: a receiver that is down is probed this often.
    With the base wait after a first answer that fails, a receiver that returns gets its
    first delivery within `probe_seconds + backoff_base_seconds` (9 s by default)."""
    park_after_refusals: int = _DEFAULT.park_after_refusals
    """Refusals (HTTP 4xx) in a row after which a referral is parked."""

    @classmethod
    def from_settings(cls, referrals: ReferralSettings) -> RelayTiming:
        return cls(
            poll_seconds=referrals.poll_seconds,
            backoff_base_seconds=referrals.backoff_base_seconds,
            probe_seconds=referrals.probe_seconds,
            park_after_refusals=referrals.park_after_refusals,
        )

    def __post_init__(self) -> None:
        if min(self.poll_seconds, self.probe_seconds) <= 0 or self.backoff_base_seconds < 0:
            raise ValueError("relay waits must be positive")
        if self.park_after_refusals < 1:
            raise ValueError("park_after_refusals must be at least 1")

    def retry_wait_seconds(self, failures: int) -> float:
        """The wait after `failures` failed attempts in a row (no success between them)."""
        return backoff_seconds(failures, self.backoff_base_seconds, self.probe_seconds)


class RelayStore(Outbox, AuditLog, Protocol):
    """What a relay reads and writes: the outbox, and the audit log of each delivery."""


class Relay:
    def __init__(
        self,
        store: RelayStore,
        sink: Sink,
        timing: RelayTiming | None = None,
        *,
        clock: Clock = utc_now,
        wait: Wait = wait_or_stop,
    ) -> None:
        self._store = store
        self._sink = sink
        self._timing = timing or RelayTiming()
        self._clock = clock
        self._wait = wait
        self._refusals: dict[str, int] = {}
        self._delivered_in_pass = 0
        self._oldest_pending: datetime | None = None
        self._requeued_oldest: datetime | None = None
        metrics.referral_delivery_lag_seconds.labels(sink=sink.name).set_function(self.lag_seconds)

    def lag_seconds(self) -> float:
        """Age of the oldest referral not delivered yet, as of now (0 when caught up)."""
        if self._oldest_pending is None:
            return 0.0
        return max(0.0, (self._clock() - self._oldest_pending).total_seconds())

    async def run(self, stop: asyncio.Event) -> None:
        """Deliver new referrals until `stop`, polling the outbox every `poll_seconds`."""
        failures = 0
        answered = True
        while not stop.is_set():
            self._delivered_in_pass = 0
            try:
                await self.deliver_pending()
                failures = 0
                answered = True
                wait = self._timing.poll_seconds
            except TriageError as exc:  # DeliveryFailed, or the store being unreachable
                # A delivery that got through, or the first answer after silence, shows the
                # receiver is back: start over. (The store failing says nothing about it.)
                now_answered = exc.answered if isinstance(exc, DeliveryFailed) else answered
                back = self._delivered_in_pass > 0 or (now_answered and not answered)
                answered = now_answered
                failures = 1 if back else failures + 1
                wait = self._timing.retry_wait_seconds(failures)
                _log.warning(
                    "%s delivery failed (%s); retrying in %.1f s", self._sink.name, exc, wait
                )
            except Exception:
                # A bug here must not take the service down with it; keep trying, loudly.
                failures += 1
                wait = self._timing.retry_wait_seconds(failures)
                _log.exception("%s relay error; retrying in %.1f s", self._sink.name, wait)
            await self._wait(stop, wait)

    async def deliver_pending(self) -> int:
        """Deliver requeued parked referrals, then every referral after the sink's cursor, in
        order; returns how many were delivered.

        Stops at the first failure (raising `DeliveryFailed`), so the next call starts there;
        a referral refused `park_after_refusals` times in a row is parked instead.
        """
        sink = self._sink.name
        requeued = await self._store.list_parked_referrals(
            sink=sink, states=(ParkedState.REQUEUED,), limit=BATCH
        )
        cursor = await self._store.get_sink_cursor(sink)
        self._requeued_oldest = min((p.referral.created_at for p in requeued), default=None)
        self._note_pending(await self._store.list_referrals(after=cursor, limit=1))
        delivered = 0
        for parked in requeued:
            if await self._offer(parked.referral):
                await self._store.settle_parked_referral(sink, parked.referral.id)
                delivered += 1
        self._requeued_oldest = None  # each one delivered or parked again
        while True:
            cursor = await self._store.get_sink_cursor(sink)
            referrals = await self._store.list_referrals(after=cursor, limit=BATCH)
            self._note_pending(referrals)
            if not referrals:
                return delivered
            for index, referral in enumerate(referrals):
                if await self._offer(referral):
                    await self._store.set_sink_cursor(sink, referral.cursor)
                    delivered += 1
                # Delivered or parked is no longer pending: the lag follows at once.
                self._note_pending(referrals[index + 1 :])

    async def _offer(self, referral: Referral) -> bool:
        """Deliver one referral: True when taken, False when parked; raises `DeliveryFailed`
        when it should be offered again later."""
        sink = self._sink.name
        try:
            await self._sink.deliver(referral)
        except DeliveryFailed as exc:
            metrics.referral_deliveries_total.labels(sink=sink, outcome="failed").inc()
            if not exc.refused:
                raise
            refusals = self._refusals.get(referral.id, 0) + 1
            if refusals < self._timing.park_after_refusals:
                self._refusals[referral.id] = refusals
                raise
            await self._park(referral, str(exc), refusals)
            return False
        self._refusals.pop(referral.id, None)
        self._delivered_in_pass += 1
        metrics.referral_deliveries_total.labels(sink=sink, outcome="delivered").inc()
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
        return True

    async def _park(self, referral: Referral, error: str, refusals: int) -> None:
        sink = self._sink.name
        await self._store.park_referral(sink, referral.id, error=error, refusals=refusals)
        self._refusals.pop(referral.id, None)
        metrics.referral_deliveries_total.labels(sink=sink, outcome="parked").inc()
        await self._store.append_audit(
            actor=SYSTEM_ACTOR,
            action="referral.parked",
            target=referral.id,
            details={"sink": sink, "refusals": refusals, "error": error},
        )
        _log.warning(
            "%s parked referral %s after %d refusals (%s); an admin can retry it",
            sink,
            referral.id,
            refusals,
            error,
        )

    def _note_pending(self, pending: list[Referral]) -> None:
        """Remember the oldest referral still to deliver, requeued ones included."""
        oldest = [r.created_at for r in pending[:1]]
        if self._requeued_oldest is not None:
            oldest.append(self._requeued_oldest)
        self._oldest_pending = min(oldest, default=None)
