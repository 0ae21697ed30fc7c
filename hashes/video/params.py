"""How references and queries are hashed: every switch and rate, in one place."""

from __future__ import annotations

from dataclasses import dataclass

from hashes.decode import DecodeOptions

VIEW_MAX_SIDE = 320  # derived views need no more pixels than this for a 64x64 grid

# The generation of the reference views: raised whenever a view's geometry changes in a way
# the fields of `ReferenceParams` do not show (the crop grid, the reframing steps, the size
# views are hashed at), so a record made before is told apart from one made now.
VIEW_GENERATION = 1


@dataclass(frozen=True, slots=True)
class ReferenceParams:
    """How references are hashed. `fps=None` hashes every frame."""

    # Frames a second sampled from a reference: the rate queries are sampled at. A reference
    # row per query sample is what the alignment needs; every frame (25-30) gave the same
    # recall on the development sets with 3.8 times the rows (docs/decisions/0011).
    fps: float | None = 4.0
    # Derived views (borders removed, crops, reframed parts) on every n-th sampled frame: 155
    # of a sampled frame's 156 rows. On every sample they meet each query sample; on every
    # second one, low-detail footage (a grey wall) lost 2 more of 200 development queries.
    derived_every: int = 1
    # The active picture (inside uniform borders, or the whole frame) hashed as queries are.
    use_active: bool = True
    use_crops: bool = True
    # The picture cut to a feed's shape (1:1, 4:5, 9:16) anywhere along the cut axis.
    use_reframe: bool = True

    def decode_options(self) -> DecodeOptions:
        """How a reference's frames are decoded: at native size, every frame or sampled."""
        return DecodeOptions(fps=self.fps)

    @property
    def design(self) -> str:
        """What a record's derived rows depend on, in one string: records of one design can
        be indexed together; a record of another is refused, never silently mixed in."""
        fps = "all" if self.fps is None else f"{self.fps:g}"
        views = [name for name in ("active", "crops", "reframe") if getattr(self, f"use_{name}")]
        sampling = [f"views-{VIEW_GENERATION}", f"fps={fps}", f"every={self.derived_every}"]
        return ";".join([*sampling, *views])


@dataclass(frozen=True, slots=True)
class QueryParams:
    """How queries are hashed; each `use_*` switch turns one mechanism on or off."""

    fps: float = 4.0
    max_side: int = VIEW_MAX_SIDE
    use_fast_decode: bool = True
    use_active: bool = True
    use_inner: bool = True
    use_regions: bool = True
    use_dihedral: bool = True
    use_insets: bool = True
    use_tilt: bool = True
    use_side_panes: bool = True
    use_framed_panes: bool = True
    # Full frames first: the other views are hashed only when the full frames leave the
    # match unsettled (`hashes.cascade`).
    use_first_look: bool = True
    # A closer look (`closer_look`) at a query whose match stays unsettled after every view:
    # zoomed parts of its pictures, for crops that fall between the reference's own.
    use_closer_look: bool = True
    # Layout and insets read from the chunk being hashed and the next one: outlines found in
    # busy video only after more frames still apply to the first.
    use_look_ahead: bool = True

    def decode_options(self) -> DecodeOptions:
        """How a query's frames are decoded: sampled, and no larger than its views need."""
        return DecodeOptions(fps=self.fps, max_side=self.max_side, fast=self.use_fast_decode)
