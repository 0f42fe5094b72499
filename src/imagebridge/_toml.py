"""Reading TOML (the config file, price tables, the kit's record file): :mod:`tomllib` from
Python 3.11, :mod:`tomli` (its ancestor, a dependency on 3.10) before, imported when a file is
read, never at ``import imagebridge``."""

from __future__ import annotations

import importlib
import sys
from types import ModuleType

__all__ = ["toml"]


def toml() -> ModuleType:
    """The TOML reader (``loads``, ``TOMLDecodeError``) of this Python."""
    if sys.version_info >= (3, 11):
        import tomllib

        return tomllib
    return importlib.import_module("tomli")  # pragma: no cover - Python 3.10
