"""``--dry-run`` on generate, edit and vary: what would be sent, and nothing sent."""

from __future__ import annotations

from pathlib import Path

from helpers import png
from imagebridge._emulator import EmulatorServer

from .conftest import Invoke, one_json, received


def test_a_dry_run_prints_the_request_and_sends_nothing(
    run: Invoke, server: EmulatorServer, keys: str, tmp_path: Path
) -> None:
    result = run(
        *("generate", "a red cube", "-p", "geeknow", "--base-url", server.url("geeknow")),
        *("--model", "gpt-image-1", "--size", "1:1", "-n", "2", "--output", "out/", "--dry-run"),
    )
    assert result.exit_code == 0, result.stderr
    assert "POST" in result.stdout
    assert f"{server.url('geeknow')}/images/generations" in result.stdout
    assert received(server) == []
    assert not (tmp_path / "out").exists()  # nothing made either


def test_a_json_dry_run_has_the_wire_fields_the_call_then_sends(
    run: Invoke, server: EmulatorServer, keys: str
) -> None:
    args = ("generate", "a red cube", "-p", "geeknow", "--base-url", server.url("geeknow"))
    args += ("--model", "gpt-image-1", "--size", "1024x1024", "--json")
    dry = run(*args, "--dry-run")
    assert dry.exit_code == 0, dry.stderr
    data = one_json(dry.stdout)
    assert data["dry_run"] is True
    assert data["provider"] == "geeknow"
    [planned] = data["requests"]
    assert received(server) == []
    real = run(*args, "--output", "out/")
    assert real.exit_code == 0, real.stderr
    [sent] = [r for r in received(server) if r["path"].endswith("/images/generations")]
    assert planned["method"] == sent["method"] == "POST"
    assert planned["fields"] == sent["json"]


def test_an_edit_dry_run_shows_the_image_by_its_size_only(
    run: Invoke, server: EmulatorServer, keys: str, tmp_path: Path
) -> None:
    image = tmp_path / "cat.png"
    image.write_bytes(png(256, 256))
    result = run(
        *("edit", "add a hat", "-p", "openai", "--base-url", server.url("openai")),
        *("--model", "gpt-image-1", "-i", str(image), "--json", "--dry-run"),
    )
    assert result.exit_code == 0, result.stderr
    data = one_json(result.stdout)
    assert data["operation"] == "edit"
    assert str(image.stat().st_size) in result.stdout
    assert len(result.stdout) < 10_000
    assert received(server) == []


def test_a_refused_request_is_refused_by_its_dry_run_too(
    run: Invoke, server: EmulatorServer, keys: str
) -> None:
    result = run(
        *("generate", "a cube", "-p", "openai", "--base-url", server.url("openai")),
        *("--model", "dall-e-3", "--size", "512x512", "--dry-run"),
    )
    assert result.exit_code == 2
    assert "512x512" in result.stderr
    assert received(server) == []


def test_dry_run_with_json_lines_is_a_usage_error(run: Invoke, keys: str) -> None:
    result = run("generate", "a cube", "-p", "openai", "--dry-run", "--json-lines")
    assert result.exit_code == 2
    assert "--dry-run" in result.stderr
