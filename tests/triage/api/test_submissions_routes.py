"""Reading submissions: a key scoped to hosts sees the submissions on its hosts only."""

from __future__ import annotations

from tests.triage.api.conftest import Api
from tests.triage.api.results import host_key
from tests.triage.api.test_app import assert_problem


async def test_host_scoped_key_reads_only_submissions_on_its_hosts(api: Api) -> None:
    ours = await api.store.create_submission(url="https://video.a.example/v/1", key_id="key_x")
    theirs = await api.store.create_submission(url="https://b.example/v/2", key_id="key_x")
    auth = await host_key(api, ("a.example",))
    mine = await api.client.get(f"/v1/submissions/{ours.submission.id}", headers=auth)
    assert mine.status == 200
    other = await api.client.get(f"/v1/submissions/{theirs.submission.id}", headers=auth)
    await assert_problem(other, 404)
