"""``generate`` and ``edit`` run through ``client.stream()``: the live progress display on
stderr, partial images saved as they arrive (``--partials``), ``--json-lines`` and Ctrl-C,
against the emulator over loopback HTTP (in-process, and the console script as a real
process: stderr on a pseudo-terminal, SIGINT)."""

from __future__ import annotations

import json
import os
import re
import select
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from imagebridge import PollPolicy
from imagebridge._emulator import EmulatorConfig, EmulatorServer
from imagebridge_plugins.dimilinks import DimilinksAdapter

from .conftest import SECRET, Invoke, decoded, one_json, png_file, received

ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")
#: No stream here has more events than this.
MAX_EVENTS = 40


def _openai(server: EmulatorServer, *args: str) -> list[str]:
    return ["-p", "openai", "--base-url", server.url("openai"), "--model", "gpt-image-1", *args]


def _dimilinks(server: EmulatorServer, *args: str) -> list[str]:
    return ["-p", "dimilinks", "--base-url", server.url("dimilinks"), *args]


def json_lines(text: str) -> list[dict[str, Any]]:
    """Every line of stdout, each parsed on its own (one JSON object per line, nothing else)."""
    events = [json.loads(line) for line in text.splitlines()]
    assert 0 < len(events) <= MAX_EVENTS, text
    assert all(isinstance(event, dict) and "type" in event for event in events), text
    return events


def _types(events: list[dict[str, Any]]) -> list[str]:
    return [event["type"] for event in events]


@pytest.fixture
def fast_polls(monkeypatch: pytest.MonkeyPatch) -> None:
    """dimilinks polls every 50 ms (its own policy waits 2 s first)."""
    monkeypatch.setattr(DimilinksAdapter, "poll_policy", PollPolicy(interval=0.05, backoff=1.0))


@pytest.fixture
def held(server: EmulatorServer) -> Iterator[EmulatorServer]:
    """The first two dimilinks polls report in_progress at 50 % (a ``never`` fault)."""
    server.app_state.faults.replace(["dimilinks/poll:never:2"])
    try:
        yield server
    finally:
        server.app_state.faults.clear()


# -- the Done-when command ---------------------------------------------------------------------
def test_partials_are_saved_as_they_arrive_and_their_paths_printed(
    run: Invoke, server: EmulatorServer, keys: str, tmp_path: Path
) -> None:
    result = run(
        "generate", "a fox", *_openai(server, "--partials", "2", "--size", "1536x1024"),
        "--output", "out/",
    )  # fmt: skip
    assert result.exit_code == 0, result.stderr
    paths = [Path(line) for line in result.stdout.splitlines()]
    assert len(paths) == 3, result.stdout
    *partials, final = paths
    assert [p.name.split("-partial-")[1] for p in partials] == ["0-0.png", "1-0.png"]
    assert "partial" not in final.name
    for path in paths:
        assert path.parent.resolve() == (tmp_path / "out").resolve()
        assert decoded(path) == ("PNG", (1536, 1024))  # partials are real, at the size asked
    assert len({p.read_bytes() for p in paths}) == 3  # three different images
    [request] = received(server)
    assert request["path"] == "/openai/v1/images/generations"
    assert (request["json"]["stream"], request["json"]["partial_images"]) == (True, 2)
    assert result.stderr == ""  # not a terminal, not --verbose: no progress


def test_plain_progress_shows_each_change_with_the_time_and_no_control_codes(
    run: Invoke, server: EmulatorServer, keys: str
) -> None:
    result = run("generate", "a fox", *_openai(server, "--partials", "2", "--progress", "plain"))
    assert result.exit_code == 0, result.stderr
    lines = result.stderr.splitlines()
    assert all(re.search(r" \(\d+\.\ds\)$", line) for line in lines), lines
    assert [line.rsplit(" (", 1)[0] for line in lines] == [
        "imagebridge: openai: submitting",
        "imagebridge: openai: running",
        "imagebridge: partial image 1 saved",
        "imagebridge: partial image 2 saved",
        "imagebridge: saving",
    ]
    assert "\x1b" not in result.stderr
    assert len(result.stdout.splitlines()) == 3


def test_the_console_script_on_a_terminal_shows_a_live_display(
    server: EmulatorServer, tmp_path: Path
) -> None:
    """The Done-when command as a user runs it: stderr on a terminal (a pseudo-terminal),
    stdout a pipe that gets the paths and nothing else."""
    pty = pytest.importorskip("pty")
    script = _script()
    leader, follower = pty.openpty()
    env = {**os.environ, "OPENAI_API_KEY": SECRET, "COLUMNS": "120", "TERM": "xterm"}
    env.pop("TTY_COMPATIBLE", None)
    process = subprocess.Popen(
        [script, "generate", "a fox", *_openai(server, "--partials", "2"), "-o", "out/"],
        stdout=subprocess.PIPE,
        stderr=follower,
        env=env,
        cwd=tmp_path,
    )
    os.close(follower)
    screen = _read_terminal(leader, process)
    out, _ = process.communicate(timeout=30)
    stdout = out.decode()
    assert process.returncode == 0, screen
    assert SECRET not in screen + stdout
    shown = ANSI.sub("", screen)
    assert "openai: running" in shown
    assert "partial image 2 saved" in shown
    assert "0:00:0" in shown  # elapsed
    assert "\x1b[" in screen  # a live display, redrawn in place ...
    assert screen.endswith("\x1b[2K")  # ... and erased at the end
    lines = stdout.splitlines()
    assert len(lines) == 3
    assert "\x1b" not in stdout
    assert all(decoded(tmp_path / line)[0] == "PNG" for line in lines)


def _read_terminal(leader: int, process: subprocess.Popen[bytes]) -> str:
    """What the process wrote to the terminal, until it exits (at most 30 s)."""
    out = b""
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        ready, _, _ = select.select([leader], [], [], 0.1)
        if ready:
            try:
                chunk = os.read(leader, 65536)
            except OSError:  # the other side closed (Linux)
                break
            if not chunk:
                break
            out += chunk
        elif process.poll() is not None:
            break
    os.close(leader)
    return out.decode(errors="replace")


def _script() -> str:
    if sys.platform == "win32":
        pytest.skip("pseudo-terminals and SIGINT are POSIX")
    beside = Path(sys.executable).parent / "imagebridge"
    found = str(beside) if beside.is_file() else shutil.which("imagebridge")
    if found is None:
        pytest.skip("the imagebridge console script is not installed")
    return found


# -- task dialects: status and percent while polling ------------------------------------------
@pytest.mark.usefixtures("fast_polls", "keys")
def test_dimilinks_on_a_terminal_shows_status_percent_and_time(
    run: Invoke, held: EmulatorServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("imagebridge._cli._progress.stderr_is_tty", lambda: True)
    env = {"TTY_COMPATIBLE": "1", "TTY_INTERACTIVE": "1", "COLUMNS": "120"}
    result = run("generate", "a cat", *_dimilinks(held), "--json", env=env)
    assert result.exit_code == 0, result.stderr
    data = one_json(result.stdout)  # stdout stays one JSON object
    shown = ANSI.sub("", result.stderr)
    task = data["task_id"]
    assert re.search(rf"dimilinks: running \(in_progress\) \[task {task}\] \S+\s+50% 0:00:0", shown)
    assert f"dimilinks: accepted [task {task}]" in shown
    assert "\x1b[" in result.stderr


@pytest.mark.usefixtures("fast_polls", "keys")
def test_dimilinks_not_on_a_terminal_prints_plain_lines(run: Invoke, held: EmulatorServer) -> None:
    result = run("generate", "a cat", *_dimilinks(held), "--progress", "plain")
    assert result.exit_code == 0, result.stderr
    lines = result.stderr.splitlines()
    task = Path(result.stdout.strip()).name.rsplit("-", 1)[0]
    running = f"imagebridge: dimilinks: running (in_progress) 50% [task {task}] ("
    assert sum(line.startswith(running) for line in lines) == 1  # two polls, one change
    assert any(line.startswith("imagebridge: dimilinks: done (succeeded) 100%") for line in lines)
    assert "\x1b" not in result.stderr


@pytest.mark.usefixtures("fast_polls", "keys")
def test_task_wait_shows_progress_too(run: Invoke, held: EmulatorServer) -> None:
    submitted = run("generate", "a cat", *_dimilinks(held), "--no-wait")
    task = submitted.stdout.strip()
    result = run("task", task, *_dimilinks(held), "--wait", "--progress", "plain")
    assert result.exit_code == 0, result.stderr
    assert f"imagebridge: dimilinks: running (in_progress) 50% [task {task}] (" in result.stderr


# -- --json-lines --------------------------------------------------------------------------------
def test_json_lines_for_a_task_in_order_the_last_completed_as_json_prints_it(
    run: Invoke, server: EmulatorServer, keys: str, fast_polls: None
) -> None:
    result = run("generate", "a cat", *_dimilinks(server), "--json-lines", "-o", "lines")
    assert result.exit_code == 0, result.stderr
    events = json_lines(result.stdout)
    types = _types(events)
    assert types[0] == "progress"
    assert types[1] == "accepted"
    assert set(types[2:-1]) == {"progress"}
    assert types[-1] == "completed"
    assert events[0]["stage"] == "submitting"
    accepted = events[1]
    task = accepted["task_id"]
    assert accepted["provider"] == "dimilinks"
    assert accepted["task"]["task_id"] == task  # the resumable handle
    polls = events[2:-1]
    assert all(event["task_id"] == task for event in polls)
    assert polls[-1]["stage"] == "done"
    assert polls[-1]["percent"] == 100
    elapsed = [event["elapsed"] for event in events[:-1] if "elapsed" in event]
    assert elapsed == sorted(elapsed)
    assert result.stderr == ""  # the events are the progress

    completed = events[-1]
    again = run("generate", "a cat", *_dimilinks(server), "--json", "-o", "once")
    once = one_json(again.stdout)
    assert set(completed) - {"type"} == set(once)
    assert completed["task_id"] == task
    [image] = completed["images"]
    assert decoded(Path(image["path"]))[0] == "PNG"
    # Result URLs as --json prints them (scrubbed of the key only), never the key itself.
    assert image["url"].split("?")[0].startswith(server.origin)


def test_json_lines_with_partial_images(
    run: Invoke, server: EmulatorServer, keys: str, tmp_path: Path
) -> None:
    result = run(
        "generate", "two foxes", *_openai(server, "--partials", "2", "-n", "2"),
        "--size", "1024x1536", "--json-lines", "-o", "out",
    )  # fmt: skip
    assert result.exit_code == 0, result.stderr
    events = json_lines(result.stdout)
    partials = [event for event in events if event["type"] == "partial_image"]
    # Per image in turn: its partial images, each more complete than the last.
    assert [(e["image_index"], e["index"]) for e in partials] == [(0, 0), (0, 1), (1, 0), (1, 1)]
    for event in partials:
        assert (event["media_type"], event["width"], event["height"]) == ("image/png", 1024, 1536)
        path = Path(event["path"])
        assert path.parent.resolve() == (tmp_path / "out").resolve()
        assert decoded(path) == ("PNG", (1024, 1536))
    assert _types(events)[-1] == "completed"
    assert "accepted" not in _types(events)  # a plain call: no task
    completed = events[-1]
    assert completed["partial_images"] == [
        {key: value for key, value in e.items() if key != "type"} for e in partials
    ]
    assert completed["usage"]["output_tokens"] > 0
    finals = {image["path"] for image in completed["images"]}
    assert len(finals) == 2
    assert not finals & {e["path"] for e in partials}


def test_json_lines_error_is_the_last_line(run: Invoke, server: EmulatorServer, keys: str) -> None:
    result = run("generate", "a cube #error=429:rate_limit_rpm", *_openai(server), "--json-lines")
    assert result.exit_code == 3
    events = json_lines(result.stdout)
    assert _types(events)[-1] == "error"
    assert events[-1]["error"]["code"] == "rate_limit_rpm"
    assert len(result.stderr.splitlines()) == 1


def test_json_lines_no_wait_prints_the_accepted_event(
    run: Invoke, server: EmulatorServer, keys: str
) -> None:
    result = run("generate", "a cat", *_dimilinks(server), "--no-wait", "--json-lines")
    assert result.exit_code == 0, result.stderr
    [event] = json_lines(result.stdout)
    assert event["type"] == "accepted"
    assert event["task"]["task_id"] == event["task_id"]


def test_json_and_json_lines_together_are_a_usage_error(run: Invoke, keys: str) -> None:
    result = run("generate", "x", "-p", "openai", "--json", "--json-lines")
    assert result.exit_code == 2
    assert "--json-lines" in result.stderr
    assert one_json(result.stdout)["error"]["exit_code"] == 2
    result = run("generate", "--json-lines")  # a usage error in --json-lines mode
    assert result.exit_code == 2
    assert one_json(result.stdout)["type"] == "error"


# -- refusals --------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("provider", "model"), [("openai", "dall-e-3"), ("geeknow", "gpt-image-1"), ("dimilinks", None)]
)
@pytest.mark.parametrize("mode", ["human", "--json-lines"])
def test_partials_where_the_model_streams_none_exit_2_before_anything_is_sent(
    run: Invoke,
    server: EmulatorServer,
    keys: str,
    tmp_path: Path,
    provider: str,
    model: str | None,
    mode: str,
) -> None:
    args = ["generate", "a fox", "-p", provider, "--base-url", server.url(provider)]
    args += ["--partials", "2", "-o", "never-made", *(["--model", model] if model else [])]
    result = run(*args, *([mode] if mode != "human" else []))
    assert result.exit_code == 2
    [line] = result.stderr.splitlines()
    assert line.startswith("imagebridge: error: invalid request")
    assert "partial_images=2" in line
    assert "does not stream partial images" in line
    assert received(server) == []
    assert not (tmp_path / "never-made").exists()
    if mode == "human":
        assert result.stdout == ""
    else:
        [event] = json_lines(result.stdout)
        assert event["type"] == "error"
        assert event["error"]["problems"][0]["field"] == "partial_images"


# -- edit and vary take the same path -----------------------------------------------------------
def test_edit_streams_partial_images(
    run: Invoke, server: EmulatorServer, keys: str, tmp_path: Path
) -> None:
    image = png_file(tmp_path / "cat.png", (256, 256))
    result = run("edit", "add a hat", *_openai(server, "-i", str(image), "--partials", "1"))
    assert result.exit_code == 0, result.stderr
    partial, final = (Path(line) for line in result.stdout.splitlines())
    assert "-partial-0-0." in partial.name
    assert decoded(partial) == decoded(final) == ("PNG", (1024, 1024))
    form = received(server)[0]["form"]
    assert (form["stream"], form["partial_images"]) == ("true", "1")


def test_vary_runs_through_the_stream(
    run: Invoke, server: EmulatorServer, keys: str, tmp_path: Path
) -> None:
    image = png_file(tmp_path / "cat.png", (256, 256))
    args = ["vary", str(image), "-p", "openai", "--base-url", server.url("openai")]
    result = run(*args, "--model", "dall-e-2", "--size", "256x256", "--json-lines")
    assert result.exit_code == 0, result.stderr
    events = json_lines(result.stdout)
    assert _types(events)[-1] == "completed"
    assert decoded(Path(events[-1]["images"][0]["path"])) == ("PNG", (256, 256))


# -- Ctrl-C ------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def slow() -> Iterator[EmulatorServer]:
    """Tasks that take 30 s and streams with 1 s between events: time to press Ctrl-C."""
    with EmulatorServer(EmulatorConfig(task_duration=30, stream_delay=1.0)) as running:
        yield running


def _interrupt_after(args: list[str], marker: str, env: dict[str, str]) -> tuple[int, str, str]:
    """Run the console script, send SIGINT once ``marker`` shows on stderr; the exit code,
    stdout and stderr (everything bounded: 30 s)."""
    process = subprocess.Popen(
        [_script(), *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env, text=True
    )
    assert process.stderr is not None
    seen = ""
    deadline = time.monotonic() + 30
    while marker not in seen:
        assert time.monotonic() < deadline, seen
        ready, _, _ = select.select([process.stderr], [], [], 0.1)
        if ready:
            line = process.stderr.readline()
            assert line, f"the process ended first: {seen}"
            seen += line
    process.send_signal(signal.SIGINT)
    stdout, rest = process.communicate(timeout=30)
    assert SECRET not in stdout + seen + rest
    return process.returncode, stdout, seen + rest


def test_ctrl_c_after_acceptance_closes_the_job_and_names_the_task_to_resume(
    slow: EmulatorServer, tmp_path: Path
) -> None:
    journal = tmp_path / "journal.sqlite3"
    env = {**os.environ, "DIMILINKS_API_KEY": SECRET, "IMAGEBRIDGE_JOURNAL": str(journal)}
    args = ["generate", "a cat", *_dimilinks(slow), "--progress", "plain", "-o", str(tmp_path)]
    code, stdout, stderr = _interrupt_after(args, "accepted [task ", env)
    assert code == 130
    assert stdout == ""
    task = re.search(r"accepted \[task (\S+)\]", stderr)
    assert task, stderr
    last = stderr.splitlines()[-1]
    assert last.startswith("imagebridge: error: interrupted; task ")
    assert f"imagebridge task {task[1]} --provider dimilinks" in last
    listed = subprocess.run(
        [_script(), "tasks", "--json"], env=env, capture_output=True, text=True, timeout=30
    )
    [entry] = json.loads(listed.stdout)["tasks"]
    assert (entry["task_id"], entry["state"]) == (task[1], "accepted")  # journaled, resumable


def test_ctrl_c_during_a_stream_keeps_the_partial_images_saved(
    slow: EmulatorServer, tmp_path: Path
) -> None:
    env = {**os.environ, "OPENAI_API_KEY": SECRET, "IMAGEBRIDGE_JOURNAL": "off"}
    args = ["generate", "a fox", *_openai(slow, "--partials", "3"), "-o", str(tmp_path)]
    code, stdout, stderr = _interrupt_after(
        [*args, "--json-lines", "--progress", "plain"], "partial image 1 saved", env
    )
    assert code == 130
    events = json_lines(stdout)
    assert _types(events)[-1] == "error"
    error = events[-1]["error"]
    assert (error["type"], error["exit_code"]) == ("KeyboardInterrupt", 130)
    [partial] = [event for event in events if event["type"] == "partial_image"]
    assert error["partial_images"] == [{k: v for k, v in partial.items() if k != "type"}]
    assert decoded(Path(partial["path"]))[0] == "PNG"
    assert stderr.splitlines()[-1] == "imagebridge: error: interrupted"
