"""The hashing steps of the query cascade (`hashes.cascade`): a first look at the full frames,
every view from the frames kept, and a closer look at zoomed parts of the pictures."""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from pathlib import Path

from hashes import pdq
from hashes.decode import LumaFrame, is_image
from hashes.types import VideoHashes, View
from hashes.video.frames import duration_of, media_frames
from hashes.video.params import QueryParams
from hashes.video.query import hash_query_frames
from hashes.video.rows import GridRow, HashedRows, hash_rows, video_hashes
from hashes.views.borders import frame_active_box
from hashes.views.boxes import crop, is_centred
from hashes.views.crops import zoomed_parts

# Sampled frames a first look keeps for the other views: 10 minutes at 4 fps, about 140 MB
# at 320x180. A longer video is hashed in every view at once.
MAX_KEPT_FRAMES = 2400


@dataclass(frozen=True, eq=False)
class FirstLook:
    """A query's full-frame rows, and the sampled frames to hash its other views from.

    Most re-uploads show the whole picture: their full frames settle the match, and the
    derived views (nine in ten of the rows, most of the hashing) would be hashed for nothing.
    `complete` when `hashes` already holds every view (a long video, or an image); `frames`
    is None when they were too many to keep (a long video).
    """

    hashes: VideoHashes
    frames: tuple[LumaFrame, ...] | None
    complete: bool = False


def first_look(path: Path, params: QueryParams | None = None) -> FirstLook:
    """Decode and sample `path` once, hashing only the full frames (`complete_look` hashes
    the rest from the frames kept). An image is hashed in every view at once: one frame
    settles nothing sooner."""
    params = params or QueryParams()
    frames = media_frames(path, params.decode_options())
    kept = list(itertools.islice(frames, MAX_KEPT_FRAMES))
    extra = next(frames, None)
    if extra is not None or not kept:
        rest = itertools.chain(kept, [] if extra is None else [extra], frames)
        return FirstLook(hash_query_frames(rest, params), None, complete=True)
    if is_image(path):
        return FirstLook(hash_query_frames(iter(kept), params), tuple(kept), complete=True)
    rows = [GridRow(pdq.downsample_64_fast(f.luma), f.timestamp, View.FULL) for f in kept]
    times = [frame.timestamp for frame in kept]
    hashes = video_hashes([hash_rows(rows)], duration_seconds=duration_of(times),
                          frame_count=len(kept))  # fmt: skip
    return FirstLook(hashes, tuple(kept))


def complete_look(look: FirstLook, params: QueryParams | None = None) -> VideoHashes:
    """Every view of the query of `look`: what `hash_query` gives, without decoding again."""
    if look.complete or look.frames is None:
        return look.hashes
    return hash_query_frames(iter(look.frames), params or QueryParams())


def closer_look(look: FirstLook, hashes: VideoHashes) -> VideoHashes:
    """`hashes` (every view of the query of `look`) with zoomed parts of each kept frame's
    picture added (`zoomed_parts`); `hashes` as they are when no frames were kept."""
    if look.frames is None:
        return hashes
    rows: list[GridRow] = []
    for frame in look.frames:
        luma = frame.luma
        own = frame_active_box(luma)
        picture = own if own is not None and is_centred(own, *luma.shape) else None
        for part in zoomed_parts(picture or (0, luma.shape[0], 0, luma.shape[1])):
            grid = pdq.downsample_64_fast(crop(luma, part.box))
            rows.append(GridRow(grid, frame.timestamp, View.ZOOM))
    if not rows:
        return hashes
    return video_hashes(
        [HashedRows.of_video(hashes), hash_rows(rows)],
        duration_seconds=hashes.duration_seconds,
        frame_count=hashes.frame_count,
    )
