"""`ExactIndex` against the `HashIndex` contract, at the matcher's own search radius too."""

from __future__ import annotations

from hashes.index import ExactIndex, HashIndex
from tests.hashes.index_contract import HashIndexContract


class TestExactIndex(HashIndexContract):
    radii = (0, 16, 32, 48, 76)

    def make_index(self) -> HashIndex:
        return ExactIndex()
