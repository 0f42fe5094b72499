"""Media type and pixel size come from the image bytes (hand-made headers and Pillow files)."""

from __future__ import annotations

import io
import struct

import pytest
from PIL import Image

from helpers import png
from imagebridge import GeneratedImage, ImageInput


def pillow(fmt: str, size: tuple[int, int], mode: str = "RGB", **options: object) -> bytes:
    buffer = io.BytesIO()
    Image.new(mode, size, (200, 10, 10) if mode == "RGB" else (200, 10, 10, 0)).save(
        buffer, fmt, **options
    )
    return buffer.getvalue()


def info(data: bytes) -> tuple[str | None, int | None, int | None, str]:
    image = GeneratedImage(data=data)
    return image.media_type, image.width, image.height, image.extension


def jpeg_header(width: int, height: int) -> bytes:
    """SOI, an APP0 segment, then a baseline SOF0 with the size (no image data)."""
    app0 = b"\xff\xe0" + struct.pack(">H", 16) + b"JFIF\x00\x01\x01\x00\x00\x01\x00\x01\x00\x00"
    sof0 = b"\xff\xc0" + struct.pack(">HBHHB", 11, 8, height, width, 1) + b"\x01\x11\x00"
    return b"\xff\xd8" + app0 + sof0 + b"\xff\xd9"


def webp_vp8x_header(width: int, height: int) -> bytes:
    chunk = b"VP8X" + struct.pack("<I", 10) + b"\x10\x00\x00\x00"
    chunk += (width - 1).to_bytes(3, "little") + (height - 1).to_bytes(3, "little")
    return b"RIFF" + struct.pack("<I", 4 + len(chunk)) + b"WEBP" + chunk


def test_the_png_helper_is_a_real_png() -> None:
    with Image.open(io.BytesIO(png(33, 7))) as image:
        image.load()
        assert image.size == (33, 7)
    assert info(png(33, 7)) == ("image/png", 33, 7, "png")


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        (jpeg_header(640, 480), ("image/jpeg", 640, 480, "jpg")),
        (webp_vp8x_header(1920, 1080), ("image/webp", 1920, 1080, "webp")),
        (b"GIF89a" + struct.pack("<HH", 12, 34) + b"\x00" * 8, ("image/gif", 12, 34, "gif")),
    ],
    ids=["jpeg-header", "webp-vp8x-header", "gif-header"],
)
def test_hand_made_headers(data: bytes, expected: tuple[object, ...]) -> None:
    assert info(data) == expected


@pytest.mark.parametrize(
    ("fmt", "options", "mode"),
    [
        ("JPEG", {}, "RGB"),
        ("JPEG", {"progressive": True}, "RGB"),
        ("JPEG", {"exif": b"Exif\x00\x00" + b"\x00" * 2000}, "RGB"),
        ("WEBP", {"lossless": False}, "RGB"),
        ("WEBP", {"lossless": True}, "RGB"),
        ("WEBP", {"lossless": False}, "RGBA"),
        ("GIF", {}, "RGB"),
        ("PNG", {}, "RGBA"),
    ],
    ids=[
        "jpeg",
        "jpeg-progressive",
        "jpeg-exif",
        "webp-lossy",
        "webp-lossless",
        "webp-alpha",
        "gif",
        "png-rgba",
    ],
)
def test_files_written_by_pillow(fmt: str, options: dict[str, object], mode: str) -> None:
    data = pillow(fmt, (123, 45), mode, **options)
    media, width, height, _ = info(data)
    assert media == Image.MIME[fmt]
    assert (width, height) == (123, 45)


@pytest.mark.parametrize(
    "data",
    [
        b"",
        b"hello world, not an image",
        b"\x89PNG\r\n\x1a\n",
        b"\xff\xd8\xff",
        b"RIFF\x00\x00\x00\x00WEBP",
    ],
    ids=["empty", "text", "png-truncated", "jpeg-truncated", "webp-truncated"],
)
def test_unknown_or_truncated_bytes_have_no_size(data: bytes) -> None:
    image = GeneratedImage(data=data)
    assert (image.width, image.height) == (None, None)
    if not data or data.startswith(b"hello"):
        assert (image.media_type, image.extension) == (None, "bin")


def test_the_declared_type_of_a_data_url_is_not_trusted() -> None:
    import base64

    data_url = "data:image/png;base64," + base64.b64encode(jpeg_header(8, 8)).decode()
    item = ImageInput.of(data_url)
    assert item.media_type() == "image/jpeg"
    assert item.filename(3) == "image-3.jpg"
    image = GeneratedImage(url=data_url)
    assert image.url is None
    assert image.media_type == "image/jpeg"
