"""The kinds of index `index.kind` names, made or opened from the settings: the one place
that maps the setting to an index, for the service's processes and the benches alike."""

from __future__ import annotations

from pathlib import Path

from hashes.index import ExactIndex
from hashes.index_multihash import MultiHashIndex, open_tiered_index, tiered_index
from triage.config import IndexSettings

ServedIndex = ExactIndex | MultiHashIndex


def new_index(settings: IndexSettings) -> ServedIndex:
    """An empty index of the configured kind."""
    if settings.kind == "multihash":
        return MultiHashIndex(flips=settings.multihash_flips)
    if settings.kind == "tiered":
        return tiered_index(settings.tiered_retrieval_bits)
    return ExactIndex()


def open_index(settings: IndexSettings, directory: Path) -> ServedIndex:
    """The index of the configured kind saved in `directory`; `HashError` naming why not."""
    if settings.kind == "multihash":
        return MultiHashIndex.open(directory, flips=settings.multihash_flips)
    if settings.kind == "tiered":
        return open_tiered_index(directory, settings.tiered_retrieval_bits)
    return ExactIndex.open(directory)
