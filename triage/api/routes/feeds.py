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
from triage.api.routes.submissions import match_view
from triage.api.schemas import MatchPage, MatchView, ReferralPage, ReferralView
from triage.models import MatchRecord, Referral, Scope, Verdict


def referral_view(referral: Referral, *, share_notes: bool) -> ReferralView:
    return ReferralView(
        submission_id=referral.submission_id,
        external_id=referral.external_id,
        note=referral.note if share_notes else None,
        cursor=referral.cursor,
        id=referral.id,
        media_id=referral.media_id,
        url=referral.url,
        host=referral.host,
        sha256=referral.sha256,
        reference_id=referral.reference_id,
        label=referral.label,
        evidence=match_view(referral.evidence),
        created_at=referral.created_at,
    )


def _match_record_view(record: MatchRecord, *, share_notes: bool) -> MatchView:
    return MatchView(
        submission_id=record.submission_id,
        external_id=record.external_id,
        note=record.note if share_notes else None,
        cursor=record.cursor,
        media_id=record.media_id,
        url=record.url,
        host=record.host,
        sha256=record.sha256,
        verdict=record.verdict,
        matches=[match_view(m) for m in record.matches],
        suppressed=record.suppressed,
        created_at=record.created_at,
    )


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
