"""The query cascade (`hashes.cascade`): full frames first, every view only when needed, zoomed
parts for a lead."""

from __future__ import annotations

import pickle
import subprocess
from pathlib import Path

import numpy as np
import pytest

import hashes.video.looks as looks
from hashes.cascade import Hashing, Look, Searching, match_query, query_cascade, wants_closer_look
from hashes.index import ExactIndex
from hashes.matcher import Matcher
from hashes.types import VideoHashes, VideoMatch, View
from hashes.video.looks import complete_look, first_look
from hashes.video.params import QueryParams, ReferenceParams
from hashes.video.query import hash_query
from hashes.video.reference import hash_reference

CHAIR = "te-chair-22-sd-grey-bar.mp4"
REFERENCE = "te-chair-orig-22-sd-bar.mp4"


def _matches_and_hashes(
    path: Path, matcher: Matcher, params: QueryParams | None = None
) -> tuple[list[VideoMatch], VideoHashes]:
    outcome = match_query(path, matcher, params)
    return outcome.matches, outcome.hashes


@pytest.fixture(scope="module")
def matcher(shared_data: Path) -> Matcher:
    index = ExactIndex()
    index.add("chair", hash_reference(shared_data / "sources" / REFERENCE))
    return Matcher(index)


def test_the_second_look_hashes_what_one_look_would(shared_data: Path) -> None:
    path = shared_data / "sources" / CHAIR
    eager = hash_query(path)
    look = first_look(path)
    assert not look.complete and look.frames is not None
    full = eager.full_frame()
    assert np.array_equal(look.hashes.hashes, full.hashes)
    assert np.array_equal(look.hashes.timestamps, full.timestamps)
    assert (look.hashes.duration_seconds, look.hashes.frame_count) == (
        eager.duration_seconds,
        eager.frame_count,
    )
    both = complete_look(look)
    assert np.array_equal(both.hashes, eager.hashes) and both.views == eager.views
    assert np.array_equal(both.timestamps, eager.timestamps)


def test_a_video_longer_than_the_frames_kept_is_hashed_in_every_view_at_once(
    shared_data: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(looks, "MAX_KEPT_FRAMES", 10)
    path = shared_data / "sources" / CHAIR
    look = first_look(path)
    assert look.complete and look.frames is None
    assert np.array_equal(look.hashes.hashes, hash_query(path).hashes)


def test_a_whole_picture_copy_is_settled_on_its_full_frames(
    shared_data: Path, matcher: Matcher
) -> None:
    path = shared_data / "sources" / CHAIR
    matches, hashes = _matches_and_hashes(path, matcher)
    assert set(hashes.views) <= {View.FULL}  # no other view hashed
    eager = matcher.match(hash_query(path))
    assert matches[0].reference_id == eager[0].reference_id == "chair"
    assert matches[0].score == pytest.approx(eager[0].score, rel=0.05)


def test_a_crop_needs_the_other_views_and_gets_them(
    shared_data: Path, matcher: Matcher, tmp_path: Path
) -> None:
    out = tmp_path / "crop.mp4"
    subprocess.run(
        ["ffmpeg", "-v", "error", "-y", "-i", str(shared_data / "sources" / CHAIR), "-t", "6",
         "-vf", "crop=iw*0.6:ih*0.6:iw*0.1:ih*0.3", str(out)],
        check=True,
    )  # fmt: skip
    matches, hashes = _matches_and_hashes(out, matcher)
    assert View.REGION in hashes.views
    eager = matcher.match(hash_query(out))
    assert [(m.reference_id, m.score) for m in matches] == [
        (m.reference_id, m.score) for m in eager
    ]
    # Switched off, the query is hashed in every view at once: the same matches.
    same, every = _matches_and_hashes(out, matcher, QueryParams(use_first_look=False))
    assert every.views == hashes.views and [m.score for m in same] == [m.score for m in matches]


@pytest.fixture(scope="module")
def cells(fine_texture: Path) -> Matcher:
    index = ExactIndex()
    index.add("cells", hash_reference(fine_texture))
    return Matcher(index)


@pytest.fixture(scope="module")
def cells_every_frame(fine_texture: Path) -> Matcher:
    """The automaton hashed at every frame: it scrolls a row a frame, so a screenshot taken
    between two sampled frames of the reference meets neither (the price of sampling
    references, docs/decisions/0011); the still test is about crop geometry, not sampling."""
    index = ExactIndex()
    index.add("cells", hash_reference(fine_texture, ReferenceParams(fps=None)))
    return Matcher(index)


def test_a_crop_between_the_references_own_is_found_by_a_closer_look(
    fine_texture: Path, cells: Matcher, tmp_path: Path
) -> None:
    out = tmp_path / "cropped.mp4"
    # 16% off the right, 11% off the bottom: 84% of the width, 4% from the reference's 80%.
    subprocess.run(
        ["ffmpeg", "-v", "error", "-y", "-i", str(fine_texture),
         "-vf", "crop=538:320:0:0", "-crf", "23", str(out)],
        check=True,
    )  # fmt: skip
    without, every = _matches_and_hashes(out, cells, QueryParams(use_closer_look=False))
    assert View.ZOOM not in every.views
    assert without and wants_closer_look(without, every, cells.params)  # a lead, less than asked
    matches, hashes = _matches_and_hashes(out, cells)
    assert View.ZOOM in hashes.views
    assert matches[0].reference_id == "cells"
    assert matches[0].score >= 1.0 > without[0].score
    assert "zoom" in matches[0].views


def test_a_settled_or_unrelated_query_gets_no_closer_look(
    shared_data: Path, matcher: Matcher, fine_texture: Path
) -> None:
    _, hashes = _matches_and_hashes(shared_data / "sources" / CHAIR, matcher)
    assert View.ZOOM not in hashes.views
    matches, hashes = _matches_and_hashes(fine_texture, matcher)
    assert not wants_closer_look(matches, hashes, matcher.params)
    assert View.ZOOM not in hashes.views


def test_a_cropped_still_of_fine_texture_is_found_by_a_closer_look(
    fine_texture: Path, cells_every_frame: Matcher, tmp_path: Path
) -> None:
    """A screenshot is one frame, hashed in every view at once, and kept for a closer look."""
    still = tmp_path / "still.png"
    subprocess.run(
        ["ffmpeg", "-v", "error", "-y", "-ss", "3", "-i", str(fine_texture), "-frames:v", "1",
         "-vf", "crop=544:324:0:0", str(still)],
        check=True,
    )  # fmt: skip
    look = first_look(still)
    assert look.complete and look.frames is not None and len(look.frames) == 1
    cells = cells_every_frame
    without, _ = _matches_and_hashes(still, cells, QueryParams(use_closer_look=False))
    matches, hashes = _matches_and_hashes(still, cells)
    assert without[0].score < 1.0 <= matches[0].score
    assert matches[0].reference_id == "cells" and View.ZOOM in hashes.views


def test_the_outcome_says_how_far_the_cascade_went(
    shared_data: Path, matcher: Matcher, fine_texture: Path
) -> None:
    assert match_query(shared_data / "sources" / CHAIR, matcher).look is Look.FULL_FRAMES
    assert match_query(fine_texture, matcher).look is Look.EVERY_VIEW  # unrelated, no lead


def test_every_step_can_run_in_another_process(shared_data: Path, matcher: Matcher) -> None:
    """The service runs the hashing steps in its hashing process: each step pickles."""
    steps = query_cascade(shared_data / "sources" / CHAIR, QueryParams(), matcher.params)
    first = next(steps)
    assert isinstance(first, Hashing)
    look = pickle.loads(pickle.dumps(first.function))(first.argument)
    search = steps.send(look)
    assert isinstance(search, Searching) and set(search.hashes.views) <= {View.FULL}
    unsettled = steps.send([])  # as if the full frames found nothing
    assert isinstance(unsettled, Hashing)
    every = pickle.loads(pickle.dumps(unsettled.function))(pickle.loads(pickle.dumps(look)))
    assert View.REGION in every.views
