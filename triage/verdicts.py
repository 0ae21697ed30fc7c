"""The verdict step: a query's matches become a verdict and the evidence the store keeps.

One step, built once from settings (`VerdictStep.from_settings`), serves the worker pipeline,
`/v1/lookup`, retro-matching, the bench and `triage match`, so every number reported comes
from the rule the service applies.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

from hashes.types import VideoMatch
from triage.config import Settings
from triage.errors import ConfigError
from triage.evidence import MatchEvidence, SegmentEvidence
from triage.models import Verdict

# Evidence kept per result: the best matches; more would only repeat chance neighbours.
MAX_EVIDENCE_MATCHES = 10


@dataclass(frozen=True, slots=True)
class VerdictPolicy:
    """`confirmed` at or above `confirm_at`, `review` at or above `review_at`, else `none`."""

    confirm_at: float
    review_at: float

    def __post_init__(self) -> None:
        if not 0 < self.review_at <= self.confirm_at:
            raise ConfigError(
                f"need 0 < match.review_at <= match.confirm_at, got review_at="
                f"{self.review_at}, confirm_at={self.confirm_at}"
            )

    def decide(self, score: float | None) -> Verdict:
        if score is None:
            return Verdict.NONE
        if score >= self.confirm_at:
            return Verdict.CONFIRMED
        if score >= self.review_at:
            return Verdict.REVIEW
        return Verdict.NONE


@dataclass(frozen=True, slots=True)
class Decision:
    """A verdict, the best score it was decided on, and the evidence worth keeping: the
    matches at or above `review_at`, best first, at most `MAX_EVIDENCE_MATCHES`."""

    verdict: Verdict
    score: float | None
    evidence: tuple[MatchEvidence, ...]


def evidence_of(match: VideoMatch, label: str) -> MatchEvidence:
    """What the store keeps, the API sends and the pages show of a match: scores, coverage
    and every aligned segment. The one place a `hashes` match becomes evidence."""
    return MatchEvidence(
        reference_id=match.reference_id,
        label=label,
        score=match.score,
        query_coverage=match.query_coverage,
        reference_coverage=match.reference_coverage,
        matched_seconds=match.matched_seconds,
        segments=tuple(
            SegmentEvidence(
                query_start=s.query_start,
                query_end=s.query_end,
                reference_start=s.reference_start,
                reference_end=s.reference_end,
                score=s.score,
                matched_frames=s.matched_frames,
                mean_distance=s.mean_distance,
            )
            for s in match.segments
        ),
        speed=match.speed,
        views=match.views,
    )


def _same(reference_id: str) -> str:
    return reference_id


@dataclass(frozen=True, slots=True)
class VerdictStep:
    """Matches (best first) -> a `Decision`."""

    policy: VerdictPolicy

    @classmethod
    def from_settings(cls, settings: Settings) -> VerdictStep:
        return cls(VerdictPolicy(settings.match.confirm_at, settings.match.review_at))

    @property
    def review_at(self) -> float:
        return self.policy.review_at

    def decide(
        self, matches: Sequence[VideoMatch], label: Callable[[str], str] = _same
    ) -> Decision:
        best = matches[0].score if matches else None
        return Decision(self.policy.decide(best), best, self.evidence(matches, label))

    def evidence(
        self, matches: Sequence[VideoMatch], label: Callable[[str], str] = _same
    ) -> tuple[MatchEvidence, ...]:
        """The matches worth keeping as evidence, converted."""
        return tuple(
            evidence_of(m, label(m.reference_id))
            for m in matches[:MAX_EVIDENCE_MATCHES]
            if m.score >= self.policy.review_at
        )

    def decide_evidence(self, evidence: Sequence[MatchEvidence]) -> Verdict:
        """The verdict of evidence already kept (best first), as when it was decided."""
        return self.policy.decide(evidence[0].score if evidence else None)
