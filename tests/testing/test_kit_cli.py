"""``python -m imagebridge.testing``: ``record`` finds the key where the clients look for it
(``Adapter.env_prefix()``, so a dotted provider name reads ``ACME_IMAGES_API_KEY``), and
``run`` says what to point ``--cassettes`` at when the folder does not exist."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from imagebridge import default_registry, hookimpl
from imagebridge._emulator import EmulatorServer
from imagebridge.testing import FakeClock, load_cassette
from imagebridge.testing.__main__ import main

from .conftest import BUILTIN, EMULATOR_KEY

DOTTED = "acme.images"
WRONG_KEY = "sk-not-the-emulator-key-0000"


@pytest.fixture
def dotted_provider() -> Iterator[str]:
    """The built-in openai adapter registered a second time, under a name with a dot."""
    base = default_registry().adapter("openai")
    adapter = type("AcmeImagesAdapter", (base,), {"name": DOTTED})

    class Plugin:
        @hookimpl
        def imagebridge_adapters(self) -> list[type]:
            return [adapter]

    registry = default_registry()
    registry.register(Plugin(), "test-acme-images")
    try:
        yield DOTTED
    finally:
        registry.unregister("test-acme-images")


def record_text_to_image(server: EmulatorServer, out: Path, *extra: str) -> int:
    return main(
        [
            *("record", "--provider", DOTTED, "--base-url", server.url("openai")),
            *("--out", str(out), "--scenario", "text_to_image", *extra),
        ]
    )


def test_record_reads_the_key_of_a_dotted_provider_name_as_the_clients_do(
    dotted_provider: str,
    emulator: tuple[EmulatorServer, FakeClock],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    server, _ = emulator
    monkeypatch.setenv("ACME_IMAGES_API_KEY", EMULATOR_KEY)
    # The name a hand-made prefix would give (dot kept): it must not be the one read.
    monkeypatch.setenv("ACME.IMAGES_API_KEY", WRONG_KEY)
    status = record_text_to_image(server, tmp_path)
    out = capsys.readouterr().out
    assert status == 0, out
    assert out.split()[:2] == ["text_to_image", "recorded"]
    cassette = load_cassette(tmp_path / "text_to_image.json")
    assert cassette.provider == DOTTED
    text = (tmp_path / "text_to_image.json").read_text()
    assert EMULATOR_KEY not in text
    assert WRONG_KEY not in text


def test_record_reads_the_variable_api_key_env_names(
    dotted_provider: str,
    emulator: tuple[EmulatorServer, FakeClock],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    server, _ = emulator
    monkeypatch.delenv("ACME_IMAGES_API_KEY", raising=False)
    monkeypatch.setenv("KIT_RECORDING_KEY", EMULATOR_KEY)
    status = record_text_to_image(server, tmp_path, "--api-key-env", "KIT_RECORDING_KEY")
    out = capsys.readouterr().out
    assert status == 0, out
    assert out.split()[:2] == ["text_to_image", "recorded"]
    assert EMULATOR_KEY not in (tmp_path / "text_to_image.json").read_text()


def test_a_wrong_key_fails_the_recording(
    dotted_provider: str,
    emulator: tuple[EmulatorServer, FakeClock],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    server, _ = emulator
    monkeypatch.setenv("ACME_IMAGES_API_KEY", WRONG_KEY)
    assert record_text_to_image(server, tmp_path) == 1
    out = capsys.readouterr().out
    assert out.split()[0] == "text_to_image"
    assert "recorded" not in out.split()[1]
    assert WRONG_KEY not in out
    assert not (tmp_path / "text_to_image.json").exists()


def test_run_says_what_to_point_cassettes_at(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    missing = tmp_path / "nowhere"
    assert main(["run", "--cassettes", str(missing)]) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    assert captured.err.startswith("python -m imagebridge.testing: cassettes: no folder")
    assert str(missing) in captured.err
    assert "point it at a folder holding <provider>/<scenario>.json" in captured.err


def test_run_without_a_folder_replays_the_built_in_cassettes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(tmp_path)
    assert main(["run", "--provider", "geeknow"]) == 0
    out = capsys.readouterr().out
    assert out.splitlines()[0].split() == ["scenario", "geeknow"]
    assert "FAIL" not in out


def test_run_takes_delays_for_the_recorded_event_streams(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    shutil.copytree(BUILTIN / "openai", tmp_path / "openai")
    assert main(["run", "--provider", "openai", "--cassettes", str(tmp_path), "--delays"]) == 0
    table = capsys.readouterr().out
    for name in ("stream_partial_images", "stream_interrupted"):
        row = next(line for line in table.splitlines() if line.startswith(name))
        assert row.split()[1] == "pass", table
