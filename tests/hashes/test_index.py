"""`ExactIndex` against the `HashIndex` contract, at the matcher's own search radius too;
saved, and refused from another kind's files."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from hashes.index import ExactIndex, FrozenIndex, HashIndex
from hashes.index_multihash import MultiHashIndex
from hashes.types import HashError
from tests.hashes.index_contract import HashIndexContract, clustered_reference


class TestExactIndex(HashIndexContract):
    radii = (0, 16, 32, 48, 76)

    def make_index(self) -> HashIndex:
        return ExactIndex()

    def freeze(self, index: HashIndex) -> FrozenIndex:
        assert isinstance(index, ExactIndex)
        return index.freeze()

    def open_saved(self, directory: Path) -> HashIndex:
        return ExactIndex.open(directory)


def test_another_kind_of_index_is_refused_naming_it(tmp_path: Path) -> None:
    other = MultiHashIndex()
    other.add("one", clustered_reference(np.random.default_rng(3)))
    other.save(tmp_path / "index")
    with pytest.raises(HashError, match="holds a 'multihash' index, not 'exact'"):
        ExactIndex.open(tmp_path / "index")


def test_other_hash_sizes_are_refused(tmp_path: Path) -> None:
    ExactIndex().save(tmp_path / "index")
    with pytest.raises(HashError, match="holds 256-bit hashes, not 64-bit ones"):
        ExactIndex.open(tmp_path / "index", hash_bits=64)
