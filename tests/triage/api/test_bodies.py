"""Request bodies go through the same pydantic models whether they come as JSON or as a
multipart form: the same limits, the same 422 messages; a form's blank field is an absent one."""

from __future__ import annotations

import pytest

from tests.triage.api.conftest import Api
from tests.triage.api.test_app import assert_problem, form
from triage.api.fields import (
    EXTERNAL_ID_MAX_CHARS,
    LABEL_MAX_CHARS,
    NOTE_MAX_CHARS,
    REFERENCE_ID_MAX_CHARS,
)

VIDEO = ("clip.mp4", b"\x00\x00\x00\x18ftypmp42" + b"\x01" * 512)


@pytest.mark.parametrize(
    ("name", "max_chars"), [("note", NOTE_MAX_CHARS), ("external_id", EXTERNAL_ID_MAX_CHARS)]
)
async def test_a_field_over_its_limit_gets_the_same_422_as_json_and_as_a_form(
    api: Api, name: str, max_chars: int
) -> None:
    too_long = "x" * (max_chars + 1)
    as_json = await api.client.post(
        "/v1/submissions",
        json={"url": "https://example.com/v.mp4", name: too_long},
        headers=api.auth("submit"),
    )
    as_form = await api.client.post(
        "/v1/submissions", data=form(file=VIDEO, **{name: too_long}), headers=api.auth("submit")
    )
    json_detail = (await assert_problem(as_json, 422))["detail"]
    form_detail = (await assert_problem(as_form, 422))["detail"]
    assert json_detail == form_detail
    assert str(form_detail).startswith(f"{name}: ") and str(max_chars) in str(form_detail)
    assert list(api.settings.uploads_dir.iterdir()) == []


async def test_a_field_at_its_limit_is_taken_from_a_form(api: Api) -> None:
    note, external_id = "n" * NOTE_MAX_CHARS, "e" * EXTERNAL_ID_MAX_CHARS
    response = await api.client.post(
        "/v1/submissions",
        data=form(file=VIDEO, note=note, external_id=external_id),
        headers=api.auth("submit"),
    )
    assert response.status == 202, await response.text()
    detail = await api.store.get_submission((await response.json())["id"])
    assert (detail.submission.note, detail.submission.external_id) == (note, external_id)


async def test_a_blank_form_field_counts_as_absent(api: Api) -> None:
    response = await api.client.post(
        "/v1/submissions",
        data=form(file=VIDEO, note="   ", external_id=""),
        headers=api.auth("submit"),
    )
    assert response.status == 202, await response.text()
    detail = await api.store.get_submission((await response.json())["id"])
    assert (detail.submission.note, detail.submission.external_id) == (None, None)


async def test_a_form_field_the_model_does_not_know_is_ignored(api: Api) -> None:
    response = await api.client.post(
        "/v1/submissions", data=form(file=VIDEO, comment="hi"), headers=api.auth("submit")
    )
    assert response.status == 202, await response.text()


@pytest.mark.parametrize(
    ("name", "max_chars"), [("label", LABEL_MAX_CHARS), ("id", REFERENCE_ID_MAX_CHARS)]
)
async def test_a_reference_form_field_over_its_limit_is_422_naming_it(
    api: Api, name: str, max_chars: int
) -> None:
    response = await api.client.post(
        "/v1/references",
        data=form(file=VIDEO, **{name: "r" * (max_chars + 1)}),
        headers=api.auth("admin"),
    )
    body = await assert_problem(response, 422)
    assert str(body["detail"]).startswith(f"{name}: ")
    assert await api.store.list_references() == []
    assert list(api.settings.uploads_dir.iterdir()) == []


async def test_a_reference_form_takes_its_fields_trimmed_and_its_format_in_any_case(
    api: Api,
) -> None:
    response = await api.client.post(
        "/v1/references",
        data=form(file=VIDEO, format=" Video ", label="  chair attack ", id=" ref-chair "),
        headers=api.auth("admin"),
    )
    assert response.status == 202, await response.text()
    view = await response.json()
    assert (view["id"], view["label"]) == ("ref-chair", "chair attack")
