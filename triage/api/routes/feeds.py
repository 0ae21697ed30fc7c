"""`/v1/matches` and `/v1/referrals`: cursor feeds for trust teams and takedown sinks.

A read key limited to hosts (`triage keys create --scope read --hosts ...`) sees only items
whose URL is on those hosts.
"""

from __future__ import annotations

from aiohttp import web

from triage.api.auth import current_key
from triage.api.bodies import send
from triage.api.context import context
from triage.api.operation import Operation, Param
from triage.api.paging import PAGE_PARAMS, next_cursor, page_request
from triage.api.query import query_choices, query_text
from triage.api.schemas import MatchPage, MatchView, ReferralPage, ReferralView
from triage.models import MatchRecord, Referral, Scope, Verdict


def referral_view(referral: Referral, *, share_notes: bool) -> ReferralView:
    shown = referral.as_shared(share_notes=share_notes)
    return ReferralView.model_validate(shown, from_attributes=True)


def _match_record_view(record: MatchRecord, *, share_notes: bool) -> MatchView:
    shown = record.as_shared(share_notes=share_notes)
    return MatchView.model_validate(shown, from_attributes=True)


async def list_referrals(request: web.Request) -> web.Response:
    after, limit = page_request(request)
    key = current_key(request)
    ctx = context(request)
    items = await ctx.store.list_referrals(after=after, limit=limit, hosts=key.hosts)
    share_notes = ctx.settings.referrals.share_notes
    return send(
        ReferralPage(
            items=[referral_view(r, share_notes=share_notes) for r in items],
            next_cursor=next_cursor([r.cursor for r in items], after),
        )
    )


async def list_matches(request: web.Request) -> web.Response:
    after, limit = page_request(request)
    verdicts = query_choices(request, "verdict", Verdict)
    reference_id = query_text(request, "reference_id")
    ctx = context(request)
    items = await ctx.store.list_matches(
        after=after,
        limit=limit,
        verdicts=verdicts,
        reference_id=reference_id,
        hosts=current_key(request).hosts,
    )
    return send(
        MatchPage(
            items=[
                _match_record_view(m, share_notes=ctx.settings.referrals.share_notes) for m in items
            ],
            next_cursor=next_cursor([m.cursor for m in items], after),
        )
    )


OPERATIONS = [
    Operation(
        "GET",
        "/v1/matches",
        list_matches,
        "Verdicts with their evidence, in a stable order, after a cursor.",
        Scope.READ,
        "feeds",
        response=MatchPage,
        params=(
            *PAGE_PARAMS,
            Param("verdict", "query", "Comma-separated verdicts to keep."),
            Param("reference_id", "query", "Only results matching this reference."),
        ),
        errors=(400,),
    ),
    Operation(
        "GET",
        "/v1/referrals",
        list_referrals,
        "URLs to take down (one per URL), in a stable order, after a cursor.",
        Scope.READ,
        "feeds",
        response=ReferralPage,
        params=PAGE_PARAMS,
        errors=(400,),
    ),
]
