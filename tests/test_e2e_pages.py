"""The moderators' pages in headless Chromium, against a real `triage serve`.

One scenario: a moderator signs in with a key, submits two links and a file and watches the
rows reach their verdicts without reloading; a reviewer claims the highest item of the queue,
finds its keyframes blurred until clicked, and confirms it with the keyboard, while a second
reviewer is kept off the claimed item; a form posted from another origin is refused; signing
out ends the session. Chromium is Debian's (`make browser-deps`), never a download.

With GUIDE_SCREENSHOTS=1 the pages are also saved under docs/guides/img/ for the guide.
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import cv2
import numpy as np
import pytest
from aiohttp import web
from playwright.async_api import Browser, BrowserContext, Page, async_playwright

from tests.conftest import REPO_ROOT
from tests.loopback import LoopbackServer
from tests.processes import Process, run_cli, until, write_config
from tests.workers.media_server import MediaServer

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(400)]

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
REFERENCES = {"ref-chair": "te-chair-orig-22-sd-bar.mp4", "ref-door": "te-doorknob-hd-no-bar.mp4"}
LINKED_COPY = "te-chair-22-sd-grey-bar.mp4"  # the chair, in grey: a match
UNRELATED = "te-pattern-hd-no-bar.mp4"  # no reference: no match
UPLOADED_COPY = "te-chair-20-sd-bar.mp4"  # the chair, its first 2 s cut: a match
GUIDE_IMAGES = REPO_ROOT / "docs" / "guides" / "img"


def _write_config(path: Path, data_dir: Path, allow: list[str]) -> None:
    write_config(
        path,
        data_dir,
        fetch={"allow_hosts": allow, "timeout_seconds": 20.0},
        # Every match goes to a person: this scenario is about reviewing.
        match={"confirm_at": 100.0, "review_at": 0.5},
        jobs={"in_process_workers": 2, "poll_seconds": 0.2, "max_attempts": 2},
        keyframes={"reference_every_seconds": 1.0},
    )


class Attacker(LoopbackServer):
    """A page on another loopback origin whose form posts to the service without a token."""

    def __init__(self, service: str) -> None:
        super().__init__(shutdown_timeout_seconds=0.1)
        self.service = service

    def app(self) -> web.Application:
        app = web.Application()
        app.router.add_get("/", self._page)
        return app

    async def _page(self, request: web.Request) -> web.Response:
        form = (
            f'<form method="post" action="{self.service}/submit" enctype="multipart/form-data">'
            '<input name="links" value="https://example.com/planted">'
            '<button id="go" type="submit">Win a prize</button></form>'
        )
        return web.Response(text=f"<!doctype html><body>{form}</body>", content_type="text/html")


@pytest.fixture
async def browser() -> AsyncIterator[Browser]:
    async with async_playwright() as playwright:
        launched = await playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield launched
        await launched.close()


async def _shot(page: Page, name: str) -> None:
    if os.environ.get("GUIDE_SCREENSHOTS") == "1":
        GUIDE_IMAGES.mkdir(parents=True, exist_ok=True)
        await page.screenshot(path=str(GUIDE_IMAGES / f"{name}.png"), full_page=True)


async def _signed_in(browser: Browser, base: str, key: str) -> tuple[BrowserContext, Page]:
    context = await browser.new_context(base_url=base, viewport={"width": 1200, "height": 900})
    page = await context.new_page()
    await page.goto("/")
    assert page.url.endswith("/sign-in")
    await page.fill("#key", key)
    await page.click("button[type=submit]")
    await page.wait_for_load_state()
    return context, page


def _sharpness(png: bytes) -> float:
    """Variance of the Laplacian inside a screenshot (its edges left out, where the picture
    meets the page): low when blurred, high when sharp."""
    grey = cv2.imdecode(np.frombuffer(png, np.uint8), cv2.IMREAD_GRAYSCALE)
    if grey is None:
        raise AssertionError("the screenshot is not a PNG")
    height, width = grey.shape
    inside = grey[height // 5 : height - height // 5, width // 5 : width - width // 5]
    return float(cv2.Laplacian(inside, cv2.CV_64F).var())


async def _filter_of(page: Page, selector: str) -> str:
    return str(await page.eval_on_selector(selector, "e => getComputedStyle(e).filter"))


async def test_moderators_pages_end_to_end(
    tmp_path: Path, shared_data: Path, browser: Browser
) -> None:
    sources = shared_data / "sources"
    async with MediaServer(sources) as media:
        config = tmp_path / "config.yaml"
        _write_config(config, tmp_path / "data", [media.host_port])
        conf = ["--config", str(config)]
        serve = Process("serve", ["serve", *conf, "--port", "0", "--migrate"], tmp_path)
        await serve.start()
        try:
            base = (await serve.wait_for_line(r"listening on (http://\S+)")).group(1)
            keys = {
                name: (
                    await run_cli(
                        tmp_path, "keys", "create", *conf, "--scope", scope, "--name", name
                    )
                ).strip()
                for name, scope in (
                    ("admin", "admin"),
                    ("Mo the moderator", "submit"),
                    ("Ana the reviewer", "review"),
                    ("Ben the reviewer", "review"),
                )
            }
            await _scenario(base, keys, media, sources, browser, tmp_path)
        finally:
            await serve.stop()


async def _api(session: aiohttp.ClientSession, base: str, key: str, path: str) -> dict[str, Any]:
    async with session.get(f"{base}{path}", headers={"Authorization": f"Bearer {key}"}) as r:
        assert r.status == 200, await r.text()
        return dict(await r.json())


async def _scenario(
    base: str,
    keys: dict[str, str],
    media: MediaServer,
    sources: Path,
    browser: Browser,
    tmp_path: Path,
) -> None:
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=30)) as session:
        # References come as videos: hashed, with keyframes cut before the video goes.
        for reference_id, name in REFERENCES.items():
            form = aiohttp.FormData()
            form.add_field("file", (sources / name).read_bytes(), filename=name)
            form.add_field("id", reference_id)
            async with session.post(
                f"{base}/v1/references",
                data=form,
                headers={"Authorization": f"Bearer {keys['admin']}"},
            ) as response:
                assert response.status == 202, await response.text()

        async def references_active() -> bool:
            listing = await _api(session, base, keys["admin"], "/v1/references")
            return all(r["status"] == "active" for r in listing["items"])

        await until(references_active, 200, "the references to be hashed")

        # The moderator: sign in, submit two links and a file with a case id.
        mod_context, mod = await _signed_in(browser, base, keys["Mo the moderator"])
        assert mod.url.endswith("/submissions")
        await mod.goto("/submit")
        await _shot(mod, "submit")
        upload = tmp_path / "clip-from-a-chat.mp4"
        upload.write_bytes((sources / UPLOADED_COPY).read_bytes())
        links = "\n".join(media.url(f"/media/{n}") for n in (LINKED_COPY, UNRELATED))
        await mod.fill("#links", links)
        await mod.set_input_files("#files", str(upload))
        await mod.fill("#note", "Shared in a local news group")
        await mod.fill("#external_id", "case-42")
        await mod.click("button.primary")
        await mod.wait_for_url("**/submissions?submitted=3")
        assert await mod.locator("#submissions tbody tr").count() == 3
        # The rows change in place (the page's poll), no reload.
        await mod.wait_for_function(
            """() => Array.from(document.querySelectorAll('#submissions [data-field="status"]'))
                   .every(cell => cell.textContent === 'done')""",
            timeout=240_000,
        )
        verdicts = sorted(await mod.locator('[data-field="verdict"]').all_inner_texts())
        assert verdicts == ["Needs review", "Needs review", "No match"]
        await _shot(mod, "submissions")
        await mod.fill("input[name=external_id]", "case-42")
        await mod.click(".filters button")
        assert await mod.locator("#submissions tbody tr").count() == 3
        await mod.fill("input[name=external_id]", "case-0")
        await mod.click(".filters button")
        assert await mod.locator("#submissions tbody tr").count() == 0

        # A form on another origin, posted in the moderator's browser, is refused.
        async with Attacker(base) as attacker:
            evil = await mod_context.new_page()
            await evil.goto(f"http://127.0.0.1:{attacker.port}/")
            async with evil.expect_navigation():
                await evil.click("#go")
            assert "not sent from our page" in await evil.inner_text("main")
        listed = await _api(session, base, keys["admin"], "/v1/submissions")
        assert all("planted" not in (i["url"] or "") for i in listed["items"])
        assert len(listed["items"]) == 3

        # Reviewer Ana: the queue, highest score first; she claims the top item.
        ana_context, ana = await _signed_in(browser, base, keys["Ana the reviewer"])
        assert ana.url.endswith("/review")
        rows = ana.locator("#queue tbody tr")
        assert await rows.count() == 2
        await _shot(ana, "review-queue")
        item_id = await rows.first.get_attribute("data-id")
        assert item_id
        await rows.first.locator("button").click()
        await ana.wait_for_url(f"**/review/{item_id}")
        images = ana.locator("img.keyframe")
        assert await images.count() >= 2
        await ana.wait_for_function(
            "() => Array.from(document.images).every(i => i.complete && i.naturalWidth > 0)"
        )
        # Blurred as rendered (the computed filter and the pixels), until clicked.
        assert "blur" in await _filter_of(ana, "img.keyframe >> nth=0")
        assert "blur" in await _filter_of(ana, "img.keyframe >> nth=1")
        veiled = _sharpness(await images.first.screenshot())
        await _shot(ana, "review-item")
        await ana.click("button.reveal >> nth=0")
        assert await _filter_of(ana, "img.keyframe >> nth=0") == "none"
        assert await ana.get_attribute("button.reveal >> nth=0", "aria-pressed") == "true"
        assert _sharpness(await images.first.screenshot()) > 5 * veiled
        assert "blur" in await _filter_of(ana, "img.keyframe >> nth=1")
        await ana.keyboard.press("v")  # every picture
        assert await _filter_of(ana, "img.keyframe >> nth=1") == "none"
        body = await ana.inner_text("main")
        assert "case-42" in body and "Shared in a local news group" in body
        assert "filmed off a screen" in body or "the whole picture" in body
        assert "This copy" in body and "Known video" in body

        # Reviewer Ben cannot take or decide the claimed item.
        ben_context, ben = await _signed_in(browser, base, keys["Ben the reviewer"])
        await ben.goto(f"/review/{item_id}")
        assert "Another reviewer is working on this" in await ben.inner_text("main")
        assert await ben.locator("#decide").count() == 0
        await ben.goto("/review")
        ben_row = ben.locator(f'#queue tr[data-id="{item_id}"]')
        assert "another reviewer" in await ben_row.inner_text()
        await ben_row.locator("button").click()
        assert "claimed by another reviewer" in await ben.inner_text("main")

        # Ana confirms with the keyboard.
        await ana.locator("h1").click()  # focus on the page, not a field
        async with ana.expect_navigation():
            await ana.keyboard.press("c")
        assert "decided=confirm" in ana.url
        assert "Confirmed" in await ana.inner_text("[role=status]")
        decided = await _api(session, base, keys["admin"], f"/v1/review/{item_id}")
        assert decided["state"] == "confirmed"
        assert decided["external_id"] == "case-42"
        assert await ana.locator("#queue tbody tr").count() == 1

        # Signing out ends the session: the pages ask to sign in again.
        await ana.click("header button")
        await ana.wait_for_url("**/sign-in")
        await ana.goto("/review")
        assert "/sign-in" in ana.url
        await _shot(ana, "sign-in")
        for context in (mod_context, ana_context, ben_context):
            await context.close()
