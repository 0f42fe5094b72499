"""The async-task commands end to end over loopback HTTP: dimilinks and apimart through
``generate``, ``--no-wait`` then ``task``, ``tasks``, and ``batch``."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from imagebridge._emulator import EmulatorServer

from .conftest import Invoke, decoded, one_json, png_file, received


def _posts(server: EmulatorServer) -> list[dict[str, object]]:
    return [r for r in received(server) if r["method"] == "POST"]


@pytest.mark.parametrize("provider", ["dimilinks", "apimart"])
def test_ratio_and_tier_make_the_tier_pixel_size(
    run: Invoke, server: EmulatorServer, keys: str, tmp_path: Path, provider: str
) -> None:
    result = run(
        "generate", "a cat", "--provider", provider, "--base-url", server.url(provider),
        "--size", "16:9", "--resolution", "2k", "--output", "out", "--json",
    )  # fmt: skip
    assert result.exit_code == 0, result.stderr
    data = one_json(result.stdout)
    assert data["task_id"]
    assert decoded(Path(data["images"][0]["path"])) == ("PNG", (2048, 1152))
    paths = [str(r["path"]) for r in received(server)]
    assert any(p.endswith(f"/tasks/{data['task_id']}") for p in paths)  # polled
    assert any(p.startswith("/p/img/") for p in paths)  # the signed result link
    [submit] = _posts(server)
    assert submit["json"]["size"] == "16:9"  # type: ignore[index]
    assert submit["json"]["resolution"] == "2k"  # type: ignore[index]
    if provider == "dimilinks":
        assert submit["query"] == {"async": "true"}


def test_two_references_go_as_data_urls(
    run: Invoke, server: EmulatorServer, keys: str, tmp_path: Path
) -> None:
    a, b = png_file(tmp_path / "a.png"), png_file(tmp_path / "b.png", (32, 16))
    result = run(
        "generate", "a cat", "-p", "dimilinks", "--base-url", server.url("dimilinks"),
        "--reference", str(a), "--reference", str(b), "--output", "out",
    )  # fmt: skip
    assert result.exit_code == 0, result.stderr
    [submit] = _posts(server)
    urls = submit["json"]["image_urls"]  # type: ignore[index]
    assert len(urls) == 2
    assert all(url.startswith("data:image/png;base64,") for url in urls)


@pytest.mark.parametrize("provider", ["dimilinks", "apimart"])
def test_five_references_or_a_blob_are_refused_before_any_request(
    run: Invoke, server: EmulatorServer, keys: str, tmp_path: Path, provider: str
) -> None:
    five = [str(png_file(tmp_path / f"r{i}.png")) for i in range(5)]
    for references in (five, ["blob:https://app.example/1234"]):
        args = [arg for ref in references for arg in ("--reference", ref)]
        result = run("generate", "a cat", "-p", provider, "--base-url", server.url(provider), *args)
        assert result.exit_code == 2, result.stderr
        assert "reference_images" in result.stderr
    assert received(server) == []


def test_a_failed_task_exits_3_with_the_provider_code(
    run: Invoke, server: EmulatorServer, keys: str
) -> None:
    result = run(
        "generate", "a cat #fail=content_moderation", "-p", "dimilinks",
        "--base-url", server.url("dimilinks"),
    )  # fmt: skip
    assert result.exit_code == 3
    assert "content_moderation" in result.stderr
    assert result.stderr.count("\n") == 1  # one line, no traceback


def test_no_wait_then_task_recovers_the_image(
    run: Invoke, server: EmulatorServer, keys: str, tmp_path: Path
) -> None:
    base = ("-p", "dimilinks", "--base-url", server.url("dimilinks"))
    submitted = run("generate", "a cat", *base, "--no-wait", "--json")
    assert submitted.exit_code == 0, submitted.stderr
    task_id = one_json(submitted.stdout)["task_id"]
    listed = json.loads(run("tasks", "--json").stdout)
    assert [t["task_id"] for t in listed["tasks"]] == [task_id]
    fetched = run("task", task_id, *base, "--wait", "--output", "got", "--json")
    assert fetched.exit_code == 0, fetched.stderr
    assert decoded(Path(one_json(fetched.stdout)["images"][0]["path"]))[0] == "PNG"
    assert len(_posts(server)) == 1  # recovered, never submitted again
    assert json.loads(run("tasks", "--json").stdout)["tasks"] == []  # saved: done


def test_task_without_the_journal_needs_the_provider(run: Invoke, keys: str) -> None:
    result = run("task", "img_unknown")
    assert result.exit_code == 2
    assert "provider" in result.stderr


def test_batch_runs_then_resumes_without_new_submits(
    run: Invoke, server: EmulatorServer, keys: str, tmp_path: Path
) -> None:
    requests = tmp_path / "requests.jsonl"
    requests.write_text('{"id": "a", "prompt": "a cat"}\n{"id": "b", "prompt": "a dog"}\n')
    args = ("batch", str(requests), "-p", "dimilinks", "--base-url", server.url("dimilinks"))
    first = run(*args, "--output", "out", "--json", "--concurrency", "2")
    assert first.exit_code == 0, first.stderr
    assert json.loads(first.stdout)["counts"]["saved"] == 2
    again = run(*args, "--output", "out", "--json")
    assert json.loads(again.stdout)["counts"] == {
        "saved": 0, "skipped": 2, "failed": 0, "unknown": 0,
    }  # fmt: skip
    assert len(_posts(server)) == 2
    report = (tmp_path / "out" / "batch-report.jsonl").read_text().splitlines()
    assert sorted(json.loads(line)["id"] for line in report) == ["a", "b"]
