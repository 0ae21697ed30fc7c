"""Variants of the matcher's parameters with one mechanism switched at a time.

Mechanisms are the boolean fields named `use_*` of the parameter dataclasses (reference
hashing, query hashing, matching); they are discovered, not listed, so a new mechanism is
ablated without edits here.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

R = TypeVar("R")
Q = TypeVar("Q")
M = TypeVar("M")

BASELINE_NAME = "default"


def switches(params: Any) -> tuple[str, ...]:
    """Names of the boolean `use_*` fields of a dataclass instance, in declaration order."""
    if not dataclasses.is_dataclass(params) or isinstance(params, type):
        raise TypeError(f"expected a dataclass instance, got {type(params).__name__}")
    return tuple(
        f.name
        for f in dataclasses.fields(params)
        if f.name.startswith("use_") and isinstance(getattr(params, f.name), bool)
    )


@dataclass(frozen=True, slots=True)
class Variant(Generic[R, Q, M]):
    """One ablation run: `name` is `default`, or `no_X` / `with_X` for the flipped switch X;
    `switch` says which side it belongs to (`reference.`, `query.` or `match.`)."""

    name: str
    switch: str | None
    reference_params: R
    query_params: Q
    match_params: M


def _flipped(params: Any, name: str) -> tuple[str, Any]:
    value = bool(getattr(params, name))
    label = f"no_{name.removeprefix('use_')}" if value else f"with_{name.removeprefix('use_')}"
    return label, dataclasses.replace(params, **{name: not value})


def variants(reference_params: R, query_params: Q, match_params: M) -> list[Variant[R, Q, M]]:
    """The default, then each switch of each side flipped alone."""
    out: list[Variant[R, Q, M]] = [
        Variant(BASELINE_NAME, None, reference_params, query_params, match_params)
    ]
    for name in switches(reference_params):
        label, flipped_reference = _flipped(reference_params, name)
        out.append(
            Variant(f"ref_{label}", f"reference.{name}", flipped_reference, query_params,
                    match_params)
        )  # fmt: skip
    for name in switches(query_params):
        label, flipped_query = _flipped(query_params, name)
        out.append(Variant(label, f"query.{name}", reference_params, flipped_query, match_params))
    for name in switches(match_params):
        label, flipped_match = _flipped(match_params, name)
        out.append(Variant(label, f"match.{name}", reference_params, query_params, flipped_match))
    return out
