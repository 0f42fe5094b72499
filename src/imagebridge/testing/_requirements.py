"""The capability requirements of the scenarios: a scenario whose requirements a model's
declared :class:`~imagebridge.adapter.Capabilities` do not meet is skipped, with the reason."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from .._capabilities import Capabilities, takes

__all__ = [
    "REQUIREMENTS",
    "Requirement",
    "accepted_pixel_size",
    "extra_formats",
    "partial_count",
    "ratios",
    "tiered_sizes",
    "unmet",
]


@dataclass(frozen=True)
class Requirement:
    """A capability a scenario needs; ``missing`` completes "<provider> ... for <model>"."""

    name: str
    check: Callable[[Capabilities], bool]
    missing: str


def ratios(caps: Capabilities) -> list[str]:
    """The aspect ratios of the model's size presets."""
    return [ratio for ratio in caps.size_presets if ratio != "auto"]


def tiered_sizes(caps: Capabilities) -> list[tuple[str, str]]:
    """The (ratio, tier) presets above 1k the model offers."""
    pairs = []
    for ratio, row in caps.size_presets.items():
        for tier in row:
            if (
                tier != "1k"
                and ratio != "auto"
                and (not caps.native_ratio or tier in caps.resolutions)
            ):
                pairs.append((ratio, tier))
    return pairs


_PIXEL_CANDIDATES = ("256x256", "512x512", "1024x1024", "1536x1024", "1024x1536")


def accepted_pixel_size(caps: Capabilities) -> str | None:
    """A ``WxH`` size the model accepts (a common one first), or None when it takes none."""
    candidates = (*_PIXEL_CANDIDATES, *sorted(caps.sizes, key=_area))
    for size in candidates:
        width, _, height = size.partition("x")
        if caps.pixel_problem(int(width), int(height)) is None:
            return size
    return None


def extra_formats(caps: Capabilities) -> list[str]:
    """Output formats besides png the model declares, preferred first (webp is smallest)."""
    allowed = caps.output_formats or ()
    return [f for f in ("webp", "jpeg") if f in allowed or "*" in allowed]


def _area(size: str) -> int:
    width, _, height = size.partition("x")
    return int(width) * int(height)


REQUIREMENTS: dict[str, Requirement] = {
    r.name: r
    for r in (
        Requirement("edits", lambda c: c.edits, "declares no edits"),
        Requirement(
            "multi_image_edits",
            lambda c: c.edits and c.max_edit_images >= 2,
            "edits at most one image",
        ),
        Requirement("mask", lambda c: c.edits and c.mask, "declares no edit masks"),
        Requirement(
            "generate_mask",
            lambda c: c.generate_mask and c.max_reference_images >= 1,
            "takes no mask with reference images in generate()",
        ),
        Requirement(
            "reference_images", lambda c: c.max_reference_images >= 1, "takes no reference images"
        ),
        Requirement("async_tasks", lambda c: c.async_tasks, "declares no asynchronous tasks"),
        Requirement("variations", lambda c: c.variations, "makes no variations"),
        Requirement("multiple_images", lambda c: c.max_n >= 2, "returns one image per request"),
        Requirement(
            "ratio_sizes",
            lambda c: c.native_ratio or bool(ratios(c)),
            "declares no aspect-ratio sizes",
        ),
        Requirement(
            "resolution_tiers",
            lambda c: bool(tiered_sizes(c)),
            "declares no 2k/4k resolution presets",
        ),
        Requirement(
            "pixel_sizes", lambda c: accepted_pixel_size(c) is not None, "takes no pixel sizes"
        ),
        Requirement(
            "output_formats",
            lambda c: bool(extra_formats(c)),
            "declares no output format besides png",
        ),
        Requirement(
            "auto_size",
            lambda c: c.size_auto or "auto" in c.size_presets,
            "has no automatic size",
        ),
        Requirement(
            "streaming",
            lambda c: c.streaming,
            "does not stream replies (Capabilities.streaming)",
        ),
        Requirement(
            "partial_images",
            lambda c: c.streaming and takes(c.max_partial_images),
            "streams no partial images (Capabilities.max_partial_images)",
        ),
    )
}


def partial_count(caps: Capabilities) -> int:
    """How many partial images the streaming scenarios ask for: the model's most, at most 2
    (enough to see them in order, and small cassettes)."""
    return max(1, min(caps.max_partial_images, 2))


def unmet(requires: tuple[str, ...] | list[str], caps: Capabilities) -> list[Requirement]:
    """The requirements ``caps`` does not meet (an unknown name counts as unmet)."""
    missing = []
    for name in requires:
        requirement = REQUIREMENTS.get(name)
        if requirement is None:
            missing.append(Requirement(name, lambda c: False, f"has unknown requirement {name!r}"))
        elif not requirement.check(caps):
            missing.append(requirement)
    return missing
