"""`/v1/review`: verdicts awaiting a person; confirm refers the content, reject suppresses it.

`GET /v1/review/{id}` adds the evidence a moderator checks (matches with aligned segments).
"""

from __future__ import annotations

from aiohttp import web
from pydantic import Field

from triage.api.auth import current_key
from triage.api.bodies import read_json, send
from triage.api.context import context
from triage.api.operation import Operation, Param
from triage.api.paging import MAX_PAGE
from triage.api.query import query_choice, query_choices, query_integer
from triage.api.schemas import ReviewDecisionIn, ReviewItemView, ReviewList
from triage.evidence import MatchEvidence
from triage.models import ReviewItem, ReviewState, Scope


class ReviewItemDetail(ReviewItemView):
    matches: list[MatchEvidence] = Field(
        description="The current evidence on the content, best match first, with segments."
    )


def review_view(item: ReviewItem) -> ReviewItemView:
    return ReviewItemView.model_validate(item, from_attributes=True)


async def get_review(request: web.Request) -> web.Response:
    store = context(request).store
    item = await store.get_review_item(request.match_info["id"])
    result = await store.get_result(item.media_id)
    matches = list(result.matches) if result is not None else []
    return send(ReviewItemDetail(**item.model_dump(), matches=matches))


async def list_review(request: web.Request) -> web.Response:
    states = query_choices(request, "state", ReviewState) or [ReviewState.OPEN]
    order = query_choice(request, "order", ("age", "priority"), "age")
    items = await context(request).store.list_review_items(
        states=states,
        limit=query_integer(request, "limit", default=MAX_PAGE, low=1, high=MAX_PAGE),
        offset=query_integer(request, "offset", default=0, low=0, high=2**31),
        by_priority=order == "priority",
    )
    return send(ReviewList(items=[review_view(i) for i in items]))


async def claim_review(request: web.Request) -> web.Response:
    ctx = context(request)
    item = await ctx.store.claim_review_item(
        request.match_info["id"],
        current_key(request).id,
        claim_seconds=ctx.settings.pages.review_claim_seconds,
    )
    return send(review_view(item))


async def release_review(request: web.Request) -> web.Response:
    item = await context(request).store.release_review_item(
        request.match_info["id"], current_key(request).id
    )
    return send(review_view(item))


async def decide_review(request: web.Request) -> web.Response:
    body = await read_json(request, ReviewDecisionIn)
    item = await context(request).store.decide_review(
        request.match_info["id"],
        body.decision,
        decided_by=current_key(request).id,
        note=body.note,
    )
    return send(review_view(item))


OPERATIONS = [
    Operation(
        "GET",
        "/v1/review",
        list_review,
        "Review items, oldest first (open ones by default).",
        Scope.REVIEW,
        "review",
        response=ReviewList,
        params=(
            Param("state", "query", "Comma-separated: open, confirmed, rejected."),
            Param(
                "order",
                "query",
                "age (oldest first, the default) or priority (highest score, then oldest).",
                choices=("age", "priority"),
            ),
            Param("offset", "query", "Items to skip (paging).", type_="integer"),
            Param("limit", "query", f"Items per page, 1-{MAX_PAGE}.", type_="integer"),
        ),
        errors=(400,),
    ),
    Operation(
        "POST",
        "/v1/review/{id}/claim",
        claim_review,
        "Claim an open item so no other reviewer decides it until the claim expires "
        "(pages.review_claim_seconds); claiming again extends it.",
        Scope.REVIEW,
        "review",
        response=ReviewItemView,
        params=(Param("id", "path", "The review item id."),),
        errors=(404, 409),
    ),
    Operation(
        "DELETE",
        "/v1/review/{id}/claim",
        release_review,
        "Give up your claim on an item.",
        Scope.REVIEW,
        "review",
        response=ReviewItemView,
        params=(Param("id", "path", "The review item id."),),
        errors=(404,),
    ),
    Operation(
        "GET",
        "/v1/review/{id}",
        get_review,
        "One review item with the evidence to check: matches and their aligned segments.",
        Scope.REVIEW,
        "review",
        response=ReviewItemDetail,
        params=(Param("id", "path", "The review item id."),),
        errors=(404,),
    ),
    Operation(
        "POST",
        "/v1/review/{id}",
        decide_review,
        "Confirm (refer the content) or reject (clear it and suppress the same content); "
        "409 when decided already or claimed by another reviewer.",
        Scope.REVIEW,
        "review",
        response=ReviewItemView,
        requests=(("application/json", ReviewDecisionIn),),
        params=(Param("id", "path", "The review item id."),),
        errors=(400, 404, 409, 415, 422),
    ),
]
