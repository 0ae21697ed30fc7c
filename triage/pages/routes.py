"""The pages' routes on the API's application, and their static files (CSS, JS)."""

from __future__ import annotations

from importlib import resources

from aiohttp import web

from triage.pages import following, review, signin, submit
from triage.pages.html import PAGE_HEADERS

_STATIC_TYPES = {".css": "text/css", ".js": "text/javascript"}


def _static_files() -> dict[str, tuple[bytes, str]]:
    folder = resources.files("triage.pages").joinpath("static")
    files: dict[str, tuple[bytes, str]] = {}
    for entry in folder.iterdir():
        suffix = "." + entry.name.rsplit(".", 1)[-1]
        if suffix in _STATIC_TYPES:
            files[entry.name] = (entry.read_bytes(), _STATIC_TYPES[suffix])
    return files


def add_pages(app: web.Application) -> None:
    """Mount the moderators' pages: `/`, `/sign-in`, `/submit`, `/submissions`, `/review`."""
    static = _static_files()

    async def static_file(request: web.Request) -> web.Response:
        found = static.get(request.match_info["name"])
        if found is None:
            raise web.HTTPNotFound()
        body, content_type = found
        headers = {**PAGE_HEADERS, "Cache-Control": "public, max-age=300"}
        return web.Response(body=body, content_type=content_type, headers=headers)

    router = app.router
    router.add_get("/", signin.home)
    router.add_get("/sign-in", signin.sign_in_form)
    router.add_post("/sign-in", signin.sign_in)
    router.add_post("/sign-out", signin.sign_out)
    router.add_get("/submit", submit.submit_form)
    router.add_post("/submit", submit.submit)
    router.add_get("/submissions", following.submissions_page)
    router.add_get("/submissions/states", following.submission_states)
    router.add_get("/review", review.queue_page)
    router.add_get("/review/{id}", review.item_page)
    router.add_post("/review/{id}/claim", review.claim)
    router.add_post("/review/{id}/release", review.release)
    router.add_post("/review/{id}/decide", review.decide)
    router.add_get("/pages/keyframe", review.keyframe)
    router.add_get("/pages/static/{name}", static_file)
