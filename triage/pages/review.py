"""The review queue and the review page: evidence side by side, claim, confirm or reject."""

from __future__ import annotations

import contextlib
from datetime import datetime
from urllib.parse import urlencode

from aiohttp import web

from triage.api.bodies import form_fields
from triage.api.context import context
from triage.api.fields import NOTE_MAX_CHARS
from triage.api.problems import Problem
from triage.api.schemas import ReviewDecisionIn
from triage.errors import NotFound
from triage.evidence import MatchEvidence
from triage.models import (
    KeyframeInfo,
    Media,
    ReviewItem,
    ReviewState,
    Scope,
    SubmissionDetail,
    SubmissionFilter,
    WebSession,
)
from triage.pages.guard import guarded
from triage.pages.html import Html, fill, join, page, redirect
from triage.pages.sessions import check_csrf
from triage.pages.words import SCORE_EXPLAINED, clock, speed_words, view_words
from triage.store.rules import utc_now

QUEUE_PAGE = 50
PAIRS_PER_MATCH = 6
MATCHES_SHOWN = 3

# --- the queue --------------------------------------------------------------------------------


def _age(since: datetime, now: datetime) -> str:
    minutes = int((now - since).total_seconds() // 60)
    if minutes < 60:
        return f"{minutes} min"
    if minutes < 48 * 60:
        return f"{minutes // 60} h"
    return f"{minutes // 1440} days"


def claim_words(item: ReviewItem, session: WebSession, now: datetime) -> str:
    if item.claimed_by_other(session.key.id, now) and item.claim_expires_at is not None:
        return f"another reviewer, until {item.claim_expires_at:%H:%M} UTC"
    if (
        item.claimed_by == session.key.id
        and item.claim_expires_at is not None
        and item.claim_expires_at > now
    ):
        return f"you, until {item.claim_expires_at:%H:%M} UTC"
    return ""


@guarded(Scope.REVIEW)
async def queue_page(request: web.Request, session: WebSession) -> web.StreamResponse:
    raw = request.query.get("offset", "0")
    offset = int(raw) if raw.isdigit() else 0
    items = await context(request).store.list_review_items(
        limit=QUEUE_PAGE + 1, offset=offset, by_priority=True
    )
    now = utc_now()
    rows = []
    for item in items[:QUEUE_PAGE]:
        subject = item.url or f"file: {item.upload_filename or item.sha256 or item.media_id}"
        rows.append(
            fill(
                '<tr data-id="$id"><td>$score</td><td>$age</td><td>$label</td>'
                '<td class="what">$subject</td><td>$external_id</td><td>$claim</td>'
                '<td><form class="inline" method="post" action="/review/$id/claim">'
                '<input type="hidden" name="csrf_token" value="$csrf">'
                '<button type="submit">Review</button></form></td></tr>',
                id=item.id,
                score=f"{item.score or 0:.2f}",
                age=_age(item.created_at, now),
                label=item.label,
                subject=subject,
                external_id=item.external_id,
                claim=claim_words(item, session, now),
                csrf=session.csrf_token,
            )
        )
    decided = request.query.get("decided")
    notice = Html("")
    if decided in ("confirm", "reject"):
        done = "Confirmed: the platforms are told." if decided == "confirm" else "Rejected."
        notice = fill(
            '<p class="notice" role="status">$done The next item is on top.</p>', done=done
        )
    if rows:
        body = fill(
            '<p class="hint">Highest score first, then oldest. Opening an item claims it for '
            "you for a while, so nobody else works on it.</p>"
            '<table class="list" id="queue"><thead><tr><th>Score</th><th>Waiting</th>'
            "<th>Known video</th><th>Link or file</th><th>Case id</th><th>Claimed by</th>"
            "<th></th></tr></thead><tbody>$rows</tbody></table>",
            rows=join(rows),
        )
    else:
        body = Html('<p class="empty">Nothing waits for review.</p>')
    paging = []
    if offset > 0:
        paging.append(
            fill('<a href="/review?offset=$o">Previous</a>', o=max(0, offset - QUEUE_PAGE))
        )
    if len(items) > QUEUE_PAGE:
        paging.append(fill('<a href="/review?offset=$o">Next</a>', o=offset + QUEUE_PAGE))
    return page("Review queue", join([notice, body, join(paging, " ")]), session=session)


@guarded(Scope.REVIEW)
async def claim(request: web.Request, session: WebSession) -> web.StreamResponse:
    check_csrf(request, session, await request.post())
    ctx = context(request)
    item_id = request.match_info["id"]
    await ctx.store.claim_review_item(
        item_id, session.key.id, claim_seconds=ctx.settings.pages.review_claim_seconds
    )
    return redirect(f"/review/{item_id}")


@guarded(Scope.REVIEW)
async def release(request: web.Request, session: WebSession) -> web.StreamResponse:
    check_csrf(request, session, await request.post())
    await context(request).store.release_review_item(request.match_info["id"], session.key.id)
    return redirect("/review")


@guarded(Scope.REVIEW)
async def decide(request: web.Request, session: WebSession) -> web.StreamResponse:
    form = await request.post()
    check_csrf(request, session, form)
    # The API's decision body, from the form's two fields (an error page on a bad one).
    sent = {name: str(form.get(name, "")).strip() for name in ("decision", "note")}
    body = form_fields(sent, ReviewDecisionIn)
    await context(request).store.decide_review(
        request.match_info["id"], body.decision, decided_by=session.key.id, note=body.note
    )
    return redirect(f"/review?decided={body.decision.value}")


# --- one item ---------------------------------------------------------------------------------


def keyframe_src(owner_id: str, millis: int) -> str:
    return "/pages/keyframe?" + urlencode({"owner": owner_id, "ms": str(millis)})


def keyframe_pairs(
    match: MatchEvidence, query: list[KeyframeInfo], reference: list[KeyframeInfo]
) -> list[tuple[KeyframeInfo, KeyframeInfo | None, float]]:
    """(query frame, the reference frame nearest its aligned time or None, that time)."""
    pairs: list[tuple[KeyframeInfo, KeyframeInfo | None, float]] = []
    for frame in query:
        seconds = frame.timestamp_millis / 1000
        segment = next(
            (s for s in match.segments if s.query_start - 0.05 <= seconds <= s.query_end + 0.05),
            None,
        )
        if segment is None:
            continue
        aligned = segment.reference_seconds_at(seconds)
        nearest = min(
            reference, key=lambda r: abs(r.timestamp_millis / 1000 - aligned), default=None
        )
        pairs.append((frame, nearest, aligned))
    return pairs[:PAIRS_PER_MATCH]


def _figure(owner_id: str, frame: KeyframeInfo | None, caption: str) -> Html:
    if frame is None:
        return fill(
            '<figure class="frame missing"><div class="none">no picture</div>'
            "<figcaption>$c</figcaption></figure>",
            c=caption,
        )
    return fill(
        '<figure class="frame"><button type="button" class="reveal" '
        'title="Click to show (or hide) the picture">'
        '<img class="keyframe veiled" src="$src" alt="$c"></button>'
        "<figcaption>$c</figcaption></figure>",
        src=keyframe_src(owner_id, frame.timestamp_millis),
        c=caption,
    )


def _timeline(match: MatchEvidence, query_seconds: float, reference_seconds: float) -> Html:
    """Both videos as bars, the aligned segments marked on each (SVG: no inline styles)."""
    width = 1000.0

    def x(seconds: float, total: float) -> str:
        return f"{width * min(max(seconds / total, 0.0), 1.0):.1f}" if total > 0 else "0"

    marks = []
    for segment in match.segments:
        qx, qw = (
            x(segment.query_start, query_seconds),
            x(segment.query_end - segment.query_start, query_seconds),
        )
        rx, rw = (
            x(segment.reference_start, reference_seconds),
            x(segment.reference_end - segment.reference_start, reference_seconds),
        )
        marks.append(
            fill(
                '<rect class="seg" x="$qx" y="18" width="$qw" height="14"/>'
                '<rect class="seg" x="$rx" y="66" width="$rw" height="14"/>'
                '<line class="link" x1="$qc" y1="32" x2="$rc" y2="66"/>',
                qx=qx,
                qw=qw,
                rx=rx,
                rw=rw,
                qc=f"{float(qx) + float(qw) / 2:.1f}",
                rc=f"{float(rx) + float(rw) / 2:.1f}",
            )
        )
    return fill(
        '<svg class="timeline" viewBox="0 0 1000 96" role="img" aria-label="$label">'
        '<text x="0" y="12">This copy ($q)</text>'
        '<rect class="track" x="0" y="18" width="1000" height="14"/>'
        '<text x="0" y="60">Known video ($r)</text>'
        '<rect class="track" x="0" y="66" width="1000" height="14"/>$marks</svg>',
        label="Where the matching parts lie in both videos",
        q=clock(query_seconds),
        r=clock(reference_seconds) if reference_seconds > 0 else "length unknown",
        marks=join(marks),
    )


def _segments_table(match: MatchEvidence) -> Html:
    rows = [
        fill(
            "<tr><td>$q</td><td>$r</td><td>$frames</td><td>$distance</td><td>$evidence</td></tr>",
            q=f"{clock(s.query_start)} – {clock(s.query_end)}",
            r=f"{clock(s.reference_start)} – {clock(s.reference_end)}",
            frames=s.matched_frames or "",
            distance=f"{s.mean_distance:.0f} of 256" if s.mean_distance is not None else "",
            evidence=f"{s.score:.1f}",
        )
        for s in match.segments
    ]
    return fill(
        '<table class="list segments"><thead><tr><th>In this copy</th><th>In the known video'
        "</th><th>Frames paired</th><th>Bits differing</th><th>Evidence</th></tr></thead>"
        "<tbody>$rows</tbody></table>",
        rows=join(rows),
    )


async def _match_section(
    request: web.Request,
    media_id: str,
    match: MatchEvidence,
    query: list[KeyframeInfo],
    query_seconds: float,
) -> Html:
    store = context(request).store
    reference_seconds = 0.0
    with contextlib.suppress(NotFound):  # a reference may have been removed since
        reference_seconds = (await store.get_reference(match.reference_id)).duration_seconds
    reference_frames = await store.list_keyframes(match.reference_id)
    if not reference_seconds:
        reference_seconds = max((s.reference_end for s in match.segments), default=0.0)
    what = view_words(match.views) or ["the whole picture"]
    summary = fill(
        "<p>Matched as <strong>$views</strong>, $speed: $seconds s of this copy "
        "($q_cover of it) show $r_cover of the known video.</p>",
        views=", ".join(what),
        speed=speed_words(match.speed),
        seconds=f"{match.matched_seconds:.1f}",
        q_cover=f"{match.query_coverage:.0%}",
        r_cover=f"{match.reference_coverage:.0%}",
    )
    if reference_frames:
        pairs = keyframe_pairs(match, query, reference_frames)
        if pairs:
            pictures = join(
                fill(
                    '<div class="pair">$q$r</div>',
                    q=_figure(media_id, q, f"This copy at {clock(q.timestamp_millis / 1000)}"),
                    r=_figure(
                        match.reference_id,
                        r,
                        f"Known video at {clock(r.timestamp_millis / 1000)}" if r else "",
                    ),
                )
                for q, r, _ in pairs
            )
        else:
            pictures = Html('<p class="hint">No pictures were kept of this copy.</p>')
    else:
        pictures = Html(
            '<p class="hint">This known video is held as hashes only (no pictures): compare '
            "the times and scores below.</p>"
        )
    return fill(
        '<section class="match"><h2>$label <span class="score">score $score</span></h2>'
        "$summary$timeline$pictures$segments</section>",
        label=match.label,
        score=f"{match.score:.2f}",
        summary=summary,
        timeline=_timeline(match, query_seconds, reference_seconds),
        pictures=pictures,
        segments=_segments_table(match),
    )


def _urls(media: Media, item: ReviewItem, submissions: list[SubmissionDetail]) -> Html:
    seen: dict[str, str] = {}
    for detail in submissions:
        if detail.submission.url:
            seen.setdefault(detail.submission.url, "reported")
    if media.url:
        seen.setdefault(media.url, "reported")
    evidence = media.evidence
    if evidence is not None:
        if evidence.final_url:
            seen.setdefault(evidence.final_url, "the media came from here")
        resolver = evidence.resolver or {}
        for name in ("webpage_url", "page_url"):
            value = resolver.get(name)
            if isinstance(value, str):
                seen.setdefault(value, "the post page")
    if not seen:
        return fill(
            '<p class="hint">Uploaded as a file ($name, SHA-256 $sha256): no link carried it.</p>',
            name=item.upload_filename or "no name",
            sha256=media.sha256 or "unknown",
        )
    return fill(
        '<ul class="urls">$items</ul>',
        items=join(
            fill(
                '<li><a href="$u" rel="noreferrer noopener">$u</a> <span class="hint">$why'
                "</span></li>",
                u=url,
                why=why,
            )
            for url, why in seen.items()
        ),
    )


def _reports(submissions: list[SubmissionDetail]) -> Html:
    if not submissions:
        return Html("")
    return fill(
        "<ul>$items</ul>",
        items=join(
            fill(
                "<li>$when · case id <strong>$ext</strong> · $note</li>",
                when=f"{d.submission.created_at:%Y-%m-%d %H:%M}",
                ext=d.submission.external_id or "none",
                note=d.submission.note or "no note",
            )
            for d in submissions
        ),
    )


def _decision(item: ReviewItem, session: WebSession) -> Html:
    now = utc_now()
    if item.state is not ReviewState.OPEN:
        return fill(
            '<p class="notice">Decided: $state by $who at $when.</p>',
            state=item.state.value,
            who=item.decided_by,
            when=f"{item.decided_at:%Y-%m-%d %H:%M}",
        )
    if item.claimed_by_other(session.key.id, now):
        return fill(
            '<p class="notice" id="claimed-elsewhere">Another reviewer is working on this '
            "item until $until UTC.</p>",
            until=f"{item.claim_expires_at:%H:%M}",
        )
    if item.claimed_by != session.key.id:
        return fill(
            '<form method="post" action="/review/$id/claim"><input type="hidden" '
            'name="csrf_token" value="$csrf"><button class="primary" type="submit">Start reviewing'
            "</button></form>",
            id=item.id,
            csrf=session.csrf_token,
        )
    return fill(
        '<form id="decide" method="post" action="/review/$id/decide">'
        '<input type="hidden" name="csrf_token" value="$csrf">'
        '<label for="note">Note (optional)</label>'
        '<input id="note" name="note" maxlength="$note_max">'
        '<div class="buttons"><button class="confirm" type="submit" name="decision" '
        'value="confirm" data-key="c"><kbd>C</kbd> Confirm: it is this video</button>'
        '<button class="reject" type="submit" name="decision" value="reject" data-key="r">'
        "<kbd>R</kbd> Reject: not this video</button></div></form>"
        '<form method="post" action="/review/$id/release" class="inline">'
        '<input type="hidden" name="csrf_token" value="$csrf">'
        '<button type="submit">Give back to the queue</button></form>'
        '<p class="hint">Keys: <kbd>C</kbd> confirm, <kbd>R</kbd> reject, <kbd>V</kbd> show or '
        "hide every picture. You hold this item until $until UTC.</p>",
        id=item.id,
        csrf=session.csrf_token,
        note_max=NOTE_MAX_CHARS,
        until=f"{item.claim_expires_at:%H:%M}" if item.claim_expires_at else "",
    )


@guarded(Scope.REVIEW)
async def item_page(request: web.Request, session: WebSession) -> web.StreamResponse:
    store = context(request).store
    item = await store.get_review_item(request.match_info["id"])
    media = await store.get_media(item.media_id)
    result = await store.get_result(item.media_id)
    matches = list(result.matches[:MATCHES_SHOWN]) if result is not None else []
    query_frames = await store.list_keyframes(item.media_id)
    best = matches[0] if matches else None
    query_seconds = 0.0
    if best is not None and best.query_coverage > 0:
        query_seconds = best.matched_seconds / best.query_coverage
    query_seconds = max([query_seconds, *(s.query_end for m in matches for s in m.segments)])
    submissions = await store.list_submissions(SubmissionFilter(media_id=item.media_id), limit=20)
    sections = [
        await _match_section(request, item.media_id, m, query_frames, query_seconds)
        for m in matches
    ]
    body = fill(
        '<div class="review" data-state="$state">'
        '<p class="warning">Pictures from violent footage are blurred. Click one (or press '
        "<kbd>V</kbd>) to see it.</p>"
        '<section class="card"><h2>Decision</h2>$decision</section>'
        '<section class="card"><h2>Reported</h2>$reports'
        "<h3>Links that carried it</h3>$urls</section>"
        "$sections"
        '<details class="card"><summary>How to read the scores</summary>'
        "<p>$explained</p></details>"
        "</div>",
        state=item.state.value,
        decision=_decision(item, session),
        reports=_reports(submissions),
        urls=_urls(media, item, submissions),
        sections=join(sections),
        explained=SCORE_EXPLAINED,
    )
    title = f"Review: {item.label or 'match'} (score {item.score or 0:.2f})"
    return page(title, body, session=session, scripts=["/pages/static/pages.js"])


@guarded(Scope.REVIEW)
async def keyframe(request: web.Request, session: WebSession) -> web.StreamResponse:
    owner = request.query.get("owner", "")
    raw = request.query.get("ms", "")
    if not owner or not raw.isdigit():
        raise Problem(400, "owner and ms are needed")
    frame = await context(request).store.get_keyframe(owner, int(raw))
    return web.Response(
        body=frame.jpeg,
        content_type="image/jpeg",
        headers={
            "Cache-Control": "private, max-age=3600",
            "X-Content-Type-Options": "nosniff",
            "Content-Security-Policy": "default-src 'none'",
        },
    )
