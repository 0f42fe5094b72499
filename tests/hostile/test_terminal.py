"""Rule 11 of issue 10: terminal output is safe, whatever a server sends.

A hostile dimilinks server of the test's own (loopback only) answers with a task id, a status
and a failure message full of line breaks, ``ESC ] 52`` (the clipboard), a screen-clearing
``CSI`` and bidi overrides. Every human-readable line the CLI prints shows them escaped, on
one line: nothing reaches the terminal raw, and no second line can be forged. ``--json``
keeps the server's text as it was, escaped by JSON.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner, Result
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from imagebridge import PollPolicy, TaskHandle, TaskJournal
from imagebridge._cli._app import cli
from imagebridge._cli._terminal import terminal_safe
from imagebridge_plugins.dimilinks import DimilinksAdapter

from ._loopback import KEY, Loopback

#: What must never reach a terminal raw (a line break only between the lines printed).
UNSAFE = re.compile(
    "[\x00-\x09\x0b-\x1f\x7f-\x9f\u061c\u200e\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069]"
)
CLIPBOARD = "\x1b]52;c;ZXZpbA==\x07"  # OSC 52: "put 'evil' on the clipboard"
FORGED_ID = f"t1\nimagebridge: error: forged\r{CLIPBOARD}\u202egpj.exe"
FORGED_ID_SHOWN = "t1\\nimagebridge: error: forged\\r\\x1b]52;c;ZXZpbA==\\x07\\u202egpj.exe"
STATUS = f"in_progress\n{CLIPBOARD}\u2066forged status\u2069"
STATUS_SHOWN = "in_progress\\n\\x1b]52;c;ZXZpbA==\\x07\\u2066forged status\\u2069"
MESSAGE = f"refused\nforged: line\x1b[2J{CLIPBOARD}\u202e\x9b"
MESSAGE_SHOWN = "forged: line\\x1b[2J\\x1b]52;c;ZXZpbA==\\x07\\u202e\\x9b"


def hostile() -> Loopback:
    """dimilinks, hostile: submits get :data:`FORGED_ID`; task ``running`` reports
    :data:`STATUS`; task ``failed`` ends with :data:`MESSAGE`; task ``turns`` reports
    :data:`STATUS` once, then fails with :data:`MESSAGE`."""
    polls: dict[str, int] = {}

    async def answer(request: Request) -> Response:
        path = request.url.path
        if request.method == "POST":
            return JSONResponse({"created": 1, "task_id": FORGED_ID, "data": []})
        task_id = path.removeprefix("/v1/tasks/")
        polls[task_id] = polls.get(task_id, 0) + 1
        failed = task_id == "failed" or (task_id == "turns" and polls[task_id] > 1)
        if failed:
            error = {"code": "upstream_error", "message": MESSAGE}
            return JSONResponse({"id": task_id, "status": "failed", "error": error})
        return JSONResponse({"id": task_id, "status": STATUS, "progress": 40})

    return Loopback(answer)


@pytest.fixture(scope="module")
def server() -> Iterator[Loopback]:
    with hostile() as running:
        yield running


def invoke(server: Loopback, *args: str) -> Result:
    env = {"DIMILINKS_API_KEY": KEY}
    base = ["-p", "dimilinks", "--base-url", server.url("/v1")]
    full = [*args, *base] if args[0] != "tasks" else list(args)
    result = CliRunner().invoke(cli, full, env=env, catch_exceptions=False)
    assert KEY not in result.stdout + result.stderr
    return result


def assert_safe(text: str) -> list[str]:
    """``text`` holds no raw control or bidi character, and no line was forged; its lines."""
    assert not UNSAFE.search(text), repr(text)
    lines = text.splitlines()
    assert not [line for line in lines if line.startswith(("forged", "imagebridge: error: forged"))]
    return lines


@pytest.mark.parametrize("json_mode", [False, True], ids=["text", "json"])
def test_a_submitted_task_id_can_neither_forge_a_line_nor_reach_the_clipboard(
    server: Loopback, json_mode: bool
) -> None:
    """Whether the id is accepted (printed escaped) or refused as unpollable (an error
    naming it), no byte of it reaches the terminal raw."""
    submitted = invoke(server, "generate", "a cat", "--no-wait", *(["--json"] * json_mode))
    assert submitted.exit_code in (0, 3), submitted.stderr
    out, err = assert_safe(submitted.stdout), assert_safe(submitted.stderr)
    assert len(err) == 1
    if json_mode:
        assert len(out) == 1
    elif submitted.exit_code == 0:
        assert out == [FORGED_ID_SHOWN]
        assert f"imagebridge task {FORGED_ID_SHOWN} --provider dimilinks" in err[0]
    else:
        assert out == []


def test_a_journaled_task_id_is_listed_on_one_line(
    server: Loopback, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A journal may hold such an id (an older imagebridge, a plugin that took it)."""
    path = tmp_path / "journal.sqlite3"
    monkeypatch.setenv("IMAGEBRIDGE_JOURNAL", str(path))
    handle = TaskHandle(provider="dimilinks", base_url=server.url("/v1"), task_id=FORGED_ID)
    journal = TaskJournal(path)
    journal.record(handle)
    journal.mark(handle, "failed", error=MESSAGE)
    journal.close()
    listed = invoke(server, "tasks", "--all")
    assert listed.exit_code == 0, listed.stderr
    [row] = assert_safe(listed.stdout)
    assert row.startswith(f"{FORGED_ID_SHOWN}  dimilinks  failed  ")
    assert row.endswith(f"(refused\\n{MESSAGE_SHOWN})")
    assert_safe(listed.stderr)

    as_json = invoke(server, "tasks", "--all", "--json")
    [line] = assert_safe(as_json.stdout)
    assert "\\u202e" in line  # ensure_ascii: even the bidi override is a JSON escape
    assert json.loads(line)["tasks"][0]["task_id"] == FORGED_ID  # the text, kept as it was


def test_json_output_keeps_the_text_and_escapes_it(server: Loopback) -> None:
    failed = invoke(server, "task", "failed", "--json")
    assert failed.exit_code == 3
    [line] = assert_safe(failed.stdout)
    assert CLIPBOARD in json.loads(line)["error"]["message"]
    assert_safe(failed.stderr)


def test_a_status_is_shown_escaped(server: Loopback) -> None:
    result = invoke(server, "task", "running")
    assert result.exit_code == 4
    [line] = assert_safe(result.stderr)
    assert line.startswith("imagebridge: error: task running is not finished yet")
    assert STATUS_SHOWN.lower() in line.lower()  # the library lowercases a status
    assert result.stdout == ""


def test_a_failure_message_is_shown_escaped(server: Loopback) -> None:
    result = invoke(server, "task", "failed")
    assert result.exit_code == 3
    [line] = assert_safe(result.stderr)
    assert line.startswith("imagebridge: error: [dimilinks upstream_error] refused")
    assert MESSAGE_SHOWN in line
    assert result.stdout == ""


def test_progress_and_log_lines_are_shown_escaped(
    server: Loopback, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(DimilinksAdapter, "poll_policy", PollPolicy(interval=0.05))
    result = invoke(server, "task", "turns", "--wait", "--verbose")
    assert result.exit_code == 3
    lines = assert_safe(result.stderr)
    progress = [line for line in lines if line.startswith("imagebridge: dimilinks: ")]
    assert progress, lines
    assert all(STATUS_SHOWN.lower() in line.lower() for line in progress)
    assert lines[-1].startswith("imagebridge: error: [dimilinks upstream_error] refused")
    assert any(line.startswith("DEBUG imagebridge") for line in lines)  # the log, escaped too


def test_every_control_and_bidi_character_is_escaped_and_nothing_else() -> None:
    unsafe = [chr(c) for c in (*range(0x20), *range(0x7F, 0xA0))]
    unsafe += [chr(c) for c in (0x061C, 0x200E, 0x200F, 0x2028, 0x2029)]
    unsafe += [chr(c) for c in (*range(0x202A, 0x202F), *range(0x2066, 0x206A))]
    for char in unsafe:
        shown = terminal_safe(f"a{char}b")
        assert shown.isprintable(), repr(char)
        assert shown.isascii(), repr(char)
        assert shown == "a" + repr(char)[1:-1] + "b"  # the escape repr() would write
    ordinary = "plain ASCII, é, 猫, emoji 🐈, a \\ backslash and 'quotes'"
    assert terminal_safe(ordinary) == ordinary
    assert terminal_safe("two\nlines\r\x1b", keep_lines=True) == "two\nlines\\r\\x1b"
