"""The matcher's in-memory index, kept in step with the hash list in the store.

Every `poll_seconds` it asks the store what changed since the version it has
(`references_changed_since`) and applies only those references: active ones are (re)indexed,
any other status is removed. No full rebuild, no restart; a change is seen within one poll.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import Protocol

from hashes.cascade import Searcher
from hashes.formats.jsonl import loads_record
from hashes.matcher import MatchParams
from hashes.types import HashError, VideoHashes, VideoMatch
from triage import metrics
from triage.errors import TriageError
from triage.models import ReferenceHashes
from triage.store.protocol import Store

_log = logging.getLogger(__name__)


class MutableIndex(Protocol):
    """What the live index needs of a frame-hash index (`hashes.index.ExactIndex` fits)."""

    def add(self, reference_id: str, hashes: VideoHashes) -> None: ...

    def remove(self, reference_id: str) -> None: ...

    def __len__(self) -> int: ...


class LiveIndex:
    """An index plus the matcher searching it, synchronised with `store`.

    Matching runs in a thread (it is CPU work) while holding a lock that `sync` also takes, so
    the index never changes under a running match.
    """

    def __init__(
        self,
        store: Store,
        index: MutableIndex,
        searcher: Searcher,
    ) -> None:
        self._store = store
        self._index = index
        self._searcher = searcher
        self._version = 0
        self._indexed: set[str] = set()
        self._full_frames_only: set[str] = set()
        self._labels: dict[str, str] = {}
        self._lock = asyncio.Lock()
        self._sync_lock = asyncio.Lock()
        self._loaded = False

    @property
    def version(self) -> int:
        return self._version

    @property
    def loaded(self) -> bool:
        """True once the whole list has been read at least once (for `/readyz`)."""
        return self._loaded

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
        # Parse outside the lock: it can take a while for long references.
        parsed = [(item, self._parse(item)) for item in changes.changed]
        async with self._lock:
            for item, hashes in parsed:
                self._apply(item, hashes)
            self._version = changes.version
        self._loaded = True
        metrics.hashlist_references.set(len(self._indexed))
        metrics.hashlist_full_frames_only_references.set(len(self._full_frames_only))
        metrics.hashlist_version.set(self._version)
        return len(parsed)

    def _parse(self, item: ReferenceHashes) -> VideoHashes | None:
        reference = item.reference
        if not reference.matchable or item.hash_record is None:
            return None
        try:
            return loads_record(item.hash_record).hashes
        except HashError as exc:
            _log.error("reference %s has an unreadable hash record: %s", reference.id, exc)
            return None

    def _apply(self, item: ReferenceHashes, hashes: VideoHashes | None) -> None:
        reference_id = item.reference.id
        if reference_id in self._indexed:
            self._index.remove(reference_id)
            self._indexed.discard(reference_id)
            self._full_frames_only.discard(reference_id)
        if hashes is not None and len(hashes) > 0:
            self._index.add(reference_id, hashes)
            self._indexed.add(reference_id)
            if item.reference.full_frames_only:
                self._full_frames_only.add(reference_id)
            self._labels[reference_id] = item.reference.label

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

    async def run(self, stop: asyncio.Event, poll_seconds: float = 1.0) -> None:
        """Keep syncing until `stop` is set."""
        while not stop.is_set():
            try:
                await self.sync()
            except (TriageError, HashError):
                _log.exception("hash-list sync failed; trying again")
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), poll_seconds)
