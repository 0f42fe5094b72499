"""Fixtures for the CLI tests: the emulator over real loopback HTTP, an in-process runner
that checks the API key never appears in any output, and a clean environment."""

from __future__ import annotations

import io
import json
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from click.testing import CliRunner, Result
from PIL import Image

from imagebridge import default_registry
from imagebridge._cli._app import cli
from imagebridge._emulator import EmulatorConfig, EmulatorServer

#: The API key every test uses; it must never appear in stdout or stderr.
SECRET = "sk-cli-secret-7f3a9c1e5b2d"

Invoke = Callable[..., Result]


@pytest.fixture(scope="session")
def emulator() -> Iterator[EmulatorServer]:
    with EmulatorServer(EmulatorConfig(task_duration=0.2)) as running:
        yield running


@pytest.fixture
def server(emulator: EmulatorServer) -> EmulatorServer:
    """The emulator with an empty request log."""
    httpx.post(f"{emulator.origin}/_emulator/reset").raise_for_status()
    return emulator


def received(server: EmulatorServer) -> list[dict[str, Any]]:
    """The API requests the emulator received since the test began."""
    response = httpx.get(f"{server.origin}/_emulator/requests")
    response.raise_for_status()
    entries: list[dict[str, Any]] = response.json()
    return entries


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    """No provider settings from the real environment; run in a fresh directory."""
    for cls in default_registry().adapters.values():
        monkeypatch.delenv(f"{cls.env_prefix()}_API_KEY", raising=False)
        monkeypatch.delenv(f"{cls.env_prefix()}_BASE_URL", raising=False)
    monkeypatch.delenv("IMAGEBRIDGE_PROVIDER", raising=False)
    monkeypatch.chdir(tmp_path)
    return tmp_path


@pytest.fixture
def keys(monkeypatch: pytest.MonkeyPatch) -> str:
    """Every provider's key variable set to :data:`SECRET`."""
    for cls in default_registry().adapters.values():
        monkeypatch.setenv(f"{cls.env_prefix()}_API_KEY", SECRET)
    return SECRET


@pytest.fixture
def run() -> Invoke:
    """Invoke ``imagebridge ARGS...`` in-process; asserts the key is in no output."""
    runner = CliRunner()

    def invoke(*args: str, env: dict[str, str] | None = None) -> Result:
        result = runner.invoke(cli, list(args), env=env, catch_exceptions=False)
        assert SECRET not in result.stdout
        assert SECRET not in result.stderr
        assert "Traceback" not in result.stderr or "--verbose" in args or "-v" in args
        return result

    return invoke


def one_json(text: str) -> dict[str, Any]:
    """The single JSON object printed on stdout."""
    lines = [line for line in text.splitlines() if line.strip()]
    assert len(lines) == 1, text
    data: dict[str, Any] = json.loads(lines[0])
    return data


def png_file(path: Path, size: tuple[int, int] = (64, 64), mode: str = "RGBA") -> Path:
    Image.new(mode, size, (200, 30, 30, 255)[: len(mode)]).save(path, format="PNG")
    return path


def decoded(path: Path) -> tuple[str, tuple[int, int]]:
    """Fully decode an image file; its format and size."""
    with Image.open(io.BytesIO(path.read_bytes())) as image:
        image.load()
        return str(image.format), image.size
