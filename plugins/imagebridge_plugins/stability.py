"""The ``stability`` provider (being written)."""

from __future__ import annotations

from imagebridge import hookimpl
from imagebridge.adapter import Adapter


@hookimpl
def imagebridge_adapters() -> list[type[Adapter]]:
    return []
