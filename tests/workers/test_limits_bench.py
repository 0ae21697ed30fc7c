"""`triage bench limits` makes only the inputs it is asked for, and says so when it cannot."""

from __future__ import annotations

from pathlib import Path

import pytest

from triage.commands.bench import LIMITS_INPUTS
from triage.errors import InvalidInput
from workers import limits_bench


def test_the_command_offers_the_inputs_the_bench_makes() -> None:
    assert LIMITS_INPUTS == limits_bench.INPUT_NAMES


@pytest.mark.media
def test_only_the_named_input_is_made(tmp_path: Path, shared_data: Path) -> None:
    inputs = limits_bench.make_inputs(
        shared_data / "sources", tmp_path, only=frozenset({"40mp-jpeg"})
    )

    assert [item.name for item in inputs] == ["40mp-jpeg"]
    assert sorted(path.name for path in tmp_path.iterdir()) == ["still-40mp.jpg"]


def test_a_missing_ffmpeg_is_a_clear_error(
    tmp_path: Path, shared_data: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))

    with pytest.raises(InvalidInput, match="ffmpeg, which is not installed"):
        limits_bench.make_inputs(
            shared_data / "sources", tmp_path / "inputs", only=frozenset({"20min-4k"})
        )
