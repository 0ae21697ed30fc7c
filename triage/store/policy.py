"""How the store retries and leases jobs: one policy, given to a store when it is opened.

As a job queue attaches its retry strategy once rather than on every call, every job a store
creates gets `max_attempts` from its policy, every retryable failure waits the policy's
backoff, and every claim and heartbeat holds the lease for the policy's `lease_seconds`.
The composition root builds the policy from the `jobs` settings (`JobPolicy.from_settings`).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from triage.config import JobSettings
from triage.errors import InvalidInput
from triage.store.rules import backoff_seconds


@dataclass(frozen=True, slots=True)
class JobPolicy:
    """Attempts, backoff and lease of every job of one store."""

    max_attempts: int
    """Tries before a job that keeps failing on retryable errors is `dead`."""
    backoff_base_seconds: float
    """The wait after a first retryable failure; it doubles with each attempt."""
    backoff_max_seconds: float
    """The longest wait between two attempts."""
    lease_seconds: float
    """How long a claim or a heartbeat holds a job for its worker."""

    def __post_init__(self) -> None:
        if self.max_attempts < 1:
            raise InvalidInput(f"max_attempts must be at least 1, got {self.max_attempts}")
        if min(self.backoff_base_seconds, self.backoff_max_seconds) < 0:
            raise InvalidInput("job backoff waits must not be negative")
        if self.lease_seconds <= 0:
            raise InvalidInput(f"lease_seconds must be positive, got {self.lease_seconds}")

    @classmethod
    def from_settings(cls, jobs: JobSettings) -> JobPolicy:
        return cls(
            max_attempts=jobs.max_attempts,
            backoff_base_seconds=jobs.backoff_base_seconds,
            backoff_max_seconds=jobs.backoff_max_seconds,
            lease_seconds=jobs.lease_seconds,
        )

    def retry_delay_seconds(self, attempts: int) -> float:
        """The wait before a job that failed its attempt number `attempts` is due again."""
        return backoff_seconds(attempts, self.backoff_base_seconds, self.backoff_max_seconds)

    def lease_expiry(self, now: datetime) -> datetime:
        """When a lease taken or renewed at `now` runs out."""
        return now + timedelta(seconds=self.lease_seconds)


DEFAULT_JOB_POLICY = JobPolicy.from_settings(JobSettings())
"""The policy of the default `jobs` settings, for stores opened without settings (tests,
tools); the service gives every store the policy of its configuration."""
