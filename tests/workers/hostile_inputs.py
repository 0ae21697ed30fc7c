"""Hostile media made on the spot: small files that ask a decoder for far too much.

Pixel bombs are a few hundred kilobytes that declare hundreds of megapixels; the long and
fast ones declare hours of frames or a frame rate no camera gives; the broken ones are a
real clip cut short or overwritten. Every maker writes into `folder` and returns the path.
"""

from __future__ import annotations

import random
import struct
import subprocess
import zlib
from pathlib import Path

import cv2
import numpy as np

BOMB_SIDE = 20_000  # 400 megapixels: 1.2 GB as colour, 4.8 GB as float


def _ffmpeg(*args: str) -> None:
    subprocess.run(["ffmpeg", "-v", "error", "-y", *args], check=True)


def _png_chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def png_bomb(folder: Path) -> Path:
    """A grey PNG of BOMB_SIDE x BOMB_SIDE, all black: 400 MB of pixels in about 400 KB."""
    header = struct.pack(">IIBBBBB", BOMB_SIDE, BOMB_SIDE, 8, 0, 0, 0, 0)
    row = b"\x00" * (BOMB_SIDE + 1)  # filter byte, then the row
    packer = zlib.compressobj(9)
    chunks = [packer.compress(row) for _ in range(BOMB_SIDE)]
    chunks.append(packer.flush())
    out = folder / "bomb.png"
    out.write_bytes(
        b"\x89PNG\r\n\x1a\n"
        + _png_chunk(b"IHDR", header)
        + _png_chunk(b"IDAT", b"".join(chunks))
        + _png_chunk(b"IEND", b"")
    )
    return out


def jpeg_bomb(folder: Path) -> Path:
    """A small JPEG whose frame header is rewritten to BOMB_SIDE x BOMB_SIDE: a decoder
    allocates the declared picture and fills what the scan lacks."""
    ok, encoded = cv2.imencode(".jpg", np.full((64, 64, 3), 128, np.uint8))
    if not ok:
        raise RuntimeError("OpenCV could not encode a JPEG")
    data = bytearray(encoded.tobytes())
    sof = data.index(b"\xff\xc0")
    struct.pack_into(">HH", data, sof + 5, BOMB_SIDE, BOMB_SIDE)
    out = folder / "bomb.jpg"
    out.write_bytes(bytes(data))
    return out


def huge_h264(folder: Path) -> Path:
    """One H.264 picture of 8192x8192 (67 megapixels), a flat colour: a few kilobytes."""
    out = folder / "huge.mp4"
    _ffmpeg("-f", "lavfi", "-i", "color=c=gray:s=8192x8192:r=1", "-frames:v", "1",
            "-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p", str(out))  # fmt: skip
    return out


def ten_hours(folder: Path) -> Path:
    """Ten hours of 16x16 frames at one per second (36,000 frames, a few hundred KB)."""
    out = folder / "ten-hours.mp4"
    _ffmpeg("-f", "lavfi", "-i", "color=c=gray:s=16x16:r=1", "-t", "36000",
            "-c:v", "libx264", "-preset", "ultrafast", "-g", "600", str(out))  # fmt: skip
    return out


def claimed_rate(folder: Path) -> Path:
    """200 small frames whose container claims 100,000 frames per second."""
    raw = folder / "frames.h264"
    _ffmpeg("-f", "lavfi", "-i", "testsrc=s=64x64:r=25", "-frames:v", "200",
            "-c:v", "libx264", "-preset", "ultrafast", "-f", "h264", str(raw))  # fmt: skip
    out = folder / "fast.mp4"
    _ffmpeg("-r", "100000", "-i", str(raw), "-c", "copy", str(out))
    raw.unlink()
    return out


def container_copies(clip: Path, folder: Path) -> dict[str, Path]:
    """`clip` (5 s of it, 640 px wide) as MP4 (index first), MKV and WebM (VP9)."""
    copies = {"mp4": folder / "copy.mp4", "mkv": folder / "copy.mkv", "webm": folder / "copy.webm"}
    common = ["-i", str(clip), "-t", "5", "-vf", "scale=640:-2", "-an"]
    _ffmpeg(*common, "-c:v", "libx264", "-preset", "ultrafast", "-movflags", "+faststart",
            str(copies["mp4"]))  # fmt: skip
    _ffmpeg("-i", str(copies["mp4"]), "-c", "copy", str(copies["mkv"]))
    _ffmpeg(*common, "-c:v", "libvpx-vp9", "-deadline", "realtime", "-cpu-used", "8",
            "-b:v", "1M", str(copies["webm"]))  # fmt: skip
    return copies


def truncated(copy: Path, folder: Path, kept: float = 0.6) -> Path:
    """The first `kept` of `copy`'s bytes: its first seconds still decode."""
    data = copy.read_bytes()
    out = folder / f"truncated-{copy.name}"
    out.write_bytes(data[: int(len(data) * kept)])
    return out


def corrupt(copy: Path, folder: Path, header_bytes: int = 64, seed: int = 7) -> Path:
    """`copy` with everything after its first `header_bytes` replaced by random bytes: it
    still starts like its format (the upload is taken as media), nothing in it decodes."""
    data = copy.read_bytes()
    noise = random.Random(seed).randbytes(len(data) - header_bytes)
    out = folder / f"corrupt-{copy.name}"
    out.write_bytes(data[:header_bytes] + noise)
    return out
