"""Why a fetch failed: one class per reason, each reason listed for the metrics."""

from __future__ import annotations

from workers.fetch import errors


def test_every_error_class_has_a_distinct_listed_reason() -> None:
    classes = [
        value
        for value in vars(errors).values()
        if isinstance(value, type)
        and issubclass(value, errors.FetchError)
        and value is not errors.FetchError
    ]
    reasons = [cls.reason for cls in classes]
    assert len(set(reasons)) == len(reasons)
    assert sorted(reasons) == sorted(errors.FETCH_ERROR_REASONS)
