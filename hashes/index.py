"""Frame-hash indexes: which reference frames lie within a Hamming radius of query hashes.

`HashIndex` is the narrow interface the matcher needs. `ExactIndex` answers exactly with
FAISS's binary flat index (SIMD popcount over packed 256-bit hashes), which scans tens of
millions of hash pairs per second per core. It supports adding and removing one reference
at a time, so a running service picks up hash-list changes without a rebuild. A scalable
approximate index (multi-index hashing, FAISS binary HNSW) can implement the same protocol
and pass the same contract tests.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

import faiss
import numpy as np
import numpy.typing as npt

from hashes.types import PDQ_BITS, HashArray, HashError, VideoHashes, View

_VIEW_CODES = {view: code for code, view in enumerate(View)}
_CODE_VIEWS = list(View)
# Reference rows that show the whole picture: the full frame, and the picture inside its
# borders hashed as queries are (the other rows are crops of it).
WHOLE_PICTURE_VIEWS = frozenset({View.FULL, View.ACTIVE})

# Searches run on one thread: the service runs jobs side by side, and OpenMP's waiting threads
# spin, which cost about half as much CPU again per search as they saved in wall time.
faiss.omp_set_num_threads(1)


@dataclass(frozen=True, eq=False)
class Neighbours:
    """Every (query row, index entry) pair within the radius, as parallel arrays."""

    query_rows: npt.NDArray[np.int64]
    references: npt.NDArray[np.int32]  # codes into `reference_ids`
    reference_times: npt.NDArray[np.float64]
    reference_qualities: npt.NDArray[np.int16]
    distances: npt.NDArray[np.int32]
    reference_ids: tuple[str, ...]

    def __len__(self) -> int:
        return len(self.query_rows)

    def followed_by(self, other: Neighbours, offset: int) -> Neighbours:
        """These pairs, then `other`'s, whose query rows follow `offset` rows of these."""
        return Neighbours(
            query_rows=np.concatenate([self.query_rows, other.query_rows + offset]),
            references=np.concatenate([self.references, other.references]),
            reference_times=np.concatenate([self.reference_times, other.reference_times]),
            reference_qualities=np.concatenate(
                [self.reference_qualities, other.reference_qualities]
            ),
            distances=np.concatenate([self.distances, other.distances]),
            reference_ids=other.reference_ids,
        )


@dataclass(frozen=True, eq=False)
class ReferenceInfo:
    reference_id: str
    duration_seconds: float
    frame_count: int
    full_frame_qualities: npt.NDArray[np.int16]  # PDQ quality of each full-frame row

    def informative_fraction(self, min_quality: int) -> float:
        """Share of the reference's frames with enough detail to be matched."""
        if len(self.full_frame_qualities) == 0:
            return 1.0
        return float(np.mean(self.full_frame_qualities >= min_quality))


class HashIndex(Protocol):
    def add(self, reference_id: str, hashes: VideoHashes, *, min_quality: int = 0) -> None:
        """Add (or replace) one reference's frame hashes."""

    def remove(self, reference_id: str) -> None:
        """Remove a reference; unknown ids are ignored."""

    def search(
        self, queries: HashArray, max_distance: int, *, whole_pictures: bool = False
    ) -> Neighbours:
        """All entries within `max_distance` bits of each query hash; with `whole_pictures`,
        only the rows of `WHOLE_PICTURE_VIEWS` (a few percent of the index)."""

    def info(self, reference_id: str) -> ReferenceInfo: ...

    def reference_ids(self) -> list[str]: ...

    def __len__(self) -> int: ...

    def __contains__(self, reference_id: object) -> bool: ...


class ExactIndex:
    """Exact radius search over all reference frame hashes (FAISS `IndexBinaryFlat`), of
    `hash_bits` bits each (PDQ's 256 unless told; FAISS packs whole bytes)."""

    def __init__(self, hash_bits: int = PDQ_BITS) -> None:
        if hash_bits <= 0 or hash_bits % 8:
            raise HashError(f"an index holds hashes of whole bytes, not {hash_bits} bits")
        self.hash_bits = hash_bits
        self._index = faiss.IndexBinaryIDMap2(faiss.IndexBinaryFlat(hash_bits))
        # The whole-picture rows again, under the same ids: a query view that can only show a
        # whole reference picture is searched against these alone, at a few percent the cost.
        self._whole = faiss.IndexBinaryIDMap2(faiss.IndexBinaryFlat(hash_bits))
        self._next_id = 0
        self._ids: dict[str, npt.NDArray[np.int64]] = {}
        self._info: dict[str, ReferenceInfo] = {}
        self._codes: dict[str, int] = {}
        self._names: list[str] = []
        # Per-entry metadata, indexed by entry id (ids are never reused).
        self._entry_reference = np.zeros(0, dtype=np.int32)
        self._entry_time = np.zeros(0, dtype=np.float64)
        self._entry_quality = np.zeros(0, dtype=np.int16)

    def __len__(self) -> int:
        return int(self._index.ntotal)

    def __contains__(self, reference_id: object) -> bool:
        return reference_id in self._ids

    def reference_ids(self) -> list[str]:
        return sorted(self._ids)

    def info(self, reference_id: str) -> ReferenceInfo:
        try:
            return self._info[reference_id]
        except KeyError:
            raise HashError(f"unknown reference {reference_id!r}") from None

    def add(self, reference_id: str, hashes: VideoHashes, *, min_quality: int = 0) -> None:
        if not reference_id:
            raise HashError("a reference needs a non-empty id")
        if hashes.hash_bits != self.hash_bits:
            raise HashError(
                f"reference {reference_id!r} has {hashes.hash_bits}-bit hashes; "
                f"this index holds {self.hash_bits}-bit ones"
            )
        self.remove(reference_id)
        keep = hashes.qualities >= min_quality
        rows = np.ascontiguousarray(hashes.hashes[keep], dtype=np.uint8)
        count = len(rows)
        ids = np.arange(self._next_id, self._next_id + count, dtype=np.int64)
        self._next_id += count
        code = self._codes.get(reference_id)
        if code is None:
            code = len(self._names)
            self._codes[reference_id] = code
            self._names.append(reference_id)
        views = view_codes(hashes)[keep]
        self._entry_reference = np.concatenate(
            [self._entry_reference, np.full(count, code, dtype=np.int32)]
        )
        self._entry_time = np.concatenate([self._entry_time, hashes.timestamps[keep]])
        self._entry_quality = np.concatenate([self._entry_quality, hashes.qualities[keep]])
        if count:
            self._index.add_with_ids(rows, ids)
            whole = np.isin(views, [_VIEW_CODES[v] for v in WHOLE_PICTURE_VIEWS])
            if whole.any():
                self._whole.add_with_ids(np.ascontiguousarray(rows[whole]), ids[whole])
        self._ids[reference_id] = ids
        self._info[reference_id] = ReferenceInfo(
            reference_id,
            hashes.duration_seconds,
            hashes.frame_count,
            hashes.full_frame().qualities.copy(),
        )

    def remove(self, reference_id: str) -> None:
        ids = self._ids.pop(reference_id, None)
        self._info.pop(reference_id, None)
        if ids is not None and len(ids):
            for index in (self._index, self._whole):
                index.remove_ids(faiss.IDSelectorArray(len(ids), faiss.swig_ptr(ids)))

    def search(
        self, queries: HashArray, max_distance: int, *, whole_pictures: bool = False
    ) -> Neighbours:
        queries = np.ascontiguousarray(queries, dtype=np.uint8)
        width = self.hash_bits // 8
        if queries.ndim != 2 or queries.shape[1] != width:
            raise HashError(f"query hashes must have shape (n, {width})")
        index = self._whole if whole_pictures else self._index
        if len(queries) == 0 or index.ntotal == 0:
            return self._empty()
        # FAISS's radius is exclusive: "distance < radius".
        limits, distances, ids = index.range_search(queries, max_distance + 1)
        counts = np.diff(limits).astype(np.int64)
        query_rows = np.repeat(np.arange(len(queries), dtype=np.int64), counts)
        ids = ids.astype(np.int64)
        return Neighbours(
            query_rows=query_rows,
            references=self._entry_reference[ids],
            reference_times=self._entry_time[ids],
            reference_qualities=self._entry_quality[ids],
            distances=distances.astype(np.int32),
            reference_ids=tuple(self._names),
        )

    def _empty(self) -> Neighbours:
        return Neighbours(
            query_rows=np.zeros(0, dtype=np.int64),
            references=np.zeros(0, dtype=np.int32),
            reference_times=np.zeros(0, dtype=np.float64),
            reference_qualities=np.zeros(0, dtype=np.int16),
            distances=np.zeros(0, dtype=np.int32),
            reference_ids=tuple(self._names),
        )


def view_of_code(code: int) -> View:
    return _CODE_VIEWS[code]


def code_of_view(view: View) -> int:
    return _VIEW_CODES[view]


def view_codes(hashes: VideoHashes) -> npt.NDArray[np.int8]:
    """The view of each row as a small code (`view_of_code` reads it back)."""
    if not hashes.views:
        return np.full(len(hashes), _VIEW_CODES[View.FULL], dtype=np.int8)
    return np.array([_VIEW_CODES[v] for v in hashes.views], dtype=np.int8)
