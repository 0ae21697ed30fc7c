"""The query cascade: which hashing step comes next, given the matches so far.

A query is decoded and sampled once. Its full frames are hashed and searched first (most
copies show the whole picture: an early exit); the derived views (borders removed, crops,
panes, insets, turns, tilts: nine in ten rows, most of the hashing) only when the full frames
leave the match unsettled; zoomed parts of the pictures only when every view leaves a lead
with less evidence than asked (a re-ranking pass on a closer look).

The cascade is written once, as a generator of steps that says *what* to do; a driver says
*where* each step runs. `match_query` runs every step inline (the bench, `triage match`, the
tests); the worker pipeline runs the hashing steps in its hashing process and the searches
under its live index's lock. Both give the same matches for the same inputs.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Generator, Sequence
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import Any, Protocol

from hashes.matcher import MatchParams
from hashes.types import VideoHashes, VideoMatch
from hashes.video.looks import FirstLook, closer_look, complete_look, first_look
from hashes.video.params import QueryParams


class Look(StrEnum):
    """How far the cascade went for a query."""

    FULL_FRAMES = "full_frames"  # settled on its full frames
    EVERY_VIEW = "every_view"
    CLOSER = "closer"  # every view, then zoomed parts of its pictures


@dataclass(frozen=True, slots=True)
class Hashing:
    """Hash something: `function(argument)`. Both are picklable (module-level functions and
    partials of them), so a driver may run the step in another process."""

    function: Callable[[Any], Any]
    argument: Any


@dataclass(frozen=True, slots=True)
class Searching:
    """Match `hashes` against the hash list; the driver sends back the matches."""

    hashes: VideoHashes


Step = Hashing | Searching


@dataclass(frozen=True, slots=True)
class QueryOutcome:
    """The matches of a query, the hashes they were found with (the full frames alone when
    those settled it, else every view searched) and how far the cascade went."""

    matches: list[VideoMatch]
    hashes: VideoHashes
    look: Look


def query_cascade(
    path: Path, query: QueryParams, match: MatchParams
) -> Generator[Step, Any, QueryOutcome]:
    """The steps of matching the media at `path`. Send each `Hashing` step its function's
    result and each `Searching` step its matches; the generator returns the outcome."""
    look: FirstLook = yield Hashing(functools.partial(first_look, params=query), path)
    if query.use_first_look and match.use_early_accept and not look.complete:
        found: list[VideoMatch] = yield Searching(look.hashes)
        if settles(found, match):
            return QueryOutcome(found, look.hashes, Look.FULL_FRAMES)
    hashes = look.hashes
    if not look.complete:
        hashes = yield Hashing(functools.partial(complete_look, params=query), look)
    matches: list[VideoMatch] = yield Searching(hashes)
    if query.use_closer_look and look.frames and wants_closer_look(matches, hashes, match):
        hashes = yield Hashing(functools.partial(closer_look, look), hashes)
        matches = yield Searching(hashes)
        return QueryOutcome(matches, hashes, Look.CLOSER)
    return QueryOutcome(matches, hashes, Look.EVERY_VIEW)


def settles(full_frame_matches: Sequence[VideoMatch], params: MatchParams) -> bool:
    """Whether a query's full frames alone settle it: their best match has the early-accept
    evidence (twice what is asked), which its other views cannot lower."""
    return bool(full_frame_matches) and full_frame_matches[0].score >= params.early_accept_score


def wants_closer_look(
    matches: Sequence[VideoMatch], query: VideoHashes, params: MatchParams
) -> bool:
    """Whether the matches of every view of `query` leave a lead worth a closer look. A still
    (one frame) gets one whenever it falls short of the evidence asked: its lead is one
    pair's weight, and the closer look costs a few milliseconds."""
    best = matches[0].score if matches else 0.0
    if best >= params.closer_look_below:
        return False
    return query.frame_count <= 1 or best >= params.closer_look_from


class Searcher(Protocol):
    """What a synchronous driver searches with (`hashes.matcher.Matcher` fits)."""

    @property
    def params(self) -> MatchParams: ...

    def match(self, query: VideoHashes) -> list[VideoMatch]: ...


def match_query(path: Path, searcher: Searcher, params: QueryParams | None = None) -> QueryOutcome:
    """Run the cascade for the media at `path` in this process: every step inline."""
    steps = query_cascade(path, params or QueryParams(), searcher.params)
    answer: Any = None
    try:
        while True:
            step = steps.send(answer)
            if isinstance(step, Hashing):
                answer = step.function(step.argument)
            else:
                answer = searcher.match(step.hashes)
    except StopIteration as done:
        outcome: QueryOutcome = done.value
        return outcome
