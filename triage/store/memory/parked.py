"""Parked referrals in memory: deliveries a sink set aside after repeated refusals."""

from __future__ import annotations

from collections.abc import Collection

from triage.errors import NotFound
from triage.models import ParkedReferral, ParkedState, Referral
from triage.store import rules
from triage.store.memory.outbox import MemoryOutbox


class MemoryParked(MemoryOutbox):
    """Park, list, requeue and settle referrals a sink's receiver refused."""

    def _referral_by_id(self, referral_id: str) -> Referral:
        for referral in self._referrals:
            if referral.id == referral_id:
                # With the report it is tied to, as `list_referrals` gives it.
                return referral.model_copy(update=self._context(referral.media_id))
        raise NotFound(f"no referral {referral_id}")

    async def park_referral(
        self, sink: str, referral_id: str, *, error: str, refusals: int
    ) -> ParkedReferral:
        referral = self._referral_by_id(referral_id)
        now = self._now()
        earlier = self._parked.get((sink, referral.cursor))
        parked = ParkedReferral(
            sink=sink,
            referral=referral,
            state=ParkedState.PARKED,
            refusals=refusals,
            last_error=error,
            parked_at=earlier.parked_at if earlier is not None else now,
            updated_at=now,
        )
        self._parked[(sink, referral.cursor)] = parked
        await self.set_sink_cursor(sink, referral.cursor)
        return parked

    async def list_parked_referrals(
        self,
        *,
        sink: str | None = None,
        states: Collection[ParkedState] | None = None,
        limit: int = 100,
    ) -> list[ParkedReferral]:
        wanted = rules.WAITING_PARKED_STATES if states is None else frozenset(states)
        found = [
            parked
            for (parked_sink, _), parked in sorted(self._parked.items(), key=lambda i: i[0][1])
            if (sink is None or parked_sink == sink) and parked.state in wanted
        ]
        return found[:limit]

    async def requeue_parked_referral(self, referral_id: str) -> list[ParkedReferral]:
        referral = self._referral_by_id(referral_id)
        found = [p for (_, cursor), p in self._parked.items() if cursor == referral.cursor]
        rules.check_parked_found(referral_id, found)
        requeued = []
        for parked in found:
            if parked.state is ParkedState.PARKED:
                changed = parked.model_copy(
                    update={"state": ParkedState.REQUEUED, "updated_at": self._now()}
                )
                self._parked[(parked.sink, referral.cursor)] = changed
                requeued.append(changed)
        return requeued

    async def settle_parked_referral(self, sink: str, referral_id: str) -> ParkedReferral:
        referral = self._referral_by_id(referral_id)
        parked = self._parked.get((sink, referral.cursor))
        if parked is None:
            raise NotFound(f"referral {referral_id} was never parked at sink {sink}")
        rules.check_requeued(parked)
        settled = parked.model_copy(
            update={"state": ParkedState.DELIVERED, "updated_at": self._now()}
        )
        self._parked[(sink, referral.cursor)] = settled
        return settled
