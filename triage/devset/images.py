"""Still images made with numpy and OpenCV: scenes to pan over, logos, captions, moiré.

Everything is drawn from a `numpy.random.Generator`, so a seed gives the same pixels.
"""

from __future__ import annotations

import cv2
import numpy as np
import numpy.typing as npt

Image = npt.NDArray[np.uint8]

WORDS = (
    "breaking", "live", "update", "report", "city", "river", "north", "market", "night",
    "storm", "crowd", "station", "square", "bridge", "harbour", "archive", "footage", "exclusive",
)  # fmt: skip
FONTS = (cv2.FONT_HERSHEY_SIMPLEX, cv2.FONT_HERSHEY_DUPLEX, cv2.FONT_HERSHEY_TRIPLEX)


def _color(rng: np.random.Generator) -> tuple[int, int, int]:
    return tuple(int(c) for c in rng.integers(0, 256, size=3))  # type: ignore[return-value]


def texture(rng: np.random.Generator, width: int, height: int) -> Image:
    """Coloured noise summed over several scales: cloud- or terrain-like, full of detail."""
    out: npt.NDArray[np.float64] = np.zeros((height, width, 3), np.float64)
    for octave in range(7):  # down to fine grain, so pans over it keep PDQ detail
        cells = 4 * 2**octave
        small = rng.standard_normal((max(2, height * cells // width), cells, 3)).astype(np.float32)
        layer: npt.NDArray[np.float64] = cv2.resize(
            small, (width, height), interpolation=cv2.INTER_CUBIC
        ).astype(np.float64)
        out += layer / 1.35**octave
    out -= out.min()
    out *= 255.0 / max(float(out.max()), 1e-6)
    tint = rng.uniform(0.4, 1.0, size=3)
    result: Image = np.clip(out * tint, 0, 255).astype(np.uint8)
    return result


def draw_shapes(rng: np.random.Generator, image: Image, count: int) -> None:
    height, width = image.shape[:2]
    for _ in range(count):
        kind = int(rng.integers(0, 4))
        color = _color(rng)
        x, y = int(rng.integers(0, width)), int(rng.integers(0, height))
        size = int(rng.integers(min(width, height) // 30, min(width, height) // 6))
        thickness = -1 if rng.random() < 0.6 else int(rng.integers(2, 8))
        if kind == 0:
            cv2.circle(image, (x, y), size, color, thickness, cv2.LINE_AA)
        elif kind == 1:
            cv2.rectangle(image, (x, y), (x + size, y + int(size * rng.uniform(0.4, 2))), color,
                          thickness, cv2.LINE_AA)  # fmt: skip
        elif kind == 2:
            points = rng.integers(-size, size, size=(int(rng.integers(3, 7)), 2)) + np.array([x, y])
            cv2.fillPoly(image, [points.astype(np.int32)], color, cv2.LINE_AA)
        else:
            end = (x + int(rng.integers(-size * 3, size * 3)), y + int(rng.integers(-size, size)))
            cv2.line(image, (x, y), end, color, int(rng.integers(2, 10)), cv2.LINE_AA)


def draw_words(rng: np.random.Generator, image: Image, count: int) -> None:
    height, width = image.shape[:2]
    for _ in range(count):
        text = " ".join(rng.choice(WORDS, size=int(rng.integers(1, 4))))
        scale = float(rng.uniform(0.8, 3.0))
        origin = (int(rng.integers(0, width - 100)), int(rng.integers(40, height)))
        font = FONTS[int(rng.integers(0, len(FONTS)))]
        cv2.putText(image, text.upper(), origin, font, scale, _color(rng), int(scale * 2) + 1,
                    cv2.LINE_AA)  # fmt: skip


def scene(rng: np.random.Generator, width: int, height: int, *, shapes: int = 120,
          words: int = 25) -> Image:  # fmt: skip
    """A large busy still: textured background, random shapes, words."""
    image = texture(rng, width, height)
    draw_shapes(rng, image, shapes)
    draw_words(rng, image, words)
    return image


def logo(rng: np.random.Generator, size: int) -> Image:
    """A square BGRA logo: a filled badge with initials, transparent around it."""
    out = np.zeros((size, size, 4), np.uint8)
    color = (*_color(rng), 255)
    centre = (size // 2, size // 2)
    if rng.random() < 0.5:
        cv2.circle(out, centre, size // 2 - 2, color, -1, cv2.LINE_AA)
    else:
        cv2.rectangle(out, (2, size // 5), (size - 3, size - size // 5), color, -1, cv2.LINE_AA)
    letters = "".join(rng.choice(list("ABCDEFGHKLMNPRSTVWXZ"), size=2))
    scale = size / 60
    (tw, th), _ = cv2.getTextSize(letters, cv2.FONT_HERSHEY_DUPLEX, scale, max(1, size // 25))
    cv2.putText(out, letters, (centre[0] - tw // 2, centre[1] + th // 2), cv2.FONT_HERSHEY_DUPLEX,
                scale, (255, 255, 255, 255), max(1, size // 25), cv2.LINE_AA)  # fmt: skip
    return out


def caption(rng: np.random.Generator, width: int, height: int) -> Image:
    """A BGRA caption band: a dark translucent box with one or two lines of white text."""
    out = np.zeros((height, width, 4), np.uint8)
    out[:, :, 3] = 150
    lines = int(rng.integers(1, 3))
    scale = height / (lines * 38)
    for line in range(lines):
        text = " ".join(rng.choice(WORDS, size=int(rng.integers(2, 5)))).upper()
        y = int(height * (line + 0.75) / lines)
        cv2.putText(out, text, (int(width * 0.04), y), cv2.FONT_HERSHEY_DUPLEX, scale,
                    (255, 255, 255, 255), max(1, int(scale * 2)), cv2.LINE_AA)  # fmt: skip
    return out


def moire(rng: np.random.Generator, width: int, height: int) -> Image:
    """A BGRA screen-door and moiré layer: two fine line gratings a few degrees apart."""
    ys, xs = np.mgrid[0:height, 0:width].astype(np.float32)
    angle = float(rng.uniform(2, 8)) * np.pi / 180
    period = float(rng.uniform(3.0, 5.0))
    a = np.cos(2 * np.pi * ys / period)
    b = np.cos(2 * np.pi * (ys * np.cos(angle) + xs * np.sin(angle)) / (period * 1.05))
    pattern = (a * b + 1) / 2
    out = np.zeros((height, width, 4), np.uint8)
    out[:, :, :3] = 0
    out[:, :, 3] = (pattern * float(rng.uniform(40, 80))).astype(np.uint8)
    return out


def title_card(rng: np.random.Generator, width: int, height: int) -> Image:
    """A near-uniform dark card with one centred line of text."""
    shade = int(rng.integers(0, 40))
    out = np.full((height, width, 3), shade, np.uint8)
    text = " ".join(rng.choice(WORDS, size=2)).upper()
    scale = width / 500
    (tw, th), _ = cv2.getTextSize(text, cv2.FONT_HERSHEY_DUPLEX, scale, 2)
    cv2.putText(out, text, ((width - tw) // 2, (height + th) // 2), cv2.FONT_HERSHEY_DUPLEX,
                scale, (230, 230, 230), 2, cv2.LINE_AA)  # fmt: skip
    return out
