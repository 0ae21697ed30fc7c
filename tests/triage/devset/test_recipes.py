"""Each edit recipe makes a playable file of the size and length it declares."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from triage.devset import footage, images
from triage.devset.ffmpeg import Clip, probe, run
from triage.devset.graph import Graph
from triage.devset.recipes import COMBINABLE, FAMILIES, NEGATIVE_EDITS, Context


@pytest.fixture(scope="module")
def clips(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Clip]:
    root = tmp_path_factory.mktemp("recipes")
    rng = np.random.default_rng(7)
    return {
        "landscape": footage.pan(images.scene(rng, 800, 500), root / "l.mp4", (320, 180), 2.5,
                                 rng),
        "portrait": footage.pan(images.scene(rng, 500, 800), root / "p.mp4", (180, 320), 2.5,
                                rng),
        "filler": footage.generated("testsrc2=s=320x180:r=30", root / "f.mp4", 2.0),
    }  # fmt: skip


def _edit(family: str, base: Clip, filler: Clip, out: Path, seed: int) -> tuple[str, Clip, float]:
    graph = Graph(out.parent)
    stream = graph.clip(base)
    edited, description = FAMILIES[family](graph, stream, np.random.default_rng(seed),
                                           Context([filler]))  # fmt: skip
    run(graph.command(edited, out))
    scale = min(1.0, 960 / max(edited.width, edited.height))
    clip = probe(out)
    assert abs(clip.width - edited.width * scale) <= 2
    assert abs(clip.height - edited.height * scale) <= 2
    return description, clip, edited.duration


# Portrait input only where the recipe's layout depends on orientation.
ORIENTED = ("letterbox", "blurred_bg", "pip", "split_screen", "stacked", "rotate90")
CASES = [(family, "landscape") for family in sorted(FAMILIES)] + [
    (family, "portrait") for family in ORIENTED
]


@pytest.mark.media
@pytest.mark.parametrize(("family", "shape"), CASES)
def test_recipe_output_matches_its_declared_size_and_length(
    family: str, shape: str, clips: dict[str, Clip], tmp_path: Path
) -> None:
    description, clip, duration = _edit(
        family, clips[shape], clips["filler"], tmp_path / "q.mp4", seed=3
    )
    assert description
    assert clip.duration == pytest.approx(duration, abs=0.15)


@pytest.mark.media
def test_same_seed_gives_the_same_edit(clips: dict[str, Clip], tmp_path: Path) -> None:
    first = _edit("crop", clips["landscape"], clips["filler"], tmp_path / "a.mp4", seed=11)
    again = _edit("crop", clips["landscape"], clips["filler"], tmp_path / "b.mp4", seed=11)
    other = _edit("crop", clips["landscape"], clips["filler"], tmp_path / "c.mp4", seed=12)
    assert first[0] == again[0] != other[0]
    assert (tmp_path / "a.mp4").read_bytes() == (tmp_path / "b.mp4").read_bytes()


def test_combinable_and_negative_edits_are_known_families() -> None:
    assert set(COMBINABLE) <= set(FAMILIES)
    assert set(NEGATIVE_EDITS) <= set(FAMILIES)
