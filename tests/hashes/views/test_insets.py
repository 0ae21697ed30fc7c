"""Inset detection: a picture laid into other video is found from its lasting outline."""

from __future__ import annotations

import cv2
import numpy as np
import numpy.typing as npt

from hashes.views.insets import InsetTracker

ROWS, COLS = 180, 320
INSET = (40, 112, 150, 278)  # top, bottom, left, right


def _texture(rng: np.random.Generator, rows: int, cols: int) -> npt.NDArray[np.uint8]:
    """Soft blobs of grey, none of their edges straight for long. Half the pixels are on an
    edge in any one frame, as busy as the busiest sample clip (grass in Big Buck Bunny)."""
    noise = rng.normal(128, 60, size=(rows + 64, cols + 64)).astype(np.float32)
    blobs = cv2.GaussianBlur(noise, (0, 0), 6)
    blobs = (blobs - blobs.mean()) * (40 / blobs.std()) + 128
    return np.asarray(np.clip(blobs, 0, 255), dtype=np.uint8)


def _frames(with_inset: bool, count: int = 16) -> list[npt.NDArray[np.uint8]]:
    rng = np.random.default_rng(4)
    background, picture = _texture(rng, ROWS, COLS), _texture(rng, ROWS, COLS)
    top, bottom, left, right = INSET
    frames = []
    for i in range(count):
        # Both pictures move, in different directions: only the inset's outline stays put.
        frame = background[i * 3 : i * 3 + ROWS, i * 2 : i * 2 + COLS].copy()
        if with_inset:
            inner = picture[32 - i : 32 - i + bottom - top, 40 - i * 2 : 40 - i * 2 + right - left]
            frame[top:bottom, left:right] = inner
        frames.append(frame)
    return frames


def _detected(frames: list[npt.NDArray[np.uint8]]) -> list[tuple[int, int, int, int]]:
    tracker = InsetTracker()
    for frame in frames:
        tracker.update(frame)
    return [region.box for region in tracker.insets()]


def test_a_moving_picture_inside_moving_video_is_found() -> None:
    boxes = _detected(_frames(with_inset=True))
    assert boxes, "no inset found"
    assert max(abs(a - b) for a, b in zip(boxes[0], INSET, strict=True)) <= 2, boxes


def test_moving_video_without_an_inset_has_none() -> None:
    assert _detected(_frames(with_inset=False)) == []


def test_too_few_frames_give_no_inset() -> None:
    assert _detected(_frames(with_inset=True, count=3)) == []


def _bars(rows: int, cols: int) -> npt.NDArray[np.uint8]:
    """Still bars of grey over the whole frame above a band of other greys, as in a test
    pattern: long lines everywhere, and boxes between them."""
    levels = np.array([40, 200, 90, 160, 60, 230, 120], dtype=np.uint8)
    bars = np.repeat(levels[(np.arange(cols) * len(levels)) // cols][None, :], rows, axis=0)
    band = rows * 5 // 6
    bars[band:] = 255 - bars[band:]
    return bars


def test_an_inset_over_still_bars_beats_the_boxes_the_bars_make() -> None:
    """The bars' edges last too, and run the frame's height: a box cut out of them has lines
    running on past its corners, or leans on the frame's edge; the inset's outline does not."""
    rng = np.random.default_rng(6)
    picture = _texture(rng, ROWS, COLS)
    top, bottom, left, right = INSET
    frames = []
    for i in range(16):
        frame = _bars(ROWS, COLS)
        frame[top:bottom, left:right] = picture[i : i + bottom - top, 2 * i : 2 * i + right - left]
        frames.append(frame)
    boxes = _detected(frames)
    assert boxes and max(abs(a - b) for a, b in zip(boxes[0], INSET, strict=True)) <= 2, boxes


def test_a_short_inset_on_a_portrait_canvas_is_found() -> None:
    """A landscape clip at 40% of a portrait canvas's width is 13% of its height."""
    rng = np.random.default_rng(7)
    rows, cols = 320, 180
    background, picture = _texture(rng, rows, cols), _texture(rng, rows, cols)
    inset = (200, 242, 40, 116)
    top, bottom, left, right = inset
    frames = []
    for i in range(16):
        frame = background[i * 3 : i * 3 + rows, i * 2 : i * 2 + cols].copy()
        frame[top:bottom, left:right] = picture[
            32 - i : 32 - i + bottom - top, 40 - 2 * i : 40 - 2 * i + right - left
        ]
        frames.append(frame)
    boxes = _detected(frames)
    assert any(max(abs(a - b) for a, b in zip(box, inset, strict=True)) <= 2 for box in boxes), (
        boxes
    )


def test_an_outline_between_pixel_columns_is_found_and_the_box_stays_inside() -> None:
    """An inset laid at odd coordinates of a frame twice the size, then scaled down: each of
    its sides falls between two pixel columns, and lands on either from frame to frame. The
    box must still be found, and hold no row or column of the background (in a small inset
    that costs more of its hash than a row of the inset lost)."""
    rng = np.random.default_rng(8)
    background, picture = _texture(rng, 2 * ROWS, 2 * COLS), _texture(rng, 2 * ROWS, 2 * COLS)
    top, bottom, left, right = 81, 223, 301, 557  # half-pixel positions at the scaled size
    frames = []
    for i in range(16):
        big = background[i * 3 : i * 3 + 2 * ROWS, i * 2 : i * 2 + 2 * COLS].copy()
        inner = picture[64 - 2 * i :, 80 - 4 * i :][: bottom - top, : right - left]
        big[top:bottom, left:right] = inner
        frames.append(
            np.asarray(cv2.resize(big, (COLS, ROWS), interpolation=cv2.INTER_AREA), np.uint8)
        )
    boxes = _detected(frames)
    assert boxes, "no inset found"
    scaled = (top / 2, bottom / 2, left / 2, right / 2)
    area = (scaled[1] - scaled[0]) * (scaled[3] - scaled[2])
    inside = [
        box
        for box in boxes
        if box[0] >= scaled[0] and box[1] <= scaled[1] and box[2] >= scaled[2]
        and box[3] <= scaled[3] and (box[1] - box[0]) * (box[3] - box[2]) >= 0.85 * area
    ]  # fmt: skip
    assert inside, (boxes, scaled)


def _split_frames(divider: int) -> list[npt.NDArray[np.uint8]]:
    """Two videos side by side, split at `divider`, each moving its own way."""
    rng = np.random.default_rng(9)
    left_video, right_video = _texture(rng, ROWS, COLS), _texture(rng, ROWS, COLS)
    frames = []
    for i in range(16):
        frame = left_video[i * 3 : i * 3 + ROWS, i * 2 : i * 2 + COLS].copy()
        right = right_video[40 - 2 * i : 40 - 2 * i + ROWS, 60 - 3 * i : 60 - 3 * i + COLS]
        frame[:, divider:] = right[:, divider:]
        frames.append(frame)
    return frames


def test_the_panes_of_a_split_screen_are_candidates_wherever_the_split_is() -> None:
    """A split screen's outline is one line across the frame; each side of it is a pane
    (the halves cover a split in the middle, not one at 70%)."""
    boxes = _detected(_split_frames(divider=224))

    def near(a: int, b: int) -> bool:
        return abs(a - b) <= 4  # placed within 2 px, then hashed 2 px inside

    full_height = [b for b in boxes if near(b[0], 0) and near(b[1], ROWS)]
    assert any(near(b[2], 224) and near(b[3], COLS) for b in full_height), boxes
    assert any(near(b[2], 0) and near(b[3], 224) for b in full_height), boxes


def test_a_picture_between_bands_is_a_pane() -> None:
    """A landscape video over a blurred copy of itself on a portrait canvas: two lines across
    the frame, with the picture between them."""
    rng = np.random.default_rng(10)
    rows, cols = 320, 180
    picture, blurred = _texture(rng, rows, cols), _texture(rng, rows, cols)
    top, bottom = 110, 210
    frames = []
    for i in range(16):
        frame = cv2.GaussianBlur(blurred[i * 2 : i * 2 + rows, i : i + cols], (0, 0), 8)
        frame[top:bottom] = picture[30 - i : 30 - i + bottom - top, 40 - 2 * i : 40 - 2 * i + cols]
        frames.append(np.asarray(frame, dtype=np.uint8))
    boxes = _detected(frames)
    assert any(
        abs(b[0] - top) <= 3 and abs(b[1] - bottom) <= 3 and b[2] <= 3 and b[3] >= cols - 3
        for b in boxes
    ), boxes
