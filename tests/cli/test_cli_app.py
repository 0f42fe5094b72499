"""Help, usage errors, exit codes and the helpers behind the options."""

from __future__ import annotations

import re
import sys
from pathlib import Path

import click
import pytest

from imagebridge import ImageTimeoutError, InvalidRequestError, Problem, Progress, ServerError
from imagebridge._cli import MISSING_EXTRA, main
from imagebridge._cli._errors import ExitCode, describe, exit_code_for, json_requested
from imagebridge._cli._options import image_input, parse_provider_option
from imagebridge._cli._output import progress_label

from .conftest import Invoke, one_json


@pytest.mark.parametrize("command", [[], ["generate"], ["edit"], ["providers"], ["serve"]])
def test_help(run: Invoke, command: list[str]) -> None:
    result = run(*command, "--help")
    assert result.exit_code == 0
    assert result.stdout.startswith("Usage: imagebridge ")
    if command:
        assert command[0] in result.stdout


def test_top_level_help_documents_exit_codes(run: Invoke) -> None:
    out = run("--help").stdout
    assert "Exit codes:" in out
    for code in (0, 1, 2, 3, 4, 5):
        assert re.search(rf"\n +{code}  \w", out)
    for command in ("generate", "edit", "providers", "serve"):
        assert command in out


def test_generate_help_lists_the_contract_flags(run: Invoke) -> None:
    out = run("generate", "--help").stdout
    for flag in (
        "--provider", "--base-url", "--api-key", "--model", "--size", "--resolution", "-n",
        "--format", "--reference", "--output", "--json", "--timeout", "--no-wait", "--verbose",
        "--option", "IMAGEBRIDGE_PROVIDER",
    ):  # fmt: skip
        assert flag in out


def test_version(run: Invoke) -> None:
    result = run("--version")
    assert result.exit_code == 0
    assert result.stdout.startswith("imagebridge, version ")


def test_usage_error_is_one_line_exit_2(run: Invoke) -> None:
    result = run("generate", "a cube", "--resolution", "8k")
    assert result.exit_code == 2
    assert result.stderr.startswith("imagebridge: error: ")
    assert len(result.stderr.strip().splitlines()) == 1
    assert "'imagebridge generate --help'" in result.stderr
    assert result.stdout == ""


def test_usage_error_with_json(run: Invoke) -> None:
    result = run("generate", "--json")
    assert result.exit_code == 2
    error = one_json(result.stdout)["error"]
    assert error["type"] == "MissingParameter"
    assert error["message"] in result.stderr


def test_unknown_command(run: Invoke) -> None:
    result = run("paint")
    assert result.exit_code == 2
    assert "paint" in result.stderr


def test_main_without_click(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setitem(sys.modules, "click", None)
    with pytest.raises(SystemExit) as exit_info:
        main(["--help"])
    assert exit_info.value.code == 2
    assert capsys.readouterr().err == MISSING_EXTRA + "\n"


def test_main_runs_the_group(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main(["providers", "--json"])
    assert exit_info.value.code == 0
    assert '"providers"' in capsys.readouterr().out


def test_exit_codes() -> None:
    assert exit_code_for(InvalidRequestError([Problem("n", 0, "too few")])) == ExitCode.INVALID
    assert exit_code_for(ServerError("boom", provider="x")) == ExitCode.PROVIDER
    assert exit_code_for(ImageTimeoutError("late")) == ExitCode.TIMEOUT
    assert exit_code_for(RuntimeError("?")) == ExitCode.ERROR
    assert [int(code) for code in ExitCode][:6] == [0, 1, 2, 3, 4, 5]


def test_describe_joins_problems_on_one_line() -> None:
    error = InvalidRequestError(
        [Problem("n", 20, "too many", "1-10"), Problem("size", "9x9", "bad")], provider="openai"
    )
    text = describe(error)
    assert "\n" not in text
    assert text == (
        "invalid request for provider 'openai': n=20: too many (allowed: 1-10); size='9x9': bad"
    )


def test_describe_timeout_with_task() -> None:
    error = ImageTimeoutError("dimilinks did not finish within the 5 s deadline", provider="p")
    error.task_id = "t-1"
    assert describe(error).endswith("resume it with: imagebridge task t-1 --provider p)")


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("https://example.com/a.png", "https://example.com/a.png"),
        ("HTTP://example.com/a.png", "HTTP://example.com/a.png"),
        ("data:image/png;base64,AAAA", "data:image/png;base64,AAAA"),
        ("blob:https://x/1", "blob:https://x/1"),
        ("cat.png", Path("cat.png")),
        ("./dir/http.png", Path("dir/http.png")),
    ],
)
def test_image_input(value: str, expected: object) -> None:
    assert image_input(value) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("watermark=false", ("watermark", False)),
        ("n=3", ("n", 3)),
        ("mode=sync", ("mode", "sync")),
        ('x={"a": 1}', ("x", {"a": 1})),
        ("empty=", ("empty", "")),
        ("eq=a=b", ("eq", "a=b")),
    ],
)
def test_parse_provider_option(text: str, expected: tuple[str, object]) -> None:
    assert parse_provider_option(text) == expected


@pytest.mark.parametrize("text", ["novalue", "=x"])
def test_parse_provider_option_rejects(text: str) -> None:
    with pytest.raises(click.BadParameter):
        parse_provider_option(text)


def test_json_requested() -> None:
    assert json_requested(["generate", "x", "--json"])
    assert not json_requested(["generate", "--", "--json"])
    assert not json_requested(["providers"])


def test_progress_label() -> None:
    progress = Progress("running", "in_progress", 40, "t1", "dimilinks")
    assert progress_label(progress) == "dimilinks: running (in_progress) 40% [task t1]"
