"""PDQ frame hashing, vectorised over batches of frames, compatible with Meta's reference.

The algorithm follows Meta's PDQ paper and reference implementation: luminance, a two-pass
Jarosz (box) filter and decimation to 64x64, a 16x16 DCT without the DC row and column, and
one bit per coefficient above the median. We implement it in numpy rather than calling the
C++ binding per frame because a query frame is hashed in many views (borders removed, inner
picture, sub-regions, eight dihedral variants): the expensive part, the DCT, runs as one
batched matrix product, and the dihedral variants are sign flips and transposes of the DCT
coefficients, which costs almost nothing.
"""

from __future__ import annotations

from collections.abc import Sequence

import cv2
import numpy as np
import numpy.typing as npt

from hashes.types import PDQ_BYTES, HashArray

GRID = 64
COEFFS = 16
# Meta's luma weights (BT.601), used when an image arrives as RGB.
_LUMA_WEIGHTS = np.array([0.299, 0.587, 0.114], dtype=np.float32)

Float32Array = npt.NDArray[np.float32]


def _dct_matrix() -> Float32Array:
    i = np.arange(1, COEFFS + 1, dtype=np.float64)[:, None]
    j = np.arange(GRID, dtype=np.float64)[None, :]
    matrix = np.sqrt(2.0 / GRID) * np.cos(np.pi / 2.0 / GRID * i * (2.0 * j + 1.0))
    return np.asarray(matrix, dtype=np.float32)


_DCT = _dct_matrix()
# Coefficient (u, v) of a mirrored image changes sign when the DCT index is odd.
_ODD = (np.arange(1, COEFFS + 1) % 2 == 1).astype(np.float32)
_SIGN = np.where(_ODD == 1, -1.0, 1.0).astype(np.float32)


def luma_from_rgb(rgb: npt.NDArray[np.uint8]) -> Float32Array:
    """Luminance of an RGB image as Meta's PDQ computes it."""
    return np.asarray(rgb[..., :3].astype(np.float32) @ _LUMA_WEIGHTS, dtype=np.float32)


def _jarosz_window(old: int, new: int) -> int:
    return max(1, (old + 2 * new - 1) // (2 * new))


def downsample_64(luma: npt.NDArray[np.float32] | npt.NDArray[np.uint8]) -> Float32Array:
    """Two passes of a box filter sized to the image, then decimation to 64x64 (PDQ's Jarosz)."""
    image = np.ascontiguousarray(luma, dtype=np.float32)
    rows, cols = image.shape
    if rows < 2 or cols < 2:
        image = np.asarray(
            cv2.resize(image, (max(cols, 2), max(rows, 2)), interpolation=cv2.INTER_NEAREST),
            dtype=np.float32,
        )
        rows, cols = image.shape
    window = (_jarosz_window(cols, GRID), _jarosz_window(rows, GRID))
    # Meta's box filter averages only the samples inside the image, and centres an even
    # window one sample to the right: emulate both (sum of values / count of samples).
    anchor = ((window[0] - 1) // 2, (window[1] - 1) // 2)
    counts = cv2.boxFilter(
        np.ones_like(image),
        -1,
        window,
        anchor=anchor,
        normalize=False,
        borderType=cv2.BORDER_CONSTANT,
    )
    for _ in range(2):
        summed = cv2.boxFilter(
            image, -1, window, anchor=anchor, normalize=False, borderType=cv2.BORDER_CONSTANT
        )
        image = np.asarray(summed / counts, dtype=np.float32)
    row_index = ((np.arange(GRID) + 0.5) * rows / GRID).astype(np.intp)
    col_index = ((np.arange(GRID) + 0.5) * cols / GRID).astype(np.intp)
    return np.asarray(image[np.ix_(row_index, col_index)], dtype=np.float32)


def downsample_64_fast(luma: npt.NDArray[np.uint8]) -> Float32Array:
    """One area-averaging resize to 64x64: close to the Jarosz filter (a few bits of hash) at a
    fraction of the cost. For the many derived views of a frame, which no other tool computes."""
    grid = cv2.resize(luma, (GRID, GRID), interpolation=cv2.INTER_AREA)
    return np.asarray(grid, dtype=np.float32)


def downsample_64_strips(
    picture: npt.NDArray[np.uint8], spans: Sequence[tuple[int, int]], *, columns: bool
) -> list[Float32Array]:
    """`downsample_64_fast` of strips of `picture` that run its whole height (`columns`:
    spans are column ranges) or its whole width (spans are row ranges). The area average
    along the strips' shared side is taken once for all of them, at half the cost of
    resizing each strip; for strips at least 64 pixels on each side the grids differ from
    one resize per strip by rounding only (smaller ones are upsampled, a little otherwise)."""
    rows, cols = picture.shape
    if columns:
        shared = cv2.resize(picture.astype(np.float32), (cols, GRID), interpolation=cv2.INTER_AREA)
        parts = [shared[:, start:end] for start, end in spans]
    else:
        shared = cv2.resize(picture.astype(np.float32), (GRID, rows), interpolation=cv2.INTER_AREA)
        parts = [shared[start:end, :] for start, end in spans]
    return [
        np.asarray(cv2.resize(part, (GRID, GRID), interpolation=cv2.INTER_AREA), dtype=np.float32)
        for part in parts
    ]


def quality_of(grids: Float32Array) -> npt.NDArray[np.int16]:
    """PDQ quality (0-100) of 64x64 grids, shape (n, 64, 64): the summed local gradient."""
    vertical = np.floor(np.abs(np.diff(grids, axis=1)) * (100.0 / 255.0)).sum(axis=(1, 2))
    horizontal = np.floor(np.abs(np.diff(grids, axis=2)) * (100.0 / 255.0)).sum(axis=(1, 2))
    quality = np.minimum(100, ((vertical + horizontal) / 90.0).astype(np.int64))
    return np.asarray(quality, dtype=np.int16)


def dct_16(grids: Float32Array) -> Float32Array:
    """The 16x16 low-frequency DCT block (without DC) of each 64x64 grid, shape (n, 16, 16)."""
    return np.asarray(_DCT @ grids @ _DCT.T, dtype=np.float32)


def bits_from_dct(coefficients: Float32Array) -> HashArray:
    """Threshold at the median and pack: one 32-byte row per block, Meta's bit order."""
    flat = coefficients.reshape(len(coefficients), COEFFS * COEFFS)
    median = np.median(flat, axis=1, keepdims=True)
    bits = flat > median
    # Meta's hex prints coefficient 255 first: reverse so packbits' MSB-first matches.
    packed = np.packbits(bits[:, ::-1], axis=1)
    return np.ascontiguousarray(packed, dtype=np.uint8).reshape(len(flat), PDQ_BYTES)


def dihedral_dct(coefficients: Float32Array) -> Float32Array:
    """The eight dihedral variants of each DCT block, shape (n, 8, 16, 16).

    Order: original, rotate 90, rotate 180, rotate 270 (counter-clockwise), flip x (upside down),
    flip y (mirror left-right), transpose, anti-transpose, as in Meta's `dih` test images.
    """
    row_sign = _SIGN[:, None]  # flips along the vertical axis negate odd rows
    col_sign = _SIGN[None, :]
    original = coefficients
    # Meta's names: "flip x" mirrors about the x axis (upside down), "flip y" about the y axis.
    flip_x = coefficients * row_sign
    flip_y = coefficients * col_sign
    rot180 = coefficients * row_sign * col_sign
    transpose = np.swapaxes(coefficients, 1, 2)
    # Meta's test images turn counter-clockwise: rotate 90 is a quarter turn to the left.
    rot90 = transpose * row_sign
    rot270 = transpose * col_sign
    anti = transpose * row_sign * col_sign
    return np.stack([original, rot90, rot180, rot270, flip_x, flip_y, transpose, anti], axis=1)


def hash_grids(grids: Float32Array) -> tuple[HashArray, npt.NDArray[np.int16]]:
    """PDQ hashes and qualities of 64x64 grids, shape (n, 64, 64)."""
    if len(grids) == 0:
        return np.zeros((0, PDQ_BYTES), dtype=np.uint8), np.zeros(0, dtype=np.int16)
    return bits_from_dct(dct_16(grids)), quality_of(grids)


def hash_lumas(
    lumas: Sequence[npt.NDArray[np.float32] | npt.NDArray[np.uint8]],
) -> tuple[HashArray, npt.NDArray[np.int16]]:
    """PDQ hashes and qualities of luminance images of any sizes."""
    if not lumas:
        return hash_grids(np.zeros((0, GRID, GRID), dtype=np.float32))
    return hash_grids(np.stack([downsample_64(luma) for luma in lumas]))


def hash_rgb(rgb: npt.NDArray[np.uint8]) -> tuple[bytes, int]:
    """PDQ hash (32 bytes) and quality of one RGB image, as Meta's reference computes it."""
    hashes, qualities = hash_lumas([luma_from_rgb(rgb)])
    return bytes(hashes[0]), int(qualities[0])


def hash_rgb_dihedral(rgb: npt.NDArray[np.uint8]) -> tuple[list[bytes], int]:
    """The eight dihedral PDQ hashes of one RGB image (order of `dihedral_dct`) and quality."""
    grid = downsample_64(luma_from_rgb(rgb))[None]
    variants = dihedral_dct(dct_16(grid))[0]
    packed = bits_from_dct(variants)
    return [bytes(row) for row in packed], int(quality_of(grid)[0])


def hamming(a: HashArray, b: HashArray) -> npt.NDArray[np.int64]:
    """Pairwise Hamming distances between two sets of packed hashes, shape (len(a), len(b))."""
    a64 = np.ascontiguousarray(a).view(np.uint64)
    b64 = np.ascontiguousarray(b).view(np.uint64)
    xor = a64[:, None, :] ^ b64[None, :, :]
    return np.asarray(np.bitwise_count(xor).sum(axis=2), dtype=np.int64)
