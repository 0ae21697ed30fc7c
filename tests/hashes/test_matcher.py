"""Matching on real clips: a list received without its videos, excerpts, unrelated clips."""

from __future__ import annotations

from pathlib import Path

import pytest

from hashes.formats.vpdq import read_vpdq
from hashes.index import ExactIndex
from hashes.matcher import Matcher
from hashes.types import MediaError
from hashes.video.query import hash_query
from hashes.video.reference import hash_reference
from tests.conftest import SHARED_DATA_DIR
from triage.config import load_settings
from triage.models import Verdict
from triage.verdicts import VerdictPolicy

pytestmark = pytest.mark.media

SOURCES = SHARED_DATA_DIR / "sources"
VPDQ = SHARED_DATA_DIR / "interop" / "vpdq"


@pytest.fixture(scope="module")
def policy() -> VerdictPolicy:
    match = load_settings(environ={}).match
    return VerdictPolicy(match.confirm_at, match.review_at)


@pytest.fixture(scope="module")
def chair_from_hashes_only() -> Matcher:
    index = ExactIndex()
    index.add("chair-hd", read_vpdq(VPDQ / "chair-orig-22-hd-no-bar.txt"))
    return Matcher(index)


@pytest.mark.parametrize(
    ("clip", "expected"),
    [
        ("te-chair-22-sd-grey-bar.mp4", Verdict.CONFIRMED),
        ("te-chair-19-sd-bar.mp4", Verdict.CONFIRMED),
        ("te-pattern-hd-no-bar.mp4", Verdict.NONE),
        ("te-doorknob-hd-no-bar.mp4", Verdict.NONE),
    ],
)
def test_imported_vpdq_list_confirms_the_same_footage_and_nothing_else(
    chair_from_hashes_only: Matcher, policy: VerdictPolicy, clip: str, expected: Verdict
) -> None:
    matches = chair_from_hashes_only.match(hash_query(SOURCES / clip))
    verdict = policy.decide(matches[0].score) if matches else Verdict.NONE
    assert verdict is expected
    if expected is Verdict.CONFIRMED:
        assert matches[0].reference_id == "chair-hd"
        assert matches[0].segments


def test_trimmed_copy_aligns_on_the_cut(chair_from_hashes_only: Matcher) -> None:
    (best,) = chair_from_hashes_only.match(hash_query(SOURCES / "te-chair-19-sd-bar.mp4"))
    first = best.segments[0]
    # chair-19 is chair-22 with its first 3.7 s cut: query 0 s shows reference 3.7 s.
    assert abs((first.reference_start - first.query_start) - 3.7) < 0.5
    assert best.reference_coverage > 0.7


@pytest.fixture(scope="module")
def three_references() -> Matcher:
    index = ExactIndex()
    for name in ("te-chair-orig-22-sd-bar", "te-pattern-hd-no-bar", "te-doorknob-hd-no-bar"):
        index.add(name, hash_reference(SOURCES / f"{name}.mp4"))
    return Matcher(index)


def test_each_edited_copy_matches_its_own_reference_best(three_references: Matcher) -> None:
    for clip, expected in [
        ("te-chair-22-sd-sepia-bar.mp4", "te-chair-orig-22-sd-bar"),
        ("te-pattern-sd-grey-bar.mp4", "te-pattern-hd-no-bar"),
        ("te-chair-20-sd-bar.mp4", "te-chair-orig-22-sd-bar"),
    ]:
        matches = three_references.match(hash_query(SOURCES / clip))
        assert matches and matches[0].reference_id == expected, clip


def test_reference_removed_from_index_no_longer_matches(three_references: Matcher) -> None:
    index = ExactIndex()
    index.add("pattern", hash_reference(SOURCES / "te-pattern-hd-no-bar.mp4"))
    matcher = Matcher(index)
    query = hash_query(SOURCES / "te-pattern-sd-grey-bar.mp4")
    assert matcher.match(query)
    index.remove("pattern")
    assert matcher.match(query) == []


def test_missing_and_non_video_files_raise_media_error(tmp_path: Path) -> None:
    with pytest.raises(MediaError, match="no such file"):
        hash_query(tmp_path / "missing.mp4")
    junk = tmp_path / "junk.mp4"
    junk.write_bytes(b"\x00\x01 not a video" * 100)
    with pytest.raises(MediaError, match=str(junk)):
        hash_query(junk)
