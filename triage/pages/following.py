"""My submissions: a filterable list that updates in place while verdicts come in."""

from __future__ import annotations

from typing import Any

from aiohttp import web

from triage.api.context import context
from triage.api.routes.submissions import submission_filter, visible_to
from triage.errors import NotFound
from triage.models import Scope, SubmissionDetail, SubmissionStatus, Verdict, WebSession
from triage.pages.guard import guarded
from triage.pages.html import PAGE_HEADERS, Html, fill, join, page
from triage.pages.words import verdict_words
from triage.store.rules import submission_wanted

PAGE_SIZE = 50
MAX_POLLED = 100

_FILTERS = """<form class="filters" method="get" action="/submissions">
<label>Case id <input name="external_id" value="$external_id"></label>
<label>Verdict <select name="verdict">$verdicts</select></label>
<label>Status <select name="status">$statuses</select></label>
<button type="submit">Filter</button> <a href="/submissions">Clear</a>
</form>"""

_ROW = """<tr data-id="$id">
<td>$created</td><td class="what">$what</td><td>$external_id</td><td class="note">$note</td>
<td data-field="status">$status</td><td data-field="verdict">$verdict</td>
<td data-field="score">$score</td><td data-field="label">$label</td></tr>"""


def status_words(detail: SubmissionDetail) -> str:
    status = detail.status
    if status is SubmissionStatus.FAILED:
        error = detail.error or "unknown error"
        return f"failed: {error}"
    return {
        SubmissionStatus.QUEUED: "waiting",
        SubmissionStatus.FETCHING: "fetching",
        SubmissionStatus.HASHING: "looking at the pictures",
        SubmissionStatus.MATCHING: "comparing with known videos",
        SubmissionStatus.DONE: "done",
    }[status]


def row_state(detail: SubmissionDetail) -> dict[str, Any]:
    """What the poll updates in a row: the same words the page was rendered with."""
    result = detail.result
    best = result.best if result is not None else None
    score = best.score if best is not None else None
    return {
        "id": detail.submission.id,
        "final": detail.status in (SubmissionStatus.DONE, SubmissionStatus.FAILED),
        "status": status_words(detail),
        "verdict": verdict_words(result.verdict.value) if result is not None else "",
        "score": f"{score:.2f}" if score is not None else "",
        "label": best.label if best is not None else "",
    }


def _row(detail: SubmissionDetail) -> Html:
    submission = detail.submission
    state = row_state(detail)
    if submission.url is not None:
        what = fill('<a href="$u" rel="noreferrer noopener">$u</a>', u=submission.url)
    else:
        what = fill("file: $name", name=submission.upload_filename or "(no name)")
    return fill(
        _ROW,
        id=submission.id,
        created=f"{submission.created_at:%Y-%m-%d %H:%M}",
        what=what,
        external_id=submission.external_id,
        note=submission.note,
        status=state["status"],
        verdict=state["verdict"],
        score=state["score"],
        label=state["label"],
    )


def _options(choices: list[tuple[str, str]], chosen: str) -> Html:
    return join(
        fill(
            '<option value="$v"$sel>$t</option>',
            v=v,
            t=t,
            sel=Html(" selected") if v == chosen else Html(""),
        )
        for v, t in choices
    )


@guarded(Scope.SUBMIT)
async def submissions_page(request: web.Request, session: WebSession) -> web.StreamResponse:
    where = submission_filter(request, session.key)
    before = request.query.get("before") or None
    found = await context(request).store.list_submissions(where, before=before, limit=PAGE_SIZE)
    verdicts = [("", "any")] + [(v.value, verdict_words(v.value)) for v in Verdict]
    statuses = [("", "any"), ("done", "done"), ("failed", "failed")] + [
        (s.value, s.value) for s in SubmissionStatus if s.value not in ("done", "failed")
    ]
    filters = fill(
        _FILTERS,
        external_id=request.query.get("external_id", ""),
        verdicts=_options(verdicts, request.query.get("verdict", "")),
        statuses=_options(statuses, request.query.get("status", "")),
    )
    submitted = request.query.get("submitted", "")
    notice = Html("")
    if submitted.isdigit():
        notice = fill(
            '<p class="notice" role="status">Submitted: $n. Verdicts appear below as '
            "they come in.</p>",
            n=submitted,
        )
    if found:
        table = fill(
            '<table class="list" id="submissions"><thead><tr><th>Sent</th><th>Link or file</th>'
            "<th>Case id</th><th>Note</th><th>Status</th><th>Verdict</th><th>Score</th>"
            "<th>Known video</th></tr>"
            "</thead><tbody>$rows</tbody></table>",
            rows=join(_row(d) for d in found),
        )
    else:
        table = Html('<p class="empty">No submissions here yet.</p>')
    older = Html("")
    if len(found) == PAGE_SIZE:
        query = {**request.query, "before": found[-1].submission.id}
        query.pop("submitted", None)
        older = fill(
            '<p><a href="$href">Older submissions</a></p>', href=request.rel_url.with_query(query)
        )
    body = join([notice, filters, table, older])
    # Admin and read keys see everyone's submissions, not only their own.
    title = "My submissions" if visible_to(session.key).key_id is not None else "Submissions"
    return page(title, body, session=session, scripts=["/pages/static/pages.js"])


@guarded(Scope.SUBMIT)
async def submission_states(request: web.Request, session: WebSession) -> web.StreamResponse:
    """JSON for the page's poll: the rows' current words, for ids the key may see."""
    ids = [i for i in request.query.get("ids", "").split(",") if i][:MAX_POLLED]
    store = context(request).store
    visible = visible_to(session.key)
    items = []
    for submission_id in ids:
        try:
            detail = await store.get_submission(submission_id)
        except NotFound:
            continue
        if submission_wanted(detail, visible):
            items.append(row_state(detail))
    return web.json_response({"items": items}, headers=PAGE_HEADERS)
