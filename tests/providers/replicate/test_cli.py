"""The CLI against the emulator's Replicate dialect: ``generate``, ``edit``, ``--no-wait`` then
``task ID --cancel`` (journaled as cancelled), and input refused before sending."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest
from click.testing import CliRunner, Result
from PIL import Image

from imagebridge._cli._app import cli
from imagebridge._emulator import EmulatorServer
from imagebridge._journal import open_default_journal

from .conftest import KEY, log


@pytest.fixture
def invoke(server: EmulatorServer, monkeypatch: pytest.MonkeyPatch, tmp_path: Path):  # type: ignore[no-untyped-def]
    monkeypatch.setenv("REPLICATE_API_KEY", KEY)
    monkeypatch.setenv("REPLICATE_BASE_URL", server.url("replicate"))
    monkeypatch.chdir(tmp_path)
    runner = CliRunner()

    def run(*args: str) -> Result:
        result = runner.invoke(cli, list(args), catch_exceptions=False)
        assert KEY not in result.stdout + result.stderr
        return result

    return run


def _image(path: str) -> tuple[str, tuple[int, int]]:
    with Image.open(io.BytesIO(Path(path).read_bytes())) as image:
        return str(image.format), image.size


def test_generate(invoke, server: EmulatorServer) -> None:  # type: ignore[no-untyped-def]
    result = invoke(
        "generate", "a cli cat", "--provider", "replicate", "--size", "3:2", "-n", "2",
        "--format", "png", "--seed", "9", "--output", "out", "--json",
    )  # fmt: skip
    assert result.exit_code == 0, result.stderr
    data = json.loads(result.stdout)
    assert data["task_id"] in server.app_state.tasks
    assert [_image(i["path"]) for i in data["images"]] == [("PNG", (1216, 832))] * 2
    create = next(
        e for e in log(server) if e.get("json", {}).get("input", {}).get("prompt") == "a cli cat"
    )
    assert create["json"]["input"]["seed"] == 9
    assert create["json"]["input"]["num_outputs"] == 2


def test_edit(invoke, server: EmulatorServer, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    photo = tmp_path / "photo.png"
    Image.new("RGB", (48, 32), (10, 200, 10)).save(photo)
    result = invoke(
        "edit", "make it red", "--provider", "replicate", "--image", str(photo),
        "--model", "black-forest-labs/flux-kontext-pro", "--output", "out", "--json",
    )  # fmt: skip
    assert result.exit_code == 0, result.stderr
    data = json.loads(result.stdout)
    assert _image(data["images"][0]["path"])[0] == "PNG"  # kontext's default format
    task = server.app_state.tasks[data["task_id"]]
    assert task.extra["input"]["input_image"].startswith("data:image/png;base64,")


def test_no_wait_then_cancel(invoke, server: EmulatorServer) -> None:  # type: ignore[no-untyped-def]
    submitted = invoke(
        "generate", "cancel via cli", "--provider", "replicate", "--no-wait", "--json"
    )
    assert submitted.exit_code == 0, submitted.stderr
    task_id = json.loads(submitted.stdout)["task_id"]
    cancelled = invoke("task", task_id, "--provider", "replicate", "--cancel", "--json")
    assert cancelled.exit_code == 0, cancelled.stderr
    assert json.loads(cancelled.stdout) == {"task_id": task_id, "cancelled": True}
    assert server.app_state.tasks[task_id].cancelled_at is not None
    journal = open_default_journal()
    assert journal is not None
    [entry] = journal.entries(task_id=task_id)
    journal.close()
    assert entry.state == "cancelled"


def test_bad_input_is_refused_before_sending(invoke, server: EmulatorServer) -> None:  # type: ignore[no-untyped-def]
    before = len(log(server))
    result = invoke("generate", "x", "--provider", "replicate", "--negative-prompt", "blurry")
    assert result.exit_code != 0
    assert "negative_prompt" in result.stderr
    assert len(log(server)) == before
