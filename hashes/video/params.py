"""How references and queries are hashed: every switch and rate, in one place."""

from __future__ import annotations

from dataclasses import dataclass

from hashes.decode import DecodeOptions

VIEW_MAX_SIDE = 320  # derived views need no more pixels than this for a 64x64 grid


@dataclass(frozen=True, slots=True)
class ReferenceParams:
    """How references are hashed. `fps=None` hashes every frame."""

    fps: float | None = None
    # Derived views (borders removed, crops) on every n-th frame; the full-frame hash, the one
    # lists exchange, is on every frame. Every 2nd frame of 25-30 fps footage leaves any query
    # sample within 1/30 s of a derived view: as close as every frame, in half the index.
    derived_every: int = 2
    # The active picture (inside uniform borders, or the whole frame) hashed as queries are.
    use_active: bool = True
    use_crops: bool = True
    # The picture cut to a feed's shape (1:1, 4:5, 9:16) anywhere along the cut axis.
    use_reframe: bool = True

    def decode_options(self) -> DecodeOptions:
        """How a reference's frames are decoded: at native size, every frame or sampled."""
        return DecodeOptions(fps=self.fps)


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
