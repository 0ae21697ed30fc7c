"""The HTTP API over the memory store: auth, scopes, problems, submissions, references, jobs."""

from __future__ import annotations

import json
from pathlib import Path

import aiohttp
import pytest
from openapi_spec_validator import validate

from hashes.formats.jsonl import HashListEntry, dumps_record, loads_record
from hashes.formats.vpdq import read_vpdq
from tests.triage.api.conftest import UPLOAD_CAP_BYTES, Api, make_api
from triage.api.problems import PROBLEM_JSON
from triage.models import JobKind, JobState, ReferenceStatus

VPDQ_NAME = "chair-orig-22-hd-no-bar.txt"


async def assert_problem(response: aiohttp.ClientResponse, status: int) -> dict[str, object]:
    assert response.status == status, await response.text()
    assert response.content_type == PROBLEM_JSON
    body = await response.json(content_type=PROBLEM_JSON)
    assert body["status"] == status
    assert body["title"] and body["detail"] and body["type"]
    return dict(body)


def form(**fields: str | tuple[str, bytes]) -> aiohttp.FormData:
    data = aiohttp.FormData(default_to_multipart=True)
    for name, value in fields.items():
        if isinstance(value, tuple):
            data.add_field(name, value[1], filename=value[0])
        else:
            data.add_field(name, value)
    return data


# --- auth and scopes ------------------------------------------------------------------------


async def test_missing_key_is_401_with_a_challenge(api: Api) -> None:
    response = await api.client.get("/v1/submissions/sub_x")
    await assert_problem(response, 401)
    assert response.headers["WWW-Authenticate"].startswith("Bearer")


async def test_unknown_key_is_401(api: Api) -> None:
    response = await api.client.get(
        "/v1/submissions/sub_x", headers={"Authorization": "Bearer tt_nope"}
    )
    await assert_problem(response, 401)


async def test_non_bearer_scheme_is_401(api: Api) -> None:
    response = await api.client.get(
        "/v1/submissions/sub_x", headers={"Authorization": f"Basic {api.keys['read']}"}
    )
    await assert_problem(response, 401)


async def test_revoked_key_is_401(api: Api) -> None:
    key = next(k for k in await api.store.list_api_keys() if k.name == "read key")
    await api.store.revoke_api_key(key.id)
    response = await api.client.get("/v1/submissions/sub_x", headers=api.auth("read"))
    await assert_problem(response, 401)


async def test_key_without_the_scope_is_403(api: Api) -> None:
    response = await api.client.post(
        "/v1/submissions", json={"url": "https://example.com/v.mp4"}, headers=api.auth("read")
    )
    body = await assert_problem(response, 403)
    assert "submit" in str(body["detail"])


async def test_admin_key_may_use_every_scope(api: Api) -> None:
    response = await api.client.get("/v1/submissions/sub_x", headers=api.auth("admin"))
    await assert_problem(response, 404)


async def test_rate_limit_is_429_with_retry_after(tmp_path: Path) -> None:
    limited = await make_api(tmp_path, rate_limit="2/minute")
    try:
        for _ in range(2):
            ok = await limited.client.get("/v1/references", headers=limited.auth("admin"))
            assert ok.status == 200
        response = await limited.client.get("/v1/references", headers=limited.auth("admin"))
        await assert_problem(response, 429)
        assert int(response.headers["Retry-After"]) >= 1
        # Another key has its own budget.
        other = await limited.client.get("/v1/submissions/x", headers=limited.auth("read"))
        assert other.status == 404
    finally:
        await limited.client.close()


# --- submissions ----------------------------------------------------------------------------


async def test_submit_url_answers_202_and_status_is_readable(api: Api) -> None:
    response = await api.client.post(
        "/v1/submissions",
        json={"url": "https://example.com/v.mp4", "note": "seen on a forum", "external_id": "t-1"},
        headers=api.auth("submit"),
    )
    assert response.status == 202
    accepted = await response.json()
    assert accepted["status"] == "queued"
    assert accepted["status_url"] == f"/v1/submissions/{accepted['id']}"
    status = await api.client.get(accepted["status_url"], headers=api.auth("read"))
    assert status.status == 200
    view = await status.json()
    assert view["url"] == "https://example.com/v.mp4"
    assert view["note"] == "seen on a forum"
    assert view["external_id"] == "t-1"
    assert view["verdict"] is None and view["matches"] == [] and view["error"] is None
    jobs = await api.store.list_jobs()
    assert [j.kind for j in jobs] == [JobKind.PROCESS_MEDIA]


async def test_same_idempotency_key_returns_the_first_submission(api: Api) -> None:
    headers = {**api.auth("submit"), "Idempotency-Key": "report-77"}
    first = await api.client.post(
        "/v1/submissions", json={"url": "https://example.com/a.mp4"}, headers=headers
    )
    again = await api.client.post(
        "/v1/submissions", json={"url": "https://example.com/a.mp4"}, headers=headers
    )
    assert first.status == again.status == 202
    assert (await first.json())["id"] == (await again.json())["id"]
    assert again.headers["Idempotent-Replayed"] == "true"
    assert len(await api.store.list_jobs()) == 1


async def test_same_url_twice_shares_one_job(api: Api) -> None:
    ids = []
    for _ in range(2):
        response = await api.client.post(
            "/v1/submissions", json={"url": "https://example.com/b.mp4"}, headers=api.auth("submit")
        )
        ids.append((await response.json())["id"])
    assert ids[0] != ids[1]
    assert len(await api.store.list_jobs()) == 1


async def test_invalid_json_is_400(api: Api) -> None:
    response = await api.client.post(
        "/v1/submissions",
        data=b"{not json",
        headers={**api.auth("submit"), "Content-Type": "application/json"},
    )
    await assert_problem(response, 400)


async def test_too_long_idempotency_key_is_400(api: Api) -> None:
    response = await api.client.post(
        "/v1/submissions",
        json={"url": "https://example.com/b.mp4"},
        headers={**api.auth("submit"), "Idempotency-Key": "k" * 201},
    )
    await assert_problem(response, 400)


@pytest.mark.parametrize(
    "body",
    [{"url": "ftp://example.com/x"}, {"url": "not a url"}, {}, {"url": "https://a.b", "x": 1}],
)
async def test_invalid_submission_is_422(api: Api, body: dict[str, object]) -> None:
    response = await api.client.post("/v1/submissions", json=body, headers=api.auth("submit"))
    await assert_problem(response, 422)


async def test_wrong_media_type_is_415(api: Api) -> None:
    response = await api.client.post(
        "/v1/submissions",
        data=b"https://example.com/x",
        headers={**api.auth("submit"), "Content-Type": "text/plain"},
    )
    await assert_problem(response, 415)


async def test_upload_is_streamed_to_disk_and_queued(api: Api) -> None:
    payload = b"\x00\x00\x00\x18ftypmp42" + bytes(range(256)) * 10
    response = await api.client.post(
        "/v1/submissions",
        data=form(file=("clip.mp4", payload), note="from a DM"),
        headers=api.auth("submit"),
    )
    assert response.status == 202, await response.text()
    accepted = await response.json()
    detail = await api.store.get_submission(accepted["id"])
    assert detail.submission.upload_filename == "clip.mp4"
    assert detail.submission.note == "from a DM"
    assert detail.media.upload_path is not None
    assert Path(detail.media.upload_path).read_bytes() == payload


async def test_same_upload_twice_keeps_one_file(api: Api) -> None:
    payload = b"same bytes " * 100
    for _ in range(2):
        response = await api.client.post(
            "/v1/submissions", data=form(file=("a.mp4", payload)), headers=api.auth("submit")
        )
        assert response.status == 202
    assert len(list(api.settings.uploads_dir.iterdir())) == 1
    assert len(await api.store.list_jobs()) == 1


async def test_upload_over_the_cap_is_413_and_leaves_no_file(api: Api) -> None:
    response = await api.client.post(
        "/v1/submissions",
        data=form(file=("big.mp4", b"x" * (UPLOAD_CAP_BYTES + 1))),
        headers=api.auth("submit"),
    )
    await assert_problem(response, 413)
    assert list(api.settings.uploads_dir.iterdir()) == []


async def test_upload_without_file_part_is_422(api: Api) -> None:
    response = await api.client.post(
        "/v1/submissions", data=form(note="nothing attached"), headers=api.auth("submit")
    )
    await assert_problem(response, 422)


async def test_unknown_submission_is_404(api: Api) -> None:
    response = await api.client.get("/v1/submissions/sub_missing", headers=api.auth("read"))
    await assert_problem(response, 404)


async def test_failed_job_shows_its_reason(api: Api) -> None:
    response = await api.client.post(
        "/v1/submissions", json={"url": "https://example.com/c.mp4"}, headers=api.auth("submit")
    )
    submission_id = (await response.json())["id"]
    job = await api.store.claim_job("w1")
    assert job is not None
    await api.store.fail_job(job.id, "w1", "not_media: the body is a PDF", retryable=False)
    view = await (
        await api.client.get(f"/v1/submissions/{submission_id}", headers=api.auth("read"))
    ).json()
    assert view["status"] == "failed"
    assert view["error"] == {"reason": "not_media", "detail": "the body is a PDF"}


# --- references -----------------------------------------------------------------------------


async def test_import_vpdq_file_adds_an_active_reference(api: Api, shared_data: Path) -> None:
    text = (shared_data / "interop" / "vpdq" / VPDQ_NAME).read_bytes()
    response = await api.client.post(
        "/v1/references",
        data=form(file=(VPDQ_NAME, text), format="vpdq", label="chair attack"),
        headers=api.auth("admin"),
    )
    assert response.status == 201, await response.text()
    (item,) = (await response.json())["items"]
    assert item["id"] == "chair-orig-22-hd-no-bar"
    assert item["label"] == "chair attack"
    assert item["status"] == "active"
    record = await api.store.get_reference_hashes(item["id"])
    assert record is not None
    expected = read_vpdq(shared_data / "interop" / "vpdq" / VPDQ_NAME)
    assert len(loads_record(record).hashes) == len(expected) == item["frame_count"]


async def test_import_jsonl_adds_each_record_and_refuses_a_clash(
    api: Api, shared_data: Path
) -> None:
    hashes = read_vpdq(shared_data / "interop" / "vpdq" / VPDQ_NAME)
    lines = "".join(
        dumps_record(HashListEntry(reference_id=rid, hashes=hashes, label=f"label {rid}"))
        for rid in ("ref-a", "ref-b")
    ).encode()
    response = await api.client.post(
        "/v1/references",
        data=form(file=("list.jsonl", lines), format="jsonl"),
        headers=api.auth("admin"),
    )
    assert response.status == 201
    assert [i["id"] for i in (await response.json())["items"]] == ["ref-a", "ref-b"]
    again = await api.client.post(
        "/v1/references",
        data=form(file=("list.jsonl", lines), format="jsonl"),
        headers=api.auth("admin"),
    )
    await assert_problem(again, 409)
    assert len(await api.store.list_references()) == 2


async def test_malformed_hash_file_is_422_naming_the_line(api: Api) -> None:
    response = await api.client.post(
        "/v1/references",
        data=form(file=("bad.txt", b"0,100,zz,0.0\n"), format="vpdq"),
        headers=api.auth("admin"),
    )
    body = await assert_problem(response, 422)
    assert "line 1" in str(body["detail"])


async def test_unknown_format_is_422(api: Api) -> None:
    response = await api.client.post(
        "/v1/references",
        data=form(file=("x.bin", b"abc"), format="tmk"),
        headers=api.auth("admin"),
    )
    await assert_problem(response, 422)


async def test_video_upload_adds_a_pending_reference_with_a_hash_job(api: Api) -> None:
    response = await api.client.post(
        "/v1/references",
        data=form(file=("attack.mp4", b"\x00\x00\x00\x18ftypmp42" * 50), id="ref-attack"),
        headers=api.auth("admin"),
    )
    assert response.status == 202
    view = await response.json()
    assert view["id"] == "ref-attack" and view["status"] == "pending"
    assert view["label"] == "attack"
    (job,) = await api.store.list_jobs()
    assert job.kind is JobKind.HASH_REFERENCE and job.target_id == "ref-attack"


async def test_reference_lifecycle_disable_enable_delete(api: Api, shared_data: Path) -> None:
    text = (shared_data / "interop" / "vpdq" / VPDQ_NAME).read_bytes()
    await api.client.post(
        "/v1/references",
        data=form(file=(VPDQ_NAME, text), format="vpdq", id="r1"),
        headers=api.auth("admin"),
    )
    version = await api.store.hashlist_version()
    disabled = await api.client.post("/v1/references/r1/disable", headers=api.auth("admin"))
    assert (await disabled.json())["status"] == "disabled"
    enabled = await api.client.post("/v1/references/r1/enable", headers=api.auth("admin"))
    assert (await enabled.json())["status"] == "active"
    deleted = await api.client.delete("/v1/references/r1", headers=api.auth("admin"))
    assert (await deleted.json())["status"] == "deleted"
    assert await api.store.hashlist_version() > version
    # Soft delete: still listed, and it cannot come back.
    listed = await (await api.client.get("/v1/references", headers=api.auth("admin"))).json()
    assert [r["status"] for r in listed["items"]] == ["deleted"]
    again = await api.client.post("/v1/references/r1/enable", headers=api.auth("admin"))
    await assert_problem(again, 409)
    stored = await api.store.get_reference("r1")
    assert stored.status is ReferenceStatus.DELETED


async def test_references_need_admin(api: Api) -> None:
    response = await api.client.get("/v1/references", headers=api.auth("submit"))
    await assert_problem(response, 403)


async def test_unknown_reference_is_404(api: Api) -> None:
    response = await api.client.post("/v1/references/nope/disable", headers=api.auth("admin"))
    await assert_problem(response, 404)


# --- jobs -----------------------------------------------------------------------------------


async def test_retry_dead_job_requeues_it_and_live_job_is_409(api: Api) -> None:
    await api.client.post(
        "/v1/submissions", json={"url": "https://example.com/d.mp4"}, headers=api.auth("submit")
    )
    (job,) = await api.store.list_jobs()
    busy = await api.client.post(f"/v1/jobs/{job.id}/retry", headers=api.auth("admin"))
    await assert_problem(busy, 409)
    claimed = await api.store.claim_job("w1")
    assert claimed is not None
    await api.store.fail_job(job.id, "w1", "unreachable: gone", retryable=False)
    response = await api.client.post(f"/v1/jobs/{job.id}/retry", headers=api.auth("admin"))
    assert response.status == 200
    view = await response.json()
    assert view["state"] == JobState.QUEUED.value and view["attempts"] == 0
    listed = await api.client.get("/v1/jobs?state=queued", headers=api.auth("admin"))
    assert [j["id"] for j in (await listed.json())["items"]] == [job.id]


async def test_bad_job_query_is_400(api: Api) -> None:
    response = await api.client.get("/v1/jobs?state=sleeping", headers=api.auth("admin"))
    await assert_problem(response, 400)


# --- routing, health, contract --------------------------------------------------------------


async def test_unknown_route_is_404_problem(api: Api) -> None:
    await assert_problem(await api.client.get("/v2/nothing"), 404)


async def test_wrong_method_is_405_problem(api: Api) -> None:
    response = await api.client.put("/v1/submissions")
    await assert_problem(response, 405)
    assert "POST" in response.headers["Allow"]


async def test_health_and_readiness(api: Api) -> None:
    assert (await api.client.get("/healthz")).status == 200
    ready = await api.client.get("/readyz")
    assert ready.status == 200
    assert (await ready.json())["checks"] == {"store": True, "index": True}


async def test_metrics_are_exposed(api: Api) -> None:
    response = await api.client.get("/metrics")
    text = await response.text()
    assert response.status == 200
    assert "triage_queue_jobs" in text and "triage_http_requests_total" in text


async def test_openapi_document_is_valid_3_1(api: Api) -> None:
    response = await api.client.get("/openapi.json")
    spec = await response.json()
    assert spec["openapi"].startswith("3.1")
    validate(spec)
    post = spec["paths"]["/v1/submissions"]["post"]
    assert set(post["requestBody"]["content"]) == {"application/json", "multipart/form-data"}
    assert "422" in post["responses"] and "429" in post["responses"]
    assert "SubmissionView" in spec["components"]["schemas"]


async def test_docs_page_is_self_contained(api: Api) -> None:
    response = await api.client.get("/docs")
    html = await response.text()
    assert response.status == 200 and "openapi.json" in html
    assert "http://" not in html and "https://" not in html  # no CDN


async def test_unexpected_error_is_500_problem_without_internals(api: Api) -> None:
    # A store that breaks in an unforeseen way: the answer must not leak the exception.
    class Broken(Exception):
        pass

    async def explode(digest: str) -> None:
        raise Broken("secret internal detail")

    api.store.find_active_api_key = explode  # type: ignore[method-assign,assignment]
    response = await api.client.get("/v1/references", headers=api.auth("admin"))
    body = await assert_problem(response, 500)
    assert "secret" not in json.dumps(body)


async def test_malformed_multipart_part_header_is_400(api: Api) -> None:
    boundary = "b0undary"
    body = (
        f"--{boundary}\r\n"
        'Content-Disposition: form-data; name="x\x0f~\x00"\r\n\r\n'
        "value\r\n"
        f"--{boundary}--\r\n"
    ).encode("latin-1")
    response = await api.client.post(
        "/v1/submissions",
        data=body,
        headers={**api.auth("submit"), "Content-Type": f"multipart/form-data; boundary={boundary}"},
    )
    await assert_problem(response, 400)
    assert list(api.settings.uploads_dir.iterdir()) == []


async def test_failed_reference_shows_why(api: Api) -> None:
    response = await api.client.post(
        "/v1/references",
        data=form(file=("broken.mp4", b"not a video at all" * 10), id="ref-broken"),
        headers=api.auth("admin"),
    )
    assert response.status == 202
    job = await api.store.claim_job("w1")
    assert job is not None and job.kind is JobKind.HASH_REFERENCE
    await api.store.fail_job(job.id, "w1", "bad_media: not a readable video", retryable=False)
    view = await (
        await api.client.get("/v1/references/ref-broken", headers=api.auth("admin"))
    ).json()
    assert view["status"] == "failed"
    assert view["error"] == "bad_media: not a readable video"


async def test_idempotency_key_reused_for_another_request_is_409(api: Api) -> None:
    headers = {**api.auth("submit"), "Idempotency-Key": "report-99"}
    first = await api.client.post(
        "/v1/submissions", json={"url": "https://example.com/a.mp4"}, headers=headers
    )
    assert first.status == 202
    other_url = await api.client.post(
        "/v1/submissions", json={"url": "https://example.com/other.mp4"}, headers=headers
    )
    await assert_problem(other_url, 409)
    upload = await api.client.post(
        "/v1/submissions", data=form(file=("a.mp4", b"bytes" * 100)), headers=headers
    )
    await assert_problem(upload, 409)
    upload_headers = {**api.auth("submit"), "Idempotency-Key": "upload-1"}
    one = await api.client.post(
        "/v1/submissions", data=form(file=("a.mp4", b"one" * 100)), headers=upload_headers
    )
    same = await api.client.post(
        "/v1/submissions", data=form(file=("a.mp4", b"one" * 100)), headers=upload_headers
    )
    assert one.status == same.status == 202
    different = await api.client.post(
        "/v1/submissions", data=form(file=("a.mp4", b"two" * 100)), headers=upload_headers
    )
    await assert_problem(different, 409)
    assert len(list(api.settings.uploads_dir.iterdir())) == 1
