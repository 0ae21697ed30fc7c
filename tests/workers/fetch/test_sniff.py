"""Media types from leading bytes."""

from __future__ import annotations

from pathlib import Path

import pytest

from workers.fetch.sniff import SNIFF_BYTES, looks_like_html, sniff_media_type


def test_every_shared_clip_sniffs_as_mp4(shared_data: Path) -> None:
    clips = sorted((shared_data / "sources").glob("*.mp4"))
    assert clips
    for clip in clips:
        with clip.open("rb") as handle:
            assert sniff_media_type(handle.read(SNIFF_BYTES)) == "video/mp4", clip.name


@pytest.mark.parametrize(
    ("head", "media_type"),
    [
        (b"\x00\x00\x00\x14ftypqt  \x00\x00\x00\x00qt  ", "video/quicktime"),
        (b"\x00\x00\x00\x18ftyp3gp4\x00\x00\x00\x00", "video/3gpp"),
        (b"\x1a\x45\xdf\xa3\x9f\x42\x86\x81\x01\x42\x82\x84webm", "video/webm"),
        (b"\x1a\x45\xdf\xa3\xa3\x42\x86\x81\x01\x42\x82\x88matroska", "video/x-matroska"),
        (b"RIFF\x00\x10\x00\x00AVI LIST", "video/x-msvideo"),
        (b"FLV\x01\x05\x00\x00\x00\x09", "video/x-flv"),
        (b"\x00\x00\x01\xba\x44\x00\x04", "video/mpeg"),
        ((b"\x47" + bytes(187)) * 4, "video/mp2t"),
        ((bytes(4) + b"\x47" + bytes(187)) * 4, "video/mp2t"),
        (b"GIF89a\x01\x00\x01\x00", "image/gif"),
        (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR", "image/png"),
        (b"\xff\xd8\xff\xe0\x00\x10JFIF", "image/jpeg"),
        (b"RIFF\x00\x10\x00\x00WEBPVP8 ", "image/webp"),
    ],
)
def test_container_signatures(head: bytes, media_type: str) -> None:
    assert sniff_media_type(head) == media_type


@pytest.mark.parametrize(
    "head",
    [
        b"",
        b"<!DOCTYPE html><html></html>",
        b"hello world",
        b"ID3\x04\x00\x00\x00\x00",  # MP3: audio only, nothing to hash
        b"%PDF-1.7",
        (b"\x47" + bytes(187)) * 2,  # one sync byte pattern too short to call it TS
    ],
)
def test_non_media_is_not_sniffed(head: bytes) -> None:
    assert sniff_media_type(head) is None


@pytest.mark.parametrize(
    "head",
    [
        b"<!DOCTYPE html><html>",
        b"\xef\xbb\xbf  \n<HTML lang=en>",
        b"<head><title>x</title>",
        b"<!-- comment --><html>",
        b'<?xml version="1.0"?><html xmlns="http://www.w3.org/1999/xhtml">',
        b"<p>text",
    ],
)
def test_html_is_recognised(head: bytes) -> None:
    assert looks_like_html(head)


@pytest.mark.parametrize("head", [b"hello <html>", b"<htmlx>", b'{"json": 1}', b"<svg>"])
def test_non_html_is_not_html(head: bytes) -> None:
    assert not looks_like_html(head)
