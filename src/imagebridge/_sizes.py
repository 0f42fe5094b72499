"""Canonical image sizes: ``auto``, an aspect ratio ``W:H`` or pixels ``WxH``; resolution tiers.

Size tables map ``(ratio, tier)`` to pixels. They are declared per provider (gateways
disagree), and :func:`size_table` builds one from landscape rows, adding the portrait
transpositions, so a table is written once and cannot drift between its two halves.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Literal

Resolution = Literal["1k", "2k", "4k"]
RESOLUTIONS: tuple[Resolution, ...] = ("1k", "2k", "4k")

_RATIO = re.compile(r"^\s*(\d{1,3})\s*:\s*(\d{1,3})\s*$")
_PIXELS = re.compile(r"^\s*(\d{1,5})\s*[xX]\s*(\d{1,5})\s*$")


@dataclass(frozen=True, slots=True)
class Size:
    """A parsed canonical size. ``kind`` is ``"auto"``, ``"ratio"`` or ``"pixels"``."""

    kind: Literal["auto", "ratio", "pixels"]
    width: int = 0
    height: int = 0

    def __str__(self) -> str:
        if self.kind == "auto":
            return "auto"
        sep = ":" if self.kind == "ratio" else "x"
        return f"{self.width}{sep}{self.height}"

    @property
    def ratio_key(self) -> str:
        """The ratio in lowest terms (``"32:18"`` -> ``"16:9"``; pixels reduce too)."""
        if self.kind == "auto":
            return "auto"
        g = math.gcd(self.width, self.height)
        return f"{self.width // g}:{self.height // g}"


AUTO = Size("auto")


def parse_size(text: str) -> Size:
    """Parse ``auto``, ``W:H`` or ``WxH``; raise ValueError naming the accepted forms."""
    if not isinstance(text, str):
        raise ValueError(f"expected a string such as '16:9', '1024x1024' or 'auto', got {text!r}")
    if text.strip().lower() == "auto":
        return AUTO
    for kind, pattern in (("ratio", _RATIO), ("pixels", _PIXELS)):
        match = pattern.match(text)
        if match:
            width, height = int(match.group(1)), int(match.group(2))
            if width == 0 or height == 0:
                raise ValueError(f"size {text!r} has a zero side")
            return Size(kind, width, height)  # type: ignore[arg-type]
    raise ValueError(
        f"size {text!r} is not 'auto', an aspect ratio 'W:H' (e.g. '16:9') or pixels 'WxH'"
        " (e.g. '1536x1024')"
    )


SizeTable = Mapping[str, Mapping[str, str]]
"""ratio (lowest terms, or ``"auto"``) -> tier -> ``"WxH"``."""


def size_table(
    rows: Mapping[str, Mapping[str, str]], *, portrait: bool = True, auto_as: str | None = "1:1"
) -> dict[str, dict[str, str]]:
    """A full table from landscape rows: portrait rows are the transpositions.

    ``auto_as`` names the row that ``auto`` uses (``None`` for no ``auto`` row).
    """
    table: dict[str, dict[str, str]] = {}
    for ratio, tiers in rows.items():
        table[ratio] = dict(tiers)
        w, h = ratio.split(":")
        if portrait and w != h:
            table[f"{h}:{w}"] = {tier: "x".join(px.split("x")[::-1]) for tier, px in tiers.items()}
    if auto_as is not None:
        table["auto"] = dict(table[auto_as])
    return table
