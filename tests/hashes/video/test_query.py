"""Query hashing (`hashes.video.query`): the tilted views turned in grid space, the halves of a
split screen."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import numpy.typing as npt
import pytest

from hashes import pdq
from hashes.decode import iter_frames
from hashes.types import VideoHashes, View
from hashes.video.params import QueryParams
from hashes.video.query import hash_query
from hashes.views.tilt import TILT_DEGREES
from triage.devset import images
from triage.devset.ffmpeg import run

WIDTH, HEIGHT = 640, 360


def _hash_turned(luma: npt.NDArray[np.uint8], degrees: float) -> npt.NDArray[np.uint8]:
    """PDQ of the picture itself turned (at the size queries are hashed at)."""
    small = cv2.resize(luma, (WIDTH // 2, HEIGHT // 2), interpolation=cv2.INTER_AREA)
    centre = (small.shape[1] / 2, small.shape[0] / 2)
    turned = cv2.warpAffine(
        small,
        cv2.getRotationMatrix2D(centre, degrees, 1.0),
        (small.shape[1], small.shape[0]),
        flags=cv2.INTER_LINEAR,
        borderMode=cv2.BORDER_REFLECT,
    )
    hashes, _ = pdq.hash_grids(pdq.downsample_64_fast(np.asarray(turned, dtype=np.uint8))[None])
    return hashes


def _tilted_rows(query: VideoHashes) -> list[int]:
    rows = [row for row in range(len(query)) if query.view_of(row) is View.TILT]
    assert len(rows) == len(TILT_DEGREES), "one tilted row per angle"
    return rows


@pytest.mark.parametrize("kind", ["scene", "texture"])
def test_tilted_rows_are_the_picture_turned_by_each_angle(tmp_path: Path, kind: str) -> None:
    rng = np.random.default_rng(4)
    picture = (
        images.scene(rng, WIDTH, HEIGHT) if kind == "scene" else images.texture(rng, WIDTH, HEIGHT)
    )
    path = tmp_path / f"{kind}.png"
    cv2.imwrite(str(path), picture)
    luma = np.asarray(cv2.cvtColor(picture, cv2.COLOR_BGR2GRAY), dtype=np.uint8)
    query = hash_query(path)
    tilted = _tilted_rows(query)
    for row, degrees in zip(tilted, TILT_DEGREES, strict=True):
        ours = query.hashes[row : row + 1]
        same = int(pdq.hamming(ours, _hash_turned(luma, degrees))[0, 0])
        opposite = int(pdq.hamming(ours, _hash_turned(luma, -degrees))[0, 0])
        # Measured: 2-10 bits from the turned picture, 84-96 from the opposite turn.
        assert same <= 16, f"{degrees} degrees: {same} bits from the picture turned"
        assert opposite >= 48, f"{degrees} degrees: {opposite} bits from the opposite turn"


def test_no_tilted_rows_when_switched_off(tmp_path: Path) -> None:
    path = tmp_path / "scene.png"
    cv2.imwrite(str(path), images.scene(np.random.default_rng(1), WIDTH, HEIGHT))
    query = hash_query(path, QueryParams(use_tilt=False))
    assert View.TILT not in query.views


def test_tilted_rows_turn_the_picture_inside_its_borders(tmp_path: Path) -> None:
    # A letterboxed picture: the tilts turn what is inside the bars, not the bars with it.
    picture = images.scene(np.random.default_rng(6), WIDTH, HEIGHT)
    bar = HEIGHT // 4
    boxed = np.zeros((HEIGHT + 2 * bar, WIDTH, 3), dtype=np.uint8)
    boxed[bar : bar + HEIGHT] = picture
    path = tmp_path / "letterboxed.png"
    cv2.imwrite(str(path), boxed)
    luma = np.asarray(cv2.cvtColor(picture, cv2.COLOR_BGR2GRAY), dtype=np.uint8)
    query = hash_query(path)
    tilted = _tilted_rows(query)
    for row, degrees in zip(tilted, TILT_DEGREES, strict=True):
        same = int(pdq.hamming(query.hashes[row : row + 1], _hash_turned(luma, degrees))[0, 0])
        # Measured: 2-4 bits; the whole frame turned, bars and all, is 124-130 bits away.
        assert same <= 16, f"{degrees} degrees: {same} bits from the picture inside the bars"


@pytest.mark.media
def test_halves_stay_on_the_frame_when_a_flat_band_runs_along_one_side(tmp_path: Path) -> None:
    """A split screen whose right pane pans onto a flat wall: in those frames the wall looks
    like a border, but one-sided, so the halves are still cut from the whole frame, and the
    right half is the pane."""
    scene = images.scene(np.random.default_rng(3), 2 * WIDTH, HEIGHT)
    walled = scene.copy()
    walled[:, -WIDTH // 4 :] = 128
    stills = []
    for name, picture in (("scene", scene), ("walled", walled)):
        stills.append(tmp_path / f"{name}.png")
        cv2.imwrite(str(stills[-1]), picture)
    path = tmp_path / "split.mp4"
    run(["ffmpeg", "-v", "error", "-nostdin", "-loop", "1", "-t", "1", "-i", str(stills[0]),
         "-loop", "1", "-t", "2", "-i", str(stills[1]), "-filter_complex", "concat=n=2:v=1:a=0",
         "-r", "30", "-c:v", "libx264", "-pix_fmt", "yuv420p", "-y", str(path)])  # fmt: skip
    params = QueryParams()
    frame = next(f for f in iter_frames(path, params.decode_options()) if f.timestamp >= 2.0)
    half = frame.luma[:, frame.luma.shape[1] // 2 :]
    pane, _ = pdq.hash_grids(pdq.downsample_64_fast(half)[None])
    query = hash_query(path, params)
    at = (query.timestamps == frame.timestamp) & np.array([v is View.REGION for v in query.views])
    assert int(pdq.hamming(pane, query.hashes[at]).min()) == 0, "the right half is hashed"
