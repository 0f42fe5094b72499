"""imagebridge plugin for the PixelForge Render API (a fictional provider; see DIALECT.md).

imagebridge finds this module through the ``imagebridge`` entry-point group declared in
``pyproject.toml`` and calls its hook to learn the adapters it provides.
"""

from __future__ import annotations

from imagebridge import hookimpl
from imagebridge.adapter import Adapter

from .adapter import PixelForgeAdapter

__all__ = ["PixelForgeAdapter", "imagebridge_adapters"]


@hookimpl
def imagebridge_adapters() -> list[type[Adapter]]:
    """The adapters this plugin provides."""
    return [PixelForgeAdapter]
