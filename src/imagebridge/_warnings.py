"""The warnings a result carries: :class:`ImageWarning` and its closed set of codes.

A leaf module (it imports nothing of imagebridge), so that pre-flight, results, errors and
the clients can all use it without importing one another. :data:`WARNING_CODES` is the one
list of codes users can match on; the docs' table of warning codes is checked against it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Literal

__all__ = ["WARNING_CODES", "ImageWarning", "WarningCode"]

WarningCode = Literal[
    "unknown_model",
    "n_split",
    "size_mapped",
    "size_mismatch",
    "format_mismatch",
    "extra_images",
    "fewer_images",
    "route_skipped",
    "route_failed",
    "price_unknown",
    "content_filtered",
    "other",
]

#: Every warning code, with what it means (the same codes as :data:`WarningCode`, which a
#: test keeps in step). Plugins use ``other`` for anything else.
WARNING_CODES: Mapping[WarningCode, str] = MappingProxyType(
    {
        "unknown_model": "the model is not in the adapter's list, so its options were not checked",
        "n_split": "`n` was split into several calls for a model that returns fewer per call",
        "size_mapped": "a ratio (and resolution) was sent as the model's preset pixel size",
        "size_mismatch": "an image came back in another pixel size than the one requested",
        "format_mismatch": "an image came back in another format than `output_format` asked for",
        "extra_images": "more images came back than were requested; the extra ones were dropped",
        "fewer_images": "fewer images came back than were requested",
        "route_skipped": "a route could not honour the request and was skipped before any request",
        "route_failed": "a route failed without creating a task, so the next route was tried",
        "price_unknown": "no price is known for the call, so a budget allowing unknown prices"
        " counted it as $0",
        "content_filtered": "the provider's safety filter removed, blurred or blacked out"
        " images, or its reply could not say whether it did",
        "other": "anything else a plugin reports (its `message` says what)",
    }
)


@dataclass(frozen=True, slots=True)
class ImageWarning:
    """Something the library adapted or could not check; ``code`` is one of
    :data:`WARNING_CODES` (stable, to match on), ``message`` is for people."""

    code: WarningCode
    message: str
    field: str | None = None

    def __post_init__(self) -> None:
        if self.code not in WARNING_CODES:
            allowed = ", ".join(WARNING_CODES)
            raise ValueError(f"ImageWarning code {self.code!r} is not one of: {allowed}")

    def __str__(self) -> str:
        return self.message
