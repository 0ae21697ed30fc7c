"""Once a request's change is stored, it is answered as a success even when a later step fails."""

from __future__ import annotations

from pathlib import Path

from prometheus_client import REGISTRY

from hashes.formats.jsonl import HashListEntry, dumps_record
from hashes.formats.vpdq import read_vpdq
from tests.triage.api.conftest import Api
from tests.triage.api.test_app import VPDQ_NAME, assert_problem, form
from triage.errors import StoreError


def _failures(step: str) -> float:
    value = REGISTRY.get_sample_value("triage_after_commit_failures_total", {"step": step})
    return value or 0.0


def _break(api: Api, method: str) -> None:
    """The store's `method` fails from now on, as when the database drops after a commit."""

    async def unavailable(*args: object, **kwargs: object) -> None:
        raise StoreError("connection reset by the database")

    setattr(api.store, method, unavailable)


async def test_a_stored_submission_is_202_when_reading_its_status_fails(api: Api) -> None:
    before = _failures("status read")
    read_back = api.store.get_submission
    _break(api, "get_submission")
    response = await api.client.post(
        "/v1/submissions", json={"url": "https://example.com/v.mp4"}, headers=api.auth("submit")
    )
    assert response.status == 202, await response.text()
    body = await response.json()
    assert body["status"] == "queued"
    # The answer names what was stored.
    stored = await read_back(body["id"])
    assert stored.submission.url == "https://example.com/v.mp4"
    assert _failures("status read") == before + 1


async def test_an_imported_reference_is_201_when_its_audit_row_fails(
    api: Api, shared_data: Path
) -> None:
    text = (shared_data / "interop" / "vpdq" / VPDQ_NAME).read_bytes()
    before = _failures("audit")
    _break(api, "append_audit")
    response = await api.client.post(
        "/v1/references",
        data=form(file=(VPDQ_NAME, text), format="vpdq"),
        headers=api.auth("admin"),
    )
    assert response.status == 201, await response.text()
    (item,) = (await response.json())["items"]
    assert (await api.store.get_reference(item["id"])).id == item["id"]
    assert _failures("audit") == before + 1


async def test_a_replay_with_another_url_is_still_a_409(api: Api) -> None:
    headers = {**api.auth("submit"), "Idempotency-Key": "k-1"}
    first = await api.client.post(
        "/v1/submissions", json={"url": "https://example.com/a.mp4"}, headers=headers
    )
    assert first.status == 202
    second = await api.client.post(
        "/v1/submissions", json={"url": "https://example.com/b.mp4"}, headers=headers
    )
    assert second.status == 409


async def test_a_hash_list_import_is_stored_whole_or_not_at_all(
    api: Api, shared_data: Path
) -> None:
    hashes = read_vpdq(shared_data / "interop" / "vpdq" / VPDQ_NAME)
    first = await api.client.post(
        "/v1/references",
        data=form(file=(VPDQ_NAME, (shared_data / "interop" / "vpdq" / VPDQ_NAME).read_bytes()),
                  format="vpdq", id="taken"),
        headers=api.auth("admin"),
    )  # fmt: skip
    assert first.status == 201
    lines = "".join(
        dumps_record(HashListEntry(reference_id=reference_id, hashes=hashes))
        for reference_id in ("new-1", "taken", "new-2")
    )
    response = await api.client.post(
        "/v1/references",
        data=form(format="jsonl", file=("list.jsonl", lines.encode())),
        headers=api.auth("admin"),
    )
    body = await assert_problem(response, 409)
    assert "taken" in str(body["detail"])
    assert [r.id for r in await api.store.list_references()] == ["taken"]
