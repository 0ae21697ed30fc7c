"""A multi-index hashing index: retrieval of candidate references, then exact verification.

Every 256-bit hash is cut into 16 chunks of 16 bits, and for each chunk a table lists the rows
by chunk value (rows sorted by value, and where each value starts). Two hashes within `r` bits
differ somewhere in at most `r // 16` bits of at least one chunk (pigeonhole), so probing each
chunk value of a query with up to `flips` bits flipped finds every row within
`16 * (flips + 1) - 1` bits, the *retrieval radius*, and few others. Those candidate rows are
checked exactly with a popcount.

The matcher searches wider than that (76 bits): a search beyond the retrieval radius takes the
references with any row within it as the candidates, and returns every pair of those references
within the full radius, found exactly (FAISS flat over their rows alone). Up to the retrieval
radius the answers equal `ExactIndex`'s; beyond it, they are exact for the references that the
retrieval found, which a copy of a reference shows with many frames close to its own.

References added after the tables were built sit in a small exact part and removed ones are
masked out, until either passes a few percent of the tables (the next search rebuilds them;
a list loading reference by reference, before any search, rebuilds as it doubles). The
tables and rows can be saved to a directory of `.npy` files and opened memory-mapped, so a
process starts without parsing or rebuilding anything and processes opening the same files
share one copy of them in the page cache.
"""

from __future__ import annotations

import itertools
from collections.abc import Collection
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import faiss
import numpy as np
import numpy.typing as npt

from hashes.index import (
    WHOLE_PICTURE_VIEWS,
    FrozenIndex,
    Neighbours,
    ReferenceInfo,
    code_of_view,
    view_codes,
)
from hashes.index_files import InfoRecord, check_rows, read_index_files, write_index_files
from hashes.retrieval_rows import EVERY_ROW, SAMPLED_ROWS, RetrievalRows
from hashes.types import PDQ_BITS, PDQ_BYTES, HashArray, HashError, VideoHashes

CHUNKS = 16
CHUNK_BITS = PDQ_BITS // CHUNKS
_VALUES = 1 << CHUNK_BITS
# Rows added or removed since the tables were built may reach this share of them, plus a few,
# before the tables are rebuilt (amortised O(1) a row, memory within a few percent of a build).
_REBUILD_SHARE = 0.05
_REBUILD_SLACK = 256
# Rows retrieved at once at most (a few hundred MB of temporaries), unless one query row alone
# retrieves more.
_BATCH_CANDIDATES = 4_000_000
_WHOLE_CODES = [code_of_view(v) for v in WHOLE_PICTURE_VIEWS]
# The kinds of index this module builds (named in meta.json): probed through the tables over
# every row, or by a flat scan of a sample of rows (`tiered_index`).
_KIND = "multihash"
_TIERED_KIND = "tiered"
# 2: the kind of index named in meta.json. 3: which rows are retrieval rows. 4: the
# references' full-frame hashes.
_FORMAT_VERSION = 4
_ARRAYS = (
    "codes", "references", "times", "qualities", "whole", "retrieval", "starts", "order",
    "bounds",
)  # fmt: skip
# The tiered index's retrieval radius: below 47 bits some confirmed copies of the development
# sets have no row of their reference at all; with a sample of the rows, 47 still left 3 of
# 200 copies of a development set unretrieved (a filmed screen, a combination, a reframing),
# which 55 found, and 55 a crop of fine texture on another set, which 63 found at the same
# cost (docs/scale.md, "The tiered index").
TIERED_RETRIEVAL_BITS = 63


def retrieval_radius(flips: int) -> int:
    """The largest distance at which every row is retrieved with `flips` bits flipped a chunk."""
    return CHUNKS * (flips + 1) - 1


@dataclass(frozen=True, eq=False)
class _Rows:
    """Rows of references, each reference's rows contiguous (`starts[code]` to the next)."""

    codes: npt.NDArray[np.uint8]
    references: npt.NDArray[np.int32]
    times: npt.NDArray[np.float64]
    qualities: npt.NDArray[np.int16]
    whole: npt.NDArray[np.bool_]
    retrieval: npt.NDArray[np.bool_]  # the rows the retrieval stage probes
    names: tuple[str, ...]
    starts: npt.NDArray[np.int64]  # len(names) + 1

    @staticmethod
    def empty() -> _Rows:
        return _Rows(
            np.zeros((0, PDQ_BYTES), np.uint8), np.zeros(0, np.int32), np.zeros(0, np.float64),
            np.zeros(0, np.int16), np.zeros(0, bool), np.zeros(0, bool), (),
            np.zeros(1, np.int64),
        )  # fmt: skip

    def __len__(self) -> int:
        return len(self.codes)

    def nbytes(self) -> int:
        arrays = (
            self.codes, self.references, self.times, self.qualities, self.whole, self.retrieval,
            self.starts,
        )  # fmt: skip
        return sum(a.nbytes for a in arrays) + sum(len(n) + 57 for n in self.names)


@dataclass(frozen=True, eq=False)
class _Tables:
    """Per chunk, the row ids sorted by that chunk's value, and where each value starts."""

    order: npt.NDArray[np.int32]  # (CHUNKS, retrieval rows): row ids
    bounds: npt.NDArray[np.int64]  # (CHUNKS, _VALUES + 1)

    @staticmethod
    def build(codes: npt.NDArray[np.uint8], rows: npt.NDArray[np.int64]) -> _Tables:
        """Tables over `rows` of `codes` (the retrieval rows)."""
        values = _chunk_values(np.asarray(codes[rows]))
        order = np.empty((CHUNKS, len(rows)), dtype=np.int32)
        bounds = np.empty((CHUNKS, _VALUES + 1), dtype=np.int64)
        for chunk in range(CHUNKS):
            order[chunk] = rows[np.argsort(values[:, chunk], kind="stable")]
            counts = np.bincount(values[:, chunk], minlength=_VALUES)
            bounds[chunk, 0] = 0
            np.cumsum(counts, out=bounds[chunk, 1:])
        return _Tables(order, bounds)

    def nbytes(self) -> int:
        return int(self.order.nbytes + self.bounds.nbytes)


def _chunk_values(codes: npt.NDArray[np.uint8]) -> npt.NDArray[np.int64]:
    """The 16 chunk values of each hash, most significant first."""
    pairs = np.ascontiguousarray(codes, dtype=np.uint8).reshape(len(codes), CHUNKS, 2)
    return pairs[:, :, 0].astype(np.int64) << 8 | pairs[:, :, 1]


def _flip_masks(flips: int) -> npt.NDArray[np.int64]:
    masks = [0]
    for count in range(1, flips + 1):
        for bits in itertools.combinations(range(CHUNK_BITS), count):
            masks.append(sum(1 << b for b in bits))
    return np.array(masks, dtype=np.int64)


def _distances(a: npt.NDArray[np.uint8], b: npt.NDArray[np.uint8]) -> npt.NDArray[np.int32]:
    xor = np.ascontiguousarray(a ^ b).view(np.uint64)
    return np.asarray(np.bitwise_count(xor).sum(axis=1, dtype=np.int32))


class MultiHashIndex:
    """Candidate retrieval, verified exactly (see the module text): by default the tables
    over every row; with `flat_bits`, a flat scan of the `retrieval_rows` (`tiered_index`)."""

    def __init__(
        self,
        *,
        flips: int = 1,
        retrieval_rows: RetrievalRows = EVERY_ROW,
        flat_bits: int | None = None,
    ) -> None:
        if not 0 <= flips <= 3:
            raise HashError(f"flips must be 0-3 (chunks of {CHUNK_BITS} bits), got {flips}")
        if flat_bits is not None and not 0 <= flat_bits <= PDQ_BITS:
            raise HashError(f"a flat retrieval radius is 0-{PDQ_BITS} bits, not {flat_bits}")
        self.flips = flips
        self.retrieval_rows = retrieval_rows
        self._flat_bits = flat_bits
        self.kind = _KIND if flat_bits is None else _TIERED_KIND
        self.retrieval_bits = retrieval_radius(flips) if flat_bits is None else flat_bits
        self._masks = _flip_masks(flips)
        self._base = _Rows.empty()
        self._tables = _Tables.build(self._base.codes, np.zeros(0, np.int64))
        self._flat: Any = None  # FAISS flat over the retrieval rows (flat probing only)
        self._flat_rows = np.zeros(0, dtype=np.int64)
        self._dead = np.zeros(0, dtype=bool)  # per base reference code
        self._dead_rows = 0
        self._added: dict[str, _Rows] = {}  # references added since the build, one each
        self._added_rows = 0
        self._added_flat: Any = None  # FAISS flat over the added rows, built on demand
        self._info: dict[str, ReferenceInfo] = {}
        self._base_code: dict[str, int] = {}

    # --- the HashIndex protocol ------------------------------------------------------------

    def __len__(self) -> int:
        return len(self._base) - self._dead_rows + self._added_rows

    def __contains__(self, reference_id: object) -> bool:
        return reference_id in self._info

    def reference_ids(self) -> list[str]:
        return sorted(self._info)

    def info(self, reference_id: str) -> ReferenceInfo:
        try:
            return self._info[reference_id]
        except KeyError:
            raise HashError(f"unknown reference {reference_id!r}") from None

    def add(self, reference_id: str, hashes: VideoHashes, *, min_quality: int = 0) -> None:
        if not reference_id:
            raise HashError("a reference needs a non-empty id")
        self.remove(reference_id)
        keep = hashes.qualities >= min_quality
        whole = np.isin(view_codes(hashes)[keep], _WHOLE_CODES)
        retrieval = self.retrieval_rows.select(hashes, among=keep)[keep]
        rows = _Rows(
            np.ascontiguousarray(hashes.hashes[keep], dtype=np.uint8),
            np.zeros(int(keep.sum()), np.int32), hashes.timestamps[keep].astype(np.float64),
            hashes.qualities[keep].astype(np.int16), whole, retrieval, (reference_id,),
            np.array([0, int(keep.sum())], np.int64),
        )  # fmt: skip
        self._added[reference_id] = rows
        self._added_rows += len(rows)
        self._added_flat = None
        full = hashes.full_frame()
        self._info[reference_id] = ReferenceInfo(
            reference_id, hashes.duration_seconds, hashes.frame_count, full.qualities.copy(),
            np.ascontiguousarray(full.hashes, dtype=np.uint8),
        )  # fmt: skip
        # A list loading reference by reference rebuilds only as it doubles; searches fold
        # in smaller additions (`_REBUILD_SHARE`) before they search.
        if self._added_rows > len(self._base) + _REBUILD_SLACK:
            self.rebuild()

    def remove(self, reference_id: str) -> None:
        self._info.pop(reference_id, None)
        added = self._added.pop(reference_id, None)
        if added is not None:
            self._added_rows -= len(added)
            self._added_flat = None
        code = self._base_code.pop(reference_id, None)
        if code is not None:
            self._dead[code] = True
            self._dead_rows += int(self._base.starts[code + 1] - self._base.starts[code])
            if self._dead_rows > _REBUILD_SHARE * (len(self._base) - self._dead_rows) + (
                _REBUILD_SLACK
            ):
                self.rebuild()

    def memory_bytes(self) -> int:
        added = sum(r.nbytes() for r in self._added.values())
        # The FAISS copy of the added rows, when built.
        added += self._added_rows * (PDQ_BYTES + 8) if self._added_flat is not None else 0
        info = sum(
            i.full_frame_qualities.nbytes + i.full_frame_hashes.nbytes + 100
            for i in self._info.values()
        )
        # The flat retrieval's copy of the retrieval rows' codes, and their row ids.
        flat = len(self._flat_rows) * (PDQ_BYTES + 8)
        base = self._base.nbytes() + self._tables.nbytes() + flat
        return base + self._dead.nbytes + added + info

    def search(
        self,
        queries: HashArray,
        max_distance: int,
        *,
        whole_pictures: bool = False,
        candidates: Collection[str] = (),
        retrieve: bool = True,
    ) -> Neighbours:
        queries = np.ascontiguousarray(queries, dtype=np.uint8)
        if queries.ndim != 2 or queries.shape[1] != PDQ_BYTES:
            raise HashError(f"query hashes must have shape (n, {PDQ_BYTES})")
        if self._added_rows > _REBUILD_SHARE * len(self._base) + _REBUILD_SLACK:
            self.rebuild()
        if retrieve:
            base = self._search_base(queries, max_distance, whole_pictures, candidates)
        else:
            base = self._search_named(queries, max_distance, whole_pictures, candidates)
        added = _no_pairs()
        if self._added_rows and len(queries):
            added = self._search_added(queries, max_distance, whole_pictures)
            if not retrieve:
                position = {name: code for code, name in enumerate(self._added)}
                keep = np.isin(added[1], [position[n] for n in candidates if n in position])
                added = tuple(part[keep] for part in added)
        parts = (base, added)
        # The added references' codes follow the base's names.
        references = np.concatenate([base[1], added[1] + len(self._base.names)])
        return Neighbours(
            query_rows=np.concatenate([p[0] for p in parts]).astype(np.int64),
            references=references.astype(np.int32),
            reference_times=np.concatenate([p[2] for p in parts]),
            reference_qualities=np.concatenate([p[3] for p in parts]).astype(np.int16),
            distances=np.concatenate([p[4] for p in parts]).astype(np.int32),
            reference_ids=self._base.names + tuple(self._added),
        )

    @property
    def exhaustive(self) -> bool:
        """Searches beyond the retrieval radius (or past a sample of the rows) answer for the
        references retrieved alone."""
        return False

    # --- persistence -----------------------------------------------------------------------

    def freeze(self) -> FrozenIndex:
        """The index as it is now, for `write` to save later: references to its arrays (which
        it replaces, never changes in place) and copies of the small parts; no row is copied."""
        return _FrozenMultiHash(
            self._base, self._tables, self._dead.copy(), dict(self._added), dict(self._info),
            self.kind, self.retrieval_rows,
        )  # fmt: skip

    def save(self, directory: Path) -> None:
        """Write the index (rebuilt, in the files only) as `.npy` files that `open` maps into
        memory."""
        self.freeze().write(directory)

    @classmethod
    def open(
        cls,
        directory: Path,
        *,
        flips: int = 1,
        retrieval_rows: RetrievalRows = EVERY_ROW,
        flat_bits: int | None = None,
    ) -> MultiHashIndex:
        """The index saved in `directory`, its arrays memory-mapped read-only (a flat
        retrieval copies its rows' codes into memory)."""
        index = cls(flips=flips, retrieval_rows=retrieval_rows, flat_bits=flat_bits)
        files = read_index_files(directory, index.kind, _FORMAT_VERSION, _ARRAYS, mmap=True)
        if files.meta.get("chunks") != CHUNKS:
            chunks = files.meta.get("chunks")
            raise HashError(f"{directory}: cut into {chunks} chunks, not {CHUNKS}")
        if files.meta.get("retrieval_rows") != retrieval_rows.design:
            raise HashError(
                f"{directory}: retrieval rows {files.meta.get('retrieval_rows')!r}, "
                f"not {retrieval_rows.design!r}"
            )
        arrays = files.arrays
        rows = len(arrays["codes"])
        check_rows(directory, files, rows, arrays["starts"])
        tabled = int(np.count_nonzero(arrays["retrieval"])) if flat_bits is None else 0
        if (
            len(arrays["retrieval"]) != rows
            or arrays["order"].shape != (CHUNKS, tabled)
            or arrays["bounds"].shape != (CHUNKS, _VALUES + 1)
        ):
            raise HashError(f"{directory}: cannot open the index: its tables do not fit its rows")
        names = files.names
        index._base = _Rows(
            arrays["codes"], arrays["references"], arrays["times"], arrays["qualities"],
            arrays["whole"], arrays["retrieval"], names, arrays["starts"],
        )  # fmt: skip
        if flat_bits is None:
            index._tables = _Tables(arrays["order"], arrays["bounds"])
        else:
            index._build_flat()
        index._dead = np.zeros(len(names), dtype=bool)
        index._base_code = {name: code for code, name in enumerate(names)}
        for name, info in zip(names, files.infos, strict=True):
            index._info[name] = ReferenceInfo(
                name, info.duration_seconds, info.frame_count, info.full_frame_qualities,
                info.full_frame_hashes,
            )  # fmt: skip
        return index

    def reopen(self, directory: Path) -> MultiHashIndex:
        """The index an index like this one saved in `directory`, opened to probe as this one
        does."""
        return MultiHashIndex.open(
            directory, flips=self.flips, retrieval_rows=self.retrieval_rows,
            flat_bits=self._flat_bits,
        )  # fmt: skip

    # --- building --------------------------------------------------------------------------

    def rebuild(self) -> None:
        """Fold the added references into the tables and drop the removed ones."""
        if not self._added and not self._dead_rows:
            return
        self._base = _merged(self._base, self._dead, self._added)
        if self._flat_bits is None:
            self._tables = _Tables.build(self._base.codes, np.flatnonzero(self._base.retrieval))
        else:
            self._build_flat()
        names = self._base.names
        self._dead = np.zeros(len(names), dtype=bool)
        self._dead_rows = 0
        self._base_code = {name: code for code, name in enumerate(names)}
        self._added = {}
        self._added_rows = 0
        self._added_flat = None

    def _build_flat(self) -> None:
        """The flat retrieval over the base's retrieval rows."""
        self._flat_rows = np.flatnonzero(self._base.retrieval).astype(np.int64)
        self._flat = faiss.IndexBinaryFlat(PDQ_BITS)
        if len(self._flat_rows):
            self._flat.add(np.ascontiguousarray(self._base.codes[self._flat_rows]))

    # --- searching -------------------------------------------------------------------------

    def _search_base(
        self,
        queries: HashArray,
        max_distance: int,
        whole_pictures: bool,
        candidates: Collection[str] = (),
    ) -> tuple[npt.NDArray[Any], ...]:
        base = self._base
        if len(queries) == 0 or len(base) == 0:
            return _no_pairs()
        known = [self._base_code[c] for c in candidates if c in self._base_code]
        sampled = not self.retrieval_rows.keeps_every_row
        # A sample finds its candidates at the full retrieval radius whatever the search's:
        # its answers are those of the references it retrieves.
        retrieval = self.retrieval_bits if sampled else min(max_distance, self.retrieval_bits)
        if self._flat_bits is None:
            found = [
                self._near_pairs(queries, batch, retrieval, whole_pictures)
                for batch in self._batches(queries)
            ]
        else:
            found = [self._flat_pairs(queries, retrieval, whole_pictures)]
        query_rows = np.concatenate([f[0] for f in found])
        rows = np.concatenate([f[1] for f in found])
        distances = np.concatenate([f[2] for f in found])
        if (sampled or max_distance > self.retrieval_bits) and (len(rows) or known):
            # Beyond the retrieval radius, or past a sample of the rows: every pair of the
            # references retrieved (and of those named), exactly.
            codes = np.union1d(base.references[rows], np.array(known, dtype=np.int32))
            query_rows, rows, distances = self._verify(
                queries, max_distance, codes.astype(np.int32), whole_pictures
            )
        return self._base_pairs(query_rows, rows, distances)

    def _search_named(
        self,
        queries: HashArray,
        max_distance: int,
        whole_pictures: bool,
        names: Collection[str],
    ) -> tuple[npt.NDArray[Any], ...]:
        """Every pair of the base references `names`, exactly, nothing retrieved."""
        codes = [self._base_code[name] for name in names if name in self._base_code]
        if len(queries) == 0 or not codes:
            return _no_pairs()
        query_rows, rows, distances = self._verify(
            queries, max_distance, np.array(sorted(codes), dtype=np.int32), whole_pictures
        )
        return self._base_pairs(query_rows, rows, distances)

    def _base_pairs(
        self,
        query_rows: npt.NDArray[np.int64],
        rows: npt.NDArray[np.int64],
        distances: npt.NDArray[np.int32],
    ) -> tuple[npt.NDArray[Any], ...]:
        """(query row, reference code, time, quality, distance) of pairs with base `rows`."""
        base = self._base
        return (
            query_rows, base.references[rows], np.asarray(base.times[rows]),
            np.asarray(base.qualities[rows]), distances,
        )  # fmt: skip

    def _batches(self, queries: HashArray) -> list[npt.NDArray[np.int64]]:
        """The query rows in batches whose probes retrieve at most about `_BATCH_CANDIDATES`
        rows: buckets of common chunk values (black, walls) hold many rows."""
        keys, chunk = self._probe_keys(queries)
        sizes = self._tables.bounds[chunk, keys + 1] - self._tables.bounds[chunk, keys]
        per_query = sizes.reshape(len(queries), -1).sum(axis=1)
        batch_of = np.cumsum(per_query) // _BATCH_CANDIDATES
        splits = np.flatnonzero(np.diff(batch_of)) + 1
        return np.split(np.arange(len(queries), dtype=np.int64), splits)

    def _near_pairs(
        self, queries: HashArray, batch: npt.NDArray[np.int64], retrieval: int,
        whole_pictures: bool,
    ) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.int64], npt.NDArray[np.int32]]:  # fmt: skip
        """(query row, base row, distance) of the live rows within `retrieval` bits of the
        query rows `batch`, each pair once."""
        base = self._base
        batch_rows, rows = self._retrieve(queries[batch])
        query_rows = batch[batch_rows]
        keep = ~self._dead[base.references[rows]]
        if whole_pictures:
            keep &= base.whole[rows]
        query_rows, rows = query_rows[keep], rows[keep]
        distances = _distances(queries[query_rows], np.asarray(base.codes[rows]))
        near = distances <= retrieval
        query_rows, rows, distances = query_rows[near], rows[near], distances[near]
        # A pair close in several chunks was retrieved once per chunk: keep it once.
        pair = query_rows * len(base) + rows
        order = np.argsort(pair, kind="stable")
        first = np.ones(len(order), dtype=bool)
        first[1:] = np.diff(pair[order]) != 0
        unique = order[first]
        return query_rows[unique], rows[unique], distances[unique]

    def _flat_pairs(
        self, queries: HashArray, retrieval: int, whole_pictures: bool
    ) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.int64], npt.NDArray[np.int32]]:
        """(query row, base row, distance) of the live retrieval rows within `retrieval` bits,
        by a flat scan."""
        if not len(self._flat_rows):
            return np.zeros(0, np.int64), np.zeros(0, np.int64), np.zeros(0, np.int32)
        limits, distances, found = self._flat.range_search(queries, retrieval + 1)
        query_rows = np.repeat(
            np.arange(len(queries), dtype=np.int64), np.diff(limits).astype(np.int64)
        )
        rows = self._flat_rows[found.astype(np.int64)]
        keep = ~self._dead[self._base.references[rows]]
        if whole_pictures:
            keep &= self._base.whole[rows]
        return query_rows[keep], rows[keep], distances[keep].astype(np.int32)

    def _probe_keys(
        self, queries: HashArray
    ) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.int64]]:
        """The chunk values to look up, (queries, CHUNKS, probes), and their chunks."""
        values = _chunk_values(queries)
        keys = values[:, :, None] ^ self._masks[None, None, :]
        chunk = np.broadcast_to(np.arange(CHUNKS)[None, :, None], keys.shape)
        return keys, chunk

    def retrieved_references(self, queries: HashArray) -> set[str]:
        """The references the retrieval stage finds for `queries` (for measuring its recall):
        those with a row within the retrieval radius, and every reference added since the
        tables were built (searched exactly)."""
        queries = np.ascontiguousarray(queries, dtype=np.uint8)
        found = self._search_base(queries, self.retrieval_bits, whole_pictures=False)
        names = {self._base.names[int(code)] for code in np.unique(found[1])}
        return names | set(self._added)

    def _retrieve(self, queries: HashArray) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.int64]]:
        """(query row, base row) pairs sharing a chunk value within `flips` bits (a pair
        close in several chunks comes once per chunk)."""
        keys, chunk = self._probe_keys(queries)
        query = np.broadcast_to(np.arange(len(queries))[:, None, None], keys.shape)
        lo = self._tables.bounds[chunk, keys].ravel()
        hi = self._tables.bounds[chunk, keys + 1].ravel()
        sizes = hi - lo
        total = int(sizes.sum())
        if total == 0:
            return np.zeros(0, np.int64), np.zeros(0, np.int64)
        probe = np.repeat(np.arange(len(sizes)), sizes)
        offsets = np.arange(total) - np.repeat(np.cumsum(sizes) - sizes, sizes)
        positions = lo[probe] + offsets
        rows = np.asarray(self._tables.order[chunk.ravel()[probe], positions], dtype=np.int64)
        query_rows = query.ravel()[probe].astype(np.int64)
        return query_rows, rows

    def _verify(
        self, queries: HashArray, max_distance: int, candidates: npt.NDArray[np.int32],
        whole_pictures: bool,
    ) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.int64], npt.NDArray[np.int32]]:  # fmt: skip
        base = self._base
        rows = np.concatenate(
            [np.arange(base.starts[c], base.starts[c + 1], dtype=np.int64) for c in candidates]
        )
        if whole_pictures:
            rows = rows[np.asarray(base.whole[rows])]
        if len(rows) == 0:
            return np.zeros(0, np.int64), rows, np.zeros(0, np.int32)
        flat = faiss.IndexBinaryFlat(PDQ_BITS)
        flat.add(np.ascontiguousarray(base.codes[rows]))
        limits, distances, found = flat.range_search(queries, max_distance + 1)
        query_rows = np.repeat(
            np.arange(len(queries), dtype=np.int64), np.diff(limits).astype(np.int64)
        )
        return query_rows, rows[found.astype(np.int64)], distances.astype(np.int32)

    def _search_added(
        self, queries: HashArray, max_distance: int, whole_pictures: bool
    ) -> tuple[npt.NDArray[Any], ...]:
        """The references added since the build, searched exactly (they are few)."""
        parts = list(self._added.values())
        codes = np.concatenate([p.codes for p in parts])
        whole = np.concatenate([p.whole for p in parts])
        references = np.repeat(np.arange(len(parts), dtype=np.int32), [len(p) for p in parts])
        times = np.concatenate([p.times for p in parts])
        qualities = np.concatenate([p.qualities for p in parts])
        if self._added_flat is None:
            self._added_flat = faiss.IndexBinaryFlat(PDQ_BITS)
            self._added_flat.add(codes)
        limits, distances, found = self._added_flat.range_search(queries, max_distance + 1)
        query_rows = np.repeat(
            np.arange(len(queries), dtype=np.int64), np.diff(limits).astype(np.int64)
        )
        found = found.astype(np.int64)
        if whole_pictures:
            keep = whole[found]
            query_rows, found, distances = query_rows[keep], found[keep], distances[keep]
        return query_rows, references[found], times[found], qualities[found], distances


def _merged(base: _Rows, dead: npt.NDArray[np.bool_], added: dict[str, _Rows]) -> _Rows:
    """The rows of `base`'s live references, then those of `added`."""
    parts: list[_Rows] = []
    for code, name in enumerate(base.names):
        if not dead[code]:
            start, end = int(base.starts[code]), int(base.starts[code + 1])
            parts.append(_Rows(
                np.asarray(base.codes[start:end]), base.references[start:end],
                np.asarray(base.times[start:end]), np.asarray(base.qualities[start:end]),
                np.asarray(base.whole[start:end]), np.asarray(base.retrieval[start:end]),
                (name,), np.array([0, end - start]),
            ))  # fmt: skip
    parts.extend(added.values())
    counts = np.array([len(p) for p in parts], dtype=np.int64)
    return _Rows(
        np.concatenate([p.codes for p in parts] or [np.zeros((0, PDQ_BYTES), np.uint8)]),
        np.repeat(np.arange(len(parts), dtype=np.int32), counts),
        np.concatenate([p.times for p in parts] or [np.zeros(0)]),
        np.concatenate([p.qualities for p in parts] or [np.zeros(0, np.int16)]),
        np.concatenate([p.whole for p in parts] or [np.zeros(0, bool)]),
        np.concatenate([p.retrieval for p in parts] or [np.zeros(0, bool)]),
        tuple(p.names[0] for p in parts),
        np.concatenate([[0], np.cumsum(counts)]).astype(np.int64),
    )


@dataclass(frozen=True, eq=False)
class _FrozenMultiHash:
    """A `MultiHashIndex` at one moment (see `MultiHashIndex.freeze`)."""

    base: _Rows
    tables: _Tables
    dead: npt.NDArray[np.bool_]
    added: dict[str, _Rows]
    infos: dict[str, ReferenceInfo]
    kind: str  # `_KIND`: probed through the tables; else by a flat scan, built when opened
    retrieval_rows: RetrievalRows

    def write(self, directory: Path) -> None:
        """Write the rows and tables, rebuilt when references changed since the last build
        (the index itself keeps its own until its searches rebuild it)."""
        base, tables = self.base, self.tables
        if self.added or self.dead.any():
            base = _merged(base, self.dead, self.added)
            if self.kind == _KIND:
                tables = _Tables.build(base.codes, np.flatnonzero(base.retrieval))
        arrays: dict[str, npt.NDArray[Any]] = {
            "codes": base.codes, "references": base.references, "times": base.times,
            "qualities": base.qualities, "whole": base.whole, "retrieval": base.retrieval,
            "starts": base.starts, "order": tables.order, "bounds": tables.bounds,
        }  # fmt: skip
        infos = [
            InfoRecord(
                i.duration_seconds, i.frame_count, i.full_frame_qualities, i.full_frame_hashes
            )
            for i in (self.infos[name] for name in base.names)
        ]
        write_index_files(
            directory, self.kind, _FORMAT_VERSION, arrays, base.names, infos, chunks=CHUNKS,
            retrieval_rows=self.retrieval_rows.design,
        )  # fmt: skip


def _no_pairs() -> tuple[npt.NDArray[Any], ...]:
    return (
        np.zeros(0, np.int64), np.zeros(0, np.int32), np.zeros(0, np.float64),
        np.zeros(0, np.int16), np.zeros(0, np.int32),
    )  # fmt: skip


def tiered_index(retrieval_bits: int = TIERED_RETRIEVAL_BITS) -> MultiHashIndex:
    """The tiered index: a flat scan of a sample of the rows (`SAMPLED_ROWS`, about 4% of
    them) within `retrieval_bits` finds the candidate references, whose every row is then
    searched exactly (docs/scale.md)."""
    return MultiHashIndex(retrieval_rows=SAMPLED_ROWS, flat_bits=retrieval_bits)


def open_tiered_index(
    directory: Path, retrieval_bits: int = TIERED_RETRIEVAL_BITS
) -> MultiHashIndex:
    """The tiered index saved in `directory` (`MultiHashIndex.open`); the radius is the
    search's, not the files'."""
    return MultiHashIndex.open(directory, retrieval_rows=SAMPLED_ROWS, flat_bits=retrieval_bits)
