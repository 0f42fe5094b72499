"""Small helpers of the kit: a fake clock, tiny sample images, and lossless PNG compaction."""

from __future__ import annotations

import struct
import zlib

__all__ = ["FakeClock", "compact_png", "sample_png"]

_PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


class FakeClock:
    """A :class:`imagebridge` clock (``clock=``) where time moves only when something sleeps.

    Polling replays are instant: every sleep advances ``now`` and is logged in ``slept``.
    It can also drive the emulator (``EmulatorConfig(clock=fake.monotonic)``) so that a
    recording sees tasks progress exactly as the client's polls advance time.
    """

    def __init__(self, now: float = 1000.0) -> None:
        self.now = now
        self.slept: list[float] = []

    def monotonic(self) -> float:
        """The fake time, in seconds."""
        return self.now

    def sleep(self, seconds: float) -> None:
        """Advance the time at once (and log the wait)."""
        self.slept.append(seconds)
        self.now += seconds

    async def asleep(self, seconds: float) -> None:
        """The awaitable :meth:`sleep`."""
        self.sleep(seconds)


def _chunk(kind: bytes, payload: bytes) -> bytes:
    crc = zlib.crc32(kind + payload) & 0xFFFFFFFF
    return struct.pack(">I", len(payload)) + kind + payload + struct.pack(">I", crc)


def sample_png(width: int = 4, height: int = 4, shade: int = 0) -> bytes:
    """A small valid 8-bit greyscale PNG filled with ``shade`` (0-255): a deterministic input
    image for edits and references (different shades give different files)."""
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    row = b"\x00" + bytes([shade % 256]) * width
    idat = zlib.compress(row * height, 9)
    return _PNG_SIGNATURE + _chunk(b"IHDR", ihdr) + _chunk(b"IDAT", idat) + _chunk(b"IEND", b"")


def compact_png(data: bytes) -> bytes:
    """The same PNG, pixel for pixel, with its image data recompressed at zlib level 9.

    Recordings store response images this way to keep cassettes small; decoders (and the
    media type and pixel size the suite checks) see exactly the same image. Anything that is
    not a well-formed PNG is returned unchanged.
    """
    if not data.startswith(_PNG_SIGNATURE):
        return data
    chunks: list[tuple[bytes, bytes]] = []
    position = len(_PNG_SIGNATURE)
    try:
        while position < len(data):
            (length,) = struct.unpack(">I", data[position : position + 4])
            kind = data[position + 4 : position + 8]
            chunks.append((kind, data[position + 8 : position + 8 + length]))
            position += 12 + length
        compressed = b"".join(body for kind, body in chunks if kind == b"IDAT")
        recompressed = zlib.compress(zlib.decompress(compressed), 9)
    except (struct.error, zlib.error):
        return data
    out = [_PNG_SIGNATURE]
    wrote_idat = False
    for kind, body in chunks:
        if kind == b"IDAT":
            if not wrote_idat:
                out.append(_chunk(b"IDAT", recompressed))
                wrote_idat = True
            continue
        out.append(_chunk(kind, body))
    result = b"".join(out)
    return result if len(result) < len(data) else data
