"""``imagebridge edit`` against the emulator's openai dialect."""

from __future__ import annotations

from pathlib import Path

from imagebridge._emulator import EmulatorServer

from .conftest import Invoke, decoded, one_json, png_file, received


def _edit(server: EmulatorServer, *args: str) -> list[str]:
    base = f"{server.origin}/openai/v1"
    return ["edit", "add a hat", "--provider", "openai", "--base-url", base, *args]


def test_edit_one_image(run: Invoke, server: EmulatorServer, keys: str, tmp_path: Path) -> None:
    image = png_file(tmp_path / "cat.png", (256, 256))
    result = run(*_edit(server, "--image", str(image), "--output", "edited", "--json"))
    assert result.exit_code == 0, result.stderr
    [saved] = one_json(result.stdout)["images"]
    assert decoded(Path(saved["path"]))[0] == "PNG"
    [request] = received(server)
    assert request["path"] == "/openai/v1/images/edits"
    assert request["form"]["image"]["filename"] == "cat.png"
    assert "mask" not in request["form"]


def test_edit_two_images_and_a_mask(
    run: Invoke, server: EmulatorServer, keys: str, tmp_path: Path
) -> None:
    first = png_file(tmp_path / "a.png", (128, 128))
    second = png_file(tmp_path / "b.png", (128, 128))
    mask = png_file(tmp_path / "mask.png", (128, 128))
    result = run(
        *_edit(server, "-i", str(first), "-i", str(second), "--mask", str(mask)),
        *("--size", "1024x1536", "--quality", "low"),
    )
    assert result.exit_code == 0, result.stderr
    [path] = result.stdout.splitlines()
    assert decoded(Path(path)) == ("PNG", (1024, 1536))
    form = received(server)[0]["form"]
    images = form.get("image[]") or form.get("image")
    assert [part["filename"] for part in images] == ["a.png", "b.png"]
    assert form["mask"]["filename"] == "mask.png"
    assert (form["size"], form["quality"]) == ("1024x1536", "low")


def test_edit_needs_an_image(run: Invoke, keys: str) -> None:
    result = run("edit", "add a hat", "--provider", "openai")
    assert result.exit_code == 2
    assert "--image" in result.stderr


def test_edit_missing_file_is_invalid(run: Invoke, server: EmulatorServer, keys: str) -> None:
    result = run(*_edit(server, "--image", "missing.png"))
    assert result.exit_code == 2
    assert "missing.png" in result.stderr
    assert received(server) == []


def test_edit_refuses_no_wait(
    run: Invoke, server: EmulatorServer, keys: str, tmp_path: Path
) -> None:
    image = png_file(tmp_path / "cat.png")
    result = run(*_edit(server, "--image", str(image), "--no-wait", "--json"))
    assert result.exit_code == 2
    assert "--no-wait" in result.stderr
    assert one_json(result.stdout)["error"]["type"] == "UsageError"
    assert received(server) == []


def test_edit_unsupported_by_the_model(
    run: Invoke, server: EmulatorServer, keys: str, tmp_path: Path
) -> None:
    image = png_file(tmp_path / "cat.png")
    result = run(*_edit(server, "--image", str(image), "--model", "dall-e-3"))
    assert result.exit_code == 2
    assert "dall-e-3" in result.stderr
    assert received(server) == []
