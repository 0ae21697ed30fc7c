"""Frame-hash indexes: which reference frames lie within a Hamming radius of query hashes.

`HashIndex` is the narrow interface the matcher needs. `ExactIndex` answers exactly with
FAISS's binary flat index (SIMD popcount over packed 256-bit hashes), which scans tens of
millions of hash pairs per second per core. It supports adding and removing one reference
at a time, so a running service picks up hash-list changes without a rebuild. A scalable
approximate index (multi-index hashing, FAISS binary HNSW) can implement the same protocol
and pass the same contract tests.
"""

from __future__ import annotations

import dataclasses
import sys
from collections.abc import Collection
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import faiss
import numpy as np
import numpy.typing as npt

from hashes.index_files import InfoRecord, check_rows, read_index_files, write_index_files
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

    def where(self, keep: npt.NDArray[np.bool_]) -> Neighbours:
        """The pairs `keep` marks."""
        return Neighbours(
            query_rows=self.query_rows[keep],
            references=self.references[keep],
            reference_times=self.reference_times[keep],
            reference_qualities=self.reference_qualities[keep],
            distances=self.distances[keep],
            reference_ids=self.reference_ids,
        )

    def at_rows(self, rows: npt.NDArray[np.intp]) -> Neighbours:
        """These pairs, their query row `i` renamed `rows[i]`."""
        return dataclasses.replace(self, query_rows=np.asarray(rows)[self.query_rows])

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
    # The full-frame rows themselves: what tells two listed versions of one video apart from
    # two videos that share a moment (`hashes.versions`).
    full_frame_hashes: HashArray

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
        self,
        queries: HashArray,
        max_distance: int,
        *,
        whole_pictures: bool = False,
        candidates: Collection[str] = (),
        retrieve: bool = True,
    ) -> Neighbours:
        """All entries within `max_distance` bits of each query hash; with `whole_pictures`,
        only the rows of `WHOLE_PICTURE_VIEWS` (a few percent of the index). An index that
        searches only the references it retrieves (not `exhaustive`) searches `candidates`
        too (references an earlier search of the same query found); without `retrieve`,
        every index answers for `candidates` alone."""

    @property
    def exhaustive(self) -> bool:
        """Whether a search answers for every reference (else for those it retrieves)."""

    def info(self, reference_id: str) -> ReferenceInfo: ...

    def reference_ids(self) -> list[str]: ...

    def __len__(self) -> int:
        """How many entries (reference frame rows) the index holds."""

    def __contains__(self, reference_id: object) -> bool: ...

    def memory_bytes(self) -> int:
        """Bytes held by the index's own structures (hashes, ids, per-entry metadata, names):
        what sizing and the no-growth-under-churn promise are measured with."""


class FrozenIndex(Protocol):
    """A consistent copy of an index at one moment, taken quickly (`freeze`) and written to
    disk later, while the index itself goes on changing and answering."""

    def write(self, directory: Path) -> None:
        """Write the files the index's `open` reads back into `directory`."""


# Entries (and names) removed since the last compaction may reach this share of the live ones,
# plus a few, before the index is renumbered: churn then costs amortised O(1) per entry, and
# memory stays within a few percent of a fresh build's.
_COMPACT_DEAD_SHARE = 0.05
_COMPACT_SLACK = 64


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
        # Per-entry metadata, indexed by entry id. Ids of removed entries are not reused until
        # `_compact` renumbers the live ones densely (and drops the names of removed references).
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
        full = hashes.full_frame()
        self._info[reference_id] = ReferenceInfo(
            reference_id,
            hashes.duration_seconds,
            hashes.frame_count,
            full.qualities.copy(),
            np.ascontiguousarray(full.hashes, dtype=np.uint8),
        )

    def remove(self, reference_id: str) -> None:
        ids = self._ids.pop(reference_id, None)
        self._info.pop(reference_id, None)
        if ids is not None and len(ids):
            # A hashed set: `IDSelectorArray` scans its ids for every entry, which took minutes
            # to remove a minute of video from a list of two million rows.
            selector = faiss.IDSelectorBatch(len(ids), faiss.swig_ptr(ids))
            for index in (self._index, self._whole):
                index.remove_ids(selector)
        if _too_many_dead(self._next_id, int(self._index.ntotal)) or _too_many_dead(
            len(self._names), len(self._ids)
        ):
            self._compact()

    def memory_bytes(self) -> int:
        entries = int(self._index.ntotal) + int(self._whole.ntotal)
        # Codes, the id map and its reverse map (about 4 words a node) of both FAISS indexes.
        faiss_bytes = entries * (self.hash_bits // 8 + 8 + 32)
        metadata = sum(
            a.nbytes for a in (self._entry_reference, self._entry_time, self._entry_quality)
        )
        metadata += sum(a.nbytes for a in self._ids.values())
        metadata += sum(
            info.full_frame_qualities.nbytes + info.full_frame_hashes.nbytes
            for info in self._info.values()
        )
        names = sum(sys.getsizeof(name) + 8 for name in self._names) + 16 * len(self._codes)
        return int(faiss_bytes + metadata + names)

    def _compact(self) -> None:
        """Renumber the live entries densely and keep only live references' names: without it
        every remove/re-add would leave its entries' metadata and the name behind for good."""
        names = sorted(self._ids)
        codes = {name: code for code, name in enumerate(names)}
        old_ids = np.concatenate([self._ids[name] for name in names] or [np.zeros(0, np.int64)])
        new_ids = np.arange(len(old_ids), dtype=np.int64)
        new_of_old = np.full(self._next_id, -1, dtype=np.int64)
        new_of_old[old_ids] = new_ids
        reference_of_old = self._entry_reference[old_ids]
        remap = np.array([codes.get(name, -1) for name in self._names], dtype=np.int32)
        self._entry_reference = remap[reference_of_old] if len(old_ids) else remap[:0]
        self._entry_time = self._entry_time[old_ids].copy()
        self._entry_quality = self._entry_quality[old_ids].copy()
        self._index = _renumbered(self._index, new_of_old, self.hash_bits)
        self._whole = _renumbered(self._whole, new_of_old, self.hash_bits)
        start = 0
        for name in names:
            count = len(self._ids[name])
            self._ids[name] = new_ids[start : start + count]
            start += count
        self._next_id = len(old_ids)
        self._names = names
        self._codes = codes

    # --- persistence -----------------------------------------------------------------------

    def freeze(self) -> FrozenIndex:
        """A copy of the index as it is now, for `write` to save later (copies the codes, about
        a tenth of a second a million rows)."""
        flat: Any = faiss.downcast_IndexBinary(self._index.index)
        return _FrozenExact(
            hash_bits=self.hash_bits,
            codes=faiss.vector_to_array(flat.xb).reshape(-1, self.hash_bits // 8),
            code_ids=faiss.vector_to_array(self._index.id_map).astype(np.int64),
            whole_ids=faiss.vector_to_array(self._whole.id_map).astype(np.int64),
            entry_time=self._entry_time,
            entry_quality=self._entry_quality,
            ids=dict(self._ids),
            infos=dict(self._info),
        )

    def save(self, directory: Path) -> None:
        """Write the index as `.npy` files that `open` reads back."""
        self.freeze().write(directory)

    @classmethod
    def open(cls, directory: Path, hash_bits: int = PDQ_BITS) -> ExactIndex:
        """The index saved in `directory`, read into memory (FAISS's flat index holds its own
        copy of the codes, so it cannot be shared between processes)."""
        files = read_index_files(
            directory, _EXACT_KIND, _EXACT_FORMAT_VERSION, _EXACT_ARRAYS, mmap=False
        )
        if files.meta.get("hash_bits") != hash_bits:
            raise HashError(
                f"{directory}: holds {files.meta.get('hash_bits')}-bit hashes, "
                f"not {hash_bits}-bit ones"
            )
        arrays = files.arrays
        codes = np.ascontiguousarray(arrays["codes"], dtype=np.uint8)
        starts = arrays["starts"].astype(np.int64)
        rows = len(codes)
        check_rows(directory, files, rows, starts)
        if (
            codes.ndim != 2
            or codes.shape[1] != hash_bits // 8
            or not (
                len(arrays["times"]) == len(arrays["qualities"]) == len(arrays["whole"]) == rows
            )
        ):
            raise HashError(f"{directory}: cannot open the index: its arrays differ in shape")
        index = cls(hash_bits)
        ids = np.arange(rows, dtype=np.int64)
        if rows:
            index._index.add_with_ids(codes, ids)
            whole = arrays["whole"].astype(bool)
            if whole.any():
                index._whole.add_with_ids(np.ascontiguousarray(codes[whole]), ids[whole])
        index._next_id = rows
        index._names = list(files.names)
        index._codes = {name: code for code, name in enumerate(files.names)}
        index._entry_reference = np.repeat(
            np.arange(len(files.names), dtype=np.int32), np.diff(starts)
        )
        index._entry_time = arrays["times"].astype(np.float64)
        index._entry_quality = arrays["qualities"].astype(np.int16)
        for code, (name, info) in enumerate(zip(files.names, files.infos, strict=True)):
            index._ids[name] = ids[starts[code] : starts[code + 1]]
            index._info[name] = ReferenceInfo(
                name, info.duration_seconds, info.frame_count, info.full_frame_qualities,
                info.full_frame_hashes,
            )  # fmt: skip
        return index

    def search(
        self,
        queries: HashArray,
        max_distance: int,
        *,
        whole_pictures: bool = False,
        candidates: Collection[str] = (),
        retrieve: bool = True,
    ) -> Neighbours:
        """Exact: every reference is searched (`candidates` adds nothing; without
        `retrieve`, the answers are cut to them)."""
        found = self._search_all(queries, max_distance, whole_pictures)
        if retrieve:
            return found
        codes = [self._codes[name] for name in candidates if name in self._ids]
        return found.where(np.isin(found.references, codes))

    @property
    def exhaustive(self) -> bool:
        return True

    def _search_all(
        self, queries: HashArray, max_distance: int, whole_pictures: bool
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


_EXACT_KIND = "exact"
# 2: the full-frame hashes of each reference beside its rows.
_EXACT_FORMAT_VERSION = 2
_EXACT_ARRAYS = ("codes", "times", "qualities", "whole", "starts")


@dataclass(frozen=True, eq=False)
class _FrozenExact:
    """An `ExactIndex` at one moment: its codes in FAISS's order with their entry ids, and
    references to the per-entry arrays (replaced, never changed in place, by the index)."""

    hash_bits: int
    codes: npt.NDArray[np.uint8]
    code_ids: npt.NDArray[np.int64]
    whole_ids: npt.NDArray[np.int64]
    entry_time: npt.NDArray[np.float64]
    entry_quality: npt.NDArray[np.int16]
    ids: dict[str, npt.NDArray[np.int64]]
    infos: dict[str, ReferenceInfo]

    def write(self, directory: Path) -> None:
        # Saved densely, each reference's rows together in name order, as `open` numbers them.
        names = sorted(self.ids)
        entries = np.concatenate([self.ids[n] for n in names] or [np.zeros(0, np.int64)])
        size = int(self.code_ids.max()) + 1 if len(self.code_ids) else 0
        position = np.full(size, -1, dtype=np.int64)
        position[self.code_ids] = np.arange(len(self.code_ids), dtype=np.int64)
        counts = np.array([len(self.ids[n]) for n in names], dtype=np.int64)
        arrays = {
            "codes": self.codes[position[entries]].reshape(-1, self.hash_bits // 8),
            "times": self.entry_time[entries],
            "qualities": self.entry_quality[entries],
            "whole": np.isin(entries, self.whole_ids),
            "starts": np.concatenate([[0], np.cumsum(counts)]).astype(np.int64),
        }
        infos = [
            InfoRecord(
                i.duration_seconds, i.frame_count, i.full_frame_qualities, i.full_frame_hashes
            )
            for i in (self.infos[n] for n in names)
        ]
        write_index_files(
            directory, _EXACT_KIND, _EXACT_FORMAT_VERSION, arrays, names, infos,
            hash_bits=self.hash_bits,
        )  # fmt: skip


def _too_many_dead(total: int, live: int) -> bool:
    return total - live > _COMPACT_DEAD_SHARE * live + _COMPACT_SLACK


def _renumbered(
    index: faiss.IndexBinaryIDMap2, new_of_old: npt.NDArray[np.int64], hash_bits: int
) -> Any:
    """A copy of `index` whose entries carry the ids `new_of_old` gives their old ones."""
    old_ids = faiss.vector_to_array(index.id_map).astype(np.int64)
    flat: Any = faiss.downcast_IndexBinary(index.index)
    codes = faiss.vector_to_array(flat.xb).reshape(-1, hash_bits // 8)
    fresh = faiss.IndexBinaryIDMap2(faiss.IndexBinaryFlat(hash_bits))
    if len(old_ids):
        fresh.add_with_ids(np.ascontiguousarray(codes), new_of_old[old_ids])
    return fresh


def view_of_code(code: int) -> View:
    return _CODE_VIEWS[code]


def code_of_view(view: View) -> int:
    return _VIEW_CODES[view]


def view_codes(hashes: VideoHashes) -> npt.NDArray[np.int8]:
    """The view of each row as a small code (`view_of_code` reads it back)."""
    if not hashes.views:
        return np.full(len(hashes), _VIEW_CODES[View.FULL], dtype=np.int8)
    return np.array([_VIEW_CODES[v] for v in hashes.views], dtype=np.int8)
