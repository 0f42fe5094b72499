"""Canonical masks for providers that read a mask's colours (Stability's inpaint, BFL's fill).

The canonical mask is transparent where the image may change (``ImageRequest.mask``). These
providers' masks are black and white, white where the image may change: Stability's
reference ("completely black pixels represent no inpainting strength while completely white
pixels represent maximum strength") and BFL's (``flux-pro-1.0-fill``: "white areas will be
modified"). Their colours are read, not their alpha: sent as it is, a canonical mask would
edit the wrong pixels, or none, without a word. So an alpha mask is turned into that form
(white where transparent, partial transparency as grey) before it is sent, with Pillow
(imported only here); a mask already in that form is sent as it is with
``provider_options={NAME: {"mask_mode": "luminance"}}``.
"""

from __future__ import annotations

import importlib.util
import io
from typing import Literal

from imagebridge.adapter import ImageInput, Problem

#: ``alpha``: a canonical mask, converted; ``luminance``: already white-where-it-changes.
MaskMode = Literal["alpha", "luminance"]


def pillow_available() -> bool:
    return importlib.util.find_spec("PIL") is not None


def mask_problems(mask: ImageInput, provider: str) -> list[Problem]:
    """Why an alpha mask cannot be converted (no Pillow, no transparency), or nothing."""
    if mask.is_remote:
        return []  # refused elsewhere: these providers take the mask's bytes only
    as_is = f"provider_options={{'{provider}': {{'mask_mode': 'luminance'}}}}"
    if not pillow_available():
        return [
            Problem(
                "mask",
                mask.describe(),
                "a canonical mask (transparent where the image may change) is converted to"
                f" {provider}'s black-and-white mask with Pillow, which is not installed:"
                f" `pip install pillow`, or pass a mask in {provider}'s form with {as_is}",
            )
        ]
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(io.BytesIO(mask.read())) as image:
            has_alpha = "A" in image.getbands() or "transparency" in image.info
    except (UnidentifiedImageError, OSError, ValueError) as exc:
        return [Problem("mask", mask.describe(), f"cannot be read as an image: {exc}")]
    if has_alpha:
        return []
    return [
        Problem(
            "mask",
            mask.describe(),
            "has no transparency: a canonical mask is transparent where the image may change;"
            f" for a black-and-white mask in {provider}'s form (white: change) pass {as_is}",
        )
    ]


def luminance_mask(data: bytes) -> bytes:
    """A PNG that a colour-reading provider reads as the canonical mask ``data`` means: the
    inverse of its alpha (transparent -> white, opaque -> black, partly transparent -> grey)."""
    from PIL import Image, ImageOps

    with Image.open(io.BytesIO(data)) as image:
        alpha = image.convert("RGBA").getchannel("A")
    out = io.BytesIO()
    ImageOps.invert(alpha).save(out, format="PNG")
    return out.getvalue()
