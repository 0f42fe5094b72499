"""``imagebridge generate`` against the emulator over real loopback HTTP."""

from __future__ import annotations

from pathlib import Path

import pytest

from imagebridge._emulator import EmulatorServer

from .conftest import SECRET, Invoke, decoded, one_json, png_file, received


def test_done_criterion_saves_a_png_and_prints_its_path(
    run: Invoke, server: EmulatorServer, keys: str, tmp_path: Path
) -> None:
    base = f"{server.origin}/v1"
    result = run(
        *("generate", "a red cube", "--provider", "geeknow", "--base-url", base),
        *("--model", "gpt-image-1", "--output", "out/", "--json"),
    )
    assert result.exit_code == 0, result.stderr
    data = one_json(result.stdout)
    assert data["provider"] == "geeknow"
    assert data["model"] == "gpt-image-1"
    assert "task_id" in data
    assert data["warnings"] == []
    [image] = data["images"]
    path = Path(image["path"])
    assert path.parent.resolve() == (tmp_path / "out").resolve()
    assert decoded(path) == ("PNG", (1024, 1024))
    assert image["media_type"] == "image/png"
    [request] = received(server)
    assert request["path"] == "/v1/images/generations"
    assert request["json"]["model"] == "gpt-image-1"


def test_human_output_prints_one_path_per_line_and_warnings_on_stderr(
    run: Invoke, server: EmulatorServer, keys: str
) -> None:
    result = run(
        *("generate", "two cubes", "-p", "geeknow", "--base-url", server.url("geeknow")),
        *("--size", "1:1", "-n", "2", "--format", "jpeg", "--compression", "80"),
    )
    assert result.exit_code == 0, result.stderr
    paths = result.stdout.splitlines()
    assert len(paths) == 2
    assert all(decoded(Path(p)) == ("JPEG", (1024, 1024)) for p in paths)
    assert "warning: " in result.stderr  # the ratio was sent as pixels
    body = received(server)[0]["json"]
    assert (body["n"], body["output_format"], body["output_compression"]) == (2, "jpeg", 80)
    assert "quality" not in body  # only the fields given are sent


def test_dall_e_3_with_512_is_refused_before_any_request(
    run: Invoke, server: EmulatorServer, keys: str
) -> None:
    result = run(
        *("generate", "a red cube", "--provider", "geeknow", "--base-url", f"{server.origin}/v1"),
        *("--model", "dall-e-3", "--size", "512x512", "--output", "out/", "--json"),
    )
    assert result.exit_code == 2
    assert "1024x1024, 1792x1024, 1024x1792" in result.stderr
    assert result.stderr.startswith("imagebridge: error: ")
    assert len(result.stderr.strip().splitlines()) == 1
    error = one_json(result.stdout)["error"]
    assert error["type"] == "InvalidRequestError"
    assert error["problems"][0]["field"] == "size"
    assert received(server) == []


def test_missing_key_names_the_variable(run: Invoke, server: EmulatorServer) -> None:
    result = run("generate", "a cube", "--provider", "geeknow", "--base-url", server.url())
    assert result.exit_code == 2
    assert "GEEKNOW_API_KEY" in result.stderr
    assert "--api-key" in result.stderr
    assert received(server) == []


def test_unknown_provider_lists_the_installed_ones(run: Invoke) -> None:
    result = run("generate", "a cube", "--provider", "nope")
    assert result.exit_code == 2
    assert "'nope'" in result.stderr
    for name in ("openai", "geeknow", "dimilinks", "apimart"):
        assert name in result.stderr


def test_provider_from_environment_and_missing_provider(
    run: Invoke, server: EmulatorServer, keys: str
) -> None:
    result = run("generate", "a cube")
    assert result.exit_code == 2
    assert "IMAGEBRIDGE_PROVIDER" in result.stderr
    assert "geeknow" in result.stderr
    env = {"IMAGEBRIDGE_PROVIDER": "geeknow", "GEEKNOW_BASE_URL": server.url("geeknow")}
    result = run("generate", "a cube", env=env)
    assert result.exit_code == 0, result.stderr
    assert received(server)[0]["path"] == "/geeknow/v1/images/generations"


@pytest.mark.parametrize("json_flag", [False, True])
def test_provider_error_exits_3_with_its_code(
    run: Invoke, server: EmulatorServer, json_flag: bool
) -> None:
    args = ["generate", "a cube #error=402:insufficient_balance", "-p", "geeknow"]
    args += ["--base-url", server.url("geeknow"), "--api-key", SECRET]
    result = run(*args, *(["--json"] if json_flag else []))
    assert result.exit_code == 3
    assert "insufficient_balance" in result.stderr
    assert "Traceback" not in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
    if json_flag:
        error = one_json(result.stdout)["error"]
        assert error["type"] == "InsufficientBalanceError"
        assert error["code"] == "insufficient_balance"
        assert error["task_id"] is None
    else:
        assert result.stdout == ""


def test_provider_option_reaches_the_wire(run: Invoke, server: EmulatorServer, keys: str) -> None:
    result = run(
        *("generate", "a cube", "-p", "geeknow", "--base-url", server.url("geeknow")),
        *("--option", "watermark=false", "--option", "response_format=b64_json"),
    )
    assert result.exit_code == 0, result.stderr
    body = received(server)[0]["json"]
    assert body["watermark"] is False
    assert body["response_format"] == "b64_json"


def test_bad_provider_option_is_a_usage_error(run: Invoke, keys: str) -> None:
    result = run("generate", "a cube", "-p", "geeknow", "--option", "watermark")
    assert result.exit_code == 2
    assert "KEY=VALUE" in result.stderr
    result = run("generate", "a cube", "-p", "geeknow", "--option", "nonsense=1")
    assert result.exit_code == 2
    assert "nonsense" in result.stderr


def test_no_wait_prints_the_task(run: Invoke, server: EmulatorServer, keys: str) -> None:
    base = server.url("dimilinks")
    result = run("generate", "a cube", "-p", "dimilinks", "--base-url", base, "--no-wait")
    assert result.exit_code == 0, result.stderr
    task_id = result.stdout.strip()
    assert task_id
    assert "\n" not in task_id
    assert f"imagebridge task {task_id} --provider dimilinks" in result.stderr
    result = run("generate", "a cube", "-p", "dimilinks", "--base-url", base, "--no-wait", "--json")
    data = one_json(result.stdout)
    assert data["provider"] == "dimilinks"
    assert data["task"]["task_id"] == data["task_id"]
    assert data["task"]["base_url"] == base
    assert len(received(server)) == 2  # two submits, no polling


def test_no_wait_without_async_tasks_is_invalid(
    run: Invoke, server: EmulatorServer, keys: str
) -> None:
    result = run(
        "generate", "a cube", "-p", "geeknow", "--base-url", server.url("geeknow"), "--no-wait"
    )
    assert result.exit_code == 2
    assert "asynchronous" in result.stderr
    assert received(server) == []


def test_reference_path_is_read_and_sent(
    run: Invoke, server: EmulatorServer, keys: str, tmp_path: Path
) -> None:
    ref = png_file(tmp_path / "ref.png")
    result = run(
        *("generate", "like this", "-p", "dimilinks", "--base-url", server.url("dimilinks")),
        *("--reference", str(ref), "--reference", "https://example.com/b.png", "--no-wait"),
    )
    assert result.exit_code == 0, result.stderr
    sent = str(received(server)[0]["json"])
    assert "data:image/png;base64," in sent
    assert "https://example.com/b.png" in sent


def test_missing_reference_file_is_invalid(run: Invoke, server: EmulatorServer, keys: str) -> None:
    result = run(
        *("generate", "x", "-p", "dimilinks", "--base-url", server.url("dimilinks")),
        *("--reference", "nowhere.png"),
    )
    assert result.exit_code == 2
    assert "nowhere.png" in result.stderr
    assert received(server) == []


@pytest.mark.parametrize("json_flag", [False, True])
def test_timeout_exits_4_with_the_task_to_resume(
    run: Invoke, server: EmulatorServer, keys: str, json_flag: bool
) -> None:
    args = ["generate", "a cube", "-p", "dimilinks", "--base-url", server.url("dimilinks")]
    result = run(*args, "--timeout", "0.5", *(["--json"] if json_flag else []))
    assert result.exit_code == 4
    [submit] = received(server)
    assert "deadline" in result.stderr
    assert "imagebridge task img_" in result.stderr
    assert "--provider dimilinks" in result.stderr
    if json_flag:
        error = one_json(result.stdout)["error"]
        assert error["type"] == "ImageTimeoutError"
        assert error["task_id"]
        assert error["task_id"] in result.stderr
    assert submit["status"] == 200


def test_connection_error_exits_5(run: Invoke, keys: str) -> None:
    result = run("generate", "a cube", "-p", "geeknow", "--base-url", "http://127.0.0.1:9/v1")
    assert result.exit_code == 5
    assert result.stderr.startswith("imagebridge: error: request to geeknow failed")


def test_api_key_option_is_sent_but_never_printed(run: Invoke, server: EmulatorServer) -> None:
    args = ["generate", "a cube", "-p", "geeknow", "--base-url", server.url("geeknow")]
    result = run(*args, "--api-key", SECRET, "--json", "-v")
    assert result.exit_code == 0, result.stderr
    assert "DEBUG imagebridge: -> POST" in result.stderr
    one_json(result.stdout)  # logs and progress stay off stdout
    assert received(server)[0]["headers"]["authorization"] == "[redacted]"


def test_spinner_on_a_terminal_keeps_stdout_clean(
    run: Invoke, server: EmulatorServer, keys: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("imagebridge._cli._progress.stderr_is_tty", lambda: True)
    result = run(
        "generate", "a cube", "-p", "geeknow", "--base-url", server.url("geeknow"), "--json"
    )
    assert result.exit_code == 0, result.stderr
    assert Path(one_json(result.stdout)["images"][0]["path"]).is_file()
