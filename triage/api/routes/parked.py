"""`/v1/referrals/parked` and `/v1/referrals/{id}/retry`: referrals a receiver kept refusing.

The relay parks a referral its sink's receiver refused (HTTP 4xx) several times in a row, so
the referrals behind it are still delivered; an admin sees them here and, once the receiver
is fixed, asks for another try (recorded in the audit log).
"""

from __future__ import annotations

from aiohttp import web
from pydantic import BaseModel

from triage.api.auth import current_key
from triage.api.bodies import send
from triage.api.context import context
from triage.api.operation import Operation, Param
from triage.api.query import query_choices, query_integer
from triage.api.routes.feeds import referral_view
from triage.api.schemas import ReferralView
from triage.models import ParkedReferral, ParkedState, Scope

MAX_LIMIT = 1000


class ParkedReferralView(ParkedReferral):
    """A parked referral as the API sends it: its referral as the referral feed shows it."""

    referral: ReferralView


class ParkedReferralList(BaseModel):
    items: list[ParkedReferralView]


def parked_view(parked: ParkedReferral, *, share_notes: bool) -> ParkedReferralView:
    shown = referral_view(parked.referral, share_notes=share_notes)
    return ParkedReferralView.model_validate(
        parked.model_copy(update={"referral": shown}), from_attributes=True
    )


async def list_parked_referrals(request: web.Request) -> web.Response:
    states = query_choices(request, "state", ParkedState)
    limit = query_integer(request, "limit", default=100, low=1, high=MAX_LIMIT)
    ctx = context(request)
    parked = await ctx.store.list_parked_referrals(states=states, limit=limit)
    share = ctx.settings.referrals.share_notes
    return send(ParkedReferralList(items=[parked_view(p, share_notes=share) for p in parked]))


async def retry_parked_referral(request: web.Request) -> web.Response:
    ctx = context(request)
    store = ctx.store
    referral_id = request.match_info["id"]
    requeued = await store.requeue_parked_referral(referral_id)
    await store.append_audit(
        actor=current_key(request).id,
        action="referral.retry",
        target=referral_id,
        details={"sinks": [p.sink for p in requeued]},
    )
    share = ctx.settings.referrals.share_notes
    return send(ParkedReferralList(items=[parked_view(p, share_notes=share) for p in requeued]))


OPERATIONS = [
    Operation(
        "GET",
        "/v1/referrals/parked",
        list_parked_referrals,
        "Referrals a receiver refused too often, in referral order (default: parked and requeued).",
        Scope.ADMIN,
        "referrals",
        response=ParkedReferralList,
        params=(
            Param("state", "query", "Comma-separated states: parked, requeued, delivered."),
            Param("limit", "query", f"At most this many (1-{MAX_LIMIT}).", type_="integer"),
        ),
        errors=(400,),
    ),
    Operation(
        "POST",
        "/v1/referrals/{id}/retry",
        retry_parked_referral,
        "Offer a parked referral again, before newer ones, at every sink that parked it.",
        Scope.ADMIN,
        "referrals",
        response=ParkedReferralList,
        params=(Param("id", "path", "The referral id."),),
        errors=(404, 409),
    ),
]
