"""The CLI defects of issue 10, each through the command line against the emulator over
loopback HTTP (or a port of the test's own).

- ``batch``: colliding ids, and requests the pre-flight refuses, are invalid input (exit 2,
  naming the lines) with nothing sent;
- the resume hint is only for a task that may still finish (a timeout), never for one that
  ended (a moderation failure, a 404 for the task);
- ``edit --help`` does not deny that an edit can run as a task (dimilinks' do);
- ``task`` has one ``--wait/--no-wait`` pair;
- ``serve`` on a busy port says so in one line, with no banner; ``serve --port 0`` serves on a
  free port and names it;
- the docs build is strict and shows its warnings; the CLI reference has no stray link.
"""

from __future__ import annotations

import json
import re
import shutil
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from queue import Empty, Queue

import httpx
import pytest
from click.testing import CliRunner, Result
from PIL import Image

from imagebridge._cli._app import cli
from imagebridge._emulator import EmulatorConfig, EmulatorServer

KEY = "sk-DEFECTS-0123456789abcdef"
RESUME_HINT = "may still finish"
ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def emulator() -> Iterator[EmulatorServer]:
    with EmulatorServer(EmulatorConfig(task_duration=0.1)) as running:
        yield running


@pytest.fixture(scope="module")
def slow_emulator() -> Iterator[EmulatorServer]:
    """Tasks take 1 s: a look right after the submit finds them unfinished."""
    with EmulatorServer(EmulatorConfig(task_duration=1.0)) as running:
        yield running


@pytest.fixture
def server(emulator: EmulatorServer) -> EmulatorServer:
    emulator.app_state.reset()
    return emulator


def invoke(*args: str) -> Result:
    result = CliRunner().invoke(cli, list(args), env={"DIMILINKS_API_KEY": KEY})
    assert KEY not in result.stdout + result.stderr
    assert "Traceback" not in result.stderr
    return result


def dimilinks(server: EmulatorServer) -> list[str]:
    return ["-p", "dimilinks", "--base-url", server.url("dimilinks")]


# -- batch ------------------------------------------------------------------------------------
def test_batch_with_colliding_ids_is_invalid_input_naming_both_lines(
    server: EmulatorServer, tmp_path: Path
) -> None:
    requests = tmp_path / "requests.jsonl"
    requests.write_text('{"id": "2", "prompt": "a cat"}\n{"prompt": "a dog"}\n')
    for json_mode in ([], ["--json"]):
        result = invoke("batch", str(requests), *dimilinks(server), "-o", "out", *json_mode)
        assert result.exit_code == 2, result.stderr
        [line] = result.stderr.splitlines()
        assert "line 2: id '2' is already the id of line 1" in line
        assert "unexpected" not in line
        if json_mode:
            assert json.loads(result.stdout)["error"]["exit_code"] == 2
    assert server.app_state.requests == []


def test_batch_lines_the_pre_flight_refuses_are_invalid_input_with_nothing_sent(
    server: EmulatorServer, tmp_path: Path
) -> None:
    requests = tmp_path / "requests.jsonl"
    lines = [
        {"id": "fine", "prompt": "a cat"},
        {"id": "too-many", "prompt": "a dog", "n": 9},
        {"id": "fine-too", "prompt": "a cow"},
        {"id": "bad-format", "prompt": "a hen", "output_format": "gif"},
    ]
    requests.write_text("".join(json.dumps(line) + "\n" for line in lines))
    result = invoke("batch", str(requests), *dimilinks(server), "-o", "out", "--json")
    assert result.exit_code == 2, result.stderr
    [line] = result.stderr.splitlines()
    assert "line 2: n=9" in line
    assert "line 4: output_format='gif'" in line
    assert "line 1" not in line
    assert "line 3" not in line
    error = json.loads(result.stdout)["error"]
    assert error["type"] == "InvalidRequestError"
    assert [p["field"] for p in error["problems"]] == ["line 2: n", "line 4: output_format"]
    assert server.app_state.requests == []
    assert not (tmp_path / "out" / "batch-report.jsonl").exists()


# -- the resume hint ---------------------------------------------------------------------------
def _finished(server: EmulatorServer, task_id: str) -> Result:
    """``imagebridge task TASK_ID`` once the task has ended (bounded: 50 looks, 5 s)."""
    for _ in range(50):
        result = invoke("task", task_id, *dimilinks(server), "-o", "out")
        if result.exit_code != 4:
            return result
        time.sleep(0.1)
    raise AssertionError(f"task {task_id} did not end")


def test_a_task_refused_by_moderation_gets_no_resume_hint(server: EmulatorServer) -> None:
    submitted = invoke(
        "generate", "a cat #fail=content_moderation", *dimilinks(server), "--no-wait"
    )
    assert submitted.exit_code == 0, submitted.stderr
    task_id = submitted.stdout.strip()
    result = _finished(server, task_id)
    assert result.exit_code == 3
    [line] = result.stderr.splitlines()
    assert "content_moderation" in line
    assert f"(task {task_id})" in line
    assert RESUME_HINT not in line
    assert "resume it" not in line


def test_a_task_the_provider_does_not_know_gets_no_resume_hint(server: EmulatorServer) -> None:
    result = invoke("task", "img_never_made", *dimilinks(server))
    assert result.exit_code == 3
    [line] = result.stderr.splitlines()
    assert "HTTP 404" in line
    assert "img_never_made" in line
    assert RESUME_HINT not in line


def test_a_task_that_timed_out_keeps_its_resume_hint(slow_emulator: EmulatorServer) -> None:
    result = invoke("generate", "a cat", *dimilinks(slow_emulator), "--timeout", "0.5")
    assert result.exit_code == 4
    [line] = result.stderr.splitlines()
    assert RESUME_HINT in line
    assert re.search(r"resume it with: imagebridge task \S+ --provider dimilinks", line)


# -- edit and task options ---------------------------------------------------------------------
def test_edit_help_does_not_deny_that_a_dimilinks_edit_is_a_task(
    server: EmulatorServer, tmp_path: Path
) -> None:
    helped = invoke("edit", "--help")
    assert helped.exit_code == 0
    text = " ".join(helped.stdout.split())
    assert "never submitted as" not in text
    assert "dimilinks" in text
    refused = invoke("edit", "x", "-i", "a.png", "--no-wait")
    assert refused.exit_code == 2
    assert "not submitted as tasks" not in refused.stderr

    image = tmp_path / "cat.png"
    Image.new("RGB", (32, 32), (200, 30, 30)).save(image)
    edited = invoke("edit", "add a hat", *dimilinks(server), "-i", str(image), "--json")
    assert edited.exit_code == 0, edited.stderr
    task_id = json.loads(edited.stdout)["task_id"]
    assert task_id  # the edit ran as a dimilinks task, as the help now says
    assert server.app_state.get_task(task_id, "dimilinks") is not None


def test_task_has_one_wait_flag_pair(slow_emulator: EmulatorServer, tmp_path: Path) -> None:
    helped = invoke("task", "--help")
    assert helped.exit_code == 0
    assert helped.stdout.count("--no-wait") == 2  # the option row and the text about it
    assert "--wait / --no-wait" in helped.stdout

    submitted = invoke("generate", "a cat", *dimilinks(slow_emulator), "--no-wait")
    assert submitted.exit_code == 0, submitted.stderr
    task_id = submitted.stdout.strip()
    looked = invoke("task", task_id, *dimilinks(slow_emulator), "--no-wait", "-o", "out")
    assert looked.exit_code == 4  # looked once: not finished yet
    assert "not finished yet" in looked.stderr
    # One pair: the last one given wins, as for any click flag pair.
    waited = invoke("task", task_id, *dimilinks(slow_emulator), "--no-wait", "--wait", "-o", "out")
    assert waited.exit_code == 0, waited.stderr
    assert Path(waited.stdout.strip()).is_file()


# -- serve ------------------------------------------------------------------------------------
def test_serve_on_a_busy_port_is_one_line_and_no_banner() -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        result = invoke("serve", "--port", str(port))
    assert result.exit_code == 1
    assert result.stderr.splitlines() == [
        f"imagebridge: error: cannot listen on 127.0.0.1:{port}: Address already in use"
    ]
    assert result.stdout == ""


def _script() -> str:
    beside = Path(sys.executable).parent / "imagebridge"
    found = str(beside) if beside.is_file() else shutil.which("imagebridge")
    if found is None:
        pytest.skip("the imagebridge console script is not installed")
    return found


def test_the_announced_socket_already_listens() -> None:
    """``serve`` prints its address once bound: a client connecting at once (before uvicorn
    runs) must wait in the backlog, not be refused."""
    from imagebridge._emulator._server import bind

    sock = bind("127.0.0.1", 0)
    try:
        with socket.create_connection(sock.getsockname(), timeout=5):
            pass
    finally:
        sock.close()


def test_serve_on_port_0_serves_on_a_free_port_and_names_it() -> None:
    process = subprocess.Popen(
        [_script(), "serve", "--port", "0", "--dialect", "dimilinks"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    lines: Queue[str] = Queue()
    assert process.stderr is not None
    reader = threading.Thread(target=lambda: lines.put(process.stderr.readline()), daemon=True)
    reader.start()
    try:
        try:
            banner = lines.get(timeout=20)
        except Empty:
            raise AssertionError("no banner within 20 s") from None
        found = re.match(r"imagebridge emulator on http://127\.0\.0\.1:(\d+)/v1 \(", banner)
        assert found, banner
        port = int(found.group(1))
        assert port != 0
        stats = httpx.get(f"http://127.0.0.1:{port}/_emulator/stats", timeout=5)
        assert stats.status_code == 200
        assert "dimilinks" in stats.json()["submits"]
    finally:
        process.terminate()
        process.communicate(timeout=20)


# -- the docs build ----------------------------------------------------------------------------
def test_the_docs_build_is_strict_and_shows_its_warnings() -> None:
    [line] = [
        line
        for line in (ROOT / "scripts" / "check").read_text().splitlines()
        if "mkdocs build" in line and not line.startswith("#")
    ]
    assert "--strict" in line
    assert "--quiet" not in line  # quiet hides the warnings strict mode fails on
    assert " -q" not in line


def test_the_cli_reference_has_no_unresolvable_reference_link() -> None:
    """What mkdocs-click makes of the CLI's help: text in brackets back to back
    (``[:COUNT][:ARG]``) is a Markdown reference link that autorefs cannot resolve."""
    docs = pytest.importorskip("mkdocs_click._docs")
    markdown = "\n".join(
        docs.make_command_docs(
            "imagebridge", cli, depth=1, style="table", list_subcommands=True, has_attr_list=True
        )
    )
    prose = re.sub(r"```.*?```", "", markdown, flags=re.DOTALL)
    prose = re.sub(r"`[^`\n]*`", "", prose)
    assert re.findall(r"\[[^\]\n]*\]\[[^\]\n]*\]", prose) == []
    assert "[:COUNT][:ARG]" in markdown  # the fault grammar is still there, as code
