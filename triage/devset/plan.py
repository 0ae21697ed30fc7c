"""What the development set holds: the footage catalogue and the edits planned on it.

References are cut from the source clips or made here (FFmpeg sources, pans over drawn
stills); negatives are unrelated footage and hard ones (other parts of the same recordings and
stills, near-uniform frames). Every parameter is drawn from the generator passed in.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

from triage.devset import footage, images
from triage.devset.ffmpeg import Clip
from triage.devset.recipes import FAMILIES, LATER_FAMILIES, NEGATIVE_EDITS

Maker = Callable[[Path], Clip]

SOURCE_CHAIR = "te-chair-orig-22-sd-bar.mp4"
SOURCE_PATTERN = "te-pattern-longer-no-bar.mp4"
SOURCE_DOORKNOB = "te-doorknob-hd-no-bar.mp4"
SOURCE_PADDED = "te-test-padded-dimensions.mp4"
REQUIRED_SOURCES = (SOURCE_CHAIR, SOURCE_PATTERN, SOURCE_DOORKNOB, SOURCE_PADDED)

MANDELBROT_POINTS = ((-1.25066, 0.02012), (-0.1011, 0.9563), (-0.7453, 0.1127))


@dataclass(frozen=True, slots=True)
class Footage:
    """A clip made straight from footage (a reference, or a negative shown as is)."""

    id: str
    source: str
    make: Maker
    family: str = ""  # for negatives: "unrelated" or "hard_negative"


def _pan(seed: int, image_size: tuple[int, int], size: tuple[int, int], seconds: float,
         region: tuple[float, float, float, float] = (0, 0, 1, 1), shapes: int = 120,
         words: int = 25) -> Maker:  # fmt: skip
    """A pan over a still drawn from `seed`; the same seed and another region give a pan over
    another part of the same still."""

    def make(out: Path) -> Clip:
        still = images.scene(np.random.default_rng(seed), *image_size, shapes=shapes, words=words)
        motion = np.random.default_rng([seed, int(region[0] * 100), int(region[1] * 100)])
        return footage.pan(still, out, size, seconds, motion, region)

    return make


def _cut(source: Path, start: float, seconds: float) -> Maker:
    return lambda out: footage.cut(source, out, start, seconds)


def _lavfi(expression: str, seconds: float, filters: str = "") -> Maker:
    return lambda out: footage.generated(expression, out, seconds, filters)


def _card(seed: int, seconds: float) -> Maker:
    def make(out: Path) -> Clip:
        card = images.title_card(np.random.default_rng(seed), 640, 360)
        return footage.still(card, out, seconds)

    return make


def _hex(rng: np.random.Generator) -> str:
    return "0x" + "".join(f"{int(v):02x}" for v in rng.integers(0, 256, size=3))


def _gradients(rng: np.random.Generator) -> str:
    # Colours and end points spelled out: the filter's own random choice ignores its seed.
    colors = ":".join(f"c{i}={_hex(rng)}" for i in range(4))
    x0, x1 = (int(v) for v in rng.integers(0, 640, size=2))
    y0, y1 = (int(v) for v in rng.integers(0, 360, size=2))
    return f"gradients=s=640x360:r=30:n=4:{colors}:x0={x0}:y0={y0}:x1={x1}:y1={y1}:speed=0.03"


def plan_footage(
    rng: np.random.Generator, sources: Path
) -> tuple[list[Footage], list[Footage], list[Footage]]:
    """References, unrelated clips and hard negatives, with every parameter drawn now."""
    seeds = [int(s) for s in rng.integers(0, 2**31, size=16)]
    chair, pattern = sources / SOURCE_CHAIR, sources / SOURCE_PATTERN
    life = "life=s=128x72:r=30:mold=20:ratio=0.3:seed={}:life_color={}:death_color={}"
    cell = "cellauto=s=320x180:r=30:rule={}:ratio=0.5:seed={}"
    mandel = "mandelbrot=s=640x360:r=30:start_x={}:start_y={}:start_scale=2:end_scale=0.05"
    half_left, half_right = (0.0, 0.0, 0.45, 1.0), (0.55, 0.0, 1.0, 1.0)
    blocky = "scale=640:360:flags=neighbor"
    references = [
        Footage("ref-chair-a", f"{SOURCE_CHAIR} 0-10s", _cut(chair, 0.0, 10.0)),
        Footage("ref-pattern-a", f"{SOURCE_PATTERN} 0-4.8s", _cut(pattern, 0.0, 4.8)),
        Footage("ref-doorknob", SOURCE_DOORKNOB, _cut(sources / SOURCE_DOORKNOB, 0.0, 4.3)),
        Footage("ref-pan-scene", "pan over a drawn scene, left part",
                _pan(seeds[0], (2400, 1600), (640, 360), 10.0, half_left)),
        Footage("ref-pan-portrait", "portrait pan over a drawn scene",
                _pan(seeds[1], (1600, 2400), (540, 960), 8.0)),
        Footage("ref-pan-texture", "pan over a noise texture",
                _pan(seeds[2], (2400, 1600), (854, 480), 12.0, shapes=12, words=0)),
        Footage("ref-pan-text", "pan over a page of words, left part",
                _pan(seeds[3], (2400, 1600), (640, 360), 8.0, half_left, shapes=8, words=160)),
        Footage("ref-mandelbrot", "lavfi mandelbrot zoom",
                _lavfi(mandel.format(*MANDELBROT_POINTS[0]), 8.0)),
        Footage("ref-life", "lavfi life",
                _lavfi(life.format(seeds[4], _hex(rng), _hex(rng)), 8.0, blocky)),
        Footage("ref-cellauto", "lavfi cellauto",
                _lavfi(cell.format(int(rng.choice([30, 90, 110, 150])), seeds[5]), 8.0, blocky)),
    ]  # fmt: skip
    unrelated = [
        Footage("un-pan-scene", "pan over another scene",
                _pan(seeds[6], (2400, 1600), (640, 360), 8.0)),
        Footage("un-pan-portrait", "portrait pan over another scene",
                _pan(seeds[7], (1600, 2400), (540, 960), 6.0)),
        Footage("un-pan-texture", "pan over another texture",
                _pan(seeds[8], (2400, 1600), (854, 480), 8.0, shapes=12, words=0)),
        Footage("un-mandelbrot", "lavfi mandelbrot elsewhere",
                _lavfi(mandel.format(*MANDELBROT_POINTS[1]), 6.0)),
        Footage("un-life", "lavfi life, other seed",
                _lavfi(life.format(seeds[9], _hex(rng), _hex(rng)), 6.0, blocky)),
        Footage("un-testsrc2", "lavfi testsrc2", _lavfi("testsrc2=s=640x360:r=30", 6.0)),
        Footage("un-gradients", "lavfi gradients with noise",
                _lavfi(_gradients(np.random.default_rng(seeds[10])), 6.0,
                       "noise=alls=8:allf=t")),
    ]  # fmt: skip
    hard = [
        Footage("hn-chair-b", f"{SOURCE_CHAIR} 14.5-22.4s", _cut(chair, 14.5, 7.9)),
        Footage("hn-pattern-b", f"{SOURCE_PATTERN} 5.6-8.1s", _cut(pattern, 5.6, 2.5)),
        Footage("hn-pan-scene-b", "the scene of ref-pan-scene, right part",
                _pan(seeds[0], (2400, 1600), (640, 360), 8.0, half_right)),
        Footage("hn-pan-text-b", "the page of ref-pan-text, right part",
                _pan(seeds[3], (2400, 1600), (640, 360), 6.0, half_right, shapes=8, words=160)),
        Footage("hn-black", "black", _lavfi("color=c=black:s=640x360:r=30", 5.0)),
        Footage("hn-grey-wall", "grey wall with sensor noise",
                _lavfi("color=c=0x7a7570:s=640x360:r=30", 6.0, "noise=alls=5:allf=t")),
        Footage("hn-title-card", "title card", _card(seeds[11], 5.0)),
        Footage("hn-smptebars", "lavfi smptebars", _lavfi("smptebars=s=640x360:r=30", 5.0)),
        Footage("hn-padded", SOURCE_PADDED, _cut(sources / SOURCE_PADDED, 0.0, 5.0)),
    ]  # fmt: skip
    return (
        references,
        [replace(item, family="unrelated") for item in unrelated],
        [replace(item, family="hard_negative") for item in hard],
    )


Edit = tuple[str, str, str, str | None, bool]
"""(base id, recipe, family, expected reference, hard) of one edited query."""


def _family_edits(
    rng: np.random.Generator, references: Sequence[Footage], family: str, per_family: int
) -> list[Edit]:
    count = min(per_family, len(references))
    chosen = rng.choice(len(references), size=count, replace=False)
    return [(references[int(i)].id, family, family, references[int(i)].id, False) for i in chosen]


def plan_edits(
    rng: np.random.Generator,
    references: Sequence[Footage],
    unrelated: Sequence[Footage],
    hard: Sequence[Footage],
    per_family: int,
) -> list[Edit]:
    """Every edited query of the families of `FAMILIES` but `LATER_FAMILIES`, then the
    edited negatives."""
    edits: list[Edit] = []
    for family in FAMILIES:
        if family not in LATER_FAMILIES:
            edits.extend(_family_edits(rng, references, family, per_family))
    for item in rng.choice(len(unrelated), size=5, replace=False):
        recipe = str(rng.choice(NEGATIVE_EDITS))
        edits.append((unrelated[int(item)].id, recipe, "unrelated", None, False))
    for base in ("hn-chair-b", "hn-pan-scene-b"):
        if any(h.id == base for h in hard):
            edits.append((base, str(rng.choice(NEGATIVE_EDITS)), "hard_negative", None, True))
    return edits


def plan_later_edits(
    rng: np.random.Generator, references: Sequence[Footage], per_family: int, family: str
) -> list[Edit]:
    """The edited queries of `family`, one of `LATER_FAMILIES`: each drawn after everything
    else, the families before it included, so a seed still builds the set it built before
    it was added."""
    return _family_edits(rng, references, family, per_family)
