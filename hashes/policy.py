"""The verdict policy: two thresholds on one match score."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from hashes.types import HashError


class Verdict(StrEnum):
    CONFIRMED = "confirmed"
    REVIEW = "review"
    NONE = "none"


@dataclass(frozen=True, slots=True)
class VerdictPolicy:
    """`confirmed` at or above `confirm_at`, `review` at or above `review_at`, else `none`."""

    confirm_at: float
    review_at: float

    def __post_init__(self) -> None:
        if not 0 < self.review_at <= self.confirm_at:
            raise HashError(
                f"need 0 < review_at <= confirm_at, got review_at={self.review_at}, "
                f"confirm_at={self.confirm_at}"
            )

    def decide(self, score: float | None) -> Verdict:
        if score is None:
            return Verdict.NONE
        if score >= self.confirm_at:
            return Verdict.CONFIRMED
        if score >= self.review_at:
            return Verdict.REVIEW
        return Verdict.NONE
