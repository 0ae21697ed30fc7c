from __future__ import annotations

from dataclasses import dataclass

import pytest

from triage.bench.ablation import switches, variants


@dataclass(frozen=True)
class Indexing:
    use_crops: bool = True


@dataclass(frozen=True)
class Hashing:
    fps: float = 2.0
    use_borders: bool = True
    use_flips: bool = False


@dataclass(frozen=True)
class Matching:
    use_alignment: bool = True
    user_limit: int = 3


def test_switches_are_the_boolean_use_fields() -> None:
    assert switches(Hashing()) == ("use_borders", "use_flips")
    assert switches(Matching()) == ("use_alignment",)


def test_each_variant_flips_exactly_one_switch() -> None:
    runs = variants(Indexing(), Hashing(), Matching())
    assert [(v.name, v.switch) for v in runs] == [
        ("default", None),
        ("ref_no_crops", "reference.use_crops"),
        ("no_borders", "query.use_borders"),
        ("with_flips", "query.use_flips"),
        ("no_alignment", "match.use_alignment"),
    ]
    assert runs[1].reference_params == Indexing(use_crops=False)
    assert runs[2].query_params == Hashing(use_borders=False)
    assert runs[2].match_params == Matching()
    assert runs[4].match_params == Matching(use_alignment=False)
    assert runs[4].reference_params == Indexing()


def test_switches_refuse_a_class() -> None:
    with pytest.raises(TypeError):
        switches(Hashing)
