"""Hashing and matching one query in two looks.

The full frames are hashed and searched first; the derived views (borders removed, crops,
panes, insets, turns, tilts: nine in ten rows, most of the hashing) only when the full frames
leave the match unsettled. Both looks sample and decode the video once.
"""

from __future__ import annotations

from pathlib import Path

from hashes.matcher import Matcher
from hashes.types import VideoHashes, VideoMatch
from hashes.video import QueryParams, complete_look, first_look, hash_query


def match_query(
    path: Path, matcher: Matcher, params: QueryParams | None = None
) -> tuple[list[VideoMatch], VideoHashes]:
    """The matches of the media at `path`, and the hashes they were found with: the full
    frames alone when those settled it, else every view."""
    params = params or QueryParams()
    if not params.use_first_look:
        hashes = hash_query(path, params)
        return matcher.match(hashes), hashes
    look = first_look(path, params)
    if not look.complete:
        settled = matcher.settle_on_full_frames(look.hashes)
        if settled is not None:
            return settled, look.hashes
    hashes = complete_look(look, params)
    return matcher.match(hashes), hashes
