"""Real, decodable images of an exact pixel size, rendered with Pillow and cached.

An image is a solid fill whose colour comes from a hash of the prompt (and the image's index),
with a darker band across the top so the orientation is visible; a partial image of a stream
shows the top ``reveal`` share of it over grey. Encoded bytes are cached in a
small LRU keyed by size, format, colour and transparency, so repeated 4K images are cheap.
"""

from __future__ import annotations

import base64
import hashlib
import io
from dataclasses import dataclass
from functools import lru_cache

from PIL import Image

FORMATS: tuple[str, ...] = ("png", "jpeg", "webp")

MEDIA_TYPES: dict[str, str] = {"png": "image/png", "jpeg": "image/jpeg", "webp": "image/webp"}

Colour = tuple[int, int, int]


@dataclass(frozen=True)
class ImageSpec:
    """What one generated image looks like: enough to render it again at any time."""

    width: int
    height: int
    fmt: str = "png"
    colour: Colour = (128, 128, 128)
    transparent: bool = False
    #: The share of rows drawn from the top (below 1: a partial image of a stream, the rest
    #: a neutral grey, as the final image is progressively revealed).
    reveal: float = 1.0

    @property
    def media_type(self) -> str:
        return MEDIA_TYPES[self.fmt]

    def render(self) -> bytes:
        """The encoded image (cached)."""
        transparent = self.transparent and self.fmt in ("png", "webp")
        return _render(self.width, self.height, self.fmt, self.colour, transparent, self.reveal)

    def data_url(self) -> str:
        return f"data:{self.media_type};base64,{self.b64()}"

    def b64(self) -> str:
        return base64.b64encode(self.render()).decode("ascii")


def normalize_format(value: str | None) -> str | None:
    """``png``/``jpeg``/``webp`` (``jpg`` is an alias of ``jpeg``), or None if unknown."""
    if value is None:
        return "png"
    fmt = value.strip().lower()
    if fmt == "jpg":
        fmt = "jpeg"
    return fmt if fmt in FORMATS else None


def colour_for(prompt: str, index: int = 0) -> Colour:
    """A stable colour derived from the prompt and the image index."""
    digest = hashlib.sha256(f"{index}:{prompt}".encode()).digest()
    return (digest[0], digest[1], digest[2])


@lru_cache(maxsize=32)
def _render(
    width: int, height: int, fmt: str, colour: Colour, transparent: bool, reveal: float = 1.0
) -> bytes:
    mode = "RGBA" if transparent else "RGB"
    fill: tuple[int, ...] = (*colour, 160) if transparent else colour
    image = Image.new(mode, (width, height), fill)
    band = max(1, height // 8)
    dark: tuple[int, ...] = tuple(c // 2 for c in colour)
    if transparent:
        dark = (*dark, 255)
    image.paste(dark, (0, 0, width, band))
    if reveal < 1:
        grey: tuple[int, ...] = (200, 200, 200, 255) if transparent else (200, 200, 200)
        image.paste(grey, (0, max(0, min(height, round(height * reveal))), width, height))
    out = io.BytesIO()
    if fmt == "png":
        image.save(out, format="PNG", compress_level=1)
    elif fmt == "jpeg":
        image.save(out, format="JPEG", quality=85)
    else:
        image.save(out, format="WEBP", quality=80, method=0)
    return out.getvalue()
