"""Media type from the first bytes of a body; headers are never trusted.

Only video and image containers count as media: they are what the hashers can decode.
"""

from __future__ import annotations

SNIFF_BYTES = 4096
"""How many leading bytes `sniff_media_type` wants to see (fewer at end of file is fine)."""

_TS_PACKET = 188
_ISO_BMFF_BOXES = (b"moov", b"mdat", b"free", b"skip", b"wide", b"pnot")
_HTML_TAGS = (
    b"<!doctype html",
    b"<html",
    b"<head",
    b"<body",
    b"<script",
    b"<iframe",
    b"<h1",
    b"<div",
    b"<font",
    b"<table",
    b"<a",
    b"<style",
    b"<title",
    b"<b",
    b"<br",
    b"<p",
    b"<meta",
    b"<link",
    b"<!--",
)
# Terminators after an HTML tag name, as in the WHATWG MIME sniffing rules.
_TAG_END = (b" ", b">", b"\t", b"\n", b"\r", b"\x0c", b"/")


def sniff_media_type(head: bytes) -> str | None:
    """The media type of a body starting with `head`, or None if it is not video or image."""
    return _sniff_video(head) or _sniff_image(head)


def _sniff_video(head: bytes) -> str | None:
    box_type = head[4:8]
    if box_type == b"ftyp":
        brand = head[8:12]
        if brand == b"qt  ":
            return "video/quicktime"
        if brand.startswith(b"3g2"):
            return "video/3gpp2"
        if brand.startswith(b"3gp"):
            return "video/3gpp"
        if brand in (b"heic", b"heix", b"mif1", b"msf1", b"avif", b"avis"):
            return "image/avif" if brand in (b"avif", b"avis") else "image/heic"
        return "video/mp4"
    # Old QuickTime files may start with a box other than ftyp; the size must be plausible.
    if box_type in _ISO_BMFF_BOXES and int.from_bytes(head[:4], "big") not in range(2, 8):
        return "video/quicktime"
    if head.startswith(b"\x1a\x45\xdf\xa3"):
        return "video/webm" if b"webm" in head[:64] else "video/x-matroska"
    if head.startswith(b"RIFF") and head[8:12] == b"AVI ":
        return "video/x-msvideo"
    if head.startswith(b"FLV\x01"):
        return "video/x-flv"
    if head.startswith(b"\x00\x00\x01\xba"):
        return "video/mpeg"
    if head.startswith(b"OggS"):
        return "video/ogg"
    if head.startswith(b"\x30\x26\xb2\x75\x8e\x66\xcf\x11"):
        return "video/x-ms-asf"
    if _is_transport_stream(head, 0, _TS_PACKET):
        return "video/mp2t"
    # M2TS (Blu-ray): a 4-byte timestamp before every 188-byte packet.
    if _is_transport_stream(head, 4, _TS_PACKET + 4):
        return "video/mp2t"
    return None


def _is_transport_stream(head: bytes, offset: int, stride: int) -> bool:
    positions = [offset + i * stride for i in range(3)]
    if len(head) <= positions[-1]:
        return False
    return all(head[p] == 0x47 for p in positions)


def _sniff_image(head: bytes) -> str | None:
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return "image/png"
    if head.startswith(b"\xff\xd8\xff"):
        return "image/jpeg"
    if head.startswith((b"GIF87a", b"GIF89a")):
        return "image/gif"
    if head.startswith(b"RIFF") and head[8:12] == b"WEBP":
        return "image/webp"
    if head.startswith(b"BM") and len(head) >= 14 and head[6:10] == b"\x00\x00\x00\x00":
        return "image/bmp"
    if head.startswith((b"II*\x00", b"MM\x00*")):
        return "image/tiff"
    return None


def looks_like_html(head: bytes) -> bool:
    """Whether the body starts like an HTML document (so it may be a post page)."""
    text = head.lstrip(b"\xef\xbb\xbf").lstrip(b" \t\r\n\x0c").lower()
    if text.startswith(b"<?xml") and b"<html" in text[:1024]:
        return True
    for tag in _HTML_TAGS:
        if text.startswith(tag):
            rest = text[len(tag) : len(tag) + 1]
            if tag == b"<!--" or rest in _TAG_END:
                return True
    return False


def extension_for(media_type: str) -> str:
    """A file extension for a sniffed media type, so decoders see a familiar name."""
    return _EXTENSIONS.get(media_type, ".bin")


_EXTENSIONS = {
    "video/mp4": ".mp4",
    "video/quicktime": ".mov",
    "video/3gpp": ".3gp",
    "video/3gpp2": ".3g2",
    "video/webm": ".webm",
    "video/x-matroska": ".mkv",
    "video/x-msvideo": ".avi",
    "video/x-flv": ".flv",
    "video/mpeg": ".mpg",
    "video/ogg": ".ogv",
    "video/x-ms-asf": ".wmv",
    "video/mp2t": ".ts",
    "image/png": ".png",
    "image/jpeg": ".jpg",
    "image/gif": ".gif",
    "image/webp": ".webp",
    "image/bmp": ".bmp",
    "image/tiff": ".tiff",
    "image/avif": ".avif",
    "image/heic": ".heic",
}
