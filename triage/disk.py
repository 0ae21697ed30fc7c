"""Free space under `data_dir`: below the configured minimum the service is not ready and
workers take no new job, since a fetch or an upload would fail with `disk_full` anyway."""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from pathlib import Path


def free_bytes(path: Path) -> int:
    """Free bytes on the file system holding `path` (or its nearest existing parent)."""
    probe = path.resolve()
    while not probe.exists() and probe != probe.parent:
        probe = probe.parent
    return shutil.disk_usage(probe).free


@dataclass(frozen=True, slots=True)
class DiskSpace:
    path: Path
    min_free_bytes: int

    def problem(self) -> str | None:
        """None while at least `min_free_bytes` are free, else why not (for `/readyz`)."""
        try:
            free = free_bytes(self.path)
        except OSError as exc:
            return f"disk_full: cannot read the free space of {self.path}: {exc.strerror}"
        if free >= self.min_free_bytes:
            return None
        return (
            f"disk_full: {free} bytes free in {self.path}, "
            f"below the minimum of {self.min_free_bytes} (data_min_free_bytes)"
        )
