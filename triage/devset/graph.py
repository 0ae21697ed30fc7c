"""A small builder for one ffmpeg filter graph: inputs, labelled streams, and the command."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from pathlib import Path

import cv2

from triage.devset.ffmpeg import ENCODE_ARGS, FRAME_RATE, MAX_SIDE, Clip, even
from triage.devset.images import Image

QUERY_CRF = "23"


@dataclass(frozen=True, slots=True)
class Stream:
    """A labelled video stream of the graph, with the size and length edits must know."""

    label: str
    width: int
    height: int
    duration: float

    @property
    def landscape(self) -> bool:
        return self.width >= self.height

    def sized(self, label: str, width: int, height: int) -> Stream:
        return replace(self, label=label, width=width, height=height)


@dataclass
class Graph:
    """Collects inputs and filter chains; `command` renders the ffmpeg call."""

    assets: Path
    inputs: list[list[str]] = field(default_factory=list)
    chains: list[str] = field(default_factory=list)
    crf: str = QUERY_CRF
    output_args: list[str] = field(default_factory=list)
    _labels: int = 0

    def _label(self) -> str:
        self._labels += 1
        return f"s{self._labels}"

    def clip(self, clip: Clip, *, loop: bool = False) -> Stream:
        """`clip` as an input; looped clips never end (cut them with trim or shortest)."""
        self.inputs.append([*(["-stream_loop", "-1"] if loop else []), "-i", str(clip.path)])
        return Stream(f"{len(self.inputs) - 1}:v", clip.width, clip.height, clip.duration)

    def image(self, image: Image) -> str:
        """A still (BGR or BGRA) as an endless input; returns its label."""
        path = self.assets / f"asset-{id(self)}-{len(self.inputs)}.png"
        cv2.imwrite(str(path), image)
        self.inputs.append(["-loop", "1", "-framerate", str(FRAME_RATE), "-i", str(path)])
        return f"{len(self.inputs) - 1}:v"

    def chain(self, sources: list[str], filters: str, outputs: int = 1) -> list[str]:
        """Append `[a][b]filters[out...]`; returns the new labels."""
        labels = [self._label() for _ in range(outputs)]
        head = "".join(f"[{s}]" for s in sources)
        self.chains.append(head + filters + "".join(f"[{label}]" for label in labels))
        return labels

    def apply(self, stream: Stream, filters: str, width: int | None = None,
              height: int | None = None, duration: float | None = None) -> Stream:  # fmt: skip
        """One chain on one stream; give the new size or length when the filters change it."""
        (label,) = self.chain([stream.label], filters)
        return Stream(
            label,
            stream.width if width is None else width,
            stream.height if height is None else height,
            stream.duration if duration is None else duration,
        )

    def command(self, final: Stream, out: Path) -> list[str]:
        scale = min(1.0, MAX_SIDE / max(final.width, final.height))
        width, height = even(final.width * scale), even(final.height * scale)
        last = self.apply(final, f"scale={width}:{height},setsar=1,format=yuv420p")
        args = ["ffmpeg", "-v", "error", "-nostdin", "-filter_complex_threads", "1"]
        for spec in self.inputs:
            args += spec
        args += ["-filter_complex", ";".join(self.chains), "-map", f"[{last.label}]"]
        args += ["-t", f"{final.duration:.3f}", *ENCODE_ARGS, "-crf", self.crf]
        return [*args, *self.output_args, "-y", str(out)]
