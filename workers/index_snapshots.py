"""The index a process serves with, and its snapshots on disk.

At start the process opens the snapshot when there is one (the multi-hash index memory-mapped,
so the processes of a machine share one copy), adopts the hash-list version it reflects and
syncs only the changes since. A snapshot that cannot be read, or was written for another kind
of index, another format or another store, is ignored with a warning and the list is read
whole from the store instead: never a mix of the two.

Afterwards any process may write a newer snapshot, per `index.snapshot_after_changes` and
`index.snapshot_every_seconds`, under an exclusive lock on a file beside the directory: one
writer at a time per machine, the others skip; a reader holds it shared while it opens.
"""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import logging
import time
from collections.abc import Iterator
from enum import StrEnum
from pathlib import Path

from hashes.matcher import Matcher, MatchParams
from hashes.types import HashError
from triage import metrics
from triage.config import IndexSettings
from triage.errors import TriageError
from triage.index_kinds import ServedIndex, open_index
from triage.store.protocols import HashList
from workers.live_index import (
    SNAPSHOT_INDEX_DIR,
    SNAPSHOT_LIST_FILE,
    LiveIndex,
    OpenedSnapshot,
    SnapshotListing,
    read_snapshot_listing,
)

_log = logging.getLogger(__name__)


class LoadState(StrEnum):
    WAITING = "the hash list is not loaded yet"
    FROM_SNAPSHOT = "loading the hash list from the snapshot"
    FROM_STORE = "loading the hash list from the store"
    LOADED = "loaded"


class IndexSnapshots:
    """Loads `live` at start (from the snapshot in `directory` when usable) and writes
    snapshots of it as the settings say."""

    def __init__(
        self,
        live: LiveIndex,
        store: HashList,
        settings: IndexSettings,
        directory: Path,
        match_params: MatchParams,
    ) -> None:
        self._live = live
        self._store = store
        self._settings = settings
        self.directory = directory
        self._match_params = match_params
        self.state = LoadState.WAITING
        self._lock_path = directory.with_name(directory.name + ".lock")
        # Written (or found on disk) as of these: a start from a snapshot begins there.
        self._written_changes = 0
        self._written_at = time.monotonic()
        self._needs_first = False
        # When the snapshot on disk was ignored: when it was written (0: unreadable), so that
        # this one is replaced even though it claims to be as new.
        self._rejected_at: float | None = None
        self._retry_at = 0.0  # after a failed write

    def problem(self) -> str | None:
        """Why the index is not ready (for `/readyz`), None once loaded."""
        return None if self._live.loaded else str(self.state)

    # --- start ---------------------------------------------------------------------------

    async def load(self) -> None:
        """Open the snapshot if there is a usable one, then sync the changes since (or the
        whole list). The heavy parts run in threads; the event loop keeps answering."""
        usable = self._settings.snapshots and (self.directory / SNAPSHOT_LIST_FILE).exists()
        self.state = LoadState.FROM_SNAPSHOT if usable else LoadState.FROM_STORE
        started = time.perf_counter()
        snapshot = await self._live.load(self._open() if usable else _nothing())
        seconds = time.perf_counter() - started
        self.state = LoadState.LOADED
        source = "snapshot" if snapshot is not None else "store"
        metrics.index_load_seconds.labels(source=source).set(seconds)
        if snapshot is not None:
            metrics.index_snapshot_timestamp_seconds.set(snapshot.listing.written_at)
            _log.info(
                "hash list loaded from the snapshot in %.1f s: version %d (the snapshot's: %d, "
                "%d references changed since), %d references",
                seconds, self._live.version, snapshot.listing.version,
                self._live.changes_applied, len(self._live),
            )  # fmt: skip
            # The changes synced since the snapshot count towards the next one.
            self._written_changes = 0
        else:
            _log.info(
                "hash list loaded from the store in %.1f s: version %d, %d references",
                seconds, self._live.version, len(self._live),
            )  # fmt: skip
            self._written_changes = self._live.changes_applied
            self._needs_first = self._settings.snapshots

    async def _open(self) -> OpenedSnapshot | None:
        try:
            listing, index = await asyncio.to_thread(self._read)
        except (HashError, TriageError, OSError) as exc:
            self._ignore(str(exc), self._rejected_at or 0.0)
            return None
        current = await self._store.hashlist_version()
        if listing.version > current:
            self._ignore(
                f"{self.directory} reflects hash-list version {listing.version}, the store is at "
                f"{current} (a snapshot of another store, or of this one before it was restored)",
                listing.written_at,
            )
            return None
        return OpenedSnapshot(index, Matcher(index, self._match_params), listing)

    def _ignore(self, reason: str, written_at: float) -> None:
        """Give up the snapshot (written at `written_at`, so the next write replaces it even
        though it claims to be as new) and read the list from the store."""
        self._rejected_at = written_at
        self.state = LoadState.FROM_STORE
        _log.warning("index snapshot ignored, rebuilding the hash list from the store: %s", reason)

    def _read(self) -> tuple[SnapshotListing, ServedIndex]:
        # The listing first: should a writer swap the directory in between (it cannot while
        # the shared lock is held), an older listing only makes the first sync redo changes.
        # The index is opened only for a listing of this service's design: the exact index
        # reads every row.
        with _flocked(self._lock_path, fcntl.LOCK_SH):
            listing = read_snapshot_listing(self.directory)
            try:
                if listing.design != self._live.design:
                    raise TriageError(
                        f"{self.directory} holds references of design {listing.design!r}, "
                        f"this service hashes them with {self._live.design!r}"
                    )
                index = open_index(self._settings, self.directory / SNAPSHOT_INDEX_DIR)
            except (HashError, TriageError):
                self._rejected_at = listing.written_at
                raise
        return listing, index

    # --- writing -------------------------------------------------------------------------

    def due(self) -> bool:
        """Whether a snapshot should be written now."""
        if not self._settings.snapshots or not self._live.loaded:
            return False
        if time.monotonic() < self._retry_at:
            return False
        if self._needs_first:
            return True
        changes = self._live.changes_applied - self._written_changes
        elapsed = time.monotonic() - self._written_at
        return changes >= self._settings.snapshot_after_changes or (
            changes > 0 and elapsed >= self._settings.snapshot_every_seconds
        )

    async def write(self) -> bool:
        """Write a snapshot now, unless another process is writing one or the one on disk is
        as new as this process's list. True when this process wrote it."""
        changes = self._live.changes_applied
        try:
            self.directory.parent.mkdir(parents=True, exist_ok=True)
            lock = self._lock_path.open("a")
        except OSError as exc:
            return self._failed(exc)
        with lock:
            try:
                fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                _log.debug("another process holds %s; not writing a snapshot now", lock.name)
                return False
            try:
                on_disk = _listing_or_none(self.directory)
                if (
                    on_disk is not None
                    and on_disk.version >= self._live.version
                    and on_disk.written_at != self._rejected_at
                ):
                    self._written(changes, on_disk)
                    return False
                started = time.perf_counter()
                listing = await self._live.save_snapshot(self.directory)
            except (OSError, HashError, TriageError) as exc:
                return self._failed(exc)
            finally:
                fcntl.flock(lock, fcntl.LOCK_UN)
        metrics.index_snapshot_writes_total.labels(outcome="written").inc()
        self._written(changes, listing)
        _log.info(
            "index snapshot written to %s in %.1f s: version %d, %d references",
            self.directory, time.perf_counter() - started, listing.version, len(self._live),
        )  # fmt: skip
        return True

    def _failed(self, exc: Exception) -> bool:
        metrics.index_snapshot_writes_total.labels(outcome="failed").inc()
        # Try again after the interval, not at every poll.
        self._retry_at = time.monotonic() + self._settings.snapshot_every_seconds
        _log.error("cannot write the index snapshot to %s: %s", self.directory, exc)
        return False

    def _written(self, changes: int, listing: SnapshotListing) -> None:
        self._needs_first = False
        self._rejected_at = None
        self._written_changes = changes
        self._written_at = time.monotonic()
        metrics.index_snapshot_timestamp_seconds.set(listing.written_at)

    async def run(self, stop: asyncio.Event, poll_seconds: float) -> None:
        """Write snapshots when due, checking every `poll_seconds`, until `stop`."""
        if not self._settings.snapshots:
            return
        while not stop.is_set():
            if self.due():
                await self.write()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), poll_seconds)


async def _nothing() -> OpenedSnapshot | None:
    return None


def _listing_or_none(directory: Path) -> SnapshotListing | None:
    try:
        return read_snapshot_listing(directory)
    except TriageError:
        return None


@contextlib.contextmanager
def _flocked(path: Path, operation: int) -> Iterator[None]:
    """`path` locked with `flock` (blocking) while inside."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("a") as handle:
        fcntl.flock(handle, operation)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)
