"""Hashing and matching one query in up to three looks.

The full frames are hashed and searched first; the derived views (borders removed, crops,
panes, insets, turns, tilts: nine in ten rows, most of the hashing) only when the full frames
leave the match unsettled; zoomed parts of the pictures only when every view leaves a lead
with less evidence than asked (a closer look). The video is sampled and decoded once.
"""

from __future__ import annotations

from pathlib import Path

from hashes.matcher import Matcher
from hashes.types import VideoHashes, VideoMatch
from hashes.video import QueryParams, closer_look, complete_look, first_look


def match_query(
    path: Path, matcher: Matcher, params: QueryParams | None = None
) -> tuple[list[VideoMatch], VideoHashes]:
    """The matches of the media at `path`, and the hashes they were found with: the full
    frames alone when those settled it, else every view (and the zoomed parts of a closer
    look, when it took one)."""
    params = params or QueryParams()
    look = first_look(path, params)
    if params.use_first_look and not look.complete:
        settled = matcher.settle_on_full_frames(look.hashes)
        if settled is not None:
            return settled, look.hashes
    hashes = complete_look(look, params)
    matches = matcher.match(hashes)
    if params.use_closer_look and look.frames and matcher.wants_closer_look(matches, hashes):
        hashes = closer_look(look, hashes)
        matches = matcher.match(hashes)
    return matches, hashes
