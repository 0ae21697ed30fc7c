"""A still image's size read from its header, before anything is decoded.

A few hundred bytes of a compressed image can declare billions of pixels; the size tells
the pixel budget (`hashes.decode`) whether to decode at all, and by how much to shrink while
decoding. PNG, JPEG, WebP and BMP are read here; other formats give None and are left to the
decoder's own pixel limit.
"""

from __future__ import annotations

import struct

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
# JPEG start-of-frame markers (every coding process), which carry the picture's size; C4, C8
# and CC are other segments that share the range.
_JPEG_SOF = frozenset(range(0xC0, 0xD0)) - {0xC4, 0xC8, 0xCC}
# Markers that stand alone, without a length field.
_JPEG_STANDALONE = frozenset({0x01, *range(0xD0, 0xD8)})
# Far enough for any real JPEG's start of frame (EXIF thumbnails and ICC profiles come first).
HEADER_BYTES = 1 << 20


def image_size(head: bytes) -> tuple[int, int] | None:
    """(width, height) declared by the first bytes of an image file, or None if unknown."""
    if head.startswith(PNG_SIGNATURE):
        return _png_size(head)
    if head.startswith(b"\xff\xd8"):
        return _jpeg_size(head)
    if head.startswith(b"RIFF") and head[8:12] == b"WEBP":
        return _webp_size(head)
    if head.startswith(b"BM") and len(head) >= 26:
        width, height = struct.unpack_from("<ii", head, 18)
        return abs(width), abs(height)
    return None


def _png_size(head: bytes) -> tuple[int, int] | None:
    # The first chunk is IHDR: length, type, then width and height as big-endian uint32.
    if len(head) < 24 or head[12:16] != b"IHDR":
        return None
    width, height = struct.unpack_from(">II", head, 16)
    return int(width), int(height)


def _jpeg_size(head: bytes) -> tuple[int, int] | None:
    offset = 2
    while offset + 4 <= len(head):
        if head[offset] != 0xFF:
            return None
        marker = head[offset + 1]
        if marker == 0xFF:  # fill byte
            offset += 1
            continue
        if marker in _JPEG_STANDALONE:
            offset += 2
            continue
        (length,) = struct.unpack_from(">H", head, offset + 2)
        if marker in _JPEG_SOF:
            if offset + 9 > len(head):
                return None
            height, width = struct.unpack_from(">HH", head, offset + 5)
            return int(width), int(height)
        if marker == 0xDA or length < 2:  # scan data before any frame header: not a JPEG
            return None
        offset += 2 + length
    return None


def _webp_size(head: bytes) -> tuple[int, int] | None:
    chunk = head[12:16]
    if chunk == b"VP8X" and len(head) >= 30:
        width = int.from_bytes(head[24:27], "little") + 1
        height = int.from_bytes(head[27:30], "little") + 1
        return width, height
    if chunk == b"VP8L" and len(head) >= 25:
        bits = int.from_bytes(head[21:25], "little")
        return (bits & 0x3FFF) + 1, ((bits >> 14) & 0x3FFF) + 1
    if chunk == b"VP8 " and len(head) >= 30:
        width, height = struct.unpack_from("<HH", head, 26)
        return width & 0x3FFF, height & 0x3FFF
    return None
