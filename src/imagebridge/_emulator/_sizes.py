"""Size resolution for the task dialects (dimilinks, apimart): aspect ratio x tier -> pixels.

The table is gpt2api's (docs/dialects/dimilinks.md, 'Sizes and resolution'); portrait ratios
are the transposed rows and ``auto`` is the 1:1 row. An explicit ``WxH`` is used as is (within
3840 px per edge and 3840x2160 worth of pixels). A missing size is the 1:1 row, so no size and
no resolution gives 1024x1024. A missing or unknown resolution is ``1k``.
"""

from __future__ import annotations

import math
import re

from ._errors import ApiError

TIERS: tuple[str, ...] = ("1k", "2k", "4k")

TIER_TABLE: dict[str, tuple[tuple[int, int], tuple[int, int], tuple[int, int]]] = {
    "1:1": ((1024, 1024), (2048, 2048), (2880, 2880)),
    "3:2": ((1536, 1024), (2016, 1344), (3504, 2336)),
    "4:3": ((1536, 1152), (2048, 1536), (3264, 2448)),
    "5:4": ((1600, 1280), (2000, 1600), (3200, 2560)),
    "16:9": ((1536, 864), (2048, 1152), (3840, 2160)),
    "2:1": ((1536, 768), (2048, 1024), (3840, 1920)),
    "21:9": ((1568, 672), (2016, 864), (3808, 1632)),
}

MAX_EDGE = 3840
MAX_PIXELS = 3840 * 2160

_PIXELS_RE = re.compile(r"^\s*(\d{1,5})\s*[xX]\s*(\d{1,5})\s*$")
_RATIO_RE = re.compile(r"^\s*(\d{1,4})\s*:\s*(\d{1,4})\s*$")


def normalize_resolution(value: object) -> str:
    """``1k``/``2k``/``4k``; anything else (missing, unknown) is ``1k``."""
    if isinstance(value, str) and value.strip().lower() in TIERS:
        return value.strip().lower()
    return "1k"


def _reduced(ratio: str) -> tuple[int, int]:
    width, height = (int(part) for part in ratio.split(":"))
    divisor = math.gcd(width, height)
    return width // divisor, height // divisor


def parse_pixels(size: str) -> tuple[int, int] | None:
    """``(w, h)`` for a ``WxH`` string, else None."""
    match = _PIXELS_RE.match(size)
    if match is None:
        return None
    return int(match.group(1)), int(match.group(2))


def parse_ratio(size: str) -> tuple[int, int] | None:
    """``(w, h)`` reduced to lowest terms for a ``W:H`` string, else None."""
    match = _RATIO_RE.match(size)
    if match is None:
        return None
    if int(match.group(1)) == 0 or int(match.group(2)) == 0:
        return None
    return _reduced(f"{match.group(1)}:{match.group(2)}")


# The table's rows keyed by the landscape ratio in lowest terms (21:9 is 7:3).
_ROWS = {_reduced(key): row for key, row in TIER_TABLE.items()}


def tier_pixels(size: object, resolution: object) -> tuple[int, int]:
    """The pixel size of a task-dialect request, or a 400 :class:`ApiError`."""
    tier = TIERS.index(normalize_resolution(resolution))
    if size is None or (isinstance(size, str) and size.strip() == ""):
        return TIER_TABLE["1:1"][tier]
    if not isinstance(size, str):
        raise ApiError(400, "invalid_request_error", "size must be a string", param="size")
    text = size.strip().lower()
    if text == "auto":
        return TIER_TABLE["1:1"][tier]
    ratio = parse_ratio(text)
    if ratio is not None:
        width, height = ratio
        row = _ROWS.get((max(width, height), min(width, height)))
        if row is None:
            raise ApiError(
                400,
                "invalid_request_error",
                f"unsupported aspect ratio {size!r}; supported: "
                + ", ".join(sorted(TIER_TABLE))
                + " and their portrait forms",
                param="size",
            )
        pixels = row[tier]
        return pixels if width >= height else (pixels[1], pixels[0])
    pixels_wh = parse_pixels(text)
    if pixels_wh is None:
        raise ApiError(
            400,
            "invalid_request_error",
            f"invalid size {size!r}: use WxH, W:H or auto",
            param="size",
        )
    width, height = pixels_wh
    if not (1 <= width <= MAX_EDGE and 1 <= height <= MAX_EDGE) or width * height > MAX_PIXELS:
        raise ApiError(
            400,
            "invalid_request_error",
            f"size {size!r} is out of range (at most {MAX_EDGE}px per edge and 3840x2160 pixels)",
            param="size",
        )
    return width, height


def clamp_n(value: object) -> int:
    """The task dialects' ``n``: missing or <= 0 -> 1, > 4 -> 4; a non-integer is a 400."""
    if value is None:
        return 1
    if isinstance(value, bool) or not isinstance(value, (int, float, str)):
        raise ApiError(400, "invalid_request_error", "n must be an integer", param="n")
    if isinstance(value, float) and not value.is_integer():
        raise ApiError(400, "invalid_request_error", "n must be an integer", param="n")
    try:
        number = int(value)
    except ValueError:
        raise ApiError(400, "invalid_request_error", "n must be an integer", param="n") from None
    return min(max(number, 1), 4)
