"""Table rows to domain models, and back for the columns that need encoding."""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from typing import Any

from triage.evidence import FetchEvidence, MatchEvidence
from triage.models import (
    ApiKey,
    AuditEntry,
    Job,
    MatchRecord,
    Media,
    Reference,
    Referral,
    Result,
    ReviewItem,
    Scope,
    Submission,
    Suppression,
)

Row = Mapping[Any, Any]


def encode_scopes(scopes: Collection[Scope]) -> str:
    return ",".join(sorted(Scope(scope).value for scope in scopes))


def api_key(row: Row) -> ApiKey:
    hosts = row["hosts"]
    return ApiKey(
        id=row["id"],
        name=row["name"],
        scopes=frozenset(Scope(s) for s in row["scopes"].split(",") if s),
        hosts=tuple(hosts) if hosts is not None else None,
        created_at=row["created_at"],
        revoked_at=row["revoked_at"],
    )


def reference(row: Row) -> Reference:
    return Reference.model_validate(
        {name: row[name] for name in Reference.model_fields if name in row}
    )


def media(row: Row) -> Media:
    evidence = None
    if row["fetched_at"] is not None:
        evidence = FetchEvidence(
            final_url=row["final_url"],
            sha256=row["sha256"],
            size_bytes=row["size_bytes"],
            content_type=row["content_type"],
            fetched_at=row["fetched_at"],
            resolver=row["resolver"],
        )
    return Media(
        id=row["id"],
        url=row["url"],
        upload_path=row["upload_path"],
        sha256=row["sha256"],
        evidence=evidence,
        same_as=row["same_as"],
        created_at=row["created_at"],
    )


def evidence_values(evidence: FetchEvidence) -> dict[str, Any]:
    return {
        "sha256": evidence.sha256,
        "final_url": evidence.final_url,
        "size_bytes": evidence.size_bytes,
        "content_type": evidence.content_type,
        "fetched_at": evidence.fetched_at,
        "resolver": evidence.resolver,
    }


def submission(row: Row) -> Submission:
    return Submission.model_validate(
        {name: row[name] for name in Submission.model_fields if name in row}
    )


def job(row: Row) -> Job:
    return Job.model_validate({name: row[name] for name in Job.model_fields})


def encode_matches(matches: Sequence[MatchEvidence]) -> list[dict[str, Any]]:
    return [match.model_dump(mode="json") for match in matches]


def result(row: Row) -> Result:
    return Result(
        media_id=row["media_id"],
        verdict=row["verdict"],
        matches=tuple(MatchEvidence.model_validate(m) for m in row["matches"]),
        created_at=row["created_at"],
        suppressed=bool(row["suppressed"]),
        cursor=row["seq"] or 0,
    )


def _context(row: Row) -> dict[str, Any]:
    """The first submission's fields, from `sql.base.first_submission_columns`."""
    return {
        "submission_id": row.get("submission_id"),
        "external_id": row.get("external_id"),
        "note": row.get("submission_note"),
    }


def match_record(row: Row) -> MatchRecord:
    return MatchRecord(
        **_context(row),
        cursor=row["seq"],
        media_id=row["media_id"],
        url=row["url"],
        host=row["host"],
        sha256=row["sha256"],
        verdict=row["verdict"],
        matches=tuple(MatchEvidence.model_validate(m) for m in row["matches"]),
        suppressed=bool(row["suppressed"]),
        created_at=row["created_at"],
    )


def referral(row: Row) -> Referral:
    return Referral(
        **_context(row),
        cursor=row["seq"],
        id=row["id"],
        media_id=row["media_id"],
        url=row["url"],
        host=row["host"],
        sha256=row["sha256"],
        reference_id=row["reference_id"],
        label=row["label"],
        evidence=MatchEvidence.model_validate(row["evidence"]),
        created_at=row["created_at"],
    )


def review_item(row: Row) -> ReviewItem:
    return ReviewItem.model_validate(
        {name: row[name] for name in ReviewItem.model_fields if name in row}
    )


def suppression(row: Row) -> Suppression:
    return Suppression.model_validate({name: row[name] for name in Suppression.model_fields})


def audit_entry(row: Row) -> AuditEntry:
    return AuditEntry(
        cursor=row["seq"],
        at=row["at"],
        actor=row["actor"],
        action=row["action"],
        target=row["target"],
        details=row["details"],
    )
