"""Evidence in plain words, for moderators who are not matching engineers."""

from __future__ import annotations

from collections.abc import Iterable

from hashes.types import View

# What each query view means for the copy.
VIEW_WORDS: dict[str, str] = {
    View.FULL: "the whole picture",
    View.ACTIVE: "inside a frame or borders",
    View.INNER: "over a blurred copy of itself",
    View.REGION: "cropped, or a picture inside the picture",
    View.SIDE: "one side of a split screen",
    View.DIHEDRAL: "mirrored or turned sideways",
    View.TILT: "filmed off a screen",
    View.ZOOM: "a zoomed-in part of the picture",
}


def view_words(views: Iterable[str]) -> list[str]:
    """Plain words for the views that matched (`MatchEvidence.views`), unknown ones named as
    they are."""
    return [VIEW_WORDS.get(v, v) for v in views]


def speed_words(speed: float) -> str:
    if abs(speed - 1.0) < 0.02:
        return "at the original speed"
    faster = speed > 1.0
    return f"{'sped up' if faster else 'slowed down'} ({speed:.2f}× the original speed)"


def verdict_words(verdict: str | None) -> str:
    return {
        "confirmed": "Confirmed copy",
        "review": "Needs review",
        "none": "No match",
        None: "Not decided yet",
    }.get(verdict, str(verdict))


def clock(seconds: float) -> str:
    """`75.5` → `1:15.5`: a time in a video, as players show it."""
    minutes, rest = divmod(max(seconds, 0.0), 60)
    return f"{int(minutes)}:{rest:04.1f}"


SCORE_EXPLAINED = (
    "The match score compares the evidence of all segments (each stretch of the reference "
    "counted once) with the evidence a confident match needs: 1.0 or more is enough to "
    "confirm. A segment's evidence is its matched seconds weighted by how close the "
    "pictures are, so one long segment can show more than the score it adds up to."
)
