"""The job policy a store is given once: built from the `jobs` settings, checked, and the
backoff and lease arithmetic every backend shares."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from triage.config import JobSettings
from triage.errors import InvalidInput
from triage.store.policy import DEFAULT_JOB_POLICY, JobPolicy


def test_the_policy_comes_from_the_jobs_settings() -> None:
    jobs = JobSettings(
        max_attempts=3, backoff_base_seconds=0.5, backoff_max_seconds=4.0, lease_seconds=12.0
    )
    assert JobPolicy.from_settings(jobs) == JobPolicy(
        max_attempts=3, backoff_base_seconds=0.5, backoff_max_seconds=4.0, lease_seconds=12.0
    )


def test_the_default_policy_is_that_of_the_default_settings() -> None:
    assert JobPolicy.from_settings(JobSettings()) == DEFAULT_JOB_POLICY


def test_retry_delay_doubles_from_its_base_up_to_its_cap() -> None:
    policy = JobPolicy(
        max_attempts=10, backoff_base_seconds=2.0, backoff_max_seconds=10.0, lease_seconds=30.0
    )
    assert [policy.retry_delay_seconds(n) for n in range(1, 6)] == [2.0, 4.0, 8.0, 10.0, 10.0]


def test_a_lease_runs_lease_seconds_from_when_it_is_taken() -> None:
    now = datetime(2026, 1, 1, tzinfo=UTC)
    assert DEFAULT_JOB_POLICY.lease_expiry(now) == now + timedelta(seconds=30)


@pytest.mark.parametrize(
    "changes",
    [{"max_attempts": 0}, {"backoff_base_seconds": -1.0}, {"lease_seconds": 0.0}],
    ids=["no_attempt", "negative_backoff", "no_lease"],
)
def test_a_policy_that_cannot_work_is_refused(changes: dict[str, float]) -> None:
    values: dict[str, float] = {
        "max_attempts": 5,
        "backoff_base_seconds": 2.0,
        "backoff_max_seconds": 300.0,
        "lease_seconds": 30.0,
        **changes,
    }
    with pytest.raises(InvalidInput):
        JobPolicy(
            max_attempts=int(values["max_attempts"]),
            backoff_base_seconds=values["backoff_base_seconds"],
            backoff_max_seconds=values["backoff_max_seconds"],
            lease_seconds=values["lease_seconds"],
        )
