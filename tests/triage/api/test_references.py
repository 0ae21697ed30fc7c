"""The reference routes: imports keep every view they carry and say when they hold full frames
only; export as JSONL or vPDQ; retro-matching queued whenever a reference turns active."""

from __future__ import annotations

import dataclasses
import io
import subprocess
import zipfile
from pathlib import Path

from hashes.cascade import match_query
from hashes.formats.jsonl import LEGACY_DESIGN, HashListEntry, loads_record, write_list
from hashes.formats.vpdq import read_vpdq, write_vpdq
from hashes.index import ExactIndex
from hashes.matcher import Matcher
from hashes.video.reference import hash_reference
from tests.triage.api.conftest import Api
from tests.triage.api.test_app import assert_problem, form
from triage.models import JobKind

DOORKNOB = "te-doorknob-hd-no-bar.mp4"
CHAIR = "chair-orig-22-hd-no-bar.txt"
# A crop that no full frame of the clip shows: found through the reference's own crops.
CROP = "crop=iw*0.75:ih*0.8:iw*0.2:ih*0.05"


async def _import(api: Api, name: str, body: bytes, fmt: str, reference_id: str) -> None:
    response = await api.client.post(
        "/v1/references",
        data=form(file=(name, body), format=fmt, id=reference_id),
        headers=api.auth("admin"),
    )
    assert response.status == 201, await response.text()


async def test_a_jsonl_import_keeps_the_derived_views_that_confirm_a_crop(
    api: Api, shared_data: Path, tmp_path: Path
) -> None:
    clip = shared_data / "sources" / DOORKNOB
    hashes = hash_reference(clip)
    listed = tmp_path / "list.jsonl"
    write_list(listed, [HashListEntry("door", hashes, label="door")], derived=True)
    await _import(api, "list.jsonl", listed.read_bytes(), "jsonl", "door")
    vpdq = io.StringIO()
    write_vpdq(hashes, vpdq)
    await _import(api, "door.txt", vpdq.getvalue().encode(), "vpdq", "door-vpdq")

    shown = await api.client.get("/v1/references", headers=api.auth("admin"))
    by_id = {item["id"]: item for item in (await shown.json())["items"]}
    assert by_id["door"]["full_frames_only"] is False
    assert by_id["door-vpdq"]["full_frames_only"] is True

    crop = tmp_path / "crop.mp4"
    subprocess.run(
        ["ffmpeg", "-v", "error", "-y", "-i", str(clip), "-t", "8", "-vf", CROP, str(crop)],
        check=True,
    )  # fmt: skip
    for reference_id, confirmed in (("door", True), ("door-vpdq", False)):
        record = await api.store.get_reference_hashes(reference_id)
        assert record is not None
        index = ExactIndex()
        index.add(reference_id, loads_record(record).hashes)
        matches = match_query(crop, Matcher(index)).matches
        best = matches[0].score if matches else 0.0
        assert (best >= api.settings.match.confirm_at) is confirmed, (reference_id, best)


async def test_a_jsonl_import_of_another_design_is_refused_and_stores_nothing(
    api: Api, shared_data: Path, tmp_path: Path
) -> None:
    clip = shared_data / "sources" / DOORKNOB
    ours = hash_reference(clip, api.settings.match.reference_params())
    # A list written before records named their design: read as the old design.
    older = dataclasses.replace(ours, view_design=LEGACY_DESIGN)
    listed = tmp_path / "list.jsonl"
    write_list(listed, [HashListEntry("door", ours), HashListEntry("older", older)],
               derived=True)  # fmt: skip
    response = await api.client.post(
        "/v1/references",
        data=form(file=("list.jsonl", listed.read_bytes()), format="jsonl"),
        headers=api.auth("admin"),
    )
    body = await assert_problem(response, 422)
    assert f"reference 'older': its derived views were made with {LEGACY_DESIGN!r}" in str(
        body["detail"]
    )
    assert await api.store.list_references() == []
    # Its full frames alone (the exported list) are of every design.
    write_list(listed, [HashListEntry("older", older)])
    await _import(api, "list.jsonl", listed.read_bytes(), "jsonl", "older")


async def test_a_reference_without_a_kept_video_cannot_be_hashed_again(
    api: Api, shared_data: Path
) -> None:
    text = (shared_data / "interop" / "vpdq" / "doorknob-hd-no-bar.txt").read_bytes()
    await _import(api, "door.txt", text, "vpdq", "door")
    response = await api.client.post("/v1/references/door/rehash", headers=api.auth("admin"))
    body = await assert_problem(response, 409)
    assert "upload the video again" in str(body["detail"])


async def test_export_jsonl_and_vpdq(api: Api, shared_data: Path) -> None:
    text = (shared_data / "interop" / "vpdq" / CHAIR).read_bytes()
    for rid in ("r1", "r2"):
        await api.client.post(
            "/v1/references",
            data=form(file=(CHAIR, text), format="vpdq", id=rid),
            headers=api.auth("admin"),
        )
    await api.client.delete("/v1/references/r2", headers=api.auth("admin"))
    jsonl = await api.client.get("/v1/references/export?format=jsonl", headers=api.auth("admin"))
    lines = (await jsonl.text()).splitlines()
    assert [loads_record(line).reference_id for line in lines] == ["r1"]
    vpdq = await api.client.get("/v1/references/export?format=vpdq", headers=api.auth("admin"))
    assert vpdq.content_type == "application/zip"
    with zipfile.ZipFile(io.BytesIO(await vpdq.read())) as archive:
        assert archive.namelist() == ["r1.txt"]
        exported = read_vpdq(io.StringIO(archive.read("r1.txt").decode()))
    original = read_vpdq(shared_data / "interop" / "vpdq" / CHAIR)
    assert (exported.hashes == original.hashes).all()
    await assert_problem(
        await api.client.get("/v1/references/export?format=tmk", headers=api.auth("admin")), 400
    )


async def _retro_jobs(api: Api) -> list[str]:
    return [j.target_id for j in await api.store.list_jobs() if j.kind is JobKind.RETRO_MATCH]


async def test_an_imported_reference_queues_retro_matching(api: Api, shared_data: Path) -> None:
    text = (shared_data / "interop" / "vpdq" / CHAIR).read_bytes()
    response = await api.client.post(
        "/v1/references",
        data=form(file=(CHAIR, text), format="vpdq", id="r1"),
        headers=api.auth("admin"),
    )
    assert response.status == 201, await response.text()
    assert await _retro_jobs(api) == ["r1"]
    await api.client.post("/v1/references/r1/disable", headers=api.auth("admin"))
    assert await _retro_jobs(api) == ["r1"]
    # Queries analysed while it was disabled are matched once it is active again.
    await api.client.post("/v1/references/r1/enable", headers=api.auth("admin"))
    assert await _retro_jobs(api) == ["r1", "r1"]


async def test_an_uploaded_reference_video_is_retro_matched_once_hashed(api: Api) -> None:
    response = await api.client.post(
        "/v1/references",
        data=form(file=("clip.mp4", b"\x00" * 64), label="clip"),
        headers=api.auth("admin"),
    )
    assert response.status == 202, await response.text()
    # Pending: nothing to match yet (the hashing job queues it when it finishes).
    assert await _retro_jobs(api) == []
