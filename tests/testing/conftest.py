"""Fixtures of the conformance kit's own tests."""

from __future__ import annotations

import shutil
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from imagebridge._emulator import EmulatorConfig, EmulatorServer
from imagebridge.testing import FakeClock

ROOT = Path(__file__).resolve().parents[2]
BUILTIN = ROOT / "plugins" / "imagebridge_plugins" / "cassettes"
EMULATOR_KEY = "sk-emulator-test-7c1d55a0e9"


@pytest.fixture
def copy_cassette(tmp_path: Path) -> Callable[[str, str], Path]:
    """Copy a built-in cassette (and its assets) into a temporary folder; return its path."""

    def copy(provider: str, name: str) -> Path:
        folder = tmp_path / provider
        folder.mkdir(exist_ok=True)
        source = BUILTIN / provider / f"{name}.json"
        shutil.copy(source, folder / source.name)
        assets = source.with_name(f"{name}.assets")
        if assets.is_dir():
            shutil.copytree(assets, folder / assets.name)
        return folder / source.name

    return copy


@pytest.fixture(scope="module")
def emulator() -> Iterator[tuple[EmulatorServer, FakeClock]]:
    """The emulator over loopback HTTP, on a fake clock shared with the recording client."""
    clock = FakeClock()
    config = EmulatorConfig(task_duration=0.0, api_key=EMULATOR_KEY, clock=clock.monotonic)
    with EmulatorServer(config) as server:
        yield server, clock
