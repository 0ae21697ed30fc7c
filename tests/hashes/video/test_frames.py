"""The frames a hashing pass reads (`hashes.video.frames`): chunks seen before they are hashed."""

from __future__ import annotations

import numpy as np

from hashes.decode import LumaFrame
from hashes.video.frames import observed


def test_with_look_ahead_each_chunk_is_hashed_after_the_next_is_observed() -> None:
    seen: list[int] = []
    order: list[tuple[int, list[int]]] = []
    chunks = [[LumaFrame(float(n), np.zeros((2, 2), np.uint8))] for n in range(3)]

    def observe(chunk: list[LumaFrame]) -> None:
        seen.append(int(chunk[0].timestamp))

    for chunk in observed(iter(chunks), observe, ahead=True):
        order.append((int(chunk[0].timestamp), list(seen)))
    assert order == [(0, [0, 1]), (1, [0, 1, 2]), (2, [0, 1, 2])]
    seen.clear()
    plain = [
        (int(c[0].timestamp), list(seen)) for c in observed(iter(chunks), observe, ahead=False)
    ]
    assert plain == [(0, [0]), (1, [0, 1]), (2, [0, 1, 2])]
