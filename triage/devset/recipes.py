"""Edit recipes, one per family: seeded-random parameters applied as ffmpeg filters.

Each recipe takes the graph, the stream to edit, a random generator and the context (other
footage for layouts that mix clips), and returns the edited stream with a one-line description
of what was done (kept in the manifest as `transform`).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from triage.devset import images
from triage.devset.ffmpeg import Clip, even
from triage.devset.graph import Graph, Stream


@dataclass(frozen=True, slots=True)
class Context:
    fillers: Sequence[Clip]  # unrelated footage for compilations, picture-in-picture, splits


Recipe = Callable[[Graph, Stream, np.random.Generator, Context], tuple[Stream, str]]

PORTRAIT_CANVAS = (540, 960)
LANDSCAPE_CANVAS = (960, 540)


def _u(rng: np.random.Generator, low: float, high: float) -> float:
    return float(rng.uniform(low, high))


def _filler(graph: Graph, rng: np.random.Generator, context: Context) -> Stream:
    clip = context.fillers[int(rng.integers(0, len(context.fillers)))]
    return graph.clip(clip, loop=True)


def reencode_low(g: Graph, s: Stream, rng: np.random.Generator, c: Context) -> tuple[Stream, str]:
    crf = int(rng.integers(35, 46))
    kbps = int(rng.integers(120, 400))
    g.crf = str(crf)
    g.output_args += ["-maxrate", f"{kbps}k", "-bufsize", f"{2 * kbps}k"]
    return g.apply(s, "null"), f"reencode crf={crf} maxrate={kbps}k"


def downscale(g: Graph, s: Stream, rng: np.random.Generator, c: Context) -> tuple[Stream, str]:
    factor = _u(rng, 0.25, 0.5)
    width, height = even(s.width * factor), even(s.height * factor)
    return g.apply(s, f"scale={width}:{height}", width, height), f"downscale {factor:.2f}"


def fps_change(g: Graph, s: Stream, rng: np.random.Generator, c: Context) -> tuple[Stream, str]:
    fps = int(rng.choice([10, 12, 15, 50, 60]))
    return g.apply(s, f"fps={fps}"), f"fps {fps}"


def crop(g: Graph, s: Stream, rng: np.random.Generator, c: Context) -> tuple[Stream, str]:
    sides = [side for side in "ltrb" if rng.random() < 0.5] or [str(rng.choice(list("ltrb")))]
    cut = {side: (_u(rng, 0.10, 0.20) if side in sides else 0.0) for side in "ltrb"}
    width = even(s.width * (1 - cut["l"] - cut["r"]))
    height = even(s.height * (1 - cut["t"] - cut["b"]))
    x, y = int(s.width * cut["l"]), int(s.height * cut["t"])
    text = " ".join(f"{k}={v:.2f}" for k, v in cut.items() if v)
    return g.apply(s, f"crop={width}:{height}:{x}:{y}", width, height), f"crop {text}"


def letterbox(g: Graph, s: Stream, rng: np.random.Generator, c: Context) -> tuple[Stream, str]:
    if rng.random() < 0.25:
        # Padding on every side, as some re-uploads add.
        pad = [even(s.width * _u(rng, 0.05, 0.2)), even(s.height * _u(rng, 0.05, 0.2))]
        width, height = s.width + 2 * pad[0], s.height + 2 * pad[1]
        filters = f"pad={width}:{height}:{pad[0]}:{pad[1]}:black"
        return g.apply(s, filters, width, height), f"pad x={pad[0]} y={pad[1]}"
    canvas = PORTRAIT_CANVAS if s.landscape else LANDSCAPE_CANVAS
    scale = min(canvas[0] / s.width, canvas[1] / s.height)
    inner = even(s.width * scale), even(s.height * scale)
    filters = f"scale={inner[0]}:{inner[1]},pad={canvas[0]}:{canvas[1]}:(ow-iw)/2:(oh-ih)/2:black"
    kind = "letterbox into portrait" if s.landscape else "pillarbox into landscape"
    return g.apply(s, filters, *canvas), kind


def blurred_bg(g: Graph, s: Stream, rng: np.random.Generator, c: Context) -> tuple[Stream, str]:
    canvas = PORTRAIT_CANVAS if s.landscape else LANDSCAPE_CANVAS
    cover = max(canvas[0] / s.width, canvas[1] / s.height)
    fit = min(canvas[0] / s.width, canvas[1] / s.height)
    back, front = g.chain([s.label], "split", outputs=2)
    sigma = _u(rng, 12, 30)
    (blurred,) = g.chain(
        [back],
        f"scale={even(s.width * cover)}:{even(s.height * cover)},"
        f"crop={canvas[0]}:{canvas[1]},gblur=sigma={sigma:.1f}",
    )
    (sharp,) = g.chain([front], f"scale={even(s.width * fit)}:{even(s.height * fit)}")
    (out,) = g.chain([blurred, sharp], "overlay=(W-w)/2:(H-h)/2")
    return Stream(out, *canvas, s.duration), f"blurred background sigma={sigma:.0f}"


def hflip(g: Graph, s: Stream, rng: np.random.Generator, c: Context) -> tuple[Stream, str]:
    return g.apply(s, "hflip"), "hflip"


def color(g: Graph, s: Stream, rng: np.random.Generator, c: Context) -> tuple[Stream, str]:
    hue, sat = _u(rng, -40, 40), _u(rng, 0.6, 1.5)
    bright, contrast = _u(rng, -0.12, 0.12), _u(rng, 0.75, 1.3)
    filters = f"hue=h={hue:.1f}:s={sat:.2f},eq=brightness={bright:.3f}:contrast={contrast:.2f}"
    return g.apply(s, filters), f"color {filters}"


def grayscale(g: Graph, s: Stream, rng: np.random.Generator, c: Context) -> tuple[Stream, str]:
    return g.apply(s, "hue=s=0"), "grayscale"


def sepia(g: Graph, s: Stream, rng: np.random.Generator, c: Context) -> tuple[Stream, str]:
    mix = ".393:.769:.189:0:.349:.686:.168:0:.272:.534:.131"
    return g.apply(s, f"colorchannelmixer={mix}"), "sepia"


def noise(g: Graph, s: Stream, rng: np.random.Generator, c: Context) -> tuple[Stream, str]:
    strength, seed = int(rng.integers(12, 31)), int(rng.integers(0, 2**31))
    return g.apply(s, f"noise=alls={strength}:allf=t+u:all_seed={seed}"), f"noise {strength}"


def blur(g: Graph, s: Stream, rng: np.random.Generator, c: Context) -> tuple[Stream, str]:
    sigma = _u(rng, 1.5, 4.0)
    return g.apply(s, f"gblur=sigma={sigma:.2f}"), f"blur sigma={sigma:.1f}"


def text_overlay(g: Graph, s: Stream, rng: np.random.Generator, c: Context) -> tuple[Stream, str]:
    places = str(rng.choice(["top", "bottom", "both"]))
    out = s
    for place in ("top", "bottom"):
        if places not in (place, "both"):
            continue
        band = even(s.height * _u(rng, 0.10, 0.18))
        label = g.image(images.caption(rng, s.width, band))
        y = 0 if place == "top" else s.height - band
        (merged,) = g.chain([out.label, label], f"overlay=0:{y}:shortest=1")
        out = Stream(merged, s.width, s.height, s.duration)
    return out, f"captions {places}"


def logo_overlay(g: Graph, s: Stream, rng: np.random.Generator, c: Context) -> tuple[Stream, str]:
    size = even(min(s.width * _u(rng, 0.10, 0.20), min(s.width, s.height) * 0.4))
    corner = str(rng.choice(["tl", "tr", "bl", "br"]))
    margin = even(min(s.width, s.height) * 0.03)
    x = margin if corner[1] == "l" else s.width - size - margin
    y = margin if corner[0] == "t" else s.height - size - margin
    opacity = _u(rng, 0.6, 1.0)
    label = g.image(images.logo(rng, size))
    (faded,) = g.chain([label], f"format=rgba,colorchannelmixer=aa={opacity:.2f}")
    (out,) = g.chain([s.label, faded], f"overlay={x}:{y}:shortest=1")
    return Stream(out, s.width, s.height, s.duration), f"logo {corner} {size}px"


def excerpt(g: Graph, s: Stream, rng: np.random.Generator, c: Context) -> tuple[Stream, str]:
    length = min(_u(rng, 2.0, 6.0), s.duration * 0.7)
    start = _u(rng, 0.0, s.duration - length)
    filters = f"trim=start={start:.3f}:duration={length:.3f},setpts=PTS-STARTPTS"
    return g.apply(s, filters, duration=length), f"excerpt {start:.1f}+{length:.1f}s"


def trim(g: Graph, s: Stream, rng: np.random.Generator, c: Context) -> tuple[Stream, str]:
    fraction = _u(rng, 0.10, 0.30)
    start = s.duration * fraction
    filters = f"trim=start={start:.3f},setpts=PTS-STARTPTS"
    return g.apply(s, filters, duration=s.duration - start), f"trim first {fraction:.0%}"


def _normalised(g: Graph, s: Stream, width: int, height: int, seconds: float) -> str:
    (label,) = g.chain(
        [s.label],
        f"trim=duration={seconds:.3f},setpts=PTS-STARTPTS,scale={width}:{height},"
        f"setsar=1,fps=30,format=yuv420p",
    )
    return label


def compilation(g: Graph, s: Stream, rng: np.random.Generator, c: Context) -> tuple[Stream, str]:
    middle, desc = excerpt(g, s, rng, c)
    before, after = _filler(g, rng, c), _filler(g, rng, c)
    lengths = _u(rng, 2.0, 4.0), _u(rng, 2.0, 4.0)
    parts = [
        _normalised(g, before, s.width, s.height, lengths[0]),
        _normalised(g, middle, s.width, s.height, middle.duration),
        _normalised(g, after, s.width, s.height, lengths[1]),
    ]
    (out,) = g.chain(parts, "concat=n=3:v=1:a=0")
    total = lengths[0] + middle.duration + lengths[1]
    description = f"compilation {lengths[0]:.1f}s + {desc} + {lengths[1]:.1f}s"
    return Stream(out, s.width, s.height, total), description


def speed(g: Graph, s: Stream, rng: np.random.Generator, c: Context) -> tuple[Stream, str]:
    # Away from 1.0: a speed change the matcher must see, within 0.8x-1.25x.
    factor = _u(rng, 0.8, 0.93) if rng.random() < 0.5 else _u(rng, 1.07, 1.25)
    filters = f"setpts=PTS/{factor:.4f}"
    return g.apply(s, filters, duration=s.duration / factor), f"speed {factor:.2f}x"


def vflip(g: Graph, s: Stream, rng: np.random.Generator, c: Context) -> tuple[Stream, str]:
    """The picture upside down (mirrored about the horizontal axis)."""
    return g.apply(s, "vflip"), "vflip"


def transpose(g: Graph, s: Stream, rng: np.random.Generator, c: Context) -> tuple[Stream, str]:
    """A mirrored copy turned a quarter: the picture transposed about one of its diagonals."""
    diagonal = int(rng.choice([0, 3]))  # 0: the main diagonal, 3: the other one
    out = g.apply(s, f"transpose={diagonal}", s.height, s.width)
    return out, "transpose " + ("main diagonal" if diagonal == 0 else "anti-diagonal")


def rotate90(g: Graph, s: Stream, rng: np.random.Generator, c: Context) -> tuple[Stream, str]:
    direction = int(rng.integers(1, 3))  # 1: clockwise, 2: counter-clockwise
    out = g.apply(s, f"transpose={direction}", s.height, s.width)
    return out, "rotate 90 " + ("clockwise" if direction == 1 else "counter-clockwise")


def pip(g: Graph, s: Stream, rng: np.random.Generator, c: Context) -> tuple[Stream, str]:
    canvas = LANDSCAPE_CANVAS if rng.random() < 0.7 else PORTRAIT_CANVAS
    background = _filler(g, rng, c)
    (back,) = g.chain([background.label], f"scale={canvas[0]}:{canvas[1]},setsar=1")
    share = _u(rng, 0.35, 0.45)
    width = even(canvas[0] * share)
    height = even(width * s.height / s.width)
    if height > canvas[1] * 0.9:
        height = even(canvas[1] * share * 1.5)
        width = even(height * s.width / s.height)
    x = int(rng.integers(0, canvas[0] - width + 1))
    y = int(rng.integers(0, canvas[1] - height + 1))
    (small,) = g.chain([s.label], f"scale={width}:{height}")
    (out,) = g.chain([back, small], f"overlay={x}:{y}:shortest=1")
    return Stream(out, *canvas, s.duration), f"picture-in-picture {share:.0%} at {x},{y}"


def split_screen(g: Graph, s: Stream, rng: np.random.Generator, c: Context) -> tuple[Stream, str]:
    height = 480
    width = even(s.width * height / s.height)
    other = _filler(g, rng, c)
    other_width = even(other.width * height / other.height)
    (ours,) = g.chain([s.label], f"scale={width}:{height},setsar=1")
    (theirs,) = g.chain([other.label], f"scale={other_width}:{height},setsar=1")
    left = rng.random() < 0.5
    pair = [ours, theirs] if left else [theirs, ours]
    (out,) = g.chain(pair, "hstack=inputs=2:shortest=1")
    stream = Stream(out, width + other_width, height, s.duration)
    return stream, "split screen, reference " + ("left" if left else "right")


def stacked(g: Graph, s: Stream, rng: np.random.Generator, c: Context) -> tuple[Stream, str]:
    """A portrait reaction layout: the reference across the canvas width at the top or the
    bottom (a tall reference kept within two thirds of the height, bars beside it), another
    clip cropped to fill the rest."""
    canvas_w, canvas_h = PORTRAIT_CANVAS
    height = min(even(canvas_w * s.height / s.width), even(canvas_h * 2 / 3))
    width = min(even(height * s.width / s.height), canvas_w)
    (ours,) = g.chain(
        [s.label], f"scale={width}:{height},setsar=1,pad={canvas_w}:{height}:(ow-iw)/2:0"
    )
    other = _filler(g, rng, c)
    rest = canvas_h - height
    (theirs,) = g.chain(
        [other.label],
        f"scale={canvas_w}:{rest}:force_original_aspect_ratio=increase,"
        f"crop={canvas_w}:{rest},setsar=1",
    )
    top = rng.random() < 0.5
    pair = [ours, theirs] if top else [theirs, ours]
    (out,) = g.chain(pair, "vstack=inputs=2:shortest=1")
    return Stream(out, canvas_w, canvas_h, s.duration), "stacked, reference " + (
        "top" if top else "bottom"
    )


def reframe(g: Graph, s: Stream, rng: np.random.Generator, c: Context) -> tuple[Stream, str]:
    """The video cut to a feed's shape: a landscape one to 1:1, 4:5 or 9:16 at full height, a
    portrait one to 1:1 or 16:9 at full width, the part kept anywhere along the cut axis (an
    editor follows the action)."""
    if s.landscape:
        name, shape = [("1:1", 1.0), ("4:5", 0.8), ("9:16", 9 / 16)][int(rng.integers(0, 3))]
        width, height = even(s.height * shape), s.height
    else:
        name, shape = [("1:1", 1.0), ("16:9", 9 / 16)][int(rng.integers(0, 2))]
        width, height = s.width, even(s.width * shape)
    where = _u(rng, 0.0, 1.0)
    x, y = int(where * (s.width - width)), int(where * (s.height - height))
    text = f"reframe {name} at {where:.2f}"
    return g.apply(s, f"crop={width}:{height}:{x}:{y}", width, height), text


def screen_film(g: Graph, s: Stream, rng: np.random.Generator, c: Context) -> tuple[Stream, str]:
    w, h = s.width, s.height
    inset = [(_u(rng, 0.01, 0.06) * w, _u(rng, 0.01, 0.06) * h) for _ in range(4)]
    corners = [
        (inset[0][0], inset[0][1]),
        (w - inset[1][0], inset[1][1]),
        (inset[2][0], h - inset[2][1]),
        (w - inset[3][0], h - inset[3][1]),
    ]
    points = ":".join(f"{x:.1f}:{y:.1f}" for x, y in corners)
    angle = _u(rng, 1.0, 4.0) * (1 if rng.random() < 0.5 else -1)
    zoom = _u(rng, 1.03, 1.12)
    zw, zh = even(w * zoom), even(h * zoom)
    shade = int(rng.integers(10, 40))
    filters = (
        f"perspective={points}:interpolation=linear,"
        f"rotate={angle:.2f}*PI/180:fillcolor=0x{shade:02x}{shade:02x}{shade:02x},"
        f"scale={zw}:{zh},crop={w}:{h},gblur=sigma=0.8,"
        f"eq=contrast=0.9:brightness=0.03,noise=alls=6:allf=t:all_seed={int(rng.integers(0, 1000))}"
    )
    filmed = g.apply(s, filters)
    layer = g.image(images.moire(rng, w, h))
    (out,) = g.chain([filmed.label, layer], "overlay=0:0:shortest=1")
    return Stream(out, w, h, s.duration), f"screen film rotate={angle:.1f} zoom={zoom:.2f}"


FAMILIES: dict[str, Recipe] = {
    "reencode_low": reencode_low,
    "downscale": downscale,
    "fps_change": fps_change,
    "crop": crop,
    "letterbox": letterbox,
    "blurred_bg": blurred_bg,
    "hflip": hflip,
    "color": color,
    "grayscale": grayscale,
    "sepia": sepia,
    "noise": noise,
    "blur": blur,
    "text_overlay": text_overlay,
    "logo_overlay": logo_overlay,
    "excerpt": excerpt,
    "compilation": compilation,
    "speed": speed,
    "rotate90": rotate90,
    "pip": pip,
    "split_screen": split_screen,
    "screen_film": screen_film,
    "trim": trim,
}

# Edits that combine in any order for the `combo` family (layout-changing edits stay alone).
COMBINABLE = (
    "reencode_low", "downscale", "crop", "letterbox", "hflip", "color", "grayscale", "noise",
    "blur", "text_overlay", "logo_overlay", "excerpt", "speed", "trim",
)  # fmt: skip

# Edits applied to unrelated footage: an edit alone must never make a match.
NEGATIVE_EDITS = (
    "reencode_low", "letterbox", "blurred_bg", "hflip", "color", "text_overlay", "logo_overlay",
    "crop", "grayscale",
)  # fmt: skip


def combo(g: Graph, s: Stream, rng: np.random.Generator, c: Context) -> tuple[Stream, str]:
    first, second = (str(name) for name in rng.choice(COMBINABLE, size=2, replace=False))
    s, one = FAMILIES[first](g, s, rng, c)
    s, two = FAMILIES[second](g, s, rng, c)
    return s, f"{one} + {two}"


FAMILIES["combo"] = combo
FAMILIES["stacked"] = stacked
FAMILIES["reframe"] = reframe
FAMILIES["vflip"] = vflip
FAMILIES["transpose"] = transpose
# Families added after development sets were built and measured: planned after everything
# else (see `plan.plan_later_edits`), so an old seed builds the same queries as before, and
# these after them.
LATER_FAMILIES = ("stacked", "reframe", "vflip", "transpose")
