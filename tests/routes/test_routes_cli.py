"""The command line over routes: ``--provider a,b``, ``--profile NAME``, ``imagebridge
routes`` and ``batch`` over routes, against two emulators over loopback (route A's and route
B's, each requiring its own key)."""

from __future__ import annotations

import json
import os
import select
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result

from imagebridge import default_registry
from imagebridge._cli._app import cli
from imagebridge._emulator import EmulatorConfig, EmulatorServer

from .support import KEY_A, KEY_B, Pair

PROMPT = "a lighthouse in the fog"
WRONG_KEY = "sk-WRONG-0123456789abcdef"


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    """No provider, profile or config settings from the real environment; a fresh folder."""
    for cls in default_registry().adapters.values():
        monkeypatch.delenv(f"{cls.env_prefix()}_API_KEY", raising=False)
        monkeypatch.delenv(f"{cls.env_prefix()}_BASE_URL", raising=False)
    for name in ("IMAGEBRIDGE_PROVIDER", "IMAGEBRIDGE_PROFILE", "IMAGEBRIDGE_CONFIG"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.chdir(tmp_path)
    return tmp_path


def run(*args: str) -> Result:
    """``imagebridge ARGS...`` in-process; neither route's key is in any output."""
    result = CliRunner().invoke(cli, list(args), catch_exceptions=False)
    for key in (KEY_A, KEY_B):
        assert key not in result.stdout
        assert key not in result.stderr
    assert "Traceback" not in result.stderr
    return result


def one_json(text: str) -> dict[str, Any]:
    lines = [line for line in text.splitlines() if line.strip()]
    assert len(lines) == 1, text
    data: dict[str, Any] = json.loads(lines[0])
    return data


def sent(pair: Pair) -> tuple[int, int]:
    """The API requests each emulator received in this test."""
    return len(pair.a.app_state.requests), len(pair.b.app_state.requests)


@pytest.fixture
def listed(pair: Pair, monkeypatch: pytest.MonkeyPatch) -> Pair:
    """``--provider openai,dimilinks`` (and geeknow): openai on A, the others on B, each
    route's key and base URL from the provider's variables."""
    for provider, server, key in (
        ("openai", pair.a, KEY_A),
        ("dimilinks", pair.b, KEY_B),
        ("geeknow", pair.b, KEY_B),
    ):
        prefix = provider.upper()
        monkeypatch.setenv(f"{prefix}_API_KEY", key)
        monkeypatch.setenv(f"{prefix}_BASE_URL", server.url(provider))
    return pair


@pytest.fixture
def config(pair: Pair, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A config file whose profile ``default`` is route ``main`` (openai dall-e-3 on A) then
    ``backup`` (dimilinks on B), each key in a variable of its own."""
    monkeypatch.setenv("ROUTE_A_KEY", KEY_A)
    monkeypatch.setenv("ROUTE_B_KEY", KEY_B)
    path = tmp_path / "imagebridge.toml"
    path.write_text(
        f"""
[routes.main]
provider = "openai"
model = "dall-e-3"
base_url = "{pair.a.url("openai")}"
api_key_env = "ROUTE_A_KEY"

[routes.backup]
provider = "dimilinks"
base_url = "{pair.b.url("dimilinks")}"
api_key_env = "ROUTE_B_KEY"
weight = 2
# (A route with a limit goes after one that can send now: on the backup, it keeps the order.)
rate_limit = {{ requests_per_minute = 300 }}

[profiles.default]
routes = ["main", "backup"]
cooldown = 5
""",
        encoding="utf-8",
    )
    return path


# -- --provider a,b --------------------------------------------------------------------------------
def test_a_provider_list_runs_on_the_route_that_can_honour_it(listed: Pair) -> None:
    result = run("generate", PROMPT, "--provider", "openai,dimilinks", "--size", "16:9", "--json")
    assert result.exit_code == 0, result.stderr
    data = one_json(result.stdout)
    assert (data["provider"], data["route"]) == ("dimilinks", "dimilinks")
    assert [w["code"] for w in data["warnings"]] == ["route_skipped"]
    assert "openai" in data["warnings"][0]["message"]
    assert Path(data["images"][0]["path"]).is_file()
    assert sent(listed)[0] == 0  # gpt-image-1 makes no 16:9: nothing went to A
    assert listed.accepted() == (0, 1)


def test_json_lines_completed_names_provider_and_route(listed: Pair) -> None:
    args = ("generate", PROMPT, "-p", "openai,dimilinks", "--size", "16:9", "--json-lines")
    result = run(*args)
    assert result.exit_code == 0, result.stderr
    events = [json.loads(line) for line in result.stdout.splitlines()]
    accepted = [e for e in events if e["type"] == "accepted"]
    assert [e["provider"] for e in accepted] == ["dimilinks"]
    completed = events[-1]
    assert completed["type"] == "completed"
    assert (completed["provider"], completed["route"]) == ("dimilinks", "dimilinks")


def test_option_goes_to_every_route_of_a_list(listed: Pair) -> None:
    args = ("generate", PROMPT, "-p", "dimilinks,openai", "--option", "response_format=b64_json")
    result = run(*args, "--model", "dall-e-2", "--size", "256x256", "--json")
    assert result.exit_code == 0, result.stderr
    data = one_json(result.stdout)
    assert data["route"] == "openai"
    [skipped] = data["warnings"]  # dimilinks got the option too, and has no such option
    assert "provider_options.dimilinks.response_format" in skipped["message"]
    [submit] = [e for e in listed.a.app_state.requests if e.get("json")]
    assert submit["json"]["response_format"] == "b64_json"
    assert sent(listed)[1] == 0


def test_route_warnings_are_on_stderr_in_human_mode(listed: Pair) -> None:
    result = run("generate", PROMPT, "-p", "openai,dimilinks", "--size", "16:9")
    assert result.exit_code == 0, result.stderr
    assert "warning: route 'openai' skipped" in result.stderr
    [path] = result.stdout.splitlines()
    assert Path(path).is_file()


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (("-p", "openai,openai"), "names openai more than once"),
        (("-p", "openai,"), "has an empty name"),
        (("-p", "openai,dimilinks", "--base-url", "http://127.0.0.1:9/v1"), "--base-url is for"),
        (("-p", "openai,dimilinks", "--api-key", "sk-given-on-the-line"), "--api-key is for"),
        (("-p", "openai", "--profile", "default"), "--provider and --profile are both given"),
        (("-p", "openai,nosuch"), "unknown provider 'nosuch'"),
    ],
)
def test_bad_connection_options_are_refused_before_anything_is_sent(
    listed: Pair, args: tuple[str, ...], expected: str
) -> None:
    result = run("generate", PROMPT, *args, "--json")
    assert result.exit_code == 2, result.stderr
    assert expected in result.stderr
    assert one_json(result.stdout)["error"]["exit_code"] == 2
    assert sent(listed) == (0, 0)


def test_every_route_skipped_is_invalid_input_one_line_per_route(listed: Pair) -> None:
    result = run("generate", PROMPT, "-p", "openai,geeknow", "--size", "16:9", "--json")
    assert result.exit_code == 2, result.stderr
    lines = result.stderr.splitlines()
    assert lines[0].startswith("imagebridge: error: no route could serve the request")
    assert [line.split(":")[0] for line in lines[1:]] == ["  - openai", "  - geeknow"]
    assert all("skipped: " in line and "size" in line for line in lines[1:])
    error = one_json(result.stdout)["error"]
    assert error["type"] == "RoutesExhaustedError"
    assert list(error["outcomes"]) == ["openai", "geeknow"]
    assert sent(listed) == (0, 0)


def test_every_route_failed_is_a_provider_failure(
    listed: Pair, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", WRONG_KEY)  # each emulator refuses it: 401
    monkeypatch.setenv("GEEKNOW_API_KEY", WRONG_KEY)
    result = run("generate", PROMPT, "-p", "openai,geeknow", "--json")
    assert result.exit_code == 3, result.stderr
    error = one_json(result.stdout)["error"]
    assert all(o.startswith("failed: ") for o in error["outcomes"].values())
    assert listed.submits() == (1, 1)
    assert len(result.stderr.splitlines()) == 3  # the error, then one line per route


# -- --profile -------------------------------------------------------------------------------------
def test_a_profile_runs_on_its_routes_and_falls_back(
    config: Path, pair: Pair, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("IMAGEBRIDGE_PROVIDER", "geeknow")  # --profile on the line wins
    monkeypatch.setenv("ROUTE_A_KEY", WRONG_KEY)  # main's key is refused: 401
    args = ("generate", PROMPT, "--profile", "default", "--config", str(config), "--json")
    result = run(*args, "--size", "1024x1024")
    assert result.exit_code == 0, result.stderr
    data = one_json(result.stdout)
    assert (data["provider"], data["route"]) == ("dimilinks", "backup")
    assert [w["code"] for w in data["warnings"]] == ["route_failed"]
    assert pair.submits() == (1, 1)
    served = one_json(run(*args, "--size", "1024x1024").stdout)
    assert served["route"] == "backup"
    assert pair.submits() == (2, 2)  # a new command, a new client: main is tried first again


def test_the_profile_comes_from_the_environment_too(
    config: Path, pair: Pair, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("IMAGEBRIDGE_PROFILE", "default")
    monkeypatch.setenv("IMAGEBRIDGE_CONFIG", str(config))
    result = run("generate", PROMPT, "--json")
    assert result.exit_code == 0, result.stderr
    assert one_json(result.stdout)["route"] == "main"
    assert pair.accepted() == (1, 0)


def test_no_route_key_is_ever_printed(config: Path, pair: Pair) -> None:
    # dall-e-3 echoes the prompt (its revised prompt): here with route B's key in it.
    prompt = f"a sign that reads {KEY_B}"
    result = run("generate", prompt, "--profile", "default", "--config", str(config), "--json")
    assert result.exit_code == 0, result.stderr
    data = one_json(result.stdout)
    assert data["route"] == "main"
    assert "[REDACTED]" in json.dumps(data)  # the echo was there, and scrubbed (run checks)


def test_profile_errors_are_configuration_errors(config: Path, pair: Pair) -> None:
    result = run("generate", PROMPT, "--profile", "nosuch", "--config", str(config))
    assert result.exit_code == 2
    assert "no profile 'nosuch'" in result.stderr
    assert sent(pair) == (0, 0)


# -- imagebridge routes ----------------------------------------------------------------------------
def test_routes_lists_a_profile_without_sending_anything(
    config: Path, pair: Pair, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("ROUTE_B_KEY")
    result = run("routes", "--profile", "default", "--config", str(config))
    assert result.exit_code == 0, result.stderr
    text = result.stdout
    assert f"profile default ({config}): strategy ordered, cooldown 5s" in text
    assert "main: openai\n  model       dall-e-3\n" in text
    assert "$ROUTE_A_KEY (set)" in text
    assert "$ROUTE_B_KEY (not set)" in text
    assert "300 requests/min" in text
    assert "gpt-image-2 (the provider's default)" in text
    data = one_json(
        run("routes", "--profile", "default", "--config", str(config), "--json").stdout.replace(
            "\n", " "
        )
    )
    assert (data["profile"], data["strategy"], data["cooldown"]) == ("default", "ordered", 5)
    main, backup = data["routes"]
    assert (main["name"], main["model"], main["base_url"]) == (
        "main",
        "dall-e-3",
        pair.a.url("openai"),
    )
    assert (main["api_key_env"], main["api_key_set"]) == ("ROUTE_A_KEY", True)
    assert (backup["api_key_set"], backup["weight"], backup["rate_limit"]) == (
        False,
        2,
        "300 requests/min",
    )
    assert "able" not in main
    assert main["rate_limit"] is None
    assert sent(pair) == (0, 0)


def test_routes_check_shows_the_try_order_and_why_not(listed: Pair) -> None:
    args = ("routes", "-p", "openai,dimilinks", "--check", PROMPT, "--size", "16:9")
    result = run(*args, "--json")
    assert result.exit_code == 0, result.stderr
    data = one_json(result.stdout.replace("\n", " "))
    assert [r["name"] for r in data["routes"]] == ["dimilinks", "openai"]
    assert [r["able"] for r in data["routes"]] == [True, False]
    assert data["routes"][0]["reason"] is None
    assert "size" in data["routes"][1]["reason"]
    human = run(*args)
    assert "  can honour  yes" in human.stdout
    assert "  can honour  no: " in human.stdout
    assert human.stdout.index("dimilinks: dimilinks") < human.stdout.index("openai: openai")
    assert sent(listed) == (0, 0)


def test_routes_check_exits_2_when_no_route_can(listed: Pair) -> None:
    result = run("routes", "-p", "openai,geeknow", "--check", PROMPT, "--size", "16:9")
    assert result.exit_code == 2
    assert result.stdout.count("can honour  no: ") == 2
    assert "no route can honour this request" in result.stderr
    assert sent(listed) == (0, 0)


def test_routes_check_a_route_without_its_key_cannot_honour_it(
    listed: Pair, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("DIMILINKS_API_KEY")
    args = ("routes", "-p", "openai,dimilinks", "--check", PROMPT, "--size", "16:9", "--json")
    result = run(*args)
    assert result.exit_code == 2
    routes = one_json(result.stdout.replace("\n", " "))["routes"]
    assert [(r["name"], r["able"]) for r in routes] == [("dimilinks", False), ("openai", False)]
    assert routes[0]["reason"] == "its API key is not set ($DIMILINKS_API_KEY)"
    assert sent(listed) == (0, 0)


def test_routes_request_options_need_check(listed: Pair) -> None:
    result = run("routes", "-p", "openai,dimilinks", "--size", "16:9")
    assert result.exit_code == 2
    assert "are for --check PROMPT" in result.stderr


# -- batch -----------------------------------------------------------------------------------------
def test_batch_over_two_routes_counts_per_route_and_resumes(listed: Pair, tmp_path: Path) -> None:
    requests = tmp_path / "requests.jsonl"
    lines = [
        {"id": "square", "prompt": "a cube", "size": "1024x1024"},  # openai can: first route
        {"id": "wide", "prompt": "a road", "size": "16:9"},  # only dimilinks can
        {"id": "poster", "prompt": "a poster", "size": "16:9"},
    ]
    requests.write_text("".join(json.dumps(line) + "\n" for line in lines), encoding="utf-8")
    args = ("batch", str(requests), "-p", "openai,dimilinks", "--output", "out")
    first = run(*args, "--json")
    assert first.exit_code == 0, first.stderr
    summary = json.loads(first.stdout)
    assert summary["counts"]["saved"] == 3
    assert summary["routes"] == {"openai": 1, "dimilinks": 2}
    assert listed.accepted() == (1, 2)
    text = (tmp_path / "out" / "batch-report.jsonl").read_text(encoding="utf-8")
    report = [json.loads(line) for line in text.splitlines()]
    assert {r["id"]: r["route"] for r in report} == {
        "square": "openai", "wide": "dimilinks", "poster": "dimilinks",
    }  # fmt: skip
    again = run(*args)
    assert again.exit_code == 0, again.stderr
    assert "0 saved, 3 skipped" in again.stderr
    assert listed.submits() == (1, 2)  # nothing submitted again


def test_batch_line_no_route_can_honour_is_invalid_input(listed: Pair, tmp_path: Path) -> None:
    requests = tmp_path / "requests.jsonl"
    requests.write_text(
        '{"id": "ok", "prompt": "a cube"}\n{"id": "wide", "prompt": "a road", "size": "16:9"}\n',
        encoding="utf-8",
    )
    result = run("batch", str(requests), "-p", "openai,geeknow", "--output", "out", "--json")
    assert result.exit_code == 2
    assert "line 2" in result.stderr
    assert "no route can honour it" in result.stderr
    assert "line 1" not in result.stderr
    assert sent(listed) == (0, 0)


# -- Ctrl-C ----------------------------------------------------------------------------------------
def _script() -> str:
    if sys.platform == "win32":
        pytest.skip("SIGINT is POSIX")
    beside = Path(sys.executable).parent / "imagebridge"
    found = str(beside) if beside.is_file() else shutil.which("imagebridge")
    if found is None:
        pytest.skip("the imagebridge console script is not installed")
    return found


def test_ctrl_c_on_routes_names_the_provider_that_accepted_the_task(tmp_path: Path) -> None:
    with EmulatorServer(EmulatorConfig(task_duration=30)) as slow:
        env = {**os.environ, "IMAGEBRIDGE_JOURNAL": str(tmp_path / "journal.sqlite3")}
        for provider, key in (("openai", KEY_A), ("dimilinks", KEY_B)):
            env[f"{provider.upper()}_API_KEY"] = key
            env[f"{provider.upper()}_BASE_URL"] = slow.url(provider)
        args = ["generate", PROMPT, "-p", "openai,dimilinks", "--size", "16:9"]
        process = subprocess.Popen(
            [_script(), *args, "--progress", "plain", "-o", str(tmp_path)],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            env=env,
            text=True,
        )
        assert process.stderr is not None
        seen = ""
        deadline = time.monotonic() + 30
        while "accepted [task " not in seen:
            assert time.monotonic() < deadline, seen
            ready, _, _ = select.select([process.stderr], [], [], 0.1)
            if ready:
                line = process.stderr.readline()
                assert line, f"the process ended first: {seen}"
                seen += line
        process.send_signal(signal.SIGINT)
        _, rest = process.communicate(timeout=30)
    assert process.returncode == 130
    stderr = seen + rest
    assert KEY_A not in stderr
    assert KEY_B not in stderr
    last = stderr.splitlines()[-1]
    assert last.startswith("imagebridge: error: interrupted; task ")
    assert last.endswith("--provider dimilinks")  # the route that accepted it, not the list
