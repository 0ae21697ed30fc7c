"""The matcher's rules on hashes made to order: what counts as evidence, and how much.

Random balanced hashes stand for frames of distinct content; flipping k bits of one makes a
re-encoded copy at distance k. Nothing is decoded, so each rule is tested on its own.
"""

from __future__ import annotations

from collections.abc import Collection

import numpy as np
import numpy.typing as npt

from hashes.cascade import wants_closer_look
from hashes.index import ExactIndex, Neighbours
from hashes.matcher import Matcher, MatchParams
from hashes.types import PDQ_BITS, VideoHashes, VideoMatch, View

STEP = 0.25  # query sampling, seconds
REFERENCE_FPS = 30.0


def _balanced(rng: np.random.Generator, count: int) -> npt.NDArray[np.uint8]:
    """Hashes with exactly half their bits set, as PDQ's median threshold gives."""
    bits = np.zeros((count, PDQ_BITS), dtype=np.uint8)
    for row in bits:
        row[rng.choice(PDQ_BITS, PDQ_BITS // 2, replace=False)] = 1
    return np.packbits(bits, axis=1)


def _flipped(
    rng: np.random.Generator, hashes: npt.NDArray[np.uint8], k: int
) -> npt.NDArray[np.uint8]:
    """Each hash with k bits flipped (a balanced copy: k/2 ones off, k/2 zeros on)."""
    bits = np.unpackbits(hashes, axis=1)
    for row in bits:
        ones, zeros = np.flatnonzero(row == 1), np.flatnonzero(row == 0)
        row[rng.choice(ones, k // 2, replace=False)] = 0
        row[rng.choice(zeros, k // 2, replace=False)] = 1
    return np.packbits(bits, axis=1)


def _video(
    hashes: npt.NDArray[np.uint8], times: npt.NDArray[np.float64], quality: int
) -> VideoHashes:
    return VideoHashes(
        hashes=np.ascontiguousarray(hashes),
        timestamps=times.astype(np.float64),
        qualities=np.full(len(hashes), quality, dtype=np.int16),
        duration_seconds=float(times[-1]) + (times[1] - times[0] if len(times) > 1 else 1.0),
        frame_count=len(hashes),
    )


def _index(reference: VideoHashes) -> ExactIndex:
    index = ExactIndex()
    index.add("ref", reference)
    return index


def _matcher(reference: VideoHashes) -> Matcher:
    return Matcher(_index(reference), MatchParams())


def _reference(rng: np.random.Generator, seconds: float, quality: int) -> VideoHashes:
    times = np.arange(0.0, seconds, 1 / REFERENCE_FPS)
    return _video(_balanced(rng, len(times)), times, quality)


def _query_of(
    rng: np.random.Generator, reference: VideoHashes, start: float, seconds: float, bits: int
) -> VideoHashes:
    """A copy of reference[start, start + seconds) sampled every STEP, `bits` flipped."""
    times = np.arange(0.0, seconds, STEP)
    rows = np.searchsorted(reference.timestamps, start + times)
    return _video(_flipped(rng, reference.hashes[rows], bits), times, int(reference.qualities[0]))


def test_flat_frames_count_only_when_nearly_identical() -> None:
    """Low-detail footage (a grey wall) still identifies its copy when the hashes barely
    moved; at distances that good frames tolerate, flat frames count for nothing."""
    rng = np.random.default_rng(1)
    wall = _reference(rng, 4.0, quality=10)
    matcher = _matcher(wall)
    close = matcher.match(_query_of(rng, wall, 1.0, 2.0, bits=12))
    assert close and close[0].score >= 1.0
    loose = matcher.match(_query_of(rng, wall, 1.0, 2.0, bits=30))
    assert not loose or loose[0].score == 0.0
    # The same distance between detailed frames is a match.
    detailed = _reference(rng, 4.0, quality=90)
    assert _matcher(detailed).match(_query_of(rng, detailed, 1.0, 2.0, bits=30))[0].score >= 1.0


def _listed(references: dict[str, VideoHashes]) -> Matcher:
    index = ExactIndex()
    for reference_id, hashes in references.items():
        index.add(reference_id, hashes)
    return Matcher(index, MatchParams())


def test_look_alikes_tens_of_bits_away_leave_the_copy_its_evidence() -> None:
    """A long list holds sequences that resemble a reference by chance (or other cuts of the
    same scene), 40 bits from it frame by frame: a copy 10 bits from the reference also lies
    within the search radius of each, but far further than from its own reference."""
    rng = np.random.default_rng(21)
    reference = _reference(rng, 6.0, quality=90)
    look_alikes = {
        f"look-alike-{n}": _video(_flipped(rng, reference.hashes, 40), reference.timestamps, 90)
        for n in range(3)
    }
    matcher = _listed({"ref": reference, **look_alikes})
    matches = matcher.match(_query_of(rng, reference, 1.0, 4.0, bits=10))
    assert matches[0].reference_id == "ref" and matches[0].score >= 1.0
    # The rule before: every frame meets four references, so every frame was dropped.
    counted = Matcher(
        matcher.index, MatchParams(common_frame_margin_bits=PDQ_BITS, use_closest_pairs=False)
    )
    assert not counted.match(_query_of(rng, reference, 1.0, 4.0, bits=10))


def test_a_look_alike_is_no_match_beside_the_reference_it_resembles() -> None:
    """A near copy of a reference in a long list (another cut of the scene, a noisy
    re-encode 32-48 bits from it frame by frame, in order) lies within the search radius of
    the reference's copies too: on its own it would be confirmed as another listed video."""
    for look_alike_bits in (32, 40, 48):
        for copy_bits in (10, 24):
            rng = np.random.default_rng(look_alike_bits + copy_bits)
            reference = _reference(rng, 6.0, quality=90)
            near = _flipped(rng, reference.hashes, look_alike_bits)
            listed = {"ref": reference, "look-alike": _video(near, reference.timestamps, 90)}
            query = _query_of(rng, reference, 1.0, 4.0, bits=copy_bits)
            matches = _listed(listed).match(query)
            assert [m.reference_id for m in matches] == ["ref"]
            assert matches[0].score >= 1.0
            # Without the rule the look-alike is matched as well.
            loose = Matcher(_listed(listed).index, MatchParams(use_closest_pairs=False))
            assert [m.reference_id for m in loose.match(query)] == ["ref", "look-alike"]
    # Alone in the list, the look-alike is what the copy is closest to: a match, as before.
    alone = _listed({"look-alike": _video(near, reference.timestamps, 90)}).match(query)
    assert alone and alone[0].score >= 1.0


def test_a_sequence_that_many_references_share_is_no_evidence_for_any() -> None:
    """An intro or a logo sequence carried by many listed videos meets each about equally
    well: it tells none of them apart, so a query showing only it matches nothing."""
    rng = np.random.default_rng(22)
    intro = _reference(rng, 3.0, quality=90)
    listed = {
        f"video-{n}": _video(
            np.concatenate([_flipped(rng, intro.hashes, 6), _balanced(rng, 90)]),
            np.arange(0.0, 6.0, 1 / REFERENCE_FPS), 90,
        )
        for n in range(3)
    }  # fmt: skip
    assert _listed(listed).match(_query_of(rng, intro, 0.0, 3.0, bits=8)) == []


def test_a_copy_of_a_video_listed_in_several_versions_is_matched_on_each() -> None:
    """A list holds many versions of one attack video (re-encodes a few bits apart, a trim): a
    copy meets every version at every frame, and must not be taken for a moment that many
    different videos share."""
    rng = np.random.default_rng(23)
    original = _reference(rng, 6.0, quality=90)
    versions = {
        "original": original,
        "re-encode": _video(_flipped(rng, original.hashes, 6), original.timestamps, 90),
        "resized": _video(_flipped(rng, original.hashes, 10), original.timestamps, 90),
        "trimmed": _video(
            _flipped(rng, original.hashes[15:], 4), original.timestamps[15:] - 0.5, 90
        ),
    }
    matcher = _listed(versions)
    query = _query_of(rng, original, 1.0, 4.0, bits=10)
    matches = matcher.match(query)
    assert sorted(m.reference_id for m in matches) == sorted(versions)
    assert all(m.score >= 1.0 for m in matches)
    # Counted as four videos, every frame of the copy was common: nothing matched.
    apart = Matcher(matcher.index, MatchParams(use_versions=False))
    assert apart.match(query) == []


def test_a_flat_frame_never_vouches_for_a_detailed_one() -> None:
    """A plain wall's hash is its shading's, and a detailed picture (a test pattern's colour
    bar edge) can land a few bits from it: a copy does not turn detail into flatness, so such
    a pair is chance however close."""
    rng = np.random.default_rng(5)
    wall = _reference(rng, 4.0, quality=10)
    near = _query_of(rng, wall, 1.0, 2.0, bits=4)
    detailed = _video(near.hashes, near.timestamps, 64)
    matches = _matcher(wall).match(detailed)
    assert not matches or matches[0].score == 0.0, matches[0].score


def test_uniform_frames_never_match() -> None:
    """A uniform picture's hash is rounding noise with unbalanced bits: two black videos
    share it exactly, and must not match for that."""
    rng = np.random.default_rng(2)
    reference = _reference(rng, 4.0, quality=90)
    black = np.zeros((1, PDQ_BITS // 8), dtype=np.uint8)
    hashes = reference.hashes.copy()
    hashes[: int(REFERENCE_FPS)] = black  # a one-second black intro
    with_intro = _video(hashes, reference.timestamps, 90)
    qualities = with_intro.qualities.copy()
    qualities[: int(REFERENCE_FPS)] = 0
    with_intro = VideoHashes(
        with_intro.hashes, with_intro.timestamps, qualities, (),
        with_intro.duration_seconds, with_intro.frame_count,
    )  # fmt: skip
    times = np.arange(0.0, 5.0, STEP)
    black_query = _video(np.repeat(black, len(times), axis=0), times, 0)
    assert _matcher(with_intro).match(black_query) == []


def test_one_still_stretch_counts_once_however_many_lines_cross_it() -> None:
    """A still query lies on a line through the same still stretch of a reference at every
    speed; that stretch is evidence once, not once per line."""
    rng = np.random.default_rng(3)
    reference = _reference(rng, 4.0, quality=90)
    hashes = reference.hashes.copy()
    still_rows = reference.timestamps >= 3.5
    hashes[still_rows] = hashes[np.flatnonzero(still_rows)[0]]  # the last half second holds
    ending = _video(hashes, reference.timestamps, 90)
    times = np.arange(0.0, 6.0, STEP)
    frame = _flipped(rng, hashes[np.flatnonzero(still_rows)[:1]], 20)
    still_query = _video(np.repeat(frame, len(times), axis=0), times, 90)
    matches = _matcher(ending).match(still_query)
    assert matches, "the still frame is the reference's own: some evidence is expected"
    best = matches[0]
    assert len(best.segments) > 1, "the still query should align on more than one line"
    assert best.score < 1.0
    assert best.score <= max(s.score for s in best.segments) / 1.0 + 1e-6


def _grid_sampled(frame_times: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
    """The first frame at or after each STEP tick, as the decoder samples."""
    ticks = np.arange(0.0, float(frame_times[-1]), STEP)
    return np.unique(frame_times[np.searchsorted(frame_times, ticks - 1e-9)])


def test_evidence_does_not_depend_on_the_copy_frame_rate() -> None:
    """The same excerpt scores the same from a 25 fps copy (12.5 frames a second decoded:
    B-frames are skipped) as from a 30 fps or 10 fps one: each sample stands for the
    seconds the samples span, not for the most frequent gap between them."""
    rng = np.random.default_rng(4)
    reference = _reference(rng, 8.0, quality=90)
    scores = {}
    for fps in (12.5, 15.0, 30.0, 10.0):
        times = _grid_sampled(np.arange(0.0, 2.0, 1 / fps))
        rows = np.searchsorted(reference.timestamps, 2.0 + times - 1e-9)
        query = _video(_flipped(rng, reference.hashes[rows], 10), times, 90)
        scores[fps] = _matcher(reference).match(query)[0].score
    # Within 3%: where the first and last sample fall between ticks moves the mean gap of a
    # 2 s query by up to 2.5%. The most frequent gap is 0.24 s at 12.5 fps, 0.3 s at 10 fps.
    assert max(scores.values()) - min(scores.values()) <= 0.03 * max(scores.values()), scores


def _in_views(
    times: npt.NDArray[np.float64], *views: tuple[View, npt.NDArray[np.uint8]]
) -> VideoHashes:
    """A query whose frames at `times` are hashed once in each view, good quality."""
    return VideoHashes(
        hashes=np.ascontiguousarray(np.concatenate([hashes for _, hashes in views])),
        timestamps=np.concatenate([times] * len(views)),
        qualities=np.full(len(views) * len(times), 90, dtype=np.int16),
        views=tuple(view for view, _ in views for _ in times),
        duration_seconds=float(times[-1] - times[0]) + STEP,
        frame_count=len(times),
    )


class _CountingIndex(ExactIndex):
    """Records how many query hashes each search was given."""

    def __init__(self) -> None:
        super().__init__()
        self.searched: list[int] = []
        self.whole_picture_searches: list[int] = []

    def search(
        self,
        queries: npt.NDArray[np.uint8],
        max_distance: int,
        *,
        whole_pictures: bool = False,
        candidates: Collection[str] = (),
        retrieve: bool = True,
    ) -> Neighbours:
        (self.whole_picture_searches if whole_pictures else self.searched).append(len(queries))
        return super().search(queries, max_distance, whole_pictures=whole_pictures)


def test_full_frames_that_settle_the_match_spare_the_derived_views() -> None:
    """A whole-frame copy confirmed twice over by its full frames alone is answered from them
    (the derived views are not searched); a copy whose full frames fall short is matched on
    every view, as without the shortcut."""
    rng = np.random.default_rng(6)
    reference = _reference(rng, 8.0, quality=90)
    times = np.arange(0.0, 6.0, STEP)
    rows = np.searchsorted(reference.timestamps, 1.0 + times - 1e-9)
    copy = _flipped(rng, reference.hashes[rows], 10)
    unrelated = _balanced(rng, len(times))

    index = _CountingIndex()
    index.add("ref", reference)
    matcher = Matcher(index, MatchParams())
    thorough = Matcher(_index(reference), MatchParams(use_early_accept=False))
    plain = _in_views(times, (View.FULL, copy), (View.REGION, unrelated))
    assert matcher.match(plain) == thorough.match(plain)
    assert index.searched == [len(times)], "only the full frames should have been searched"
    # The reference only inside a region of an unrelated picture: every view is searched.
    index.searched.clear()
    inset = _in_views(times, (View.FULL, unrelated), (View.REGION, copy))
    assert matcher.match(inset) == thorough.match(inset)
    assert matcher.match(inset)[0].score >= 1.0
    assert index.searched[:2] == [len(times), len(times)], "each row is searched once"


def test_tilted_views_are_searched_last_and_only_when_needed() -> None:
    """Derived views that settle the match spare the tilted ones; a copy only the tilted
    views show (a filmed screen) is found after all three stages are searched."""
    rng = np.random.default_rng(7)
    reference = _reference(rng, 8.0, quality=90)
    times = np.arange(0.0, 6.0, STEP)
    rows = np.searchsorted(reference.timestamps, 1.0 + times - 1e-9)
    copy = _flipped(rng, reference.hashes[rows], 10)

    index = _CountingIndex()
    index.add("ref", reference)
    matcher = Matcher(index, MatchParams())
    thorough = Matcher(_index(reference), MatchParams(use_early_accept=False))
    unrelated = [_balanced(rng, len(times)) for _ in range(2)]
    in_region = _in_views(
        times, (View.FULL, unrelated[0]), (View.REGION, copy), (View.TILT, unrelated[1])
    )
    assert matcher.match(in_region)[0].score >= 2.0
    assert index.searched == [len(times), len(times)], "the tilted rows should not be searched"
    index.searched.clear()
    tilted = _in_views(
        times, (View.FULL, unrelated[0]), (View.REGION, unrelated[1]), (View.TILT, copy)
    )
    assert matcher.match(tilted) == thorough.match(tilted)
    assert matcher.match(tilted)[0].score >= 1.0
    assert index.searched[:3] == [len(times)] * 3, "each stage is searched once"


def _with_crops(
    rng: np.random.Generator, reference: VideoHashes
) -> tuple[VideoHashes, npt.NDArray[np.uint8]]:
    """The reference with one crop row (REGION, other content) beside each full frame, and
    those crop hashes."""
    crops = _balanced(rng, len(reference))
    both = VideoHashes(
        hashes=np.ascontiguousarray(np.concatenate([reference.hashes, crops])),
        timestamps=np.concatenate([reference.timestamps] * 2),
        qualities=np.concatenate([reference.qualities] * 2),
        views=(View.FULL,) * len(reference) + (View.REGION,) * len(reference),
        duration_seconds=reference.duration_seconds,
        frame_count=reference.frame_count,
    )
    return both, crops


def test_side_panes_meet_whole_reference_pictures_only() -> None:
    """A split screen scales each clip whole into its pane, so a side-pane row is searched
    against the references' whole-picture rows alone: it finds a copy of the full frames,
    and nothing in the crops (which it would find in a search of every row)."""
    rng = np.random.default_rng(8)
    reference, crops = _with_crops(rng, _reference(rng, 8.0, quality=90))
    times = np.arange(0.0, 6.0, STEP)
    frames = np.searchsorted(reference.timestamps[: len(crops)], 1.0 + times - 1e-9)
    unrelated = _balanced(rng, len(times))
    index = _CountingIndex()
    index.add("ref", reference)
    matcher = Matcher(index, MatchParams())

    whole = _in_views(times, (View.FULL, unrelated),
                      (View.SIDE, _flipped(rng, reference.hashes[frames], 10)))  # fmt: skip
    found = matcher.match(whole)
    assert found and found[0].score >= 1.0
    assert found[0].views == ("side",), "the evidence names the query view that matched"
    assert index.whole_picture_searches == [len(times)]

    cropped = _in_views(
        times, (View.FULL, unrelated), (View.SIDE, _flipped(rng, crops[frames], 10))
    )
    assert matcher.match(cropped) == []
    everything = Matcher(_index(reference), MatchParams())
    as_region = _in_views(
        times, (View.FULL, unrelated), (View.REGION, _flipped(rng, crops[frames], 10))
    )
    assert everything.match(as_region)[0].score >= 1.0, "the crops are there to be found"


def test_whole_picture_search_forgets_a_removed_reference() -> None:
    rng = np.random.default_rng(9)
    reference, _ = _with_crops(rng, _reference(rng, 2.0, quality=90))
    index = _index(reference)
    assert len(index.search(reference.hashes[:3], 0, whole_pictures=True)) == 3
    index.remove("ref")
    assert len(index.search(reference.hashes[:3], 0, whole_pictures=True)) == 0


def test_a_still_query_is_one_frame_of_evidence() -> None:
    """A still picture shown for seconds (a title card) that resembles one moment of a slowly
    moving reference lines up with that moment's whole stretch at several speeds: counted
    per sample it reached `confirmed`; as one moment it is one sample's evidence. A moving
    copy's samples are moments of their own, and score the same either way."""
    rng = np.random.default_rng(10)
    reference = _reference(rng, 4.4, quality=90)
    hashes = reference.hashes.copy()
    drifting = (reference.timestamps >= 3.4) & (reference.timestamps < 4.2)
    moment = hashes[np.flatnonzero(drifting)[0]][None]
    hashes[drifting] = _flipped(rng, np.repeat(moment, int(drifting.sum()), axis=0), 8)
    slow = _video(hashes, reference.timestamps, 90)
    times = np.arange(0.0, 2.5, STEP)
    card = _video(np.repeat(_flipped(rng, moment, 20), len(times), axis=0), times, 90)
    per_sample = Matcher(_index(slow), MatchParams(use_still_moments=False)).match(card)
    assert per_sample and per_sample[0].score >= 1.0, "the guard must have something to guard"
    as_moment = _matcher(slow).match(card)
    assert not as_moment or as_moment[0].score < 0.5

    copy = _query_of(rng, reference, 0.5, 3.0, bits=10)
    moving = [
        Matcher(_index(reference), MatchParams(use_still_moments=switch)).match(copy)[0].score
        for switch in (False, True)
    ]
    assert moving[0] == moving[1] >= 1.0


def test_a_closer_look_is_wanted_for_a_lead_with_less_evidence_than_asked() -> None:
    params = MatchParams(closer_look_from=0.3, closer_look_below=1.0)
    rng = np.random.default_rng(5)
    video = _video(_balanced(rng, 12), np.arange(12, dtype=np.float64) * 0.25, 90)
    still = _video(_balanced(rng, 1), np.zeros(1), 90)

    def best(score: float) -> list[VideoMatch]:
        return [VideoMatch("r", score, 1.0, 0.5, 0.5), VideoMatch("s", 0.1, 0.1, 0.1, 0.1)]

    assert not wants_closer_look([], video, params)  # nothing at all: chance gives more
    assert not wants_closer_look(best(0.29), video, params)
    assert wants_closer_look(best(0.3), video, params)
    assert wants_closer_look(best(0.99), video, params)
    assert not wants_closer_look(best(1.0), video, params)  # the evidence asked is there
    # A still's lead is one pair's weight, and its closer look costs next to nothing.
    assert wants_closer_look([], still, params) and wants_closer_look(best(0.1), still, params)
    assert not wants_closer_look(best(1.0), still, params)
