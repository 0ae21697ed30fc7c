"""Each failure mode of edited re-uploads, built in the test from the shared clips.

Short cuts of the source clips are the references; every query is made with the recipe of its
edit family from the development set (fixed seeds), hashed and matched like any submission,
and must end `confirmed` on the right reference, or `none` for hard negatives.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest

from hashes.cascade import match_query
from hashes.index import ExactIndex
from hashes.matcher import Matcher
from hashes.types import VideoMatch
from hashes.video.params import QueryParams
from hashes.video.reference import hash_reference
from triage.config import load_settings
from triage.devset import footage, images
from triage.devset.ffmpeg import Clip, run
from triage.devset.graph import Graph
from triage.devset.recipes import FAMILIES, Context
from triage.models import Verdict
from triage.verdicts import VerdictStep

REPO_ROOT = Path(__file__).resolve().parents[2]

# (reference id, source clip, start, seconds): short, small cuts keep the file fast.
CUTS = (
    ("chair", "te-chair-orig-22-sd-bar.mp4", 0.0, 4.0),
    ("doorknob", "te-doorknob-hd-no-bar.mp4", 0.0, 4.0),
    ("pattern", "te-pattern-longer-no-bar.mp4", 0.0, 3.5),
)
MAX_SIDE = 480
# Fine texture, generated: a cellular automaton in 2-pixel cells, the case where PDQ's
# decimation aliases and a few degrees of turn move most of the hash.
CELLS = (
    "cells",
    "cellauto=s=320x180:r=30:rule=30:ratio=0.5:seed=3",
    3.0,
    "scale=640:360:flags=neighbor",
)


@dataclass(frozen=True)
class EditBench:
    folder: Path
    references: dict[str, Clip]
    filler: Clip
    hard_segment: Clip
    matcher: Matcher
    verdicts: VerdictStep
    query_params: QueryParams

    def matches(self, path: Path) -> list[VideoMatch]:
        return match_query(path, self.matcher, self.query_params).matches


@pytest.fixture(scope="session")
def edit_bench(shared_data: Path, tmp_path_factory: pytest.TempPathFactory) -> EditBench:
    folder = tmp_path_factory.mktemp("edit-families")
    sources = shared_data / "sources"
    references = {
        name: footage.cut(sources / source, folder / f"ref-{name}.mp4", start, seconds, MAX_SIDE)
        for name, source, start, seconds in CUTS
    }
    name, expression, seconds, filters = CELLS
    references[name] = footage.generated(expression, folder / f"ref-{name}.mp4", seconds, filters)
    # The same recording as `chair`, but a stretch the reference does not contain.
    hard_segment = footage.cut(
        sources / CUTS[0][1], folder / "chair-later.mp4", 15.0, 4.0, MAX_SIDE
    )
    rng = np.random.default_rng(5)
    filler = footage.pan(images.scene(rng, 1000, 700), folder / "filler.mp4", (480, 270), 4.0,
                         rng)  # fmt: skip
    # Hashed, matched and decided as the service does, with the shipped settings.
    settings = load_settings(REPO_ROOT / "config.yaml", environ={})
    index = ExactIndex()
    for name, clip in references.items():
        index.add(name, hash_reference(clip.path, settings.match.reference_params()))
    return EditBench(
        folder=folder,
        references=references,
        filler=filler,
        hard_segment=hard_segment,
        matcher=Matcher(index, settings.match.match_params()),
        verdicts=VerdictStep.from_settings(settings),
        query_params=settings.match.query_params(),
    )


def _edited(bench: EditBench, family: str, reference: str, seed: int) -> tuple[Path, str]:
    out = bench.folder / f"{family}-{reference}-{seed}.mp4"
    graph = Graph(bench.folder)
    stream = graph.clip(bench.references[reference])
    rng = np.random.default_rng(seed)
    edited, description = FAMILIES[family](graph, stream, rng, Context([bench.filler]))
    run(graph.command(edited, out))
    return out, description


def _describe(matches: list[VideoMatch]) -> str:
    return ", ".join(f"{m.reference_id}={m.score:.3f}" for m in matches[:3]) or "no match"


def _assert_confirmed(bench: EditBench, path: Path, expected: str, what: str) -> None:
    matches = bench.matches(path)
    best = matches[0] if matches else None
    verdict = bench.verdicts.decide(matches).verdict
    assert best is not None and best.reference_id == expected and verdict is Verdict.CONFIRMED, (
        f"{what}: verdict {verdict.value}, scores {_describe(matches)}"
    )


def _assert_none(bench: EditBench, path: Path, what: str) -> None:
    matches = bench.matches(path)
    verdict = bench.verdicts.decide(matches).verdict
    assert verdict is Verdict.NONE, f"{what}: verdict {verdict.value}, scores {_describe(matches)}"


CASES = [
    # Geometry: borders and padding, blurred background, crop, mirror, quarter turns, a filmed
    # screen.
    ("letterbox", "chair", 1),
    ("letterbox", "doorknob", 2),
    ("letterbox", "pattern", 4),
    ("letterbox", "chair", 3),  # padding on every side
    ("blurred_bg", "chair", 1),
    ("blurred_bg", "doorknob", 1),
    ("crop", "chair", 1),
    ("hflip", "doorknob", 1),
    ("hflip", "pattern", 1),
    ("hflip", "cells", 1),
    ("vflip", "chair", 1),
    ("vflip", "doorknob", 1),
    ("transpose", "pattern", 1),
    ("transpose", "chair", 2),
    ("rotate90", "chair", 1),
    ("rotate90", "doorknob", 2),
    ("screen_film", "pattern", 2),
    ("screen_film", "cells", 2),  # fine texture turned 1.8 degrees: review without tilts
    ("screen_film", "cells", 3),  # turned 3.2 degrees
    # Reframed for a feed, a third to a half of the picture kept: no match without the
    # references' reframed parts.
    ("reframe", "chair", 2),  # the portrait chair cut to 16:9
    ("reframe", "doorknob", 6),  # 4:5
    ("reframe", "doorknob", 3),  # 9:16
    ("reframe", "pattern", 6),  # 1:1
    # Overlays and layouts: logo, captions, the reference as a picture inside other video.
    ("logo_overlay", "pattern", 1),
    ("text_overlay", "chair", 1),
    ("pip", "chair", 2),
    ("pip", "pattern", 2),
    ("pip", "doorknob", 3),
    ("stacked", "pattern", 1),  # a portrait reaction layout: the reference above or below
    ("stacked", "doorknob", 2),
    # Time: excerpts, trims, compilations, speed and frame-rate changes.
    ("excerpt", "chair", 1),
    ("trim", "doorknob", 1),
    ("compilation", "chair", 1),
    ("compilation", "pattern", 2),
    ("compilation", "doorknob", 3),  # a grey wall: few frames with detail
    ("speed", "chair", 1),
    ("speed", "doorknob", 3),
    ("fps_change", "chair", 2),
    # Picture changes the geometry leaves alone.
    ("reencode_low", "doorknob", 1),
    ("color", "pattern", 1),
    ("noise", "chair", 1),
    ("combo", "chair", 4),
]


@pytest.mark.parametrize(("family", "reference", "seed"), CASES)
def test_edited_copy_is_confirmed_on_its_reference(
    edit_bench: EditBench, family: str, reference: str, seed: int
) -> None:
    path, description = _edited(edit_bench, family, reference, seed)
    _assert_confirmed(edit_bench, path, reference, f"{family} of {reference} ({description})")


def test_other_footage_of_the_same_recording_is_not_matched(edit_bench: EditBench) -> None:
    _assert_none(edit_bench, edit_bench.hard_segment.path, "chair 15-19 s")


def test_the_same_recording_letterboxed_is_not_matched(edit_bench: EditBench) -> None:
    graph = Graph(edit_bench.folder)
    stream = graph.clip(edit_bench.hard_segment)
    edited, _ = FAMILIES["letterbox"](graph, stream, np.random.default_rng(1),
                                      Context([edit_bench.filler]))  # fmt: skip
    out = edit_bench.folder / "chair-later-letterbox.mp4"
    run(graph.command(edited, out))
    _assert_none(edit_bench, out, "chair 15-19 s letterboxed")


LOW_INFORMATION = {
    "black": ("color=c=black:s=480x270:r=30", ""),
    "grey wall": ("color=c=0x7a7570:s=480x270:r=30", "noise=alls=5:allf=t"),
    "test pattern": ("smptebars=s=480x270:r=30", ""),
    "moving test pattern": ("testsrc2=s=480x270:r=30", ""),
}


@pytest.mark.parametrize("name", sorted(LOW_INFORMATION))
def test_low_information_frames_are_not_matched(edit_bench: EditBench, name: str) -> None:
    source, filters = LOW_INFORMATION[name]
    out = edit_bench.folder / f"low-{name.replace(' ', '-')}.mp4"
    footage.generated(source, out, 3.0, filters)
    _assert_none(edit_bench, out, name)


def test_title_card_is_not_matched(edit_bench: EditBench) -> None:
    card = images.title_card(np.random.default_rng(3), 480, 270)
    out = footage.still(card, edit_bench.folder / "title.mp4", 3.0)
    _assert_none(edit_bench, out.path, "title card")


def test_a_portrait_clip_in_a_narrow_split_screen_pane_is_found_by_its_shape(
    edit_bench: EditBench,
) -> None:
    """A portrait clip beside a wide one fills a narrow pane at one side of a split screen.
    With the inset detector off (it misses dividers that do not last), the pane's shape and
    side still find it; with neither, nothing does."""
    rng = np.random.default_rng(6)
    portrait = footage.pan(images.scene(rng, 700, 1000), edit_bench.folder / "portrait.mp4",
                           (270, 480), 4.0, rng)  # fmt: skip
    index = ExactIndex()
    index.add("portrait", hash_reference(portrait.path))
    matcher = Matcher(index)
    for seed in (1, 2):  # the pane on the right, then on the left
        graph = Graph(edit_bench.folder)
        edited, description = FAMILIES["split_screen"](
            graph, graph.clip(portrait), np.random.default_rng(seed), Context([edit_bench.filler])
        )
        out = edit_bench.folder / f"split-portrait-{seed}.mp4"
        run(graph.command(edited, out))
        by_shape = match_query(out, matcher, QueryParams(use_insets=False)).matches
        verdict = edit_bench.verdicts.decide(by_shape).verdict
        assert verdict is Verdict.CONFIRMED, f"{description}: {_describe(by_shape)}"
        blind = QueryParams(use_insets=False, use_side_panes=False)
        assert match_query(out, matcher, blind).matches == [], description


def test_a_pillarboxed_clip_in_one_pane_of_a_stacked_layout_is_found_inside_its_bars(
    edit_bench: EditBench,
) -> None:
    """A portrait clip (the chair, with bars of its own) in the lower two thirds of a portrait
    reaction layout, under a moving test pattern: its pillars run along its pane only, so the
    frame has no uniform border and the pane no common shape. The bars give the picture away;
    without reading them, nothing finds it."""
    pattern = footage.generated("testsrc2=s=540x320:r=30", edit_bench.folder / "bars.mp4", 4.0)
    out = edit_bench.folder / "stacked-framed-chair.mp4"
    chair = edit_bench.references["chair"].path
    run(["ffmpeg", "-v", "error", "-y", "-i", str(pattern.path), "-i", str(chair),
         "-filter_complex",
         "[1:v]scale=426:640,setsar=1,pad=540:640:(ow-iw)/2:0[ours];[0:v][ours]vstack=inputs=2",
         "-c:v", "libx264", "-crf", "23", "-pix_fmt", "yuv420p", "-t", "4", str(out)])  # fmt: skip
    _assert_confirmed(edit_bench, out, "chair", "chair pillarboxed under a test pattern")
    unframed = QueryParams(fps=edit_bench.query_params.fps, use_framed_panes=False)
    matches = match_query(out, edit_bench.matcher, unframed).matches
    verdict = edit_bench.verdicts.decide(matches).verdict
    assert verdict is not Verdict.CONFIRMED, _describe(matches)
