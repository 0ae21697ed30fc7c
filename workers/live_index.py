"""The matcher's in-memory index, kept in step with the hash list in the store.

Every `poll_seconds` it asks the store what changed since the version it has
(`references_changed_since`) and applies only those references: active ones are (re)indexed,
any other status is removed. No full rebuild, no restart; a change is seen within one poll.
A savable index can be written as a snapshot and reopened (memory-mapped, for the multi-hash
index) by a later process, which then syncs only the changes since the snapshot's version.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import shutil
import time
from collections.abc import Awaitable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol, TypeGuard

from hashes.cascade import Searcher
from hashes.formats.jsonl import loads_record
from hashes.index import FrozenIndex
from hashes.matcher import Matcher, MatchParams
from hashes.types import HashError, VideoHashes, VideoMatch
from triage import metrics
from triage.errors import TriageError
from triage.models import ReferenceHashes
from triage.store.protocols import HashList

_log = logging.getLogger(__name__)


class MutableIndex(Protocol):
    """What the live index needs of a frame-hash index (`hashes.index.ExactIndex` fits)."""

    def add(self, reference_id: str, hashes: VideoHashes) -> None: ...

    def remove(self, reference_id: str) -> None: ...

    def __len__(self) -> int: ...


class SavableIndex(MutableIndex, Protocol):
    """An index that can be frozen, written to a directory and opened from it again
    (`ExactIndex` and `MultiHashIndex` fit)."""

    def freeze(self) -> FrozenIndex: ...

    def reference_ids(self) -> list[str]: ...


# Beside the saved index: the hash-list version it reflects and the references' labels.
SNAPSHOT_INDEX_DIR = "index"
SNAPSHOT_LIST_FILE = "list.json"
# 1: list.json names its own format, and when it was written.
SNAPSHOT_FORMAT_VERSION = 1


@dataclass(frozen=True)
class SnapshotListing:
    """What a snapshot holds beside its index: the hash-list version the index reflects, the
    labels and full-frames-only references, and when it was written (Unix time)."""

    version: int
    labels: dict[str, str] = field(default_factory=dict)
    full_frames_only: frozenset[str] = frozenset()
    written_at: float = 0.0
    # The design of reference views the index holds (`LiveIndex.design`), and the references
    # indexed on their full frames alone for being of another.
    design: str | None = None
    other_design: frozenset[str] = frozenset()


def read_snapshot_listing(directory: Path) -> SnapshotListing:
    """The listing of the snapshot in `directory`; `TriageError` naming why it cannot be
    used (missing, unreadable, another format)."""
    try:
        listing = json.loads((directory / SNAPSHOT_LIST_FILE).read_text())
        found = listing.get("format_version")
        if found != SNAPSHOT_FORMAT_VERSION:
            raise TriageError(
                f"{directory}: snapshot format {found!r}, this version reads "
                f"{SNAPSHOT_FORMAT_VERSION}"
            )
        return SnapshotListing(
            version=int(listing["version"]),
            labels={str(k): str(v) for k, v in dict(listing["labels"]).items()},
            full_frames_only=frozenset(str(r) for r in listing["full_frames_only"]),
            written_at=float(listing["written_at"]),
            design=None if listing["design"] is None else str(listing["design"]),
            other_design=frozenset(str(r) for r in listing["other_design"]),
        )
    except (OSError, ValueError, KeyError, TypeError, AttributeError) as exc:
        raise TriageError(f"{directory}: not a hash-list snapshot: {exc}") from exc


@dataclass(frozen=True)
class OpenedSnapshot:
    """An index opened from a snapshot, the searcher over it, and the listing beside it."""

    index: SavableIndex
    searcher: Searcher
    listing: SnapshotListing


@dataclass(frozen=True)
class _Parsed:
    """A changed reference and the rows to index for it: None to remove it (not matchable, or
    unreadable); its full frames alone when its derived rows are of another design."""

    item: ReferenceHashes
    hashes: VideoHashes | None
    other_design: bool = False


class LiveIndex:
    """An index plus the matcher searching it, synchronised with `store`.

    Matching runs in a thread (it is CPU work) while holding a lock that `sync` also takes, so
    the index never changes under a running match.
    """

    def __init__(
        self,
        store: HashList,
        index: MutableIndex,
        searcher: Searcher,
        *,
        design: str | None = None,
    ) -> None:
        self._store = store
        # The design of reference views this service makes (`ReferenceParams.design`): a
        # stored record whose derived rows were made otherwise is indexed on its full frames
        # alone, never mixed in, until it is hashed again. None: every record as it is.
        self._design = design
        self._other_design: set[str] = set()
        self._index = index
        self._searcher = searcher
        self._version = 0
        self._indexed: set[str] = set()
        self._full_frames_only: set[str] = set()
        self._labels: dict[str, str] = {}
        self._lock = asyncio.Lock()
        self._sync_lock = asyncio.Lock()
        self._loaded = False
        self._changes_applied = 0

    @property
    def version(self) -> int:
        return self._version

    @property
    def design(self) -> str | None:
        """The design of reference views indexed whole (None: every record as it is)."""
        return self._design

    @property
    def loaded(self) -> bool:
        """True once the whole list has been read at least once (for `/readyz`)."""
        return self._loaded

    @property
    def changes_applied(self) -> int:
        """References (re)indexed or removed by the syncs of this live index so far."""
        return self._changes_applied

    def __len__(self) -> int:
        return len(self._indexed)

    def label(self, reference_id: str) -> str:
        return self._labels.get(reference_id, reference_id)

    async def sync(self) -> int:
        """Apply every change since the last sync; returns how many references changed."""
        # One sync at a time: two overlapping ones could apply an older snapshot last.
        async with self._sync_lock:
            return await self._sync()

    async def _sync(self) -> int:
        changes = await self._store.references_changed_since(self._version)
        if not changes.changed:
            self._version = max(self._version, changes.version)
            self._loaded = True
            return 0
        # Parse outside the lock, and in a thread: a whole list takes seconds to minutes, and the
        # event loop keeps answering (health checks, the API) meanwhile.
        parsed = await asyncio.to_thread(self._parse_all, changes.changed)
        async with self._lock:
            # Matches also run in a thread under this lock, so the index never changes under one.
            await asyncio.to_thread(self._apply_all, parsed)
            self._version = changes.version
        self._loaded = True
        self._changes_applied += len(parsed)
        self._publish()
        return len(parsed)

    def _publish(self) -> None:
        metrics.hashlist_references.set(len(self._indexed))
        metrics.hashlist_full_frames_only_references.set(len(self._full_frames_only))
        metrics.hashlist_other_design_references.set(len(self._other_design))
        metrics.hashlist_version.set(self._version)

    def _parse_all(self, items: Sequence[ReferenceHashes]) -> list[_Parsed]:
        return [self._parse(item) for item in items]

    def _apply_all(self, parsed: list[_Parsed]) -> None:
        for one in parsed:
            self._apply(one)

    def _parse(self, item: ReferenceHashes) -> _Parsed:
        reference = item.reference
        if not reference.matchable or item.hash_record is None:
            return _Parsed(item, None)
        try:
            hashes = loads_record(item.hash_record).hashes
        except HashError as exc:
            _log.error("reference %s has an unreadable hash record: %s", reference.id, exc)
            return _Parsed(item, None)
        if self._design is not None and not hashes.made_with(self._design):
            _log.warning(
                "reference %s: its derived views were made with %r, this service makes %r; "
                "matching it on its full frames only until it is hashed again "
                "(POST /v1/references/%s/rehash, or upload it again)",
                reference.id, hashes.view_design, self._design, reference.id,
            )  # fmt: skip
            return _Parsed(item, hashes.full_frame(), other_design=True)
        return _Parsed(item, hashes)

    def _apply(self, parsed: _Parsed) -> None:
        item, hashes = parsed.item, parsed.hashes
        reference_id = item.reference.id
        if reference_id in self._indexed:
            self._index.remove(reference_id)
            self._indexed.discard(reference_id)
            self._full_frames_only.discard(reference_id)
            self._other_design.discard(reference_id)
        if hashes is not None and len(hashes) > 0:
            self._index.add(reference_id, hashes)
            self._indexed.add(reference_id)
            if item.reference.full_frames_only:
                self._full_frames_only.add(reference_id)
            elif parsed.other_design:
                self._other_design.add(reference_id)
            self._labels[reference_id] = item.reference.label

    async def save_snapshot(self, directory: Path) -> SnapshotListing:
        """Write the index and the version it reflects to `directory` (replacing what is
        there), so a process starting later opens it (`restore_snapshot`, `load`) and syncs
        only the changes since, instead of parsing and indexing the whole list.

        Matching and syncing wait only while the index is frozen; the files are written in a
        thread. One writer at a time per directory is the caller's business."""
        index = self._index
        if not _is_savable(index):
            raise TriageError(f"{type(index).__name__} cannot be saved; use a savable index")
        async with self._lock:
            frozen = index.freeze()
            listing = SnapshotListing(
                version=self._version,
                labels={r: self._labels[r] for r in self._indexed if r in self._labels},
                full_frames_only=frozenset(self._full_frames_only),
                written_at=time.time(),
                design=self._design,
                other_design=frozenset(self._other_design),
            )
        await asyncio.to_thread(_write_snapshot, directory, frozen, listing)
        return listing

    def restore_snapshot(self, directory: Path) -> None:
        """Adopt the version and labels saved beside the index this live index was built
        over (opened from `directory / SNAPSHOT_INDEX_DIR`); the next sync applies only the
        changes since. Call before the first sync."""
        index = self._index
        if not _is_savable(index):
            raise TriageError(f"{type(index).__name__} cannot be restored from a snapshot")
        self._restore(index, read_snapshot_listing(directory))

    def _restore(self, index: SavableIndex, listing: SnapshotListing) -> None:
        self._version = listing.version
        self._indexed = set(index.reference_ids())
        self._labels = {r: label for r, label in listing.labels.items() if r in self._indexed}
        self._full_frames_only = set(listing.full_frames_only) & self._indexed
        self._other_design = set(listing.other_design) & self._indexed

    async def load(self, opening: Awaitable[OpenedSnapshot | None]) -> OpenedSnapshot | None:
        """The first load: adopt the snapshot `opening` gives (None: there is none to use, so
        the whole list is read), then sync the changes since. Other syncs (a lookup's) wait
        until it is done, so nothing is applied twice or mixed."""
        async with self._sync_lock:
            if self._loaded:
                raise TriageError("the live index is loaded already")
            snapshot = await opening
            if snapshot is not None:
                async with self._lock:
                    self._index, self._searcher = snapshot.index, snapshot.searcher
                    self._restore(snapshot.index, snapshot.listing)
            await self._sync()
            self._publish()  # also when nothing changed since the snapshot
        return snapshot

    @property
    def match_params(self) -> MatchParams:
        """The parameters of the matcher, which the query cascade decides its steps with."""
        return self._searcher.params

    async def match(self, query: VideoHashes) -> list[VideoMatch]:
        """Matches of `query` against the current list, best first."""
        async with self._lock:
            if not self._indexed:
                return []
            return await asyncio.to_thread(self._searcher.match, query)

    async def run(self, stop: asyncio.Event, poll_seconds: float) -> None:
        """Keep syncing, every `poll_seconds` (`index.sync_seconds`), until `stop` is set."""
        while not stop.is_set():
            try:
                await self.sync()
            except (TriageError, HashError):
                _log.exception("hash-list sync failed; trying again")
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), poll_seconds)


def _is_savable(index: MutableIndex) -> TypeGuard[SavableIndex]:
    return callable(getattr(index, "freeze", None)) and callable(
        getattr(index, "reference_ids", None)
    )


def _write_snapshot(directory: Path, frozen: FrozenIndex, listing: SnapshotListing) -> None:
    staging = directory.with_name(directory.name + ".new")
    shutil.rmtree(staging, ignore_errors=True)
    frozen.write(staging / SNAPSHOT_INDEX_DIR)
    described = {
        "format_version": SNAPSHOT_FORMAT_VERSION,
        "version": listing.version,
        "labels": listing.labels,
        "full_frames_only": sorted(listing.full_frames_only),
        "written_at": listing.written_at,
        "design": listing.design,
        "other_design": sorted(listing.other_design),
    }
    (staging / SNAPSHOT_LIST_FILE).write_text(json.dumps(described))
    # Swap the whole directory at once: a reader sees the old snapshot or the new one (a
    # process that mapped the old files keeps them until it exits).
    retired = directory.with_name(directory.name + ".old")
    shutil.rmtree(retired, ignore_errors=True)
    if directory.exists():
        directory.rename(retired)
    staging.rename(directory)
    shutil.rmtree(retired, ignore_errors=True)


def live_index_of(store: HashList, matcher: Matcher, design: str | None = None) -> LiveIndex:
    """The live index a worker runs: `matcher`'s index kept in step with `store`'s list of
    references of `design`, and searched with `matcher`."""
    return LiveIndex(store, matcher.index, matcher, design=design)
