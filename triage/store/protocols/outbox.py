"""The outbox: what leaves the service. Referrals written with confirmed verdicts, delivered
to each sink at least once (its cursor), parked when a receiver keeps refusing; and the match
feed that platforms page through."""

from __future__ import annotations

from collections.abc import Collection
from typing import Protocol

from triage.models import MatchRecord, ParkedReferral, ParkedState, Referral, Verdict


class Outbox(Protocol):
    """Referrals and their delivery to sinks, parked deliveries, and the match feed."""

    async def list_referrals(
        self, *, after: int = 0, limit: int = 100, hosts: Collection[str] | None = None
    ) -> list[Referral]:
        """Referrals with a cursor above `after`, in cursor order (stable; new ones append).

        `hosts` keeps only URLs on those hosts or their subdomains (platform-scoped keys).
        """

    async def get_sink_cursor(self, sink: str) -> int:
        """The cursor of the last referral a delivery sink (e.g. "webhook") confirmed; 0."""

    async def set_sink_cursor(self, sink: str, cursor: int) -> int:
        """Move a sink's cursor forward to `cursor` (never back); returns the stored cursor."""

    async def park_referral(
        self, sink: str, referral_id: str, *, error: str, refusals: int
    ) -> ParkedReferral:
        """Set aside a referral the sink's receiver keeps refusing, in one transaction: it is
        recorded `parked` (again, if it was requeued) and the sink's cursor moves past it, so
        the referrals behind it are delivered. `NotFound` for an unknown referral."""

    async def list_parked_referrals(
        self,
        *,
        sink: str | None = None,
        states: Collection[ParkedState] | None = None,
        limit: int = 100,
    ) -> list[ParkedReferral]:
        """Parked deliveries in referral order; `states` defaults to parked and requeued."""

    async def requeue_parked_referral(self, referral_id: str) -> list[ParkedReferral]:
        """Every parked delivery of the referral becomes `requeued` (the relay offers it again).

        `NotFound` for an unknown referral, `Conflict` when no sink has it parked."""

    async def settle_parked_referral(self, sink: str, referral_id: str) -> ParkedReferral:
        """A requeued referral the sink delivered: `delivered`. `Conflict` unless requeued;
        `NotFound` when the sink never parked it."""

    async def list_matches(
        self,
        *,
        after: int = 0,
        limit: int = 100,
        verdicts: Collection[Verdict] | None = None,
        reference_id: str | None = None,
        hosts: Collection[str] | None = None,
    ) -> list[MatchRecord]:
        """Results with a cursor above `after`, in cursor order, filtered by verdict, by a
        reference among their matches, and by URL host (or subdomain)."""
