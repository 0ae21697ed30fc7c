"""`/v1/audit`: the append-only record of who changed what (admin)."""

from __future__ import annotations

from aiohttp import web

from triage.api.bodies import send
from triage.api.context import context
from triage.api.operation import Operation
from triage.api.paging import PAGE_PARAMS, next_cursor, page_request
from triage.api.schemas import AuditEntryView, AuditPage
from triage.models import Scope


async def list_audit(request: web.Request) -> web.Response:
    after, limit = page_request(request)
    entries = await context(request).store.list_audit(after=after, limit=limit)
    return send(
        AuditPage(
            items=[AuditEntryView.model_validate(e, from_attributes=True) for e in entries],
            next_cursor=next_cursor([e.cursor for e in entries], after),
        )
    )


OPERATIONS = [
    Operation(
        "GET",
        "/v1/audit",
        list_audit,
        "Hash-list changes, review decisions, keys, retries and deliveries, oldest first.",
        Scope.ADMIN,
        "audit",
        response=AuditPage,
        params=PAGE_PARAMS,
        errors=(400,),
    ),
]
