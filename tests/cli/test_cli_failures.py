"""Failures that keep paid work: partial results, interrupted tasks; and --verbose reports."""

from __future__ import annotations

import io
import re
from pathlib import Path
from typing import Any

import pytest
from PIL import Image

from imagebridge import (
    GeneratedImage,
    ImageClient,
    ImageResult,
    ImageStream,
    Progress,
    ServerError,
    StreamEvent,
)
from imagebridge._emulator import EmulatorServer

from .conftest import Invoke, decoded, one_json


def _png() -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (32, 32), (0, 128, 0)).save(out, format="PNG")
    return out.getvalue()


def _failing_stream(
    monkeypatch: pytest.MonkeyPatch, error: BaseException, *events: StreamEvent
) -> None:
    """client.stream() (the one path of generate, edit and vary) yields ``events``, then
    ``error`` comes out of the iteration, as from a real stream."""

    def fake(self: ImageClient, prompt: str, **fields: Any) -> ImageStream:
        def events_then_error() -> Any:
            yield from events
            raise error

        return ImageStream(events_then_error())

    monkeypatch.setattr(ImageClient, "stream", fake)


@pytest.fixture
def partial_failure(monkeypatch: pytest.MonkeyPatch) -> None:
    """The job fails after one of two calls made an image."""
    error = ServerError("upstream failed", provider="geeknow", status_code=502, code="bad")
    error.partial = ImageResult(images=[GeneratedImage(data=_png())], provider="geeknow")
    _failing_stream(monkeypatch, error)


@pytest.mark.usefixtures("partial_failure", "keys")
def test_images_made_before_a_failure_are_saved(run: Invoke) -> None:
    result = run("generate", "cubes", "-p", "geeknow", "-n", "2", "-o", "out")
    assert result.exit_code == 3
    [path] = result.stdout.splitlines()
    assert decoded(Path(path)) == ("PNG", (32, 32))
    assert "[geeknow HTTP 502 bad] upstream failed" in result.stderr


@pytest.mark.usefixtures("partial_failure", "keys")
def test_partial_images_in_the_json_error(run: Invoke) -> None:
    result = run("generate", "cubes", "-p", "geeknow", "-n", "2", "--json")
    assert result.exit_code == 3
    data = one_json(result.stdout)
    assert data["error"]["code"] == "bad"
    [image] = data["error"]["partial"]["images"]
    assert Path(image["path"]).is_file()


@pytest.mark.usefixtures("keys")
@pytest.mark.parametrize("json_flag", [False, True])
def test_interrupt_after_acceptance_names_the_task(
    run: Invoke, monkeypatch: pytest.MonkeyPatch, json_flag: bool
) -> None:
    queued = Progress("queued", "pending", None, "task-42", "dimilinks")
    _failing_stream(monkeypatch, KeyboardInterrupt(), queued)
    result = run("generate", "a cube", "-p", "dimilinks", *(["--json"] if json_flag else []))
    assert result.exit_code == 130
    assert "imagebridge task task-42 --provider dimilinks" in result.stderr
    if json_flag:
        assert one_json(result.stdout)["error"]["task_id"] == "task-42"


@pytest.mark.usefixtures("keys")
def test_interrupt_before_acceptance(run: Invoke, monkeypatch: pytest.MonkeyPatch) -> None:
    _failing_stream(monkeypatch, KeyboardInterrupt())
    result = run("generate", "a cube", "-p", "geeknow")
    assert result.exit_code == 130
    assert result.stderr.strip() == "imagebridge: error: interrupted"


@pytest.mark.usefixtures("keys")
def test_verbose_adds_a_traceback_and_progress(run: Invoke, server: EmulatorServer) -> None:
    base = server.url("geeknow")
    result = run("generate", "x #error=500:server_error", "-p", "geeknow", "--base-url", base, "-v")
    assert result.exit_code == 3
    lines = result.stderr.strip().splitlines()
    assert "Traceback (most recent call last):" in lines
    assert lines[-1].startswith("imagebridge: error: [geeknow HTTP 500")
    assert any(re.fullmatch(r"imagebridge: geeknow: submitting \(\d+\.\ds\)", x) for x in lines)


@pytest.mark.usefixtures("keys")
def test_unexpected_failure_is_one_line(run: Invoke, monkeypatch: pytest.MonkeyPatch) -> None:
    _failing_stream(monkeypatch, RuntimeError("something odd"))
    result = run("generate", "a cube", "-p", "geeknow")
    assert result.exit_code == 1
    assert result.stderr == "imagebridge: error: unexpected RuntimeError: something odd\n"


@pytest.mark.usefixtures("keys")
def test_output_that_is_a_file_is_a_usage_error(run: Invoke, tmp_path: Path) -> None:
    (tmp_path / "taken").write_text("x")
    result = run("generate", "a cube", "-p", "geeknow", "--output", "taken")
    assert result.exit_code == 2
    assert "taken" in result.stderr
