"""Media type and pixel size read from an image's first bytes.

Written by hand because the core may depend on nothing but httpx, pydantic and pluggy: an
imaging library would be a heavy dependency for reading four header formats. Only headers
are parsed; nothing is decoded. The media type comes from the bytes, never from a file
extension or a ``Content-Type`` header.
"""

from __future__ import annotations

import struct

__all__ = ["image_size", "sniff_media_type"]

#: How many leading bytes are enough for :func:`image_size` on every supported format
#: except JPEG files with very large metadata segments (then more bytes are needed).
HEADER_BYTES = 64 * 1024


#: The file extension of each image media type the library recognises.
EXTENSIONS: dict[str, str] = {
    "image/png": "png",
    "image/jpeg": "jpg",
    "image/webp": "webp",
    "image/gif": "gif",
}


def extension_of(media_type: str | None) -> str:
    """The file extension for ``media_type`` (``"bin"`` for anything else)."""
    return EXTENSIONS.get(media_type or "", "bin")


def sniff_media_type(data: bytes) -> str | None:
    """``image/png``, ``image/jpeg``, ``image/webp`` or ``image/gif``; None when unknown."""
    if data.startswith(b"\x89PNG\r\n\x1a\n"):
        return "image/png"
    if data.startswith(b"\xff\xd8\xff"):
        return "image/jpeg"
    if len(data) >= 12 and data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "image/webp"
    if data[:6] in (b"GIF87a", b"GIF89a"):
        return "image/gif"
    return None


def image_size(data: bytes) -> tuple[int, int] | None:
    """``(width, height)`` from the header, or None if unknown or truncated."""
    media = sniff_media_type(data)
    try:
        if media == "image/png":
            if data[12:16] != b"IHDR":
                return None
            width, height = struct.unpack(">II", data[16:24])
            return int(width), int(height)
        if media == "image/gif":
            width, height = struct.unpack("<HH", data[6:10])
            return int(width), int(height)
        if media == "image/webp":
            return _webp_size(data)
        if media == "image/jpeg":
            return _jpeg_size(data)
    except (struct.error, IndexError):
        return None
    return None


def _webp_size(data: bytes) -> tuple[int, int] | None:
    chunk = data[12:16]
    if chunk == b"VP8X":
        width = int.from_bytes(data[24:27], "little") + 1
        height = int.from_bytes(data[27:30], "little") + 1
        return width, height
    if chunk == b"VP8L":
        bits = int.from_bytes(data[21:25], "little")
        return (bits & 0x3FFF) + 1, ((bits >> 14) & 0x3FFF) + 1
    if chunk == b"VP8 ":
        width, height = struct.unpack("<HH", data[26:30])
        return int(width) & 0x3FFF, int(height) & 0x3FFF
    return None


# Start-of-frame markers carry the size; C4 (DHT), C8 (JPG) and CC (DAC) do not.
_SOF = frozenset(range(0xC0, 0xD0)) - {0xC4, 0xC8, 0xCC}


def _jpeg_size(data: bytes) -> tuple[int, int] | None:
    i = 2
    n = len(data)
    while i + 9 < n:
        if data[i] != 0xFF:
            i += 1
            continue
        marker = data[i + 1]
        if marker == 0xFF:
            i += 1
            continue
        if marker in (0xD8, 0x01) or 0xD0 <= marker <= 0xD7:
            i += 2
            continue
        (length,) = struct.unpack(">H", data[i + 2 : i + 4])
        if marker in _SOF:
            height, width = struct.unpack(">HH", data[i + 5 : i + 9])
            return int(width), int(height)
        i += 2 + int(length)
    return None
