"""PDQ compatibility with Meta's reference vectors, and the hash value type."""

from __future__ import annotations

import csv
from pathlib import Path

import cv2
import numpy as np
import pytest

from hashes import pdq
from hashes.types import FormatError, PDQHash
from tests.conftest import SHARED_DATA_DIR

PDQ_DIR = SHARED_DATA_DIR / "interop" / "pdq"


def _expected() -> list[tuple[str, str]]:
    with (PDQ_DIR / "expected.csv").open() as handle:
        return [(row["file"], row["pdq_hash_hex"]) for row in csv.DictReader(handle)]


def _rgb(name: str) -> np.ndarray:
    bgr = cv2.imread(str(PDQ_DIR / name))
    assert bgr is not None, name
    return np.ascontiguousarray(cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB))


@pytest.mark.parametrize(("name", "expected"), _expected())
def test_pdq_hash_is_within_16_bits_of_meta_reference(name: str, expected: str) -> None:
    digest, _quality = pdq.hash_rgb(_rgb(name))
    assert PDQHash(digest) - PDQHash.from_hex(expected) <= 16


def test_low_information_images_have_low_quality() -> None:
    _digest, quality = pdq.hash_rgb(_rgb("misc-images__small.jpg"))
    assert quality < 50
    _digest, quality = pdq.hash_rgb(_rgb("reg-test-input__dih__bridge-1-original.jpg"))
    assert quality == 100


DIHEDRAL_FILES = {
    1: "reg-test-input__dih__bridge-2-rotate-90.jpg",
    2: "reg-test-input__dih__bridge-3-rotate-180.jpg",
    3: "reg-test-input__dih__bridge-4-rotate-270.jpg",
    4: "reg-test-input__dih__bridge-5-flipx.jpg",
    5: "reg-test-input__dih__bridge-6-flipy.jpg",
}


@pytest.mark.parametrize(("variant", "name"), sorted(DIHEDRAL_FILES.items()))
def test_dihedral_variant_of_original_matches_the_transformed_image(
    variant: int, name: str
) -> None:
    variants, _ = pdq.hash_rgb_dihedral(_rgb("reg-test-input__dih__bridge-1-original.jpg"))
    transformed, _ = pdq.hash_rgb(_rgb(name))
    distances = [PDQHash(v) - PDQHash(transformed) for v in variants]
    assert distances[variant] <= 16
    assert int(np.argmin(distances)) == variant


def test_unrelated_images_are_far_apart() -> None:
    a, _ = pdq.hash_rgb(_rgb("reg-test-input__labelme-subset__q0122.jpg"))
    b, _ = pdq.hash_rgb(_rgb("reg-test-input__labelme-subset__q2821.jpg"))
    assert PDQHash(a) - PDQHash(b) > 80


def test_hash_value_round_trips_and_measures_distance() -> None:
    a = PDQHash.from_hex("f" * 64)
    b = PDQHash.from_hex("f" * 63 + "0")
    assert str(a) == "f" * 64
    assert a - b == 4
    assert a == PDQHash.from_hex("F" * 64)
    assert hash(a) == hash(PDQHash.from_hex("f" * 64))
    with pytest.raises(FormatError, match="64 hex digits"):
        PDQHash.from_hex("abc")


def test_batch_hamming_agrees_with_value_type() -> None:
    rng = np.random.default_rng(1)
    a = rng.integers(0, 256, size=(5, 32), dtype=np.uint8)
    b = rng.integers(0, 256, size=(3, 32), dtype=np.uint8)
    table = pdq.hamming(a, b)
    for i in range(5):
        for j in range(3):
            assert table[i, j] == PDQHash(bytes(a[i])) - PDQHash(bytes(b[j]))


def test_shared_data_is_present() -> None:
    assert Path(PDQ_DIR / "expected.csv").is_file()


@pytest.mark.parametrize(("name", "_expected_hex"), _expected())
def test_pdq_equals_meta_cpp_binding(name: str, _expected_hex: str) -> None:
    pdqhash = pytest.importorskip("pdqhash")
    image = _rgb(name)
    bits, quality = pdqhash.compute(image)
    digest, our_quality = pdq.hash_rgb(image)
    assert PDQHash(digest) - PDQHash(np.packbits(bits).tobytes()) == 0
    assert our_quality == quality
    theirs = [PDQHash(np.packbits(v).tobytes()) for v in pdqhash.compute_dihedral(image)[0]]
    ours, _ = pdq.hash_rgb_dihedral(image)
    # Coefficients at the median flip on float rounding in near-flat images (quality < 10).
    for variant in ours:
        assert min(PDQHash(variant) - other for other in theirs) <= (4 if quality < 10 else 0)


def test_strip_grids_equal_one_resize_per_strip_but_for_rounding() -> None:
    rng = np.random.default_rng(2)
    picture = rng.integers(0, 256, size=(180, 320), dtype=np.uint8)
    columns = [(0, 240), (80, 320), (0, 101)]
    for grid, (start, end) in zip(
        pdq.downsample_64_strips(picture, columns, columns=True), columns, strict=True
    ):
        assert np.abs(grid - pdq.downsample_64_fast(picture[:, start:end])).max() <= 1.0
    rows = [(0, 70), (100, 180)]
    for grid, (start, end) in zip(
        pdq.downsample_64_strips(picture, rows, columns=False), rows, strict=True
    ):
        assert np.abs(grid - pdq.downsample_64_fast(picture[start:end, :])).max() <= 1.0
