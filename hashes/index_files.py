"""A saved index on disk: `.npy` arrays (no pickles) beside a `meta.json` that names the kind of
index and its format version, so an index is never opened from another kind's or version's
files."""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import numpy as np
import numpy.typing as npt

from hashes.types import HashError

META_FILE = "meta.json"


@dataclass(frozen=True)
class InfoRecord:
    """What `ReferenceInfo` holds, in a form saved beside the rows."""

    duration_seconds: float
    frame_count: int
    full_frame_qualities: npt.NDArray[np.int16]
    full_frame_hashes: npt.NDArray[np.uint8]  # one per quality


def write_index_files(
    directory: Path,
    kind: str,
    format_version: int,
    arrays: Mapping[str, npt.NDArray[Any]],
    names: Iterable[str],
    infos: Iterable[InfoRecord],
    **meta: object,
) -> None:
    """Write `arrays` and the references' `names` and infos (in the same order) to
    `directory`, with `meta` for the opener to check."""
    directory.mkdir(parents=True, exist_ok=True)
    infos = list(infos)
    qualities = np.concatenate(
        [i.full_frame_qualities for i in infos] or [np.zeros(0, np.int16)]
    ).astype(np.int16)
    hashes = np.concatenate(
        [i.full_frame_hashes for i in infos] or [np.zeros((0, 32), np.uint8)]
    ).astype(np.uint8)
    infos_arrays = {"info_qualities": qualities, "info_hashes": hashes}
    for name, array in {**arrays, **infos_arrays}.items():
        np.save(directory / f"{name}.npy", np.ascontiguousarray(array), allow_pickle=False)
    described = {
        "kind": kind,
        "format_version": format_version,
        "names": list(names),
        "durations": [i.duration_seconds for i in infos],
        "frame_counts": [i.frame_count for i in infos],
        "info_lengths": [len(i.full_frame_qualities) for i in infos],
        **meta,
    }
    # Written last: a directory without it was never finished.
    (directory / META_FILE).write_text(json.dumps(described))


@dataclass(frozen=True)
class IndexFiles:
    meta: dict[str, Any]
    arrays: dict[str, npt.NDArray[Any]]
    names: tuple[str, ...]
    infos: tuple[InfoRecord, ...]


def read_index_files(
    directory: Path,
    kind: str,
    format_version: int,
    array_names: Iterable[str],
    *,
    mmap: bool,
) -> IndexFiles:
    """The files `write_index_files` wrote for an index of `kind` and `format_version`,
    memory-mapped read-only with `mmap`. `HashError` naming why when they cannot be used."""
    try:
        meta = json.loads((directory / META_FILE).read_text())
        if not isinstance(meta, dict):
            raise ValueError(f"{META_FILE} holds no mapping")
        if meta.get("kind") != kind:
            raise HashError(f"{directory}: holds a {meta.get('kind')!r} index, not {kind!r}")
        if meta.get("format_version") != format_version:
            raise HashError(
                f"{directory}: index format {meta.get('format_version')!r}, "
                f"this version reads {format_version}"
            )
        mode: Literal["r"] | None = "r" if mmap else None
        arrays = {
            name: np.load(directory / f"{name}.npy", mmap_mode=mode, allow_pickle=False)
            for name in (*array_names, "info_qualities", "info_hashes")
        }
        names = tuple(str(n) for n in meta["names"])
        lengths = [int(n) for n in meta["info_lengths"]]
        durations = [float(d) for d in meta["durations"]]
        frame_counts = [int(c) for c in meta["frame_counts"]]
        if not len(names) == len(lengths) == len(durations) == len(frame_counts):
            raise ValueError("the references' lists differ in length")
        ends = np.cumsum(lengths, dtype=np.int64)
        qualities, hashes = arrays["info_qualities"], arrays["info_hashes"]
        total = int(ends[-1]) if len(ends) else 0
        if len(qualities) != total or len(hashes) != total:
            raise ValueError("info_qualities and info_hashes do not hold the references' frames")
        infos = tuple(
            InfoRecord(
                durations[c], frame_counts[c], np.asarray(qualities[end - length : end]),
                hashes[end - length : end],
            )
            for c, (length, end) in enumerate(zip(lengths, ends, strict=True))
        )  # fmt: skip
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise HashError(f"{directory}: cannot open the index: {exc}") from exc
    return IndexFiles(meta, arrays, names, infos)


def check_rows(directory: Path, files: IndexFiles, rows: int, starts: npt.NDArray[Any]) -> None:
    """`HashError` unless every reference's rows (`starts`, one more than names) add up to
    `rows`: files cut short or mixed from two saves are refused, not searched."""
    if (
        len(starts) != len(files.names) + 1
        or (len(starts) and int(starts[-1]) != rows)
        or bool(np.any(np.diff(starts) < 0))
    ):
        raise HashError(f"{directory}: cannot open the index: its row counts do not add up")
