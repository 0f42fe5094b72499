"""The dialect table: every dialect is mounted where the names say, and the CLI agrees."""

from __future__ import annotations

from imagebridge._cli import _serve
from imagebridge._emulator import _names
from imagebridge._emulator._dialects import SPECS


def test_the_cli_lists_the_emulators_dialects_and_mounts() -> None:
    assert _serve.DIALECTS == _names.DEFAULT_DIALECTS
    assert tuple(_names.MOUNTS.values()) == _serve.MOUNTS


def test_every_added_dialect_has_a_spec() -> None:
    added = tuple(name for name in _names.DIALECTS if name not in _names.DEFAULT_DIALECTS)
    assert tuple(spec.name for spec in SPECS) == added
